"""A small U-Net (after Ronneberger et al. 2015), reduced as Attention-FH Sec. 4.6 says."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fh_gym.restorers.archs.common import conv2d, num_stages
from fh_gym.restorers.base import PatchRestorer, RepairContext, zero_init_
from fh_gym.restorers.registry import register_arch


@register_arch
class UNet(PatchRestorer):
    """Small U-Net from the window down to the LR grid and back, with skip connections.

    Attention-FH Table 10 row "U-Net [56]" (23.60 dB, the fastest: 0.057 ms), Sec. 4.6: "For U-Net, we
    reduce the parameters to avoid the case that the model is too large to train". Reduced here to one
    conv per level: the encoder has log2(scale) 3x3 stride-2 convs (ReLU) from the window stack
    ``ctx.hr_stack()`` (15 channels) down to the LR grid, widths ``base_width * 2**k``; at the LR grid
    the LR pixels ``ctx.lr`` are concatenated and fused by a 3x3 conv (the bottleneck); each decoder
    level is a 2x2 stride-2 transposed conv, concatenation with the encoder map of that level and a 3x3
    conv (ReLU); the last level concatenates the input stack and a zero-initialised 3x3 conv gives the
    RGB residual. (U-Net: two 3x3 convs per level, max-pooling, 64..1024 channels.)

    Cost and size at the defaults, x8, 48x48 window: 8.7 MFLOPs and 26,264 parameters.

    Layout: ``ctx`` windows (B, 3, w, w) -> (B, 3, w, w).

    Args:
        scale: Super-resolution factor (power of two); sets the number of levels.
        base_width: Width of the finest encoder level (doubling per level).
    """

    paper = 'U-Net (Ronneberger et al. 2015), reduced; Attention-FH Table 10'
    paper_parameters = None

    def __init__(self, scale: int = 8, base_width: int = 8) -> None:
        super().__init__(scale)
        levels = num_stages(scale)
        widths = [base_width * 2**k for k in range(levels)]  # widths[k]: encoder level k + 1
        stack = RepairContext.HR_STACK_CHANNELS
        self.down = nn.ModuleList()
        channels = stack
        for width in widths:
            self.down.append(nn.Sequential(conv2d(channels, width, 3, stride=2), nn.ReLU(inplace=True)))
            channels = width
        self.bottleneck = nn.Sequential(conv2d(widths[-1] + 3, widths[-1]), nn.ReLU(inplace=True))
        # Decoder, coarse to fine: level k (k = levels-1 .. 1) upsamples widths[k] to widths[k-1].
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for k in range(levels - 1, 0, -1):
            self.up.append(nn.ConvTranspose2d(widths[k], widths[k - 1], 2, stride=2))
            self.merge.append(nn.Sequential(conv2d(2 * widths[k - 1], widths[k - 1]), nn.ReLU(inplace=True)))
        self.up_last = nn.ConvTranspose2d(widths[0], widths[0], 2, stride=2)
        self.tail = zero_init_(conv2d(widths[0] + stack, 3))

    def residual(self, ctx: RepairContext) -> Tensor:
        skips = [ctx.hr_stack()]
        for down in self.down:
            skips.append(down(skips[-1]))
        x = self.bottleneck(torch.cat([skips.pop(), ctx.lr], dim=1))
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return self.tail(torch.cat([self.up_last(x), skips.pop()], dim=1))
