"""Two pixel formulas every layer of fh-gym shares: PSNR from an MSE, and [0, 1] floats to uint8 HWC.

They live at the bottom of the stack (the networks' training loops report PSNR too) and import nothing but
torch, so the engine, the degradations and the metrics use them without pulling in SciPy.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: MSE floor of :func:`psnr_from_mse` and :func:`psnr_gain` (120 dB for [0, 1] images, never inf)
MSE_FLOOR = 1e-12


def psnr_from_mse(mse: Tensor, data_range: float = 1.0, floor: float = MSE_FLOOR) -> Tensor:
    """``10 log10(data_range^2 / max(mse, floor))`` in dB, elementwise."""
    return 10.0 * (data_range**2 / mse.clamp(min=floor)).log10()


def psnr_gain(mse_before: Tensor, mse_after: Tensor, floor: float = MSE_FLOOR) -> Tensor:
    """``PSNR(after) - PSNR(before) = 10 log10(mse_before / mse_after)`` in dB (both floored), elementwise."""
    return 10.0 * (mse_before.clamp(min=floor) / mse_after.clamp(min=floor)).log10()


def quantize_hwc(images: Tensor) -> Tensor:
    """``N x C x H x W`` floats in [0, 1] -> ``N x H x W x C`` uint8 on the same device (clamped, rounded to
    the nearest level; a permuted view, not contiguous; no gradient)."""
    return torch.round(images.detach().clamp(0.0, 1.0) * 255.0).to(torch.uint8).permute(0, 2, 3, 1)
