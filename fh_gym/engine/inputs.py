"""Validation and conversion of what users hand the engine: face indices and uint8 RGB images."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor


def face_indices(index: Any, count: int) -> np.ndarray:
    """Validate the ``index`` reset option: one integer, or one integer per face being reset."""
    arr = np.asarray(index)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"reset option 'index' must hold integers, got {arr.tolist()!r}")
    if arr.ndim == 0:
        return np.full(count, int(arr), dtype=np.int64)
    if arr.shape != (count,):
        raise ValueError(f"reset option 'index' must have one entry per face reset ({count}), got shape {arr.shape}")
    return arr.astype(np.int64)


def quantize_hwc(images: Tensor) -> Tensor:
    """(B, 3, H, W) float [0, 1] -> (B, H, W, 3) uint8 (rounded)."""
    return (images.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1)


def images_to_tensor(images: Any, size: int, what: str, count: int) -> Tensor:
    """Validate uint8 RGB image(s) of side ``size`` and return (count, 3, size, size) float [0, 1]."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"{what} image must be HxWx3 RGB (or NxHxWx3), got shape {np.asarray(images).shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"{what} image must be uint8 in [0, 255], got dtype {arr.dtype}")
    if arr.shape[1:3] != (size, size):
        raise ValueError(f"{what} image must be {size}x{size}x3 for this env, got {arr.shape[1]}x{arr.shape[2]}")
    if arr.shape[0] != count:
        if arr.shape[0] != 1:
            raise ValueError(f"got {arr.shape[0]} {what} images for {count} faces")
        arr = np.repeat(arr, count, axis=0)
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).to(torch.float32) / 255.0
