"""GLN-style global-local upsampling network (after Tuzel, Taguchi and Hershey, 2016) as a patch restorer."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.archs.common import (
    GlobalMap,
    LRStackEmbedding,
    PixelShuffleStages,
    conv2d,
    lr_coords,
    num_stages,
    stage_widths,
)
from fh_gym.restorers.base import PatchRestorer, RepairContext, zero_init_
from fh_gym.restorers.registry import register_arch


@register_arch
class GLN(PatchRestorer):
    """GLN-style restorer: a fully connected global stream over the whole image plus a convolutional local stream.

    Attention-FH Table 10 row "GLN [25]" (23.63 dB, 0.092 ms). GLN (Tuzel et al.) upsamples a face with a
    global network (fully connected layers over the whole LR face, producing a global detail map at HR)
    followed by a local convolutional refinement network. Adapted to repairing a window:

    * Global stream: the full current image I_t, average-pooled to ``global_grid`` x ``global_grid``
      (16 = the LR size of 128x128 at x8, i.e. GLN's LR input), is flattened through FC(``global_hidden``)
      + ReLU and a second FC that reshapes to a ``detail_channels`` map over the whole image; the map is
      sampled at the window's LR-cell coordinates (``grid_sample``), so it is aligned with the window.
    * Local stream: a linear 1x1 embedding of the window's LR-grid stack (``ctx.lr_stack()``) and the
      sampled global map, two 3x3 convs + ReLU at ``width`` on the LR grid, then log2(scale) sub-pixel
      x2 stages narrowing from ``width / 2`` to ``tail_width`` (working at window resolution as GLN's
      local network does would cost several times more) and a zero-initialised 3x3 conv to the RGB
      residual (GLN's bilinear "upsampling stream" is the current window the residual is added to).

    Cost and size at the defaults, x8, 48x48 window: 6.8 MFLOPs and 272,365 parameters (230,528 of them
    in the two global FC layers, which cost only 0.46 MFLOPs).

    Layout: ``ctx`` windows (B, 3, w, w) and full image (B, 3, H, W) -> (B, 3, w, w).

    Args:
        scale: Super-resolution factor (power of two).
        width: Channels of the local stream on the LR grid.
        global_grid: Side the full image is pooled to (and side of the global map).
        global_hidden: Hidden units of the global FC stream.
        detail_channels: Channels of the global detail map.
        tail_width: Channels of the last upsampling stage.
    """

    paper = 'GLN (Tuzel et al. 2016); Attention-FH Table 10'
    paper_parameters = None

    def __init__(self, scale: int = 8, width: int = 24, global_grid: int = 16, global_hidden: int = 128,
                 detail_channels: int = 4, tail_width: int = 6) -> None:
        super().__init__(scale)
        self.global_grid = int(global_grid)
        self.global_fc = nn.Sequential(nn.Flatten(), nn.Linear(3 * global_grid * global_grid, global_hidden),
                                       nn.ReLU(inplace=True))
        self.global_detail = GlobalMap(global_hidden, detail_channels, global_grid)
        self.embed = LRStackEmbedding(scale, width, extra_channels=detail_channels)
        self.local = nn.Sequential(conv2d(width, width), nn.ReLU(inplace=True), conv2d(width, width),
                                   nn.ReLU(inplace=True))
        widths = stage_widths(max(width // 2, tail_width), tail_width, num_stages(scale))
        self.upsample = PixelShuffleStages(width, widths, activation="relu")
        self.tail = zero_init_(conv2d(widths[-1], 3))

    def residual(self, ctx: RepairContext) -> Tensor:
        pooled = F.adaptive_avg_pool2d(ctx.image, self.global_grid)
        detail = self.global_detail(self.global_fc(pooled), lr_coords(ctx))
        features = self.local(self.embed(ctx, detail))
        return self.tail(self.upsample(features))
