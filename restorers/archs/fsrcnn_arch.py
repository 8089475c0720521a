"""FSRCNN (Dong, Loy and Tang, ECCV 2016) as a patch restorer on the LR grid."""

from __future__ import annotations

from torch import Tensor, nn

from fh_gym.restorers.archs.common import LRStackEmbedding, SubPixelDeconv, conv2d
from fh_gym.restorers.base import PatchRestorer, RepairContext, zero_init_
from fh_gym.restorers.registry import register_arch


@register_arch
class FSRCNN(PatchRestorer):
    """FSRCNN(d, s, m) (Dong et al. 2016), the local enhancement network Attention-FH finally chose.

    Attention-FH Table 10 row "FSRCNN [57]" (23.64 dB, 0.075 ms on 120x160) and Sec. 4.6 ("We choose
    FSRCNN as the implementation of our local enhancement network"). FSRCNN: feature extraction conv 5x5
    (d) -> shrinking conv 1x1 (s) -> m mapping convs 3x3 (s) -> expanding conv 1x1 (d) -> deconv 9x9 with
    stride = scale, PReLU after every conv but the deconv, all on the LR image.

    Here the LR "image" is the LR-grid stack of the window (``ctx.lr_stack()``: masked / current / start
    windows by space-to-depth, mask, LR pixels, coordinates). A linear 1x1 embedding to ``embed_width``
    channels precedes the 5x5 feature extraction (a factorised version of a 5x5 conv on the 645-channel
    stack, which would cost ~65 MFLOPs at x8). The deconvolution outputs the RGB residual and is
    zero-initialised; its kernel is ``max(9, 2 * scale)`` (the paper's 9x9 leaves output pixels that no
    kernel tap reaches once the stride exceeds 9, e.g. x16), with padding chosen so the output is exactly
    ``scale`` times the grid; it is computed as the equivalent sub-pixel convolution (``SubPixelDeconv``,
    ~3.5x faster on CPU than ``nn.ConvTranspose2d``).

    Cost and size at the defaults (the paper's d=56, s=12, m=4), x8, 48x48 window: 82,619 parameters
    (43,011 in the 16x16 deconvolution; the paper's 1-channel x3 FSRCNN(56, 12, 4) has ~12.5k) and 5.9
    MFLOPs of multiply-adds, 9.8 as counted (the sub-pixel form also multiplies the kernel's zero taps).

    Layout: ``ctx`` windows (B, 3, w, w) -> (B, 3, w, w).

    Args:
        scale: Super-resolution factor (power of two).
        d: Feature width (the paper's d).
        s: Shrunk mapping width (the paper's s; not the scale).
        m: Number of 3x3 mapping layers (the paper's m).
        embed_width: Channels of the 1x1 embedding of the LR-grid stack.
    """

    paper = 'FSRCNN (Dong et al. 2016); Attention-FH Table 10'
    paper_parameters = None

    def __init__(self, scale: int = 8, d: int = 56, s: int = 12, m: int = 4, embed_width: int = 16) -> None:
        super().__init__(scale)
        self.embed = LRStackEmbedding(scale, embed_width)
        layers: list[nn.Module] = [conv2d(embed_width, d, 5), nn.PReLU(d), conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [conv2d(s, s, 3), nn.PReLU(s)]
        layers += [conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        kernel = max(9, 2 * scale)
        self.deconv = zero_init_(SubPixelDeconv(d, 3, kernel, scale))

    def residual(self, ctx: RepairContext) -> Tensor:
        return self.deconv(self.body(self.embed(ctx)))
