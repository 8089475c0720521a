"""SICNN (Zhang et al., ECCV 2018): the CNN_H hallucination network and the CNN_R recogniser (Table 1)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.archs.angular_arch import AngularMarginHead
from fh_gym.restorers.base import Generator, zero_init_
from fh_gym.restorers.registry import register_arch

# ----------------------------------------------------------------------------- CNN_H


class DenseBlock(nn.Module):
    """DenseNet block (Huang et al.): ``layers`` [3x3 conv to ``growth_rate`` channels, PReLU], each fed the
    concatenation of the block input and every earlier layer's output.

    Layout: (B, C, h, w) -> (B, C + layers * growth_rate, h, w).
    """

    paper = "SICNN Fig. 2a (dense block, after Huang et al.)"
    paper_parameters: int | None = None

    def __init__(self, in_channels: int, layers: int, growth_rate: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels + i * growth_rate, growth_rate, 3, padding=1), nn.PReLU(growth_rate))
            for i in range(layers))
        self.out_channels = in_channels + layers * growth_rate

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


@register_arch
class SICNNGenerator(Generator):
    """SICNN hallucination network CNN_H (SICNN Sec. 3.1, Fig. 2a): dense blocks, deconvolutions, mapping,
    reconstruction, PReLU after every layer except the reconstruction.

    Structure: a 3x3 input conv, then one stage per octave of the scale factor, each
    ``DB -> DeConv(4, deconv_channels) stride 2 -> Conv(1, channels)`` (dense block with 3x3 kernels and
    growth rate ``growth_rate`` extracting features, learnable x2 upscaling, and the 1x1 "mapping" conv that
    reduces the features before the next block), then ``Conv(3, 3)`` reconstruction. Fig. 2a's exact layer
    widths and block depths are only drawn in the figure, so they are kwargs here.

    Generalising the scale: the paper's x8 network (12x14 -> 96x112) has three such stages, and its x4
    variant (Sec. 4.5, 24x28 inputs) is made "by removing the first DB, DeConv and Conv layers", i.e. one
    stage per octave. We follow that rule: x4 = 2 stages, x8 = 3, x16 = 4; input size is free (16x16 ->
    128x128 at x8 here).

    Deviation (optional): with ``residual=True`` (the default) the network predicts a residual added to the
    bicubic upsampling of its input, with a zero-initialised reconstruction conv, so an untrained CNN_H is
    bicubic and short CPU runs start from a sensible image. ``residual=False`` is the paper's direct output.

    Sizes at x8: 181,283 parameters at the CPU defaults (0.34 GMAC per 16x16 input; x4: 121,155, x16:
    241,411); a paper-like setting ``channels=64, growth_rate=32, dense_layers=6, deconv_channels=128`` has
    2,349,827 (4.4 GMAC). SICNN gives no parameter count.

    Layout: (B, 3, h, w) in [0, 1] -> (B, 3, scale h, scale w) (not clamped).

    Args:
        scale: Upscaling factor (power of two >= 2).
        channels: Width of the input conv and of each mapping conv.
        growth_rate: Dense-block growth rate (paper: 32).
        dense_layers: Conv layers per dense block.
        deconv_channels: Output channels of each deconvolution.
        residual: Add the bicubic upsampling of the input to the output.
    """

    paper = "SICNN Fig. 2a (CNN_H)"
    paper_parameters: int | None = None

    def __init__(self, scale: int = 8, channels: int = 16, growth_rate: int = 32, dense_layers: int = 2,
                 deconv_channels: int = 32, residual: bool = True) -> None:
        super().__init__(scale)
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of two >= 2, got {scale}")
        if min(channels, growth_rate, dense_layers, deconv_channels) < 1:
            raise ValueError("channels, growth_rate, dense_layers and deconv_channels must be positive")
        self.residual = bool(residual)
        self.head = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.PReLU(channels))
        stages: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            block = DenseBlock(channels, dense_layers, growth_rate)
            stages.append(nn.Sequential(
                block,
                nn.ConvTranspose2d(block.out_channels, deconv_channels, 4, stride=2, padding=1),
                nn.PReLU(deconv_channels),
                nn.Conv2d(deconv_channels, channels, 1), nn.PReLU(channels)))
        self.stages = nn.Sequential(*stages)
        self.reconstruction = nn.Conv2d(channels, 3, 3, padding=1)
        if self.residual:
            zero_init_(self.reconstruction)

    def forward(self, lr: Tensor) -> Tensor:
        self.check_input(lr)
        out = self.reconstruction(self.stages(self.head(lr)))
        if self.residual:
            out = out + F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return out


# ----------------------------------------------------------------------------- CNN_R


class PReLUResidualBlock(nn.Module):
    """SICNN Table 1 / SphereFace residual unit: ``x + PReLU(conv3x3(PReLU(conv3x3(x))))`` (size kept)."""

    paper = "SICNN Table 1 (residual block)"
    paper_parameters: int | None = None

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU(channels),
                                  nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


#: Names of the maps :meth:`CNNR.feature_maps` returns, in network order.
CNNR_LAYERS = ("conv1", "res1", "conv2", "res2", "conv3", "res3", "conv4", "res4")


@register_arch
class CNNR(nn.Module):
    """SICNN face recognition network CNN_R (SICNN Table 1), a SphereFace-style residual CNN.

    Table 1 (input 96x112): Conv1a/Conv1b 3x3 pad 0 (64), AvgPool 3x3 s2, residual blocks x1 (64);
    Conv2 (128), pool, x2 (128); Conv3 (256), pool, x5 (256); Conv4 (512), pool, x3 (512); FC1 512 = the
    identity representation. PReLU after every convolution; no activation after FC1. The pools use
    padding 1 (that reproduces the table's sizes: 92x108 -> 46x54 ...).

    Adaptation to 128x128 RGB: the same layers; the input size only changes the maps (126, 124, pool 62,
    60, 30, 28, 14, 12, pool 6) and so the FC1 input, 6x6 instead of 4x5 (7x6 for the paper's 112x96).
    ``input_height``/``input_width`` set it (paper: 112, 96). Inputs in [0, 1] are mapped to [-1, 1]
    (SphereFace's ``(x - 127.5) / 128``). Inputs of another size are refused unless ``resize_input``.

    Widths: stage widths are ``width * (1, 2, 4, 8)`` (paper: ``width=64``) and FC1 has ``feature_dim``
    outputs (paper: 512). Parameters at 128x128: 2,578,416 at the CPU defaults (``width=16, feature_dim=256``,
    0.24 GMAC per face); 31,756,736 at paper widths without the feature normalisation (``width=64,
    feature_dim=512, feature_bn=False``, 3.75 GMAC); 27,562,432 for that on the paper's 112x96 input (SICNN
    gives no count). Most of the defaults' parameters are FC1 (6x6x128x256).

    Deviation (``feature_bn=True``, the default; ``False`` is Table 1): a BatchNorm1d on FC1's output, as
    ArcFace-style recognisers have. The features of an untrained CNN_R share a large common component (the
    cosine of any two LFW faces is ~0.9999), which A-softmax removes only slowly; with the normalisation a
    120-step LFW run reaches ROC AUC 0.68 on unseen people instead of 0.58. In eval mode it uses its running
    statistics, so the features of one face do not depend on the rest of the batch.

    Classifier: with ``num_classes > 0`` the network owns an :class:`AngularMarginHead` (``self.head``,
    A-softmax with ``margin``) so one checkpoint holds everything an identity loss needs; its class names
    travel in the checkpoint meta (``class_names``).

    Layout: ``forward`` (B, 3, H, W) -> (B, feature_dim) identity features; :meth:`feature_maps` returns the
    intermediate conv maps (Gram texture, perceptual losses).

    Args:
        width: Channels of the first stage (paper 64).
        feature_dim: Size of the identity representation FC1 (paper 512).
        blocks: Residual blocks per stage (paper ``[1, 2, 5, 3]``).
        input_height: Input height (paper 112).
        input_width: Input width (paper 96).
        num_classes: Training identities of the A-softmax head (0: no head).
        margin: A-softmax margin m of the head (SICNN 4).
        resize_input: Bilinearly resize inputs of another size instead of refusing them.
        feature_bn: Batch-normalise the identity features (not in the paper, see above).
    """

    kind = "aux"
    paper = "SICNN Table 1 (CNN_R)"
    paper_parameters: int | None = None

    def __init__(self, width: int = 16, feature_dim: int = 256, blocks: tuple[int, ...] | list[int] = (1, 2, 5, 3),
                 input_height: int = 128, input_width: int = 128, num_classes: int = 0, margin: float = 4.0,
                 resize_input: bool = False, feature_bn: bool = True) -> None:
        super().__init__()
        blocks = [int(b) for b in blocks]
        if len(blocks) != 4 or min(blocks) < 0:
            raise ValueError(f"blocks must be 4 non-negative counts (paper [1, 2, 5, 3]), got {blocks}")
        height, width_px = CNNR.map_side(int(input_height), "res4"), CNNR.map_side(int(input_width), "res4")
        if min(height, width_px) < 1:
            raise ValueError(f"input {input_height}x{input_width} is too small for CNN_R's four pad-0 stages")
        self.input_size = (int(input_height), int(input_width))
        self.resize_input = bool(resize_input)
        self.feature_dim = int(feature_dim)
        widths = [width * 2**i for i in range(4)]
        self.stages = nn.ModuleList()
        channels = 3
        for i, (stage_width, count) in enumerate(zip(widths, blocks)):
            convs: list[nn.Module] = []
            if i == 0:  # Conv1a: the first stage has two pad-0 convs (Conv1a, Conv1b)
                convs += [nn.Conv2d(channels, stage_width, 3), nn.PReLU(stage_width)]
                channels = stage_width
            convs += [nn.Conv2d(channels, stage_width, 3), nn.PReLU(stage_width)]
            self.stages.append(nn.ModuleDict({
                "conv": nn.Sequential(*convs),
                "pool": nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                "res": nn.Sequential(*(PReLUResidualBlock(stage_width) for _ in range(count))),
            }))
            channels = stage_width
        self.fc = nn.Linear(channels * height * width_px, self.feature_dim)
        self.feature_bn = nn.BatchNorm1d(self.feature_dim) if feature_bn else None
        self.head = AngularMarginHead(self.feature_dim, num_classes, margin) if num_classes > 0 else None

    def prepare(self, images: Tensor) -> Tensor:
        """Check (or resize) the input and map [0, 1] to [-1, 1]."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"CNNR expects RGB images (B, 3, H, W), got {tuple(images.shape)}")
        if tuple(images.shape[-2:]) != self.input_size:
            if not self.resize_input:
                raise ValueError(f"CNNR was built for {self.input_size[0]}x{self.input_size[1]} faces, got "
                                 f"{images.shape[-2]}x{images.shape[-1]} (build it with resize_input=True to resize)")
            images = F.interpolate(images, size=self.input_size, mode="bilinear", align_corners=False,
                                   antialias=True)
        return images * 2.0 - 1.0

    def feature_maps(self, images: Tensor, upto: str = "res4", check_size: bool = True) -> dict[str, Tensor]:
        """Intermediate maps ``conv1``, ``res1``, ..., ``res4`` (:data:`CNNR_LAYERS`) up to ``upto``.

        Args:
            images: (B, 3, H, W) in [0, 1].
            upto: Last map to compute (later stages are skipped).
            check_size: Refuse inputs of another size than the network's (False: any size the pad-0
                convolutions allow, e.g. patches for a texture loss).

        Returns:
            Name -> (B, C, h, w) map (``convN`` before the stage's pooling, ``resN`` after its residual blocks).
        """
        if upto not in CNNR_LAYERS:
            raise ValueError(f"unknown CNNR layer {upto!r}; valid: {', '.join(CNNR_LAYERS)}")
        x = self.prepare(images) if check_size else images * 2.0 - 1.0
        maps: dict[str, Tensor] = {}
        for i, stage in enumerate(self.stages, start=1):
            x = stage["conv"](x)
            maps[f"conv{i}"] = x
            if upto == f"conv{i}":
                break
            x = stage["res"](stage["pool"](x))
            maps[f"res{i}"] = x
            if upto == f"res{i}":
                break
        return maps

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) faces in [0, 1] -> (B, feature_dim) identity features (FC1 output)."""
        features = self.fc(self.feature_maps(images)["res4"].flatten(1))
        return features if self.feature_bn is None else self.feature_bn(features)

    @staticmethod
    def map_side(side: int, layer: str) -> int:
        """Side of the ``layer`` map for a square input of ``side`` pixels (0 when the input is too small)."""
        if layer not in CNNR_LAYERS:
            raise ValueError(f"unknown CNNR layer {layer!r}; valid: {', '.join(CNNR_LAYERS)}")
        side -= 2  # Conv1a
        for i in range(1, 5):
            side -= 2  # the stage's pad-0 conv
            if side < 1:
                return 0
            if layer == f"conv{i}":
                return side
            side = (side - 1) // 2 + 1  # 3x3 stride-2 pool, padding 1
            if layer == f"res{i}":
                return side
        return side

    @staticmethod
    def min_input_side(layer: str) -> int:
        """Smallest input side for which :meth:`feature_maps` reaches ``layer`` with at least 1x1 maps."""
        side = 1
        while CNNR.map_side(side, layer) < 1:
            side += 1
        return side


class CNNRFeatureMaps(nn.Module):
    """A texture view of a :class:`CNNR`: ``forward(images) -> feature_maps(images)[layer]``.

    IPFH (Eq. 11) takes the Gram-texture features phi from its recognition network; the reward's texture
    term calls ``features(images)`` on HR windows and on tiny LR windows, so any input size is accepted:
    inputs smaller than :meth:`CNNR.min_input_side` are replicate-padded up to it.

    Args:
        net: A (trained) CNNR.
        layer: One of :data:`CNNR_LAYERS` (``res1``: 61x61 maps of a 128x128 face).
    """

    paper = "IPFH Eq. 11 (texture features phi of the recognition network)"
    paper_parameters: int | None = None

    def __init__(self, net: CNNR, layer: str = "res1") -> None:
        super().__init__()
        if layer not in CNNR_LAYERS:
            raise ValueError(f"unknown CNNR layer {layer!r}; valid: {', '.join(CNNR_LAYERS)}")
        self.net = net
        self.layer = layer
        self.min_side = CNNR.min_input_side(layer)

    def forward(self, images: Tensor) -> Tensor:
        height, width = images.shape[-2:]
        pad_h, pad_w = max(0, self.min_side - height), max(0, self.min_side - width)
        if pad_h or pad_w:
            images = F.pad(images, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), mode="replicate")
        return self.net.feature_maps(images, upto=self.layer, check_size=False)[self.layer]
