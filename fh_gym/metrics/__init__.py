"""Image-quality metrics and report statistics.

Two families with the same formulas (the evaluation protocol of ``docs/evaluation.md``: PSNR and SSIM on
uint8 RGB and on BT.601 Y, border cropped by the scale factor, SSIM with an 11x11 Gaussian window, sigma 1.5):

* :mod:`~fh_gym.metrics.reference` — numpy float64, ``H x W x 3`` RGB in [0, 255]; for report tables.
* :mod:`~fh_gym.metrics.batched` — torch, ``N x C x H x W`` float in [0, 1], any device, one value per
  image; for rewards and losses.
* :mod:`~fh_gym.metrics.stats` — mean and Student-t confidence interval for tables.
"""

from __future__ import annotations

from fh_gym.metrics.batched import (
    mse_per_image,
    psnr_per_image,
    quantize,
    rgb_to_y_torch,
    ssim_per_image,
    to_uint8_hwc,
)
from fh_gym.metrics.reference import psnr, rgb_to_y, ssim
from fh_gym.metrics.stats import format_mean_ci, mean_ci

__all__ = [
    "format_mean_ci",
    "mean_ci",
    "mse_per_image",
    "psnr",
    "psnr_per_image",
    "quantize",
    "rgb_to_y",
    "rgb_to_y_torch",
    "ssim",
    "ssim_per_image",
    "to_uint8_hwc",
]
