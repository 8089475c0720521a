"""ESPCN (Shi et al., CVPR 2016): efficient sub-pixel convolution as a patch restorer on the LR grid."""

from __future__ import annotations

from torch import Tensor, nn

from fh_gym.restorers.archs.common import LRStackEmbedding, conv2d
from fh_gym.restorers.base import PatchRestorer, RepairContext, zero_init_
from fh_gym.restorers.registry import register_arch


@register_arch
class ESPCN(PatchRestorer):
    """ESPCN (Shi et al. 2016): all convolutions on the LR grid, one sub-pixel shuffle at the end.

    Attention-FH Table 10 row "Sub-pixel [54]" (23.59 dB, 0.066 ms). ESPCN: conv 5x5 (n1=64) tanh ->
    conv 3x3 (n2=32) tanh -> conv 3x3 (3 * scale^2) -> PixelShuffle(scale). The input here is the
    LR-grid stack of the window (``ctx.lr_stack()``) after a linear 1x1 embedding to ``embed_width``
    channels (a 5x5 conv on the 645-channel stack would cost ~75 MFLOPs at x8). The last conv is
    zero-initialised and its shuffled output is the RGB residual.

    Cost and size at the defaults (the paper's n1=64, n2=32), x8, 48x48 window: 7.9 MFLOPs and 109,952
    parameters (55,488 of them in the 32 -> 192-channel sub-pixel conv).

    Layout: ``ctx`` windows (B, 3, w, w) -> (B, 3, w, w).

    Args:
        scale: Super-resolution factor (power of two).
        n1: Channels of the first (5x5) conv.
        n2: Channels of the second (3x3) conv.
        embed_width: Channels of the 1x1 embedding of the LR-grid stack.
    """

    paper = 'ESPCN sub-pixel (Shi et al. 2016); Attention-FH Table 10'
    paper_parameters = None

    def __init__(self, scale: int = 8, n1: int = 64, n2: int = 32, embed_width: int = 16) -> None:
        super().__init__(scale)
        self.embed = LRStackEmbedding(scale, embed_width)
        self.body = nn.Sequential(conv2d(embed_width, n1, 5), nn.Tanh(), conv2d(n1, n2, 3), nn.Tanh(),
                                  zero_init_(conv2d(n2, 3 * scale * scale, 3)), nn.PixelShuffle(scale))

    def residual(self, ctx: RepairContext) -> Tensor:
        return self.body(self.embed(ctx))
