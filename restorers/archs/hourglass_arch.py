"""IPFH coarse hallucinator: two stacked hourglass modules (Newell et al., ECCV 2016) on the bicubic input."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.base import Generator, zero_init_
from fh_gym.restorers.registry import register_arch


class HourglassResidual(nn.Module):
    """Residual block ``ReLU(shortcut(x) + conv3x3(ReLU(conv3x3_stride(x))))``; 1x1 strided shortcut when the
    size or width changes. No batch norm: CPU batches are small (Newell et al. use BN)."""

    paper = "IPFH Sec. III-C (residual blocks k3 s2), Newell et al. 2016"
    paper_parameters: int | None = None

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
                                  nn.ReLU(inplace=True), nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.shortcut = nn.Identity() if stride == 1 and in_channels == out_channels else \
            nn.Conv2d(in_channels, out_channels, 1, stride=stride)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.shortcut(x) + self.body(x))


class Hourglass(nn.Module):
    """One hourglass: at each level a skip branch (residual block at that resolution) and a down branch
    (stride-2 residual block to the next level); the bottom gets a residual block; on the way up each level
    upsamples (nearest x2, 1x1 conv to the level's width) and adds its skip branch.

    Args:
        widths: Channels per level, ``widths[0]`` at full resolution, ``widths[-1]`` at the bottom.
    """

    paper = "Newell et al. 2016 (hourglass module), IPFH Sec. III-B.1"
    paper_parameters: int | None = None

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        levels = len(widths) - 1
        self.skip = nn.ModuleList(HourglassResidual(widths[k], widths[k]) for k in range(levels))
        self.down = nn.ModuleList(HourglassResidual(widths[k], widths[k + 1], stride=2) for k in range(levels))
        self.bottom = HourglassResidual(widths[-1], widths[-1])
        self.up = nn.ModuleList(nn.Conv2d(widths[k + 1], widths[k], 1) for k in range(levels))

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for skip, down in zip(self.skip, self.down):
            skips.append(skip(x))
            x = down(x)
        x = self.bottom(x)
        for skip, up in zip(reversed(skips), reversed(self.up)):
            x = skip + up(F.interpolate(x, scale_factor=2, mode="nearest"))
        return x


@register_arch
class IPFHCoarseHallucinator(Generator):
    """IPFH coarse hallucinator F_c (IPFH Sec. III-B.1 and III-C "Hallucinator"; Eqs. 1-2).

    The LR face is bicubic-interpolated to the HR size ("we interpolated LR images to 128 x 128") and passed
    through ``stacks`` (2) stacked hourglass modules: the encoder of each is a chain of 3x3 stride-2 residual
    blocks down to 4x4 ("encoded the images to 4x4x128"), then features are upsampled and combined across
    scales (Newell et al.). Between stacks, as Newell et al. do, an intermediate prediction is made and both
    the features and the prediction are mapped back (1x1 convs) and added to the stack's input.

    Choices where the paper is vague (its network figure is in the supplementary material):
    * Widths: level ``k`` (side ``128 / 2^k``) has ``min(width * 2^k, max_width)`` channels, so the 4x4
      bottom has 128 channels at ``width >= 4``; the paper's width at full resolution is not given
      (``width=128`` is a constant-width Newell hourglass). The CPU default ``width=4`` keeps each level's
      3x3 conv at the same cost (~2.4 MMAC).
    * ReLU activations, no batch norm; a 3x3 stem conv; a 3x3 output conv per stack.
    * Residual output (deviation, allowed by the brief): the network predicts a correction added to the
      bicubic input, with zero-initialised output convs, so an untrained hallucinator is bicubic.
    * ``levels`` (5) fixes the depth: the HR side must be a multiple of ``2^levels`` (128 -> 4).

    Sizes: 1,422,250 parameters at the defaults (0.10 GMAC per 128x128 face, mostly in the small
    low-resolution levels); 6,851,462 at ``width=128`` (constant width, 17.4 GMAC). IPFH reports 105M
    parameters for its whole pipeline only.

    Layout: (B, 3, h, w) LR in [0, 1] -> (B, 3, scale h, scale w) (not clamped).
    ``forward_all`` also returns the intermediate prediction of each stack.

    Args:
        scale: Upscaling factor of the LR input.
        width: Channels at full resolution.
        max_width: Channel cap (the bottom's 128 in the paper).
        levels: Stride-2 steps of each hourglass (5: 128x128 -> 4x4).
        stacks: Stacked hourglass modules (paper: 2).
    """

    paper = "IPFH Sec. III-B.1 / III-C (coarse hallucinator, two stacked hourglasses)"
    paper_parameters: int | None = None

    def __init__(self, scale: int = 8, width: int = 4, max_width: int = 128, levels: int = 5,
                 stacks: int = 2) -> None:
        super().__init__(scale)
        if width < 1 or max_width < 1 or levels < 1 or stacks < 1:
            raise ValueError(f"width, max_width, levels and stacks must be positive, got {width}, {max_width}, "
                             f"{levels}, {stacks}")
        self.levels = int(levels)
        widths = [min(width * 2**k, max_width) for k in range(levels + 1)]
        channels = widths[0]
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(inplace=True))
        self.hourglasses = nn.ModuleList(Hourglass(widths) for _ in range(stacks))
        self.outputs = nn.ModuleList(zero_init_(nn.Conv2d(channels, 3, 3, padding=1)) for _ in range(stacks))
        # Newell et al.: features and intermediate prediction are remapped and added to the next stack's input.
        self.remap_features = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(stacks - 1))
        self.remap_predictions = nn.ModuleList(nn.Conv2d(3, channels, 1) for _ in range(stacks - 1))

    def forward_all(self, lr: Tensor) -> dict[str, Tensor]:
        """``{"stack1": ..., "stack2": ..., "out": last}``: every stack's HR prediction."""
        self.check_input(lr)
        up = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        multiple = 2**self.levels
        if up.shape[-1] % multiple or up.shape[-2] % multiple:
            raise ValueError(f"IPFHCoarseHallucinator(levels={self.levels}) needs HR sides that are multiples of "
                             f"{multiple}; x{self.scale} of a {lr.shape[-2]}x{lr.shape[-1]} input is "
                             f"{up.shape[-2]}x{up.shape[-1]}")
        x = self.stem(up)
        results: dict[str, Tensor] = {}
        for i, (hourglass, output) in enumerate(zip(self.hourglasses, self.outputs)):
            features = hourglass(x)
            prediction = up + output(features)
            results[f"stack{i + 1}"] = prediction
            if i < len(self.remap_features):
                x = x + self.remap_features[i](features) + self.remap_predictions[i](prediction - up)
        results["out"] = prediction
        return results

    def forward(self, lr: Tensor) -> Tensor:
        return self.forward_all(lr)["out"]
