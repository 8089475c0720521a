"""A random similarity transform and photometric change of face batches: the ``jitter`` teacher view of
:mod:`fh_gym.samplers.teacher_pairs` (seeded per face) and the online augmentation of the ``identity-distill``
recipe (seeded per step) draw from the same ranges.

At strength 1: rotation within 10 degrees, scale 0.9-1.1, shift within 6% of the side, contrast 0.85-1.15,
brightness within 0.08; borders reflected. A strength s in [0, 1] scales every range by s.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

#: one draw: the affine ``theta`` (normalised coordinates), the contrast gain, the brightness offset
JitterDraw = tuple[list[list[float]], float, float]


def jitter_parameters(rng: np.random.Generator, strength: float = 1.0) -> JitterDraw:
    """One draw of the ``jitter`` view's change at ``strength`` (see the module docstring):
    an affine ``theta`` (normalised coordinates), a contrast gain and a brightness offset."""
    # the bounds (not the draws) scale, so strength 1 reproduces the cached view's images bit for bit
    angle = np.deg2rad(rng.uniform(-10 * strength, 10 * strength))
    scale = rng.uniform(1 - 0.1 * strength, 1 + 0.1 * strength)
    shift = rng.uniform(-0.12 * strength, 0.12 * strength, size=2)  # normalised coordinates span 2: 6% of the side
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    theta = [[cos, -sin, shift[0]], [sin, cos, shift[1]]]
    return theta, rng.uniform(1 - 0.15 * strength, 1 + 0.15 * strength), rng.uniform(-0.08 * strength, 0.08 * strength)


def warp_faces(hr: Tensor, draws: list[JitterDraw]) -> Tensor:
    """The faces ``hr`` (B, 3, S, S) under one :func:`jitter_parameters` draw each (reflected borders)."""
    theta = torch.tensor([d[0] for d in draws], dtype=hr.dtype, device=hr.device)
    grid = F.affine_grid(theta, list(hr.shape), align_corners=False)
    moved = F.grid_sample(hr, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    mean = moved.mean(dim=(1, 2, 3), keepdim=True)
    gain = torch.tensor([d[1] for d in draws], dtype=hr.dtype, device=hr.device).view(-1, 1, 1, 1)
    offset = torch.tensor([d[2] for d in draws], dtype=hr.dtype, device=hr.device).view(-1, 1, 1, 1)
    return ((moved - mean) * gain + mean + offset).clamp(0, 1)
