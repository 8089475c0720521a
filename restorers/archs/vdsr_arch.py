"""VDSR (Kim, Lee and Lee, CVPR 2016): a deep residual CNN at window resolution."""

from __future__ import annotations

from torch import Tensor, nn

from fh_gym.restorers.archs.common import conv2d
from fh_gym.restorers.base import PatchRestorer, RepairContext, zero_init_
from fh_gym.restorers.registry import register_arch


@register_arch
class VDSR(PatchRestorer):
    """VDSR (Kim et al. 2016): ``depth`` 3x3 convolutions with ReLU at window resolution, residual output.

    Attention-FH Table 10 row "VDSR [24]" (23.56 dB and the slowest: 0.312 ms) and Table 11 (664,704
    parameters: 20 layers of 64 channels on luminance). VDSR works on the bicubic-upsampled image; here
    its input is the window stack ``ctx.hr_stack()`` (masked / current / start windows, bicubic LR, mask,
    coordinates: 15 channels) and it predicts the RGB residual of the current window (VDSR's global
    residual learning), its last conv zero-initialised.

    Cost: every layer runs at window resolution, so it is the expensive restorer of the set; keep it for
    the Table-10 comparison, not for the default env. Defaults keep the paper's depth 20 at width 8:
    53.8 MFLOPs per 48x48 window and 11,819 parameters; the paper's width 64 costs 3.1 GFLOPs
    (675,139 parameters with our 15-channel input, RGB output and biases).

    Layout: ``ctx`` windows (B, 3, w, w) -> (B, 3, w, w); any ``scale`` (only the bicubic LR uses it).

    Args:
        scale: Super-resolution factor (power of two).
        depth: Number of conv layers including the first and the last (paper: 20).
        width: Channels of the hidden layers (paper: 64).
    """

    paper = 'VDSR (Kim et al. 2016); Attention-FH Tables 10, 11'
    paper_parameters = 664704

    def __init__(self, scale: int = 8, depth: int = 20, width: int = 8) -> None:
        super().__init__(scale)
        if depth < 2:
            raise ValueError(f"VDSR needs depth >= 2, got {depth}")
        layers: list[nn.Module] = [conv2d(RepairContext.HR_STACK_CHANNELS, width), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [conv2d(width, width), nn.ReLU(inplace=True)]
        layers.append(zero_init_(conv2d(width, 3)))
        self.body = nn.Sequential(*layers)

    def residual(self, ctx: RepairContext) -> Tensor:
        return self.body(ctx.hr_stack())
