"""Fixed image filters shared by the C-SRIP networks and recipes: Gaussian blur, high-pass residuals, downscaling.

Layout: ``N x C x H x W`` float tensors (any range, any device); every function is differentiable.
This module is not an ``*_arch.py`` file, so importing ``restorers.archs`` registers nothing here.

The conventions copy :mod:`fh_gym.degradations` (which ``restorers`` must not import): kernel radius
``ceil(3 sigma)`` capped at ``size - 1``, reflected borders (``BORDER_REFLECT_101``), and blur+decimate
keeping the pixel at offset ``factor // 2`` of every ``factor x factor`` block with sigma
``(factor - 1) / 2``. ``tests/test_paper_losses.py`` checks that :func:`downscale` reproduces
``fh_gym.degradations.Degradation`` exactly for both modes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

DOWNSCALE_MODES = ("bicubic", "blur_decimate")


def gaussian_taps(sigma: float, radius: int, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> Tensor:
    """Normalised 1-D Gaussian taps of length ``2 * radius + 1``."""
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-(x**2) / (2.0 * max(float(sigma), 1e-3) ** 2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def gaussian_blur(x: Tensor, sigma: float, step: int = 1) -> Tensor:
    """Separable Gaussian blur of every channel with one ``sigma`` (pixels), reflected borders.

    Args:
        x: ``N x C x H x W`` float.
        sigma: Standard deviation in pixels (0 leaves ``x`` unchanged).
        step: Keep only pixels ``(step//2 + i*step, step//2 + j*step)`` (blur then decimate).

    Returns:
        ``N x C x H/step x W/step`` tensor.
    """
    n, c, h, w = x.shape
    if h % step or w % step:
        raise ValueError(f"image size {h}x{w} is not divisible by the decimation step {step}")
    off = step // 2
    radius = min(math.ceil(3.0 * float(sigma)), h - 1, w - 1)
    if sigma <= 0 or radius <= 0:
        return x[..., off::step, off::step]
    g = gaussian_taps(sigma, radius, x.dtype, x.device)
    k = g.numel()
    flat = F.pad(x.reshape(1, n * c, h, w), (radius,) * 4, mode="reflect")[..., off:, off:]
    flat = F.conv2d(flat, g.view(1, 1, k, 1).expand(n * c, 1, k, 1), stride=(step, 1), groups=n * c)
    flat = F.conv2d(flat, g.view(1, 1, 1, k).expand(n * c, 1, 1, k), stride=(1, step), groups=n * c)
    return flat[..., :h // step, :w // step].reshape(n, c, h // step, w // step)


def residual_sigma(factor: int) -> float:
    """C-SRIP's high-pass sigma for an image ``factor`` times the LR size: ``(factor - 1) / 3``.

    Sec. 3.3 uses sigma 1/3, 1 and 7/3 for the 2x, 4x and 8x images; all three are ``(factor - 1) / 3``,
    which also gives 5 for a 16x image.
    """
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    return (factor - 1) / 3.0


def highpass_residual(x: Tensor, sigma: float) -> Tensor:
    """C-SRIP residual image ``dx = x - g * x`` (Sec. 3.3, Fig. 4 right): the details an SR module adds."""
    return x - gaussian_blur(x, sigma)


def decimation_sigma(factor: int) -> float:
    """Blur before decimation: ``(factor - 1) / 2`` pixels (as ``fh_gym.degradations.decimation_sigma``)."""
    return (factor - 1) / 2.0


def downscale(x: Tensor, factor: int, mode: str = "bicubic") -> Tensor:
    """Downscale ``x`` by an integer ``factor`` as the fh-gym degradations do, clamped to [0, 1].

    Args:
        x: ``N x C x H x W`` in [0, 1], H and W divisible by ``factor``.
        factor: Integer factor (1 returns ``x``).
        mode: ``"bicubic"`` (antialiased) or ``"blur_decimate"`` (C-SRIP: Gaussian blur then decimation).
    """
    if mode not in DOWNSCALE_MODES:
        raise ValueError(f"downscale mode must be one of {DOWNSCALE_MODES}, got {mode!r}")
    if factor == 1:
        return x
    h, w = x.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"image size {h}x{w} is not divisible by {factor}")
    if mode == "bicubic":
        out = F.interpolate(x, size=(h // factor, w // factor), mode="bicubic", align_corners=False,
                            antialias=True)
    else:
        out = gaussian_blur(x, decimation_sigma(factor), step=factor)
    return out.clamp(0.0, 1.0)


def upsample_bicubic(x: Tensor, factor: int) -> Tensor:
    """Bicubic upscale (``align_corners=False``), unclamped: the image skip of the generators."""
    return F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False)
