"""SRGAN-style generator and discriminator (Ledig et al., CVPR 2017): Attention-FH's reward reference."""

from __future__ import annotations

import math

from torch import Tensor, nn

from fh_gym.restorers.archs.common import PixelShuffleStages, conv2d
from fh_gym.restorers.archs.filters import upsample_bicubic
from fh_gym.restorers.base import Generator, zero_init_
from fh_gym.restorers.registry import register_arch


class SRGANResidualBlock(nn.Module):
    """SRGAN residual block: conv 3x3, BN, PReLU, conv 3x3, BN, plus the input (Ledig et al. Fig. 4).

    Layout: (B, C, h, w) -> (B, C, h, w).

    Args:
        channels: Feature width.
        norm: Batch norm (SRGAN: yes; EDSR later dropped it).
    """

    paper = "SRGAN (Ledig et al. 2017), Fig. 4 residual block"
    paper_parameters: int | None = None

    def __init__(self, channels: int, norm: bool = True) -> None:
        super().__init__()

        def bn() -> nn.Module:
            return nn.BatchNorm2d(channels) if norm else nn.Identity()

        self.body = nn.Sequential(conv2d(channels, channels, 3), bn(), nn.PReLU(channels),
                                  conv2d(channels, channels, 3), bn())

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@register_arch
class SRGANGenerator(Generator):
    """SRGAN generator (SRResNet): conv 9x9 + PReLU, B residual blocks with BN, conv + BN with a long skip,
    one [conv 3x3 to 4C, PixelShuffle(2), PReLU] stage per octave, conv 9x9 to RGB.

    Attention-FH (Sec. 3.4, Eq. 6) uses SRGAN's result as the reference B of its delayed reward; fh-gym's
    ``reward: {type: attention_fh, reference: {type: SRGANGenerator, checkpoint: ...}}`` loads this class.
    SRGAN is x4 (two pixel-shuffle stages); here ``log2(scale)`` stages (x8: 3, x16: 4).

    Choices: BN as SRGAN (``norm=False`` gives the EDSR-style BN-free variant); PReLU with one slope per
    channel; output in [0, 1] instead of SRGAN's tanh [-1, 1]. ``image_skip`` (ours, default True) adds
    the bicubic-upsampled LR and zero-initialises the last conv, so training starts at bicubic; outputs
    are clamped to [0, 1] in eval mode only.

    Size: 1,550,659 parameters at SRGAN's kwargs (``num_features=64, num_blocks=16``) at x4, 1,698,435 at
    x8 (the SRGAN paper gives no count); 210,627 at the CPU defaults, x8.

    Layout: (B, 3, h, w) in [0, 1] -> (B, 3, h * scale, w * scale).

    Args:
        scale: Magnification (power of two).
        num_features: Width C (SRGAN: 64).
        num_blocks: Residual blocks B (SRGAN: 16).
        norm: Batch norm in the residual blocks and after the body conv.
        image_skip: Predict details over bicubic interpolation.
    """

    paper = "SRGAN (Ledig et al. 2017), Fig. 4; reward reference of Attention-FH Eq. 6"
    paper_parameters: int | None = None

    def __init__(self, scale: int = 8, num_features: int = 32, num_blocks: int = 4, norm: bool = True,
                 image_skip: bool = True) -> None:
        super().__init__(scale)
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"SRGANGenerator needs a power-of-two scale >= 2, got {scale}")
        c = num_features
        self.image_skip = bool(image_skip)
        self.head = nn.Sequential(conv2d(3, c, 9), nn.PReLU(c))
        self.body = nn.Sequential(*(SRGANResidualBlock(c, norm) for _ in range(num_blocks)), conv2d(c, c, 3),
                                  nn.BatchNorm2d(c) if norm else nn.Identity())
        self.upsample = PixelShuffleStages(c, [c] * int(math.log2(scale)), activation="prelu")
        self.tail = conv2d(c, 3, 9)
        if self.image_skip:
            zero_init_(self.tail)

    def forward(self, lr: Tensor) -> Tensor:
        self.check_input(lr)
        x = self.head(lr)
        out = self.tail(self.upsample(x + self.body(x)))
        if self.image_skip:
            out = out + upsample_bicubic(lr, self.scale)
        return out if self.training else out.clamp(0.0, 1.0)


@register_arch
class SRGANDiscriminator(nn.Module):
    """SRGAN discriminator: conv k3n64s1 + LReLU, seven [conv, BN, LReLU] blocks (64 s2, 128 s1, 128 s2,
    256 s1, 256 s2, 512 s1, 512 s2), dense 1024, LReLU, dense 1 (Ledig et al. Fig. 4).

    Global (one score per image). Choices: an adaptive average pool to ``pool x pool`` before the dense
    layer (SRGAN's 96x96 crops give 6x6 maps, hence 6; our 128x128 faces give 8x8, pooled to 6x6 so the
    dense layer keeps SRGAN's size); logits out, the sigmoid is in the loss; LReLU slope 0.2.

    Size: 23,565,505 parameters at SRGAN's kwargs (``base_width=64, fc_width=1024``); 1,474,609 at the
    CPU defaults.

    Layout: (B, 3, H, W) in [0, 1], H, W >= 16 -> (B, 1) logits.

    Args:
        base_width: Width of the first conv (SRGAN: 64); doubles every second block.
        fc_width: Hidden dense width (SRGAN: 1024).
        pool: Side of the pooled map before the dense layer.
        norm: Batch norm in the blocks.
    """

    kind = "aux"
    paper = "SRGAN (Ledig et al. 2017), Fig. 4 discriminator"
    paper_parameters: int | None = None

    def __init__(self, base_width: int = 16, fc_width: int = 256, pool: int = 6, norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv2d(3, base_width, 3), nn.LeakyReLU(0.2, inplace=True)]
        cin = base_width
        for mult, stride in ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)):
            width = base_width * mult
            layers += [conv2d(cin, width, 3, stride), nn.BatchNorm2d(width) if norm else nn.Identity(),
                       nn.LeakyReLU(0.2, inplace=True)]
            cin = width
        layers += [nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Linear(cin * pool * pool, fc_width),
                   nn.LeakyReLU(0.2, inplace=True), nn.Linear(fc_width, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, faces: Tensor) -> Tensor:
        return self.net(faces)
