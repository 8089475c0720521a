"""Patch-selection networks that see *where* to repair: one score per candidate box from a spatial feature map.

fh-gym's choice (no paper gives this network). IPFH's policy controller outputs a softmax over patch locations
and Attention-FH's a distribution over box positions; flattening a CNN's map into an MLP (the SB3 default,
fh-gym's earlier extractor) makes every location a separate output unit that must learn on its own. Here a
fully convolutional trunk maps the observation to a feature map, and each candidate box is scored from the
features *pooled inside that box* (box-averaged, exact fractional coverage of the map cells) by one shared
MLP: the same weights judge every location, so what is learned at one cell transfers to all, and any action
type (grid cells, size-free boxes of several ratios and scales) is scored the same way.

Used as the supervised one-step gain predictor (``gain_predictor`` strategy, ``out_dim=1`` in dB) and as the
spatial policy head of the RL agents (per-candidate logits, and a pooled feature vector for the value).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.registry import register_arch

#: input channels of the selection stack: I_t, I_0, I_t - I_0 (3 each), coverage, (y, x) coordinates
SELECTION_CHANNELS = 12


def box_pooling_weights(boxes: Tensor, image_size: int, map_size: int) -> Tensor:
    """(K, h, w) weights averaging a (h, w) = (map_size, map_size) feature map over each box (top, left, h, w)
    given in image pixels: each map cell counts with the fraction of it the box covers (rows sum to 1)."""
    cell = image_size / map_size
    edges = torch.arange(map_size + 1, dtype=torch.float32, device=boxes.device) * cell
    boxes = boxes.to(torch.float32)

    def overlap(start: Tensor, length: Tensor) -> Tensor:  # (K, map_size) overlap of [start, start+length)
        lo = torch.maximum(edges[None, :-1], start[:, None])
        hi = torch.minimum(edges[None, 1:], (start + length)[:, None])
        return (hi - lo).clamp(min=0)

    weights = overlap(boxes[:, 0], boxes[:, 2])[:, :, None] * overlap(boxes[:, 1], boxes[:, 3])[:, None, :]
    return weights / weights.sum(dim=(1, 2), keepdim=True).clamp(min=1e-8)


def selection_stack(image: Tensor, start: Tensor, coverage: Tensor) -> Tensor:
    """(B, 12, H, W) network input from (B, 3, H, W) images I_t and I_0 in [0, 1] and (B, 1, H, W) coverage
    (visits in units of the episode's steps): I_t, I_0, I_t - I_0, coverage, and the (y, x) coordinates."""
    b, _, h, w = image.shape
    ys = torch.linspace(-1, 1, h, device=image.device).view(1, 1, h, 1).expand(b, 1, h, w)
    xs = torch.linspace(-1, 1, w, device=image.device).view(1, 1, 1, w).expand(b, 1, h, w)
    return torch.cat([image, start, image - start, coverage, ys, xs], dim=1)


@register_arch
class BoxPoolingSelector(nn.Module):
    """Fully convolutional trunk + a shared MLP on box-pooled features: ``forward(stack, boxes) -> (B, K, out)``.

    Trunk: 3x3 convolutions with ReLU, strides 2, 2, 2 (128 -> 16x16 map), ``width`` then ``2 * width`` channels,
    a final 3x3 convolution at the map resolution (receptive field ~60 px: a cell sees its surroundings).
    Head: for each box the features averaged inside it (:func:`box_pooling_weights`), concatenated with the
    box's normalised geometry (centre y, x, height, width) and the image-wide mean features, through an MLP
    (``hidden`` units) to ``out_dim`` values.

    Layout: ``stack`` (B, 12, S, S) from :func:`selection_stack`; ``boxes`` (K, 4) int/float
    ``(top, left, height, width)`` in pixels of the S x S image. ``pooled(stack)`` gives the (B, 2 * width)
    image-wide features (a value head's input).

    Args:
        image_size: Side S of the images.
        width: Channels of the first trunk stage (the later stages have ``2 * width``).
        hidden: Units of the head's hidden layer.
        out_dim: Values per box (1: a gain in dB or a logit).
    """

    kind = "aux"
    paper = "fh-gym: box-pooled spatial selection head (IPFH's softmax over locations, fully convolutional)"
    paper_parameters: int | None = None

    def __init__(self, image_size: int = 128, width: int = 16, hidden: int = 64, out_dim: int = 1) -> None:
        super().__init__()
        self.image_size, self.width, self.out_dim = int(image_size), int(width), int(out_dim)
        w2 = 2 * self.width
        self.trunk = nn.Sequential(
            nn.Conv2d(SELECTION_CHANNELS, self.width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(self.width, w2, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w2, w2, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w2, w2, 3, padding=1), nn.ReLU(inplace=True),
        )
        self.map_size = self.image_size // 8
        self.feature_dim = w2
        self.head = nn.Sequential(nn.Linear(2 * w2 + 4, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))
        self._cached: tuple[Tensor, Tensor] | None = None

    def _weights(self, boxes: Tensor) -> Tensor:
        # The candidate boxes of an env never change: compute their pooling weights once.
        if self._cached is None or not torch.equal(self._cached[0], boxes):
            self._cached = (boxes.clone(), box_pooling_weights(boxes, self.image_size, self.map_size))
        return self._cached[1]

    def features(self, stack: Tensor) -> Tensor:
        """(B, 2 * width, S/8, S/8) feature map."""
        if stack.shape[1] != SELECTION_CHANNELS or stack.shape[-1] != self.image_size:
            raise ValueError(f"BoxPoolingSelector expects (B, {SELECTION_CHANNELS}, {self.image_size}, "
                             f"{self.image_size}) inputs, got {tuple(stack.shape)}")
        return self.trunk(stack)

    def score(self, maps: Tensor, boxes: Tensor) -> Tensor:
        """(B, K, out_dim) values of the K boxes on a feature map from :meth:`features`."""
        boxes = boxes.to(maps.device)
        pooled = torch.einsum("bchw,khw->bkc", maps, self._weights(boxes).to(maps.dtype))
        overall = maps.mean(dim=(2, 3))[:, None, :].expand(-1, boxes.shape[0], -1)
        b = boxes.to(maps.dtype) / self.image_size
        geometry = torch.stack([b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, b[:, 2], b[:, 3]], dim=1)
        geometry = geometry[None].expand(maps.shape[0], -1, -1)
        return self.head(torch.cat([pooled, overall, geometry], dim=2))

    def pooled(self, maps: Tensor) -> Tensor:
        """(B, 2 * width) image-wide mean features of a feature map."""
        return F.adaptive_avg_pool2d(maps, 1).flatten(1)

    def forward(self, stack: Tensor, boxes: Tensor) -> Tensor:
        return self.score(self.features(stack), boxes)
