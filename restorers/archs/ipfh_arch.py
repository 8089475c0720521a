"""IPFH (identity-preserving FH via deep RL): the two-branch local restoration net and the dual-domain downsampler."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.archs.common import conv2d, num_stages, sample_at
from fh_gym.restorers.base import PatchRestorer, RepairContext, zero_init_
from fh_gym.restorers.registry import register_arch


@register_arch
class IPFHLocalRestorer(PatchRestorer):
    """IPFH local restoration network (Sec. III-B.2 "Local Restoration Network", Fig. 4): two branches fused.

    * Patch branch: ``patch_layers`` 3x3 stride-1 convolutions at window resolution ("kernel size 3 x 3,
      stride 1 to obtain the patch feature with same size of patch"). Its input is the window stack
      ``ctx.hr_stack()`` (masked, current and start windows, bicubic LR, mask, coordinates: 15 channels);
      the paper feeds the selected patch only.
    * Image branch: a CNN over the whole current image ŷ_{t-1} ("convolution layers to obtain WpHp
      feature ... the same size with the patch"): ``image_layers`` 3x3 stride-2 convolutions (2: a
      128x128 image gives the paper's 32x32 map) and one 3x3 conv. Bringing it to the window size is
      vague in the paper: by default (``align_image_features=True``) the map is sampled at the window's
      pixel coordinates, so each window pixel sees the image feature at its own position; with
      ``False`` the whole map is resized to the window (the literal reading: a holistic, unaligned map).
    * Fusion: the two maps are concatenated (paper: 256x32x32 = 2 x 128 channels) and a 3x3 conv + ReLU
      then a zero-initialised 3x3 conv give the RGB residual. The paper counts 8 layers (Table of
      running times); the defaults have 3 (image) + 3 (patch) + 2 (fusion) = 8.

    Widths: the paper's 128 channels per branch cost 3.45 GFLOPs per 48x48 window (128x128 image, x8)
    and 909,827 parameters here; the default ``width=8`` costs 20.7 MFLOPs and has 5,027 parameters
    (IPFH reports 105M for its whole network, hallucinator included).
    ReLU everywhere (the paper names no activation). The scale only matters through ``ctx.lr``.

    Layout: ``ctx`` windows (B, 3, w, w) and full image (B, 3, H, W) -> (B, 3, w, w).

    Args:
        scale: Super-resolution factor (power of two).
        width: Channels of each branch and of the fusion conv (paper: 128).
        patch_layers: 3x3 stride-1 convolutions of the patch branch.
        image_layers: 3x3 stride-2 convolutions of the image branch.
        align_image_features: Sample the image map at the window's coordinates (True) or resize it (False).
    """

    paper = 'IPFH Sec. III-B.2, Fig. 4 (local restoration network)'
    paper_parameters = None

    def __init__(self, scale: int = 8, width: int = 8, patch_layers: int = 3, image_layers: int = 2,
                 align_image_features: bool = True) -> None:
        super().__init__(scale)
        if patch_layers < 1 or image_layers < 1:
            raise ValueError(f"need at least one layer per branch, got patch_layers={patch_layers}, "
                             f"image_layers={image_layers}")
        self.align_image_features = bool(align_image_features)
        patch: list[nn.Module] = []
        for i in range(patch_layers):
            patch += [conv2d(RepairContext.HR_STACK_CHANNELS if i == 0 else width, width), nn.ReLU(inplace=True)]
        self.patch_branch = nn.Sequential(*patch)
        image: list[nn.Module] = []
        for i in range(image_layers):
            image += [conv2d(3 if i == 0 else width, width, 3, stride=2), nn.ReLU(inplace=True)]
        image += [conv2d(width, width), nn.ReLU(inplace=True)]
        self.image_branch = nn.Sequential(*image)
        self.fuse = nn.Sequential(conv2d(2 * width, width), nn.ReLU(inplace=True), zero_init_(conv2d(width, 3)))

    def residual(self, ctx: RepairContext) -> Tensor:
        patch_features = self.patch_branch(ctx.hr_stack())
        image_map = self.image_branch(ctx.image)
        if self.align_image_features:
            image_features = sample_at(image_map, ctx.coords)
        else:
            image_features = F.interpolate(image_map, size=patch_features.shape[-2:], mode="bilinear",
                                           align_corners=False)
        return self.fuse(torch.cat([image_features, patch_features], dim=1))


@register_arch
class IPFHDualDownsampler(nn.Module):
    """IPFH dual-domain convolutional downsampler (Sec. III-B.3 "Dual Consistent Network", Fig. 6).

    Fig. 6 maps a 32x32x3 HR patch to a 4x4x3 LR patch at x8 with three 3x3 stride-2 convolutions
    (k3s2n64, k3s2n128, k3s2n64); it is the LR half of the dual-domain reward / loss (restored patch
    downsampled here vs the LR patch). Generalised to log2(scale) stride-2 convolutions, widths
    ``width`` for the first and last and ``2 * width`` in between (x8: 64, 128, 64 at ``width=64``),
    ReLU after each, then a 1x1 convolution to the 3 output channels (the figure shows 3 channels after
    the n64 layer without naming the projection).

    Initialisation: the output is ``avg_pool(hr, scale) + correction(hr)`` with the 1x1 projection
    zero-initialised, so before training it *is* average pooling (a sensible LR-domain comparison from
    step one) and training learns the degradation's difference from it. It is trained later.

    Size and cost at x8: 9,763 parameters at the default ``width=16`` (0.96 MFLOPs per 32x32 patch, 15.4 per
    128x128 image); 149,635 at the paper's ``width=64`` (12.7 / 203 MFLOPs).

    Layout: (N, 3, H, W) with H and W multiples of ``scale`` -> (N, 3, H/scale, W/scale).

    Args:
        scale: Downsampling factor (power of two).
        width: Base width (paper: 64).
    """

    paper = 'IPFH Sec. III-B.3, Fig. 6 (dual consistent network downsampler)'
    paper_parameters = None

    kind = "aux"

    def __init__(self, scale: int = 8, width: int = 16) -> None:
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of two >= 2, got {scale}")
        self.scale = int(scale)
        count = num_stages(scale)
        widths = [width if i in (0, count - 1) else 2 * width for i in range(count)]
        layers: list[nn.Module] = []
        channels = 3
        for w in widths:
            layers += [conv2d(channels, w, 3, stride=2), nn.ReLU(inplace=True)]
            channels = w
        self.convs = nn.Sequential(*layers)
        self.project = zero_init_(nn.Conv2d(channels, 3, 1))

    def forward(self, hr: Tensor) -> Tensor:
        if hr.ndim != 4 or hr.shape[1] != 3 or hr.shape[-1] % self.scale or hr.shape[-2] % self.scale:
            raise ValueError(f"IPFHDualDownsampler(x{self.scale}) expects (N, 3, H, W) with H and W "
                             f"multiples of {self.scale}, got {tuple(hr.shape)}")
        return F.avg_pool2d(hr, self.scale) + self.project(self.convs(hr))
