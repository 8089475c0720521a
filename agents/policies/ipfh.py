"""IPFH policy controller (Visual-Semantic Hallucinator, Sec. III-B.2 "Policy Controller", Fig. 3).

* Holistic (image) branch: "several residual blocks" on the current restored image ŷ_t -> a 512-d
  holistic feature (Sec. III-C: "holistic feature and context feature with 512-D and 256-D vectors").
* Context branch: the last repaired patch p̂_t and the one-hot vector of its action a_t -> a 256-d
  context feature ("p̂_t helps the policy controller opt to the relevant patch and a_t provide the
  history action in case of repeated actions").
* The two are concatenated and a fully-connected layer + softmax gives the probability of each patch
  location (the env's ``grid`` cells; ``box`` factors work too).

Choices where the paper is vague: residual blocks are [conv3x3/stride, ReLU, conv3x3] + projection
shortcut, one per stage, ReLU after the sum, global average pooling then an FC to ``holistic_dim``;
the patch is re-sampled from ŷ_t at the previous box to ``patch_size`` (exact for 32x32 grid patches);
at t = 0 the context is all zeros. Widths default to CPU sizes (8-32 channels); the paper's
(64, 128, 256, 512) are a config away. The baseline (value MLP on the detached fused feature) is ours.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.agents.pg.policy_base import POLICIES, EpisodePolicy, PolicyOutput, State, to_signed
from fh_gym.restorers.archs.common import conv2d


class DownResidualBlock(nn.Module):
    """``relu(conv3x3(relu(conv3x3/s(x))) + shortcut(x))``, shortcut a strided 1x1 conv when shapes change."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2) -> None:
        super().__init__()
        self.body = nn.Sequential(conv2d(in_channels, out_channels, 3, stride), nn.ReLU(inplace=True),
                                  conv2d(out_channels, out_channels, 3))
        self.shortcut = nn.Identity() if stride == 1 and in_channels == out_channels else\
            nn.Conv2d(in_channels, out_channels, 1, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def crop_boxes(images: Tensor, boxes: Tensor, size: int) -> Tensor:
    """(B, C, size, size) bilinear re-samples of ``boxes`` (B, 4) ``(top, left, h, w)`` of ``images``."""
    side = images.shape[-1]
    boxes = boxes.to(images.dtype)
    top, left, h, w = boxes.unbind(1)
    theta = torch.zeros(len(boxes), 2, 3, device=images.device, dtype=images.dtype)
    theta[:, 0, 0] = w / side
    theta[:, 0, 2] = (left + w / 2) * (2.0 / side) - 1.0
    theta[:, 1, 1] = h / side
    theta[:, 1, 2] = (top + h / 2) * (2.0 / side) - 1.0
    grid = F.affine_grid(theta, [len(boxes), images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


@POLICIES.register()
class IPFHPolicy(EpisodePolicy):
    """Holistic branch (residual blocks, ``holistic_dim``) + context branch (patch + one-hot, ``context_dim``).

    Args:
        sizes: Choices per action factor (grid: ``[cells]``).
        multi: Whether actions are ``MultiDiscrete`` rows.
        image_size: Side of the images.
        widths: Channels of the stem and of each stride-2 residual stage (paper-sized: 64, 128, 256, 512).
        holistic_dim: Length of the holistic feature (paper: 512).
        context_dim: Length of the context feature (paper: 256).
        patch_size: Side the last repaired patch is re-sampled to (IPFH: 32).
        patch_width: Channels of the patch CNN (two stride-2 convs, then average pooling).
        head_hidden: Units of a hidden FC layer before the softmax; 0 = one FC layer as the paper.
        value_hidden: Units of the baseline MLP.
        avoid_repeats: Forbid locations chosen earlier in the episode (the grid env's ``mask_repeats``
            action masks already do this; useful on envs without them).
    """

    def __init__(self, sizes: list[int], multi: bool, image_size: int = 128,
                 widths: list[int] | tuple[int, ...] = (8, 16, 32, 32), holistic_dim: int = 512,
                 context_dim: int = 256, patch_size: int = 32, patch_width: int = 16, head_hidden: int = 0,
                 value_hidden: int = 64, avoid_repeats: bool = False) -> None:
        super().__init__(sizes, multi, image_size, avoid_repeats)
        widths = [int(w) for w in widths]
        if len(widths) < 2:
            raise ValueError(f"widths needs the stem width and at least one stage, got {widths}")
        self.remember(sizes=list(self.spec.sizes), multi=bool(multi), image_size=int(image_size), widths=widths,
                      holistic_dim=int(holistic_dim), context_dim=int(context_dim), patch_size=int(patch_size),
                      patch_width=int(patch_width), head_hidden=int(head_hidden), value_hidden=int(value_hidden),
                      avoid_repeats=bool(avoid_repeats))
        self.patch_size = int(patch_size)
        stages: list[nn.Module] = [conv2d(3, widths[0], 3), nn.ReLU(inplace=True)]
        stages += [DownResidualBlock(a, b) for a, b in itertools.pairwise(widths)]
        self.holistic = nn.Sequential(*stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                      nn.Linear(widths[-1], holistic_dim), nn.ReLU(inplace=True))
        self.patch_cnn = nn.Sequential(conv2d(3, patch_width, 3, 2), nn.ReLU(inplace=True),
                                       conv2d(patch_width, 2 * patch_width, 3, 2), nn.ReLU(inplace=True),
                                       nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.context = nn.Sequential(nn.Linear(2 * patch_width + self.spec.total, context_dim), nn.ReLU(inplace=True))
        fused = holistic_dim + context_dim
        self.build_heads(fused, head_hidden, value_hidden)

    def begin(self, engine, slots: Tensor) -> State:
        return {}  # not recurrent: the image and the last patch/action carry the history (Sec. III-B.2)

    def forward(self, engine, slots: Tensor, state: State, prev_actions: Tensor, first: Tensor) -> PolicyOutput:
        current = engine.current[slots]
        holistic = self.holistic(to_signed(current))
        live = (~first).to(current.dtype)[:, None]
        last_t = (engine.t[slots] - 1).clamp(min=0)
        patch = crop_boxes(current, engine.history[slots, last_t], self.patch_size)
        patch_features = self.patch_cnn(to_signed(patch)) * live
        context = self.context(torch.cat([patch_features, self.spec.one_hot(prev_actions) * live], dim=1))
        fused = torch.cat([holistic, context], dim=1)
        return PolicyOutput(self.head(fused), self.value_head(fused.detach()).squeeze(1), dict(state))
