"""C-SRIP (Grm, Scheirer, Struc: "Face hallucination using cascaded super-resolution and identity priors").

The cascaded SR network (Sec. 3.1, 3.4, Fig. 2 and Fig. 11) and the SqueezeNet residual recognisers that
act as identity priors (Sec. 3.2-3.4, Fig. 3-4). The high-pass residual images they classify are
:func:`fh_gym.restorers.archs.filters.highpass_residual` with sigma ``(factor - 1) / 3``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from fh_gym.restorers.archs.common import conv2d
from fh_gym.restorers.archs.filters import highpass_residual, residual_sigma, upsample_bicubic
from fh_gym.restorers.base import Generator, zero_init_
from fh_gym.restorers.registry import register_arch


def _lrelu() -> nn.Module:
    # The paper uses LReLU without a slope; 0.2 as SRGAN's discriminator and LapSRN.
    return nn.LeakyReLU(0.2, inplace=True)


class CSRIPResidualBlock(nn.Module):
    """C-SRIP residual block: two [conv 3x3, BN, LReLU] sub-blocks, then a post-activation sum with the input.

    Sec. 3.1 ("similarly to SRGAN ... followed by a post-activation element-wise sum").
    Layout: (B, C, h, w) -> (B, C, h, w).

    Args:
        channels: Feature width (kept).
        norm: Batch norm after each conv (the paper's choice).
    """

    paper = "C-SRIP Sec. 3.1 / Fig. 11 residual block"
    paper_parameters: int | None = None

    def __init__(self, channels: int, norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(2):
            layers += [conv2d(channels, channels, 3), nn.BatchNorm2d(channels) if norm else nn.Identity(), _lrelu()]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class CSRIPModule(nn.Module):
    """One x2 SR module: ``p`` residual blocks (with a module-level skip), a conv to ``2 * width`` channels and
    a sub-pixel convolution (PixelShuffle(2)) leaving ``width / 2`` channels at twice the resolution.

    Sec. 3.1/3.4: the conv before the shuffle doubles the filters (1024 for a 512-wide module) so the
    shuffle's 4x channel reduction does not cut capacity; the next module works at ``width / 2``.
    Layout: (B, width, h, w) -> (B, width / 2, 2h, 2w).

    Args:
        width: Filters of the residual blocks (512, 256, 128 in the paper).
        num_blocks: Residual blocks ``p`` (7 in the paper).
        norm: Batch norm in the residual blocks.
    """

    paper = "C-SRIP Sec. 3.1 / Fig. 2 SR module"
    paper_parameters: int | None = None

    def __init__(self, width: int, num_blocks: int, norm: bool = True) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(CSRIPResidualBlock(width, norm) for _ in range(num_blocks)))
        self.upsample = nn.Sequential(conv2d(width, 2 * width, 3), nn.PixelShuffle(2), _lrelu())

    def forward(self, x: Tensor) -> Tensor:
        return self.upsample(x + self.blocks(x))


@register_arch
class CSRIPGenerator(Generator):
    """C-SRIP cascaded SR network with side outputs at every x2 scale (Sec. 3.1, 3.4; Fig. 2, Fig. 11).

    Architecture: conv ``head_kernel`` x ``head_kernel`` (9x9, 512 filters) + LReLU on the LR face ->
    ``log2(scale)`` SR modules (:class:`CSRIPModule`; widths halve: 512, 256, 128 at x8) -> conv to
    ``tail_width`` -> one residual block (128 filters) -> conv ``out_kernel`` (9x9) to RGB -> clipping.
    After every module but the last a side branch [conv ``out_kernel`` to ``side_width`` (512), LReLU,
    conv ``out_kernel`` to RGB] gives the intermediate result at that scale (used only for training).

    Choices where the paper is vague or that we changed:

    * ``image_skip`` (default True): every output is ``bicubic(lr) + predicted details``. Fig. 3 describes
      an SR module as interpolation plus added high-frequency details; Fig. 2 draws no such skip, so
      ``image_skip=False`` is the literal network. With the skip the RGB convs are zero-initialised, so an
      untrained network is bicubic interpolation and short CPU trainings start from it.
    * Each module adds its input to its residual blocks' output (a module-level skip, as SRGAN's B blocks).
    * The clipping layer to [0, 1] is applied in eval mode only: during training the losses see the
      unclipped output, so saturated pixels still receive gradients.
    * LReLU slope 0.2 (not given). ``base_width`` must be divisible by ``2 ** log2(scale)``.

    Scales: the paper is x8 (24 -> 192); here any power of two: x4 has 2 modules, x8 3, x16 4.
    Size: 66,285,321 parameters at the paper's kwargs (``base_width=512, num_blocks=7, tail_width=128,
    side_width=512, out_kernel=9``) at x8 (the paper gives no count: "a 53-layer deep CNN"); 336,201 at
    the CPU defaults.

    Layout: ``forward(lr)`` (B, 3, h, w) in [0, 1] -> (B, 3, h * scale, w * scale);
    ``forward_all(lr)`` -> ``{"x2": (B, 3, 2h, 2w), "x4": ..., f"x{scale}": final}``.

    Args:
        scale: Magnification (power of two >= 2).
        base_width: Width of the first module (512 in the paper); later modules halve it.
        num_blocks: Residual blocks per module ``p`` (7).
        tail_width: Width of the last residual block (128).
        side_width: Width of the side-branch conv (512, Fig. 11).
        head_kernel: Kernel of the first conv (9).
        out_kernel: Kernel of the RGB output convs and the side-branch conv (9).
        norm: Batch norm in the residual blocks (True as the paper).
        image_skip: Add the bicubic-upsampled LR to every output (see above).
    """

    paper = "C-SRIP (Grm et al. 2019), Sec. 3.1 + 3.4, Fig. 2 and Fig. 11"
    paper_parameters: int | None = None

    def __init__(self, scale: int = 8, base_width: int = 64, num_blocks: int = 2, tail_width: int = 16,
                 side_width: int = 16, head_kernel: int = 9, out_kernel: int = 5, norm: bool = True,
                 image_skip: bool = True) -> None:
        super().__init__(scale)
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"CSRIPGenerator needs a power-of-two scale >= 2, got {scale}")
        stages = int(math.log2(scale))
        if base_width % (2**stages):
            raise ValueError(f"base_width {base_width} must be divisible by {2**stages} (each of the {stages} "
                             f"x{scale} modules halves the width)")
        self.image_skip = bool(image_skip)
        self.head = nn.Sequential(conv2d(3, base_width, head_kernel), _lrelu())
        widths = [base_width // 2**i for i in range(stages)]
        self.cascade = nn.ModuleList(CSRIPModule(w, num_blocks, norm) for w in widths)
        # Side branches read each module's output (width / 2 channels); none after the last module.
        self.sides = nn.ModuleList(
            nn.Sequential(conv2d(w // 2, side_width, out_kernel), _lrelu(), conv2d(side_width, 3, out_kernel))
            for w in widths[:-1])
        last = widths[-1] // 2
        self.tail = nn.Sequential(conv2d(last, tail_width, 3), _lrelu(), CSRIPResidualBlock(tail_width, norm),
                                  conv2d(tail_width, 3, out_kernel))
        if self.image_skip:
            # Start exactly at bicubic: the RGB convs predict details on top of it (as the patch restorers).
            for branch in [*self.sides, self.tail]:
                zero_init_(branch[-1])

    @property
    def output_keys(self) -> list[str]:
        """``["x2", "x4", ..., f"x{scale}"]``: the keys of :meth:`forward_all`."""
        return [f"x{2 ** (i + 1)}" for i in range(len(self.cascade))]

    def _finish(self, details: Tensor, lr: Tensor, factor: int) -> Tensor:
        out = details + upsample_bicubic(lr, factor) if self.image_skip else details
        return out if self.training else out.clamp(0.0, 1.0)

    def forward(self, lr: Tensor, side_outputs: bool = False) -> Tensor | dict[str, Tensor]:
        """Super-resolve ``lr``; with ``side_outputs`` return :meth:`forward_all`'s dict (lets DDP wrap it)."""
        self.check_input(lr)
        x = self.head(lr)
        outputs: dict[str, Tensor] = {}
        for i, module in enumerate(self.cascade):
            x = module(x)
            if side_outputs and i < len(self.sides):
                outputs[f"x{2 ** (i + 1)}"] = self._finish(self.sides[i](x), lr, 2 ** (i + 1))
        final = self._finish(self.tail(x), lr, self.scale)
        if not side_outputs:
            return final
        outputs[f"x{self.scale}"] = final
        return outputs

    def forward_all(self, lr: Tensor) -> dict[str, Tensor]:
        """Every scale's output: ``{"x2": ..., "x4": ..., f"x{scale}": final}`` (side outputs + final)."""
        return self.forward(lr, side_outputs=True)


