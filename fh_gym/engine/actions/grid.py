"""``grid`` (IPFH): ``Discrete`` over the cells of a fixed-size patch on a stride grid."""

from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces

from fh_gym.engine.actions.base import ACTIONS, ActionType, as_batch, integral
from fh_gym.restorers.config import Bool, ConfigError, Int


@ACTIONS.register()
class GridActions(ActionType):
    """IPFH: a ``patch_size`` square patch whose top-left lies on a ``stride`` grid (``Discrete(n*n)``).

    Action ``k`` is cell ``(k // n, k % n)`` in raster order. The last row/column of cells always
    touches the image border, so the grid covers the whole image even when ``stride`` does not divide
    ``image_size - patch_size``. IPFH samples patch centres over all W x H pixels; a stride keeps the
    action space small enough to learn (stride 1 reproduces the paper).

    Args:
        image_size: HR image side.
        patch_size: Patch side (IPFH: 32 at 128x128).
        stride: Distance between neighbouring cells.
        mask_repeats: ``action_masks()`` forbids cells already repaired in this episode (all are allowed
            again once every cell has been visited).
        stop: Add a ``stop`` action, index ``n*n`` (``Discrete(n*n + 1)``): the face's episode ends there
            without a repair (adaptive budgets: the agent decides how many restorer calls a face needs; the
            env's ``repair.step_cost`` charges each call). Never masked. Not a candidate of the lookahead
            strategies (:meth:`candidate_actions`), which stop by their own rule.
    """

    name = "grid"
    #: value specs of the config keys (the signature gives the defaults; ``check_kwargs`` applies them)
    param_specs = {"patch_size": Int(min=1), "stride": Int(min=1), "mask_repeats": Bool(), "stop": Bool()}

    def __init__(self, image_size: int, patch_size: int = 32, stride: int = 16, mask_repeats: bool = True,
                 stop: bool = False) -> None:
        super().__init__(image_size)
        if not 1 <= patch_size <= image_size:
            raise ConfigError(f"action.patch_size must be in [1, {image_size}], got {patch_size}")
        if stride < 1:
            raise ConfigError(f"action.stride must be >= 1, got {stride}")
        self.patch_size = int(patch_size)
        self.stride = int(stride)
        self.mask_repeats = bool(mask_repeats)
        positions = list(range(0, image_size - patch_size + 1, stride))
        if positions[-1] != image_size - patch_size:
            positions.append(image_size - patch_size)
        self.positions = torch.tensor(positions, dtype=torch.long)
        self.cells_per_side = len(positions)
        self.cells = self.cells_per_side**2
        self.stop_action = self.cells if stop else None
        self.space = spaces.Discrete(self.cells + int(bool(stop)))
        self.aligned_to = math.gcd(*positions) if len(positions) > 1 else image_size
        self.box_side = self.patch_size

    @property
    def max_box_side(self) -> int:
        return self.patch_size

    def validate(self, actions: np.ndarray) -> np.ndarray:
        arr = as_batch(actions, (), "grid")
        if not np.issubdtype(arr.dtype, np.integer):
            if not integral(arr):
                raise ValueError(f"grid actions must be integers in [0, {self.space.n}), got {arr.tolist()}")
            arr = arr.astype(np.int64)
        bad = (arr < 0) | (arr >= self.space.n)
        if np.any(bad):
            raise ValueError(f"grid action {arr[bad].tolist()} outside the action space Discrete({self.space.n})")
        return arr.astype(np.int64)

    def to_boxes(self, actions: np.ndarray) -> torch.Tensor:
        # A stop action has no box: it maps to the last cell, which the engine never repairs for it.
        k = torch.as_tensor(actions, dtype=torch.long).clamp(max=self.cells - 1)
        positions = self.positions.to(k.device)  # a no-op on the CPU
        top = positions[k // self.cells_per_side]
        left = positions[k % self.cells_per_side]
        side = torch.full_like(top, self.patch_size)
        return torch.stack([top, left, side, side], dim=1)

    def candidate_actions(self) -> np.ndarray:
        return np.arange(self.cells, dtype=np.int64)

    def action_for_box(self, top: float, left: float, height: float, width: float) -> np.ndarray:
        pos = self.positions.numpy()
        row = int(np.argmin(np.abs(pos - top)))
        col = int(np.argmin(np.abs(pos - left)))
        return np.int64(row * self.cells_per_side + col)
