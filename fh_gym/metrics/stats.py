"""Summary statistics for report tables: mean with a Student-t confidence interval."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy import stats as _stats

__all__ = ["format_mean_ci", "mean_ci"]


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float]:
    """Sample mean and the half-width of its Student-t confidence interval.

    ``half_width = t_{(1 + confidence) / 2, n - 1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation (ddof = 1), so the interval is ``mean ± half_width``.

    Args:
        values: Per-image scores (e.g. PSNR in dB), any iterable of finite numbers.
        confidence: Coverage of the interval, in (0, 1).

    Returns:
        ``(mean, half_width)``. With a single value the half-width is ``nan`` (the spread is unknown),
        so a table never shows a falsely exact ``± 0``.

    Raises:
        ValueError: If ``values`` is empty or holds NaN / inf (e.g. PSNR of identical images), or if
            ``confidence`` is outside (0, 1).
    """
    arr = np.asarray(list(values), dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("mean_ci needs at least one value, got none")
    if not np.isfinite(arr).all():
        raise ValueError("mean_ci got NaN or inf values (PSNR of identical images is inf); "
                         "filter or cap them")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    mean = float(arr.mean())
    n = arr.size
    if n == 1:
        return mean, float("nan")
    sem = float(arr.std(ddof=1)) / math.sqrt(n)
    t = float(_stats.t.ppf(0.5 + confidence / 2.0, df=n - 1))
    return mean, t * sem


def format_mean_ci(mean: float, half_width: float, digits: int = 2) -> str:
    """Format ``mean ± half_width`` with ``digits`` decimals, e.g. ``"24.31 ± 0.12"``.

    A ``nan`` half-width (a single value, see :func:`mean_ci`) is written ``"24.31 ± n/a"``.
    """
    if digits < 0:
        raise ValueError(f"digits must be >= 0, got {digits}")
    hw = "n/a" if math.isnan(half_width) else f"{half_width:.{digits}f}"
    return f"{mean:.{digits}f} ± {hw}"
