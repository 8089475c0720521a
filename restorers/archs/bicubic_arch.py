"""Bicubic interpolation as a generator: the parameter-free baseline and the default env front-end."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from fh_gym.restorers.base import Generator
from fh_gym.restorers.registry import register_arch


@register_arch
class Bicubic(Generator):
    """Bicubic upsampling (PyTorch ``bicubic``, ``align_corners=False``), clamped to [0, 1].

    Args:
        scale: Upscaling factor.
    """

    paper = "bicubic interpolation (every paper's baseline row)"
    paper_parameters = None

    def __init__(self, scale: int = 8) -> None:
        super().__init__(scale)

    def forward(self, lr: Tensor) -> Tensor:
        self.check_input(lr)
        return F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False).clamp(0, 1)
