"""EDSR-lite (after Lim et al., CVPRW 2017): residual blocks on the LR grid and a sub-pixel upsampler."""

from __future__ import annotations

from torch import Tensor, nn

from fh_gym.restorers.archs.common import (
    LRStackEmbedding,
    PixelShuffleStages,
    ResidualBlock,
    conv2d,
    num_stages,
    stage_widths,
)
from fh_gym.restorers.base import PatchRestorer, RepairContext, zero_init_
from fh_gym.restorers.registry import register_arch


@register_arch
class EDSRLite(PatchRestorer):
    """EDSR-lite: EDSR's residual blocks (no batch norm, residual scaling) on the LR grid, then sub-pixel x2s.

    Attention-FH Table 7 ("Our-EDSR": EDSR as the local enhancement network, 28.25 dB on LFW x8) and
    Table 11 (EDSR: 2,463,217 parameters). EDSR: head conv -> B residual blocks [conv, ReLU, conv] x
    res_scale -> conv, with a long skip -> upsampler [conv to 4F, PixelShuffle(2)] per x2 -> conv to RGB.

    "Lite" changes (cost): the head is a linear 1x1 embedding of the LR-grid stack (``ctx.lr_stack()``)
    to ``n_feats``; 4 blocks of 32 channels instead of 16 x 64 (or 32 x 256); the upsampler stages
    narrow geometrically from ``n_feats / 2`` to ``tail_width`` instead of keeping F channels (EDSR's x8
    upsampler at F=32 would cost ~55 MFLOPs on a 48x48 window); the last conv outputs the RGB residual
    and is zero-initialised. ``res_scale`` 0.1 as EDSR's large model.

    Cost and size at the defaults, x8, 48x48 window: 11.9 MFLOPs and 128,319 parameters (paper EDSR:
    2,463,217, Table 11).

    Layout: ``ctx`` windows (B, 3, w, w) -> (B, 3, w, w).

    Args:
        scale: Super-resolution factor (power of two).
        n_feats: Feature width on the LR grid (EDSR: 64 baseline, 256 large).
        n_resblocks: Residual blocks (EDSR: 16 baseline, 32 large).
        res_scale: Residual scaling of each block.
        tail_width: Channels of the last upsampling stage.
    """

    paper = 'EDSR (Lim et al. 2017), lite; Attention-FH Tables 7, 11'
    paper_parameters = 2463217

    def __init__(self, scale: int = 8, n_feats: int = 32, n_resblocks: int = 4, res_scale: float = 0.1,
                 tail_width: int = 4) -> None:
        super().__init__(scale)
        self.embed = LRStackEmbedding(scale, n_feats)
        blocks: list[nn.Module] = [ResidualBlock(n_feats, res_scale) for _ in range(n_resblocks)]
        self.body = nn.Sequential(*blocks, conv2d(n_feats, n_feats))
        widths = stage_widths(max(n_feats // 2, tail_width), tail_width, num_stages(scale))
        self.upsample = PixelShuffleStages(n_feats, widths)
        self.tail = zero_init_(conv2d(widths[-1], 3))

    def residual(self, ctx: RepairContext) -> Tensor:
        features = self.embed(ctx)
        return self.tail(self.upsample(features + self.body(features)))
