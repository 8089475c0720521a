"""Reference (numpy, float64) PSNR / SSIM for reports, following the project's evaluation protocol.

Layout and range: images are ``H x W x 3`` RGB (or ``H x W`` single channel) arrays with values in
``[0, 255]``; ``uint8`` or any integer / float dtype is accepted and computed in float64.

* PSNR equals ``skimage.metrics.peak_signal_noise_ratio(ref, img, data_range=255)``.
* SSIM uses an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, L = 255, population
  (not sample) covariances, evaluated only where the window fits (the "valid" region), per channel
  and then averaged. This is exactly what ``skimage.metrics.structural_similarity(...,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=2)``
  computes (it filters with padding and then drops the 5-pixel border) and what BasicSR computes.
* ``crop_border`` pixels are removed from every side first (the scale factor in the protocol).
* ``test_y_channel`` evaluates on the BT.601 luma of :func:`rgb_to_y` (values in [16, 235], unrounded).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

__all__ = ["gaussian_window_1d", "psnr", "rgb_to_y", "ssim"]

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
_MAX = 255.0


def gaussian_window_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian taps (float64), as ``cv2.getGaussianKernel`` and scipy's filter use."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _check_image(img: np.ndarray, name: str) -> np.ndarray:
    """Validate one HWC [0, 255] image and return it as float64."""
    if not isinstance(img, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(img).__name__}")
    if img.dtype == np.bool_ or not (np.issubdtype(img.dtype, np.integer)
                                     or np.issubdtype(img.dtype, np.floating)):
        raise ValueError(f"{name} has non-numeric dtype {img.dtype}; expected uint8, int or float values "
                         "in [0, 255]")
    if img.ndim == 3 and img.shape[2] != 3:
        raise ValueError(f"{name} has {img.shape[2]} channels (shape {img.shape}); expected HxWx3 RGB "
                         "or HxW")
    if img.ndim not in (2, 3):
        raise ValueError(f"{name} has {img.ndim} dimensions (shape {img.shape}); expected HxWx3 RGB or HxW")
    out = img.astype(np.float64, copy=False)
    if out.size == 0:
        raise ValueError(f"{name} is empty (shape {img.shape})")
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or inf; expected values in [0, 255]")
    lo, hi = float(out.min()), float(out.max())
    if lo < 0.0 or hi > _MAX:
        raise ValueError(f"{name} has values in [{lo:g}, {hi:g}], outside [0, 255]; "
                         "scale [0, 1] images by 255 first")
    return out


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma as MATLAB ``rgb2ycbcr``: ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``.

    Args:
        img: ``H x W x 3`` RGB array with values in [0, 255] (any numeric dtype).

    Returns:
        ``H x W`` float64 array with values in [16, 235] (not rounded, as BasicSR evaluates it).

    Raises:
        ValueError: If ``img`` is not an ``H x W x 3`` numeric array in [0, 255].
    """
    arr = _check_image(img, "img")
    if arr.ndim != 3:
        raise ValueError(f"rgb_to_y expects an HxWx3 RGB image, got shape {arr.shape}")
    return _y(arr)


def _y(arr: np.ndarray) -> np.ndarray:
    return 16.0 + (arr[..., 0] * 65.481 + arr[..., 1] * 128.553 + arr[..., 2] * 24.966) / 255.0


def _prepare(img: np.ndarray, ref: np.ndarray, crop_border: int, test_y_channel: bool,
             min_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair, crop the border and optionally convert to Y; returns float64 arrays."""
    a = _check_image(img, "img")
    b = _check_image(ref, "ref")
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: img {a.shape} vs ref {b.shape}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)):
        raise ValueError(f"crop_border must be an int, got {crop_border!r}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    h, w = a.shape[:2]
    if h - 2 * crop_border < min_size or w - 2 * crop_border < min_size:
        raise ValueError(f"crop_border={crop_border} is too large for a {h}x{w} image: "
                         f"{min_size}x{min_size} pixels must remain after cropping")
    if crop_border:
        a = a[crop_border:-crop_border, crop_border:-crop_border]
        b = b[crop_border:-crop_border, crop_border:-crop_border]
    if test_y_channel:
        if a.ndim != 3:
            raise ValueError(f"test_y_channel=True needs HxWx3 RGB images, got shape {img.shape}")
        a, b = _y(a), _y(b)
    return a, b


def psnr(img: np.ndarray, ref: np.ndarray, crop_border: int = 0, test_y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB with peak 255.

    Args:
        img: Test image, ``H x W x 3`` RGB (or ``H x W``), values in [0, 255], uint8 or float.
        ref: Reference (ground truth), same shape and range.
        crop_border: Pixels removed from each side before computing (the SR scale factor).
        test_y_channel: Evaluate on BT.601 Y (see :func:`rgb_to_y`) instead of on RGB.

    Returns:
        ``10 log10(255^2 / MSE)``; ``float("inf")`` when the (cropped) images are identical.

    Raises:
        ValueError: On a bad shape, dtype, range, shape mismatch or too large ``crop_border``.
    """
    a, b = _prepare(img, ref, crop_border, test_y_channel)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(_MAX**2 / mse))


def _ssim_channel(a: np.ndarray, b: np.ndarray, window: np.ndarray) -> float:
    """Mean SSIM of two 2-D float64 arrays over the region where the whole window fits."""
    pad = window.size // 2

    def filt(x: np.ndarray) -> np.ndarray:
        # Separable Gaussian; the border (where padding would matter) is dropped just below.
        y = correlate1d(correlate1d(x, window, axis=0, mode="reflect"), window, axis=1, mode="reflect")
        return y[pad:-pad, pad:-pad]

    c1 = (SSIM_K1 * _MAX) ** 2
    c2 = (SSIM_K2 * _MAX) ** 2
    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    num = (2.0 * mu_a * mu_b + c1) * (2.0 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def ssim(img: np.ndarray, ref: np.ndarray, crop_border: int = 0, test_y_channel: bool = False) -> float:
    """Structural similarity (Gaussian 11x11 window, sigma 1.5), per channel then averaged.

    Args:
        img, ref, crop_border, test_y_channel: As for :func:`psnr`.

    Returns:
        Mean SSIM in [-1, 1] (1 for identical images).

    Raises:
        ValueError: On a bad shape, dtype, range, shape mismatch, or if fewer than 11x11 pixels
            remain after cropping ``crop_border``.
    """
    a, b = _prepare(img, ref, crop_border, test_y_channel, min_size=SSIM_WINDOW)
    window = gaussian_window_1d()
    if a.ndim == 2:
        return _ssim_channel(a, b, window)
    return float(np.mean([_ssim_channel(a[..., c], b[..., c], window) for c in range(a.shape[2])]))
