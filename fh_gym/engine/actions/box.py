"""``box`` (Attention-FH size-free attention): ``MultiDiscrete((x, y, ratio, scale))``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from gymnasium import spaces

from fh_gym.engine.actions.base import ACTIONS, ActionType, as_batch, integral
from fh_gym.restorers.config import ConfigError, Float, Int, List


@ACTIONS.register()
class BoxActions(ActionType):
    """Attention-FH size-free attention: ``MultiDiscrete([positions, positions, len(ratios), len(scales)])``.

    Action ``(x, y, r, s)`` is a box centred on cell ``(x, y)`` of a ``positions`` x ``positions`` grid
    of centres, of height:width ratio ``ratios[r]`` (paper: 3:2, 1:1, 2:3) and size ``scales[s]``.
    Attention-FH Eq. 5 is garbled in print; we keep the area of the box ``(base_size * scale)^2`` and
    split it by the ratio, ``h = Z*s*sqrt(r)``, ``w = Z*s/sqrt(r)``, which matches its text ("the scale
    represents the overall size of the attention box"). ``Z`` is 60 at 160x120 images; by default it is
    scaled with the image (48 at 128x128). The paper gives no scale values; we use 0.75, 1.0, 1.25.

    Args:
        image_size: HR image side.
        positions: Number of centre positions per axis.
        ratios: Height / width ratios.
        scales: Size multipliers of ``base_size``.
        base_size: ``Z`` in pixels; ``None`` means ``60 * image_size / 160``.
    """

    name = "box"
    #: value specs of the config keys (the signature gives the defaults; ``check_kwargs`` applies them)
    param_specs = {"positions": Int(min=1),
                   "ratios": List(item=Float(min=0, min_open=True), check=lambda v: None if v else "expected a "
                                  "non-empty list"),
                   "scales": List(item=Float(min=0, min_open=True), check=lambda v: None if v else "expected a "
                                  "non-empty list"),
                   "base_size": Float(min=0, min_open=True, nullable=True)}

    def __init__(self, image_size: int, positions: int = 8, ratios: Sequence[float] = (1.5, 1.0, 2 / 3),
                 scales: Sequence[float] = (0.75, 1.0, 1.25), base_size: float | None = None) -> None:
        super().__init__(image_size)
        if positions < 1 or not ratios or not scales:
            raise ConfigError("action.positions must be >= 1 and action.ratios/scales non-empty")
        if any(r <= 0 for r in ratios) or any(s <= 0 for s in scales):
            raise ConfigError(f"action.ratios and action.scales must be positive, got {ratios}, {scales}")
        self.positions = int(positions)
        self.ratios = torch.tensor([float(r) for r in ratios])
        self.scales = torch.tensor([float(s) for s in scales])
        self.base_size = float(base_size if base_size is not None else 60.0 * image_size / 160.0)
        self.space = spaces.MultiDiscrete([self.positions, self.positions, len(ratios), len(scales)])

    def _sides(self, r: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        side = self.base_size * self.scales.to(s.device)[s]  # .to: a no-op on the CPU
        root = torch.sqrt(self.ratios.to(r.device)[r])
        return side * root, side / root

    @property
    def max_box_side(self) -> int:
        h, w = self._sides(torch.arange(len(self.ratios))[:, None], torch.arange(len(self.scales))[None, :])
        return min(self.image_size, math.ceil(float(torch.maximum(h, w).max())) + 1)

    def validate(self, actions: np.ndarray) -> np.ndarray:
        arr = as_batch(actions, (4,), "box")
        if not np.issubdtype(arr.dtype, np.integer):
            if not integral(arr):
                raise ValueError(f"box actions must be integers (x, y, ratio, scale), got {arr.tolist()}")
            arr = arr.astype(np.int64)
        bad = np.any((arr < 0) | (arr >= self.space.nvec), axis=1)
        if np.any(bad):
            raise ValueError(f"box action {arr[bad].tolist()} outside the action space "
                             f"MultiDiscrete({self.space.nvec.tolist()}) (x, y, ratio, scale)")
        return arr.astype(np.int64)

    def to_boxes(self, actions: np.ndarray) -> torch.Tensor:
        a = torch.as_tensor(actions, dtype=torch.long)
        step = self.image_size / self.positions
        cx = (a[:, 0].to(torch.float32) + 0.5) * step
        cy = (a[:, 1].to(torch.float32) + 0.5) * step
        h, w = self._sides(a[:, 2], a[:, 3])
        return self._clip(cy, cx, h, w)

    def candidate_actions(self) -> np.ndarray:
        grids = np.meshgrid(*[np.arange(n) for n in self.space.nvec], indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)

    def action_for_box(self, top: float, left: float, height: float, width: float) -> np.ndarray:
        step = self.image_size / self.positions
        x = int(np.clip(round((left + width / 2) / step - 0.5), 0, self.positions - 1))
        y = int(np.clip(round((top + height / 2) / step - 0.5), 0, self.positions - 1))
        r = int(torch.argmin(torch.abs(torch.log(self.ratios / (height / width)))))
        s = int(torch.argmin(torch.abs(self.scales * self.base_size - math.sqrt(height * width))))
        return np.array([x, y, r, s], dtype=np.int64)
