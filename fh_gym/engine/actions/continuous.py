"""``continuous``: ``Box(-1, 1, (4,))`` mapped to ``(x, y, ratio, scale)``."""

from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces

from fh_gym.engine.actions.base import ACTIONS, ActionType, as_batch
from fh_gym.restorers.config import ConfigError, Float


@ACTIONS.register()
class ContinuousActions(ActionType):
    """``Box(-1, 1, (4,))``: ``(x, y)`` centre over the whole image, log-linear ratio and scale.

    ``x = (a0 + 1) / 2 * W``; ratio ``= exp(a2 * ln(max_ratio))`` (in [1/max_ratio, max_ratio]);
    scale log-linear between ``min_scale`` and ``max_scale``; the box follows :class:`BoxActions`.
    NaN or values outside [-1, 1] raise ``ValueError`` (SB3 clips its actions before stepping).
    """

    name = "continuous"
    #: value specs of the config keys (the signature gives the defaults; ``check_kwargs`` applies them)
    param_specs = {"max_ratio": Float(min=1), "min_scale": Float(min=0, min_open=True),
                   "max_scale": Float(min=0, min_open=True), "base_size": Float(min=0, min_open=True, nullable=True)}

    def __init__(self, image_size: int, max_ratio: float = 1.5, min_scale: float = 0.75, max_scale: float = 1.25,
                 base_size: float | None = None) -> None:
        super().__init__(image_size)
        if max_ratio < 1 or not 0 < min_scale <= max_scale:
            raise ConfigError("action.max_ratio must be >= 1 and 0 < action.min_scale <= action.max_scale")
        self.max_ratio = float(max_ratio)
        self.min_scale = float(min_scale)
        self.max_scale = float(max_scale)
        self.base_size = float(base_size if base_size is not None else 60.0 * image_size / 160.0)
        self.space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)

    @property
    def max_box_side(self) -> int:
        side = self.base_size * self.max_scale * math.sqrt(self.max_ratio)
        return min(self.image_size, math.ceil(side) + 1)

    def validate(self, actions: np.ndarray) -> np.ndarray:
        arr = as_batch(actions, (4,), "continuous").astype(np.float32)
        if not np.isfinite(arr).all():
            raise ValueError(f"continuous action contains NaN or infinity: {arr.tolist()}")
        if np.any(np.abs(arr) > 1.0 + 1e-6):
            raise ValueError(f"continuous action {arr.tolist()} outside the action space Box(-1, 1, (4,))")
        return np.clip(arr, -1.0, 1.0)

    def to_boxes(self, actions: np.ndarray) -> torch.Tensor:
        a = torch.as_tensor(actions, dtype=torch.float32)
        cx = (a[:, 0] + 1) / 2 * self.image_size
        cy = (a[:, 1] + 1) / 2 * self.image_size
        ratio = torch.exp(a[:, 2] * math.log(self.max_ratio))
        scale = self.min_scale * (self.max_scale / self.min_scale) ** ((a[:, 3] + 1) / 2)
        side = self.base_size * scale
        return self._clip(cy, cx, side * torch.sqrt(ratio), side / torch.sqrt(ratio))

    def candidate_actions(self) -> np.ndarray:
        # A 7x7 grid of centres, three ratios, the middle scale: a finite set for search strategies.
        xs = np.linspace(-6 / 7, 6 / 7, 7)
        grid = np.array([[x, y, r, 0.0] for y in xs for x in xs for r in (-1.0, 0.0, 1.0)], dtype=np.float32)
        return grid

    def action_for_box(self, top: float, left: float, height: float, width: float) -> np.ndarray:
        size = self.image_size
        x = 2 * (left + width / 2) / size - 1
        y = 2 * (top + height / 2) / size - 1
        r = math.log(height / width) / math.log(self.max_ratio) if self.max_ratio > 1 else 0.0
        scale = math.sqrt(height * width) / self.base_size
        s = 2 * math.log(scale / self.min_scale) / math.log(self.max_scale / self.min_scale) - 1\
            if self.max_scale > self.min_scale else 0.0
        return np.clip(np.array([x, y, r, s], dtype=np.float32), -1, 1)
