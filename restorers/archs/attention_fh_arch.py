"""Attention-FH (Shi et al., TPAMI): the Table-1 feature extractor and the local enhancement network (Table 2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.archs.common import (
    DeconvStages,
    GlobalMap,
    LRStackEmbedding,
    box_bounds,
    conv2d,
    lr_coords,
    num_stages,
    stage_widths,
)
from fh_gym.restorers.base import PatchRestorer, RepairContext, zero_init_
from fh_gym.restorers.registry import register_arch

#: (kernel, channels) of the four stride-2 convolutions of Attention-FH Table 1.
TABLE1_CONVS = ((5, 8), (3, 8), (3, 16), (3, 32))


class AttentionFHFeatureExtractor(nn.Module):
    """Attention-FH feature extractor (Table 1): 4 stride-2 convolutions then an FC layer to a vector.

    Table 1 (input 128x128): conv 5x5/2 (8 ch, 64x64) -> conv 3x3/2 (8, 32x32) -> conv 3x3/2 (16, 16x16)
    -> conv 3x3/2 (32, 8x8) -> fc 64. The paper encodes I_t and I_0 each with it (v_t, v_0 of the
    state s_t, Sec. 3.2). Not registered: it is a building block, reused by :class:`AttentionFHEnhancer`
    (on downsampled images) and by the Attention-FH policy network (on the full images).

    Choices where the paper is vague: ReLU after every convolution (the paper names no activation);
    "same" padding, so any square input works and each convolution gives ``ceil(n/2)``; the fc input size
    is measured with a dummy forward at construction; the fc output is left linear (callers add their
    own nonlinearity; the GRU / FC layers that consume it do).

    Layout: input (N, in_channels, input_size, input_size) -> output (N, out_features).
    Parameters at the defaults (3 channels, 128x128, 64 features): 138,136 (131,136 of them in the fc).

    Args:
        in_channels: Image channels.
        input_size: Side of the square input; the forward pass checks it.
        out_features: Length of the feature vector (Table 1: 64).
    """

    def __init__(self, in_channels: int = 3, input_size: int = 128, out_features: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for kernel, width in TABLE1_CONVS:
            layers += [conv2d(channels, width, kernel, stride=2), nn.ReLU(inplace=True)]
            channels = width
        self.convs = nn.Sequential(*layers)
        self.in_channels, self.input_size = int(in_channels), int(input_size)
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, in_channels, input_size, input_size)).numel()
        self.fc = nn.Linear(flat, out_features)

    def forward(self, images: Tensor) -> Tensor:
        expected = (self.in_channels, self.input_size, self.input_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"AttentionFHFeatureExtractor expects (N, {expected[0]}, {expected[1]}, "
                             f"{expected[2]}) images, got {tuple(images.shape)}")
        return self.fc(self.convs(images).flatten(1))


@register_arch
class AttentionFHEnhancer(PatchRestorer):
    """Attention-FH local enhancement network: a reduced LapSRN (Sec. 3.3, Table 2) on the LR grid.

    Table 2 (x4): conv 5x5 (64) -> conv 3x3 (32) -> deconv 3x3/2 (32) -> conv 3x3 (32) -> deconv 3x3/2
    (8) -> conv 3x3 (8) -> conv 5x5 (1), LR-size input. Here, per layer:

    * Inputs (Sec. 3.3): masked patch, I_t and I_0 "resized to the same size as the LR corrupted image
      without interpolation" = space-to-depth of the window (``ctx.lr_stack()``, which also carries the
      box mask, the LR pixels and the cell coordinates), plus the global context I_G. A linear 1x1
      embedding (``embed_width``) precedes the 5x5 head: a 5x5 conv straight on the 645-channel stack
      would cost ~75 MFLOPs at x8 with Table 2's 64 channels
      (see :class:`~fh_gym.restorers.archs.common.LRStackEmbedding`).
    * I_G (Sec. 3.3: "expanding s_t ... by a fully connected layer followed by a reshaping", same shape
      as I_0): an FC layer maps the global state to a 3 x ``context_grid`` x ``context_grid`` map over
      the whole image (16 = the LR grid of 128x128 at x8, i.e. I_0 at the LR size, like the other
      inputs), sampled at the window's LR-cell coordinates with ``grid_sample`` so it stays aligned.
      Global state: with ``state_dim=0`` it is computed here as [v_t, v_0, box] = Table-1 features
      (:class:`AttentionFHFeatureExtractor`, one shared instance) of the full I_t and I_0 downsampled
      to ``global_size`` (the paper's extractor runs on 128x128: ~15 MFLOPs for the two images, more than
      the whole enhancer, so we downsample, see :meth:`downsample`; the agent's own extractor sees full
      images) and the box bounds (4 numbers, :func:`~fh_gym.restorers.archs.common.box_bounds`);
      ``ctx.global_state`` is ignored. With ``state_dim=D > 0`` the agent's state s_t
      (paper: 512-d) must be passed as ``ctx.global_state`` of shape (B, D) (ValueError otherwise).
    * Upsampling: the paper's two deconv stages are for x4; we use log2(scale) [deconv 3x3/2 + conv 3x3]
      stages whose widths go geometrically from ``width`` to ``tail_width`` (Table-2 widths: 32, 8 at x4
      as in the paper, 32, 16, 8 at x8; defaults at x8: 16, 11, 8), LeakyReLU(0.2) as LapSRN (the paper
      names no activation).
    * Tail: conv 5x5 to 3 channels. The paper outputs 1 channel (luminance); we restore RGB, and output
      a residual added to the current window (``PatchRestorer``); the tail is zero-initialised.

    Cost and size (48x48 window, 128x128 image, x8): defaults (head 32, width 16, tail 8) 12.2 MFLOPs and
    156,914 parameters (102,144 of them in the I_G FC layer, 15,256 in the state extractor); Table-2 widths
    (``head_width=64, width=32``) 19.5 MFLOPs and 204,451 parameters. Attention-FH reports 1,706,850
    parameters for its whole model (Table 11, policy included); it gives none for the enhancer alone.

    Layout: ``ctx`` windows (B, 3, w, w), w a multiple of ``scale`` -> (B, 3, w, w).

    Args:
        scale: Super-resolution factor (power of two).
        head_width: Channels of the 5x5 head conv (Table 2: 64).
        width: Channels of the second conv and of the first upsampling stage (Table 2: 32).
        tail_width: Channels of the last upsampling stage (Table 2: 8).
        embed_width: Channels of the 1x1 embedding of the LR-grid stack.
        global_size: Side the full images are downsampled to before the Table-1 extractor.
        context_grid: Side of the I_G map over the whole image.
        state_dim: 0 = compute the global state here; D > 0 = use the agent's ``ctx.global_state`` (B, D).
    """

    paper = 'Attention-FH Sec. 3.3, Table 2 (reduced LapSRN)'
    paper_parameters = None

    def __init__(self, scale: int = 8, head_width: int = 32, width: int = 16, tail_width: int = 8,
                 embed_width: int = 16, global_size: int = 32, context_grid: int = 16,
                 state_dim: int = 0) -> None:
        super().__init__(scale)
        if state_dim < 0:
            raise ValueError(f"state_dim must be >= 0, got {state_dim}")
        self.global_size, self.state_dim = int(global_size), int(state_dim)
        self.embed = LRStackEmbedding(scale, embed_width)
        self.state_encoder: AttentionFHFeatureExtractor | None = None
        if self.state_dim == 0:
            self.state_encoder = AttentionFHFeatureExtractor(3, global_size, 64)
            state_features = 2 * 64 + 4
        else:
            state_features = self.state_dim
        self.global_context = GlobalMap(state_features, 3, context_grid)
        self.head = nn.Sequential(conv2d(embed_width + 3, head_width, 5), nn.LeakyReLU(0.2, inplace=True),
                                  conv2d(head_width, width, 3), nn.LeakyReLU(0.2, inplace=True))
        widths = stage_widths(width, tail_width, num_stages(scale))
        self.upsample = DeconvStages(width, widths, activation="lrelu")
        self.tail = zero_init_(conv2d(widths[-1], 3, 5))

    def downsample(self, image: Tensor) -> Tensor:
        """``image`` at ``global_size``: nearest sample at the cell centres when the size divides evenly.

        Strided slicing is ~15x cheaper than average pooling on CPU (whose kernel alone would take ~20% of
        the enhancer's time at batch 64); the images are smooth faces and the extractor is learned, so the
        aliasing is harmless. Other sizes fall back to adaptive average pooling.
        """
        height, width = image.shape[-2:]
        if height % self.global_size or width % self.global_size:
            return F.adaptive_avg_pool2d(image, self.global_size)
        step_y, step_x = height // self.global_size, width // self.global_size
        return image[..., step_y // 2::step_y, step_x // 2::step_x]

    def global_state(self, ctx: RepairContext) -> Tensor:
        """The (B, D) state s_t that I_G expands: computed [v_t, v_0, box] or the agent's ``global_state``."""
        batch = ctx.current.shape[0]
        if self.state_encoder is None:
            state = ctx.global_state
            if state is None or tuple(state.shape) != (batch, self.state_dim):
                got = None if state is None else tuple(state.shape)
                raise ValueError(f"AttentionFHEnhancer(state_dim={self.state_dim}) needs ctx.global_state "
                                 f"of shape ({batch}, {self.state_dim}), got {got}")
            return state
        # Downsample each image before concatenating: a concatenation of full images is a 25 MB copy at batch 64.
        small = torch.cat([self.downsample(ctx.image), self.downsample(ctx.start_image)], dim=0)
        features = self.state_encoder(small)  # one batched pass for I_t and I_0
        v_t, v_0 = features.split(batch, dim=0)
        return torch.cat([v_t, v_0, box_bounds(ctx.mask, ctx.coords)], dim=1)

    def residual(self, ctx: RepairContext) -> Tensor:
        context = self.global_context(self.global_state(ctx), lr_coords(ctx))
        features = self.head(torch.cat([self.embed(ctx), context], dim=1))
        return self.tail(self.upsample(features))
