"""OFHNet (obscured face hallucination network): LR inpainting network + upsampling network (Sec. 3.1, Fig. 4).

The discriminator and the landmark network of OFHNet live in ``discriminator_arch.py`` and
``landmark_arch.py``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.archs.common import conv2d
from fh_gym.restorers.archs.filters import upsample_bicubic
from fh_gym.restorers.base import Generator, zero_init_
from fh_gym.restorers.registry import register_arch


def _conv_relu_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    # The paper's block order is Conv + ReLU + BN (Sec. 3.1).
    return nn.Sequential(conv2d(cin, cout, 3, stride), nn.ReLU(inplace=True), nn.BatchNorm2d(cout))


def _nn_upsample(cin: int, cout: int) -> nn.Sequential:
    # NNI + BN + ReLU + Conv + BN + ReLU (nearest neighbour instead of deconv against checkerboards).
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
                         conv2d(cin, cout, 3), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


@register_arch
class OFHNetInpainter(nn.Module):
    """OFHNet LR inpainting network: a shallow encoder-decoder completing the occluded LR face (Sec. 3.1, Fig. 4).

    Encoder: four [Conv 3x3, ReLU, BN] blocks with strides 1, 1, 2, 2 (the first is k3n16s1); at 16x16 the
    bottleneck is 64 x 4 x 4 = 1024 values, the paper's "bottle representation (dimension 1024)". Decoder:
    two upsample modules [NNI x2, BN, ReLU, Conv, BN, ReLU], then two convolutions and a sigmoid. The
    known (non-occluded) pixels of the input are copied into the output (Fig. 2: "We replace pixels in the
    non-mask region of the inpainting LR with original pixels").

    Kind "aux", not "generator": it maps LR to LR (scale 1), so it cannot be an env front-end on its own;
    :class:`OFHNetGenerator` composes it with :class:`OFHNetUpsampler`.

    Choices: the encoder widths after the first (32, 64, 64) and the decoder widths (32, 16) are ours
    (only k3n16s1 and the 1024-d bottleneck are given). ``predict_mask`` (our addition) makes the last conv
    also output an occlusion-mask logit, trained with BCE against the degradation's mask; when no mask is
    given (an env front-end only sees the LR image) the predicted mask decides which pixels are replaced.
    Fully convolutional: any LR side divisible by 4 (x4: 32, x8: 16, x16: 8).

    Size: 87,140 parameters at the defaults (the paper gives no count).

    Layout: ``forward(lr, mask=None)`` (B, 3, h, w) in [0, 1] (+ optional (B, 1, h, w) mask, 1 = occluded)
    -> (B, 3, h, w) completed LR in [0, 1]; ``forward(lr, mask, return_all=True)`` -> dict with
    ``completed``, ``raw`` (the sigmoid output before the pixel replacement) and ``mask_logits`` (or None).

    Args:
        encoder_widths: Widths of the four encoder blocks.
        decoder_widths: Widths of the two upsample modules.
        predict_mask: Also predict the occlusion mask (used when none is given).
    """

    kind = "aux"
    paper = "OFHNet, Sec. 3.1 (inpainting network), Fig. 2 and Fig. 4"
    paper_parameters: int | None = None

    def __init__(self, encoder_widths: tuple[int, ...] | list[int] = (16, 32, 64, 64),
                 decoder_widths: tuple[int, ...] | list[int] = (32, 16), predict_mask: bool = True) -> None:
        super().__init__()
        if len(encoder_widths) != 4 or len(decoder_widths) != 2:
            raise ValueError(f"OFHNetInpainter needs 4 encoder and 2 decoder widths (two stride-2 blocks, two x2 "
                             f"upsamplings), got {list(encoder_widths)} and {list(decoder_widths)}")
        self.predict_mask = bool(predict_mask)
        layers, cin = [], 3
        for width, stride in zip(encoder_widths, (1, 1, 2, 2)):
            layers.append(_conv_relu_bn(cin, width, stride))
            cin = width
        self.encoder = nn.Sequential(*layers)
        self.decoder = nn.Sequential(_nn_upsample(cin, decoder_widths[0]), _nn_upsample(*decoder_widths))
        last = decoder_widths[1]
        self.out = nn.Sequential(conv2d(last, last, 3), nn.ReLU(inplace=True), conv2d(last, 3 + self.predict_mask, 3))

    def forward(self, lr: Tensor, mask: Tensor | None = None, return_all: bool = False) -> Tensor | dict:
        if lr.ndim != 4 or lr.shape[1] != 3 or lr.shape[-1] % 4 or lr.shape[-2] % 4:
            raise ValueError(f"OFHNetInpainter expects (B, 3, h, w) LR faces with h, w divisible by 4, "
                             f"got {tuple(lr.shape)}")
        out = self.out(self.decoder(self.encoder(lr)))
        raw = torch.sigmoid(out[:, :3])
        mask_logits = out[:, 3:] if self.predict_mask else None
        keep = mask if mask is not None else (torch.sigmoid(mask_logits) if mask_logits is not None else None)
        completed = raw if keep is None else keep * raw + (1.0 - keep) * lr
        if return_all:
            return {"completed": completed, "raw": raw, "mask_logits": mask_logits}
        return completed


class ResidualUpsampleBlock(nn.Module):
    """OFHNet residual-upsample block: [Conv, BN, ReLU, Conv, BN, ReLU, Conv] + skip, then [NNI x2, BN, ReLU].

    Sec. 3.1: every conv of a block has the same number of maps C (k1nCs1 in Fig. 4: we use 3x3 convs as
    the figure's kernel size is not legible; a 1x1 conv adapts the skip when the input width differs).
    Layout: (B, in, h, w) -> (B, C, 2h, 2w).

    Args:
        in_channels: Input width.
        channels: C.
    """

    paper = "OFHNet Sec. 3.1 residual-upsample block"
    paper_parameters: int | None = None

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv2d(in_channels, channels, 3), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
                                  conv2d(channels, channels, 3), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
                                  conv2d(channels, channels, 3))
        self.skip = nn.Identity() if in_channels == channels else nn.Conv2d(in_channels, channels, 1)
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.BatchNorm2d(channels),
                                nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.up(self.body(x) + self.skip(x))


@register_arch
class OFHNetUpsampler(Generator):
    """OFHNet upsampling network: ``log2(scale)`` residual-upsample blocks, three convs and a sigmoid (Sec. 3.1).

    Head conv 3x3 (3 -> C_1, ReLU; implied by the figure) -> blocks of widths ``base_width / 2**i``
    (:class:`ResidualUpsampleBlock`) -> conv, ReLU, conv, ReLU, conv to RGB -> sigmoid. The paper's network
    is x8 (three blocks); x4 has two blocks and x16 four.

    ``image_skip`` (our choice, default True): the output is ``bicubic(lr) + tail(features)`` without the
    sigmoid (clamped to [0, 1] in eval mode), the last conv zero-initialised, so training starts at
    bicubic; ``image_skip=False`` is the paper's sigmoid output. Block widths are not given in the paper.

    Size: 167,155 parameters at the defaults, x8 (the paper gives no count).

    Layout: (B, 3, h, w) clean LR in [0, 1] -> (B, 3, h * scale, w * scale).

    Args:
        scale: Magnification (power of two).
        base_width: Width C of the first block; each later block halves it (not below 8).
        image_skip: Predict details over bicubic instead of a sigmoid image.
    """

    paper = "OFHNet, Sec. 3.1 (upsampling network), Fig. 4"
    paper_parameters: int | None = None

    def __init__(self, scale: int = 8, base_width: int = 64, image_skip: bool = True) -> None:
        super().__init__(scale)
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"OFHNetUpsampler needs a power-of-two scale >= 2, got {scale}")
        widths = [max(8, base_width // 2**i) for i in range(int(math.log2(scale)))]
        self.image_skip = bool(image_skip)
        self.head = nn.Sequential(conv2d(3, widths[0], 3), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*(ResidualUpsampleBlock(cin, cout)
                                      for cin, cout in zip([widths[0], *widths[:-1]], widths)))
        last = widths[-1]
        self.tail = nn.Sequential(conv2d(last, last, 3), nn.ReLU(inplace=True), conv2d(last, last, 3),
                                  nn.ReLU(inplace=True), conv2d(last, 3, 3))
        if self.image_skip:
            zero_init_(self.tail[-1])

    def forward(self, lr: Tensor) -> Tensor:
        self.check_input(lr)
        out = self.tail(self.blocks(self.head(lr)))
        if not self.image_skip:
            return torch.sigmoid(out)
        out = out + upsample_bicubic(lr, self.scale)
        return out if self.training else out.clamp(0.0, 1.0)


@register_arch
class OFHNetGenerator(Generator):
    """OFHNet at test time (Fig. 3): inpaint the occluded LR face, then upsample it.

    Composes :class:`OFHNetInpainter` (``self.inpainter``) and :class:`OFHNetUpsampler` (``self.upsampler``);
    the ``ofhnet`` recipe trains them in two stages (curriculum, Sec. 3.3). As an env front-end it receives
    only the LR image, so the inpainter's predicted mask decides which pixels it replaces (``predict_mask``);
    pass ``mask`` to use a known one. On clean inputs it should leave the LR image (almost) unchanged.

    Size: 254,295 parameters at the defaults, x8 (the paper gives no count).

    Layout: ``forward(lr, mask=None)`` (B, 3, h, w) in [0, 1] -> (B, 3, h * scale, w * scale);
    ``forward_all(lr, mask=None)`` -> ``{"inpainted": completed LR, f"x{scale}": HR}``.

    Args:
        scale: Magnification (power of two; LR side divisible by 4).
        encoder_widths: Inpainter encoder widths (4).
        decoder_widths: Inpainter decoder widths (2).
        predict_mask: Inpainter predicts the occlusion mask.
        base_width: Upsampler width of the first residual-upsample block.
        image_skip: Upsampler predicts details over bicubic (see :class:`OFHNetUpsampler`).
    """

    paper = "OFHNet, Sec. 3 and Fig. 3 (testing workflow)"
    paper_parameters: int | None = None

    def __init__(self, scale: int = 8, encoder_widths: tuple[int, ...] | list[int] = (16, 32, 64, 64),
                 decoder_widths: tuple[int, ...] | list[int] = (32, 16), predict_mask: bool = True,
                 base_width: int = 64, image_skip: bool = True) -> None:
        super().__init__(scale)
        self.inpainter = OFHNetInpainter(encoder_widths, decoder_widths, predict_mask)
        self.upsampler = OFHNetUpsampler(scale, base_width, image_skip)

    def forward(self, lr: Tensor, mask: Tensor | None = None) -> Tensor:
        self.check_input(lr)
        return self.upsampler(self.inpainter(lr, mask))

    def forward_all(self, lr: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """The completed LR face and the HR output."""
        self.check_input(lr)
        completed = self.inpainter(lr, mask)
        return {"inpainted": completed, f"x{self.scale}": self.upsampler(completed)}


def occlusion_bce(mask_logits: Tensor, mask: Tensor | None) -> Tensor:
    """BCE of the inpainter's mask logits against the true occlusion mask (zeros when there is none)."""
    target = torch.zeros_like(mask_logits) if mask is None else mask.to(mask_logits.dtype)
    return F.binary_cross_entropy_with_logits(mask_logits, target)
