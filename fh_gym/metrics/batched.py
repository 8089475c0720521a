"""Batched torch metrics for rewards and training losses.

Layout and range: tensors are ``N x C x H x W`` floating point with values in ``[0, 1]``
(``data_range``), on any device; ``C`` is 3 (RGB) or 1 (e.g. a luma image; ``y_channel`` then is not
allowed). Every function returns one value per image, shape ``(N,)``, and is differentiable
(except :func:`quantize`).

The formulas are those of :mod:`fh_gym.metrics.reference` (which works on ``H x W x 3`` uint8/float
arrays in [0, 255]); on the same uint8-quantised images the two agree to about 1e-6 dB / 1e-6 SSIM
in float32 (see ``tests/test_metrics.py``). Values are computed in the input dtype.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from fh_gym.metrics.reference import SSIM_SIGMA, SSIM_WINDOW
from fh_gym.restorers.losses.ssim import ssim_map
from fh_gym.restorers.pixels import psnr_from_mse, quantize_hwc

__all__ = [
    "mse_per_image",
    "psnr_per_image",
    "quantize",
    "rgb_to_y_torch",
    "ssim_per_image",
    "to_uint8_hwc",
]

MSE_FLOOR = 1e-10  # PSNR is capped at 10 log10(data_range^2 / 1e-10) (100 dB for range 1), never inf

_Y_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)


def _check_batch(x: Tensor, name: str, channels: tuple[int, ...] = (1, 3)) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must be NxCxHxW, got {x.ndim} dims (shape {tuple(x.shape)})")
    if x.shape[1] not in channels:
        raise ValueError(f"{name} has {x.shape[1]} channels (shape {tuple(x.shape)}); expected "
                         f"{' or '.join(map(str, channels))}")
    if not x.is_floating_point():
        raise ValueError(f"{name} has dtype {x.dtype}; expected a floating point tensor in [0, 1] "
                         "(convert uint8 images with x.float() / 255)")


def _check_pair(x: Tensor, y: Tensor, y_channel: bool = False) -> None:
    channels = (3,) if y_channel else (1, 3)
    _check_batch(x, "x", channels)
    _check_batch(y, "y", channels)
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch: x {tuple(x.shape)} vs y {tuple(y.shape)}")
    if x.dtype != y.dtype:
        raise ValueError(f"dtype mismatch: x {x.dtype} vs y {y.dtype}")
    if x.device != y.device:
        raise ValueError(f"device mismatch: x on {x.device} vs y on {y.device}")


def _crop(x: Tensor, crop_border: int, min_size: int = 1) -> Tensor:
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)) or crop_border < 0:
        raise ValueError(f"crop_border must be an int >= 0, got {crop_border!r}")
    h, w = x.shape[-2:]
    if h - 2 * crop_border < min_size or w - 2 * crop_border < min_size:
        raise ValueError(f"crop_border={crop_border} is too large for {h}x{w} images: "
                         f"{min_size}x{min_size} pixels must remain after cropping")
    if crop_border == 0:
        return x
    return x[..., crop_border:h - crop_border, crop_border:w - crop_border]


def rgb_to_y_torch(x: Tensor) -> Tensor:
    """BT.601 luma (MATLAB ``rgb2ycbcr``) of ``N x 3 x H x W`` RGB in [0, 1].

    Returns:
        ``N x 1 x H x W`` with values in [16/255, 235/255]: ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``,
        i.e. :func:`fh_gym.metrics.reference.rgb_to_y` divided by 255.
    """
    _check_batch(x, "x", (3,))
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 16.0 / 255.0 + _Y_WEIGHTS[0] * r + _Y_WEIGHTS[1] * g + _Y_WEIGHTS[2] * b


def _maybe_y(x: Tensor, y: Tensor, crop_border: int, y_channel: bool, min_size: int) -> tuple[Tensor, Tensor]:
    _check_pair(x, y, y_channel)
    x, y = _crop(x, crop_border, min_size), _crop(y, crop_border, min_size)
    if y_channel:
        x, y = rgb_to_y_torch(x), rgb_to_y_torch(y)
    return x, y


def mse_per_image(x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of each image over channels and pixels.

    Args:
        x: ``N x C x H x W`` float, values in [0, 1].
        y: Same shape, dtype and device.

    Returns:
        ``(N,)`` tensor (units of ``[0, 1]^2``).
    """
    _check_pair(x, y)
    return (x - y).pow(2).flatten(1).mean(dim=1)


def psnr_per_image(x: Tensor, y: Tensor, crop_border: int = 0, y_channel: bool = False,
                   data_range: float = 1.0) -> Tensor:
    """PSNR in dB of each image, ``10 log10(data_range^2 / max(MSE, 1e-10))``.

    Args:
        x: ``N x C x H x W`` float, values in ``[0, data_range]``.
        y: Reference, same shape, dtype and device.
        crop_border: Pixels removed from each side first (the SR scale factor).
        y_channel: Evaluate on BT.601 Y (needs ``C == 3``).
        data_range: Peak value (1.0 for [0, 1] images).

    Returns:
        ``(N,)`` tensor; finite even for identical images (MSE is floored at 1e-10).
    """
    x, y = _maybe_y(x, y, crop_border, y_channel, 1)
    mse = (x - y).pow(2).flatten(1).mean(dim=1)
    return psnr_from_mse(mse, data_range, MSE_FLOOR)


def ssim_per_image(x: Tensor, y: Tensor, crop_border: int = 0, y_channel: bool = False,
                   data_range: float = 1.0) -> Tensor:
    """Mean SSIM of each image (11x11 Gaussian window, sigma 1.5, valid region, channels averaged).

    Args:
        x: ``N x C x H x W`` float, values in ``[0, data_range]``.
        y: Reference, same shape, dtype and device.
        crop_border: Pixels removed from each side first; at least 11x11 pixels must remain.
        y_channel: Evaluate on BT.601 Y (needs ``C == 3``).
        data_range: Dynamic range L in ``C1 = (0.01 L)^2, C2 = (0.03 L)^2``.

    Returns:
        ``(N,)`` tensor in [-1, 1] (1 for identical images); differentiable, usable as a loss.
    """
    x, y = _maybe_y(x, y, crop_border, y_channel, SSIM_WINDOW)
    # The SSIM map is the one of the SSIM loss (same window, constants and valid region). All channels have
    # the same valid size, so the flat mean equals the mean of per-channel SSIMs.
    return ssim_map(x, y, data_range, SSIM_WINDOW, SSIM_SIGMA).flatten(1).mean(dim=1)


def quantize(x: Tensor) -> Tensor:
    """Round ``N x C x H x W`` [0, 1] floats to multiples of 1/255 (what a uint8 report would see).

    Values are clamped to [0, 1] first. The gradient is zero almost everywhere (rounding), so use it
    for evaluation, not inside a loss.
    """
    _check_batch(x, "x")
    return torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0


def to_uint8_hwc(x: Tensor) -> np.ndarray:
    """Convert ``N x C x H x W`` [0, 1] floats to an ``N x H x W x C`` uint8 numpy array in [0, 255].

    Values are clamped to [0, 1] and rounded (not truncated), as :func:`quantize` does.
    """
    _check_batch(x, "x")
    return quantize_hwc(x).contiguous().cpu().numpy()