class FireModule(nn.Module):
    """SqueezeNet fire module: squeeze 1x1 -> ReLU -> [expand 1x1 | expand 3x3] -> ReLU, with a bypass.

    Iandola et al. 2016, Fig. 2 and Sec. 6 ("complex bypass"): a simple (identity) bypass when the input
    and output widths agree, a 1x1 conv bypass otherwise (``bypass=True``).
    Layout: (B, in, h, w) -> (B, e1 + e3, h, w).

    Args:
        in_channels: Input width.
        squeeze: Squeeze filters s1x1.
        expand: Filters of each expand branch (e1x1 = e3x3).
        bypass: Add the (simple or complex) bypass.
    """

    paper = "SqueezeNet (Iandola et al. 2016), fire module; C-SRIP Sec. 3.4"
    paper_parameters: int | None = None

    def __init__(self, in_channels: int, squeeze: int, expand: int, bypass: bool = True) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(in_channels, squeeze, 1), nn.ReLU(inplace=True))
        self.expand1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3 = nn.Conv2d(squeeze, expand, 3, padding=1)
        self.bypass: nn.Module | None = None
        if bypass:
            self.bypass = nn.Identity() if in_channels == 2 * expand else nn.Conv2d(in_channels, 2 * expand, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = self.squeeze(x)
        out = torch.cat([self.expand1(s), self.expand3(s)], dim=1)
        if self.bypass is not None:
            out = out + self.bypass(x)
        return torch.relu(out)


#: SqueezeNet v1.0 fire2..fire9 (squeeze, expand), plus a 9th module repeating fire9 (C-SRIP: 9 fire modules).
FIRE_TABLE = ((16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256), (64, 256), (64, 256))
_POOL_AFTER = (0, 3, 7)  # max-pools after conv1, fire4 and fire8 (SqueezeNet v1.0), by fire index


@register_arch
class SqueezeNetResidualRecognizer(nn.Module):
    """C-SRIP identity prior: a complex-bypass SqueezeNet classifying high-pass residual images at one scale.

    C-SRIP Sec. 3.2-3.4 (Fig. 3 right, Fig. 4 right): the input face ``x`` at ``factor`` times the LR size
    is turned into ``dx = x - g * x`` (Gaussian sigma ``(factor - 1) / 3``: 1/3, 1, 7/3 at 2x, 4x, 8x) so
    the net responds only to the details an SR module hallucinates; trained with cross-entropy over the
    training identities (Eq. 1), then frozen. Architecture: conv 7x7/2 (96) -> max-pools and 9 fire
    modules with simple/complex bypasses (SqueezeNet v1.0's fire2..fire9 plus one more, since C-SRIP
    counts 9) -> global average pool -> identity features -> dropout -> linear classifier (SqueezeNet's
    conv10 + average pool without its ReLU, so the logits can be negative).

    Choices: the input residual is standardised by an affine BatchNorm (residuals have a std of ~0.03);
    the number of max-pools (<= 3) adapts to ``input_size`` so the last map is >= 4x4 (the paper's
    48/96/192 inputs; ours are 32/64/128 at x8 from 16x16 LR); ``width`` scales every filter count.

    Size: 1,786,862 parameters at ``width=1`` with 1,000 classes (1,589,678 with SqueezeNet's 8 fire
    modules; SqueezeNet v1.0 without bypasses: 1,248,424); the classifier has ``512 * width * num_classes``
    weights. C-SRIP gives no count.

    Layout: ``forward`` (B, 3, input_size, input_size) images in [0, 1] -> (B, num_classes) logits;
    ``features`` -> (B, 512 * width) identity features; ``residual`` -> the high-pass input.

    Args:
        num_classes: Training identities K.
        input_size: Side of the input images (factor x LR side).
        factor: Scale of the input relative to the LR face (2, 4, 8, ...); sets the high-pass sigma.
        width: Multiplier of all filter counts (1.0 = SqueezeNet).
        num_fire: Fire modules (9 in C-SRIP; at most 9).
        dropout: Dropout before the classifier (SqueezeNet: 0.5).
        highpass: Classify residual images (True, the paper) or raw images.
    """

    kind = "aux"
    paper = "C-SRIP (Grm et al. 2019), Sec. 3.2-3.4, Eq. 1; SqueezeNet (Iandola et al. 2016) complex bypass"
    paper_parameters: int | None = None

    def __init__(self, num_classes: int = 100, input_size: int = 128, factor: int = 8, width: float = 1.0,
                 num_fire: int = 9, dropout: float = 0.5, highpass: bool = True) -> None:
        super().__init__()
        if not 1 <= num_fire <= len(FIRE_TABLE):
            raise ValueError(f"num_fire must be in 1..{len(FIRE_TABLE)}, got {num_fire}")
        if input_size < 8:
            raise ValueError(f"input_size must be >= 8, got {input_size}")
        self.input_size, self.factor, self.highpass = int(input_size), int(factor), bool(highpass)
        self.sigma = residual_sigma(self.factor)
        pools = max(0, min(3, math.floor(math.log2(input_size / 8))))

        def w(n: int) -> int:
            return max(1, round(n * width))

        stem = w(96)
        layers: list[nn.Module] = [nn.BatchNorm2d(3), nn.Conv2d(3, stem, 7, stride=2, padding=3), nn.ReLU(inplace=True)]
        in_channels = stem
        for i, (squeeze, expand) in enumerate(FIRE_TABLE[:num_fire]):
            if i in _POOL_AFTER[:pools]:
                layers.append(nn.MaxPool2d(3, stride=2, padding=1))
            layers.append(FireModule(in_channels, w(squeeze), w(expand)))
            in_channels = 2 * w(expand)
        self.body = nn.Sequential(*layers)
        self.feature_dim = in_channels
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_channels, num_classes))

    def residual(self, images: Tensor) -> Tensor:
        """The network input: ``images - blur(images)`` (or the images when ``highpass`` is False)."""
        return highpass_residual(images, self.sigma) if self.highpass else images

    def features(self, images: Tensor) -> Tensor:
        """(B, feature_dim) globally pooled identity features of the residual of ``images``."""
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[-2:]) != (self.input_size,) * 2:
            raise ValueError(f"SqueezeNetResidualRecognizer(input_size={self.input_size}, factor={self.factor}) "
                             f"expects (B, 3, {self.input_size}, {self.input_size}) images, got "
                             f"{tuple(images.shape)}")
        return self.body(self.residual(images)).mean(dim=(2, 3))

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier(self.features(images))
