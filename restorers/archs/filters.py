"""Fixed image filters: Gaussian blur, high-pass residuals, downscaling (the one implementation).

Layout: ``N x C x H x W`` float tensors (any range, any device); every function is differentiable.
This module is not an ``*_arch.py`` file, so importing ``restorers.archs`` registers nothing here.
:mod:`fh_gym.degradations` builds its blur and downsampling on these functions, and the C-SRIP networks
and recipes use them too, so training and the env degrade faces the same way: kernel radius
``ceil(3 sigma)`` capped at ``size - 1``, reflected borders (``BORDER_REFLECT_101``), and blur+decimate
keeping the pixel at offset ``factor // 2`` of every ``factor x factor`` block with sigma
``(factor - 1) / 2``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
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


def gaussian_blur(x: Tensor, sigma: Tensor | np.ndarray | Sequence[float] | float, step: int = 1) -> Tensor:
    """Separable Gaussian blur with one sigma per image, batched (grouped convolution).

    Each image's kernel has radius ``ceil(3 * sigma)`` (capped at ``min(H, W) - 1``), so the result
    does not depend on the other images in the batch; borders are reflected (``cv2.BORDER_REFLECT_101``);
    sigma 0 leaves an image unchanged.

    Args:
        x: ``N x C x H x W`` float.
        sigma: Scalar or ``(N,)`` standard deviations in pixels, >= 0.
        step: Return only pixels ``(step//2 + i*step, step//2 + j*step)`` (blur then decimate), computed
            with strided convolutions (step^2 fewer products); H and W must be divisible by ``step``.

    Returns:
        Blurred tensor, ``N x C x H/step x W/step``, same dtype and device.
    """
    n, c, h, w = x.shape
    if h % step or w % step:
        raise ValueError(f"size {h}x{w} is not divisible by step {step}")
    off = step // 2
    sig = torch.as_tensor(sigma, dtype=torch.float64).detach().cpu().reshape(-1)
    if sig.numel() == 1:
        sig = sig.expand(n)
    if sig.numel() != n:
        raise ValueError(f"need one sigma per image: {sig.numel()} sigmas for {n} images")
    if bool((sig < 0).any()):
        raise ValueError(f"blur sigma must be >= 0, got {sig.tolist()}")
    radius = min(math.ceil(3.0 * float(sig.max())), h - 1, w - 1)
    if radius <= 0:
        return x[..., off::step, off::step]
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    # A tiny floor turns sigma 0 into a delta kernel instead of 0/0.
    g = torch.exp(-(taps[None, :] ** 2) / (2.0 * sig.clamp_min(1e-3)[:, None] ** 2))
    # Truncate each kernel at its own radius, so an image's blur does not depend on its batch mates.
    g = g * (taps[None, :].abs() <= torch.ceil(3.0 * sig)[:, None])
    g = (g / g.sum(dim=1, keepdim=True)).to(dtype=x.dtype, device=x.device)
    g = g.repeat_interleave(c, dim=0)  # (N*C, K): one kernel per (image, channel) group
    k = g.shape[1]
    flat = x.reshape(1, n * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")[..., off:, off:]
    flat = F.conv2d(flat, g.view(n * c, 1, k, 1), stride=(step, 1), groups=n * c)
    flat = F.conv2d(flat, g.view(n * c, 1, 1, k), stride=(1, step), groups=n * c)
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
    """Blur before decimation: ``(factor - 1) / 2`` HR pixels.

    This is scikit-image's anti-aliasing rule for downscaling (``transform.rescale``): 3.5 at x8,
    1.5 at x4, 7.5 at x16.
    """
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
