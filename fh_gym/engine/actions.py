"""Action types: how an agent's action becomes a box ``(top, left, height, width)`` in the HR image.

* ``grid`` (IPFH): ``Discrete`` over the centres of a fixed ``patch_size`` patch on a ``stride`` grid.
* ``box`` (Attention-FH size-free attention): ``MultiDiscrete((x, y, ratio, scale))``.
* ``continuous``: ``Box(-1, 1, (4,))`` mapped to ``(x, y, ratio, scale)``.

Every type validates actions (a clear ``ValueError`` for out-of-space or NaN actions), clips boxes to
the image, and knows the largest box it can produce (the engine sizes its repair windows from it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from gymnasium import spaces

from fh_gym.config import ConfigError, check_kwargs, split_type


class ActionType:
    """Base class. Subclasses set ``space`` (one face's action space) in ``__init__``."""

    name = ""
    space: spaces.Space
    #: whether every box starts on a multiple of ``align`` pixels (lets the engine use tight windows)
    aligned_to: int = 1

    def __init__(self, image_size: int) -> None:
        self.image_size = int(image_size)

    @property
    def max_box_side(self) -> int:
        raise NotImplementedError

    def validate(self, actions: np.ndarray) -> np.ndarray:
        """Check a batch of actions (one row per face) against ``space``; returns it as an array."""
        raise NotImplementedError

    def to_boxes(self, actions: np.ndarray) -> torch.Tensor:
        """(N, 4) int64 boxes ``(top, left, height, width)``, clipped to the image."""
        raise NotImplementedError

    def normalised(self, boxes: torch.Tensor) -> torch.Tensor:
        """Boxes as ``(top, left, height, width) / image_size`` in [0, 1] (the ``last_action`` observation)."""
        return boxes.to(torch.float32) / self.image_size

    def mask_size(self) -> int:
        """Length of one face's ``action_masks()`` vector (sb3-contrib convention)."""
        if isinstance(self.space, spaces.Discrete):
            return int(self.space.n)
        if isinstance(self.space, spaces.MultiDiscrete):
            return int(np.sum(self.space.nvec))
        raise ValueError(f"{self.name} actions ({type(self.space).__name__}) have no action masks")

    def candidate_actions(self) -> np.ndarray:
        """Every action a search strategy (greedy oracle) should try, one per row."""
        raise NotImplementedError

    def action_for_box(self, top: float, left: float, height: float, width: float) -> np.ndarray:
        """The action whose box is closest to the given one (lets strategies speak in boxes)."""
        raise NotImplementedError

    def _clip(self, cy: torch.Tensor, cx: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        size = self.image_size
        top = torch.round(cy - h / 2).long()
        left = torch.round(cx - w / 2).long()
        bottom = (top + torch.round(h).long()).clamp(1, size)
        right = (left + torch.round(w).long()).clamp(1, size)
        top = top.clamp(0, size - 1)
        left = left.clamp(0, size - 1)
        return torch.stack([top, left, (bottom - top).clamp(min=1), (right - left).clamp(min=1)], dim=1)


def _as_batch(actions: np.ndarray | Sequence | int, trailing: tuple[int, ...], what: str) -> np.ndarray:
    arr = np.asarray(actions)
    if arr.ndim == len(trailing):
        arr = arr[None]
    if arr.shape[1:] != trailing:
        raise ValueError(f"{what} actions must have shape (N, {', '.join(map(str, trailing))}) "
                         f"or {trailing or '()'}, got {np.asarray(actions).shape}")
    return arr


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
    """

    name = "grid"

    def __init__(self, image_size: int, patch_size: int = 32, stride: int = 16, mask_repeats: bool = True) -> None:
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
        self.space = spaces.Discrete(self.cells_per_side**2)
        self.aligned_to = math.gcd(*positions) if len(positions) > 1 else image_size

    @property
    def max_box_side(self) -> int:
        return self.patch_size

    def validate(self, actions: np.ndarray) -> np.ndarray:
        arr = _as_batch(actions, (), "grid")
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.issubdtype(arr.dtype, np.floating) or np.any(arr != np.round(arr)):
                raise ValueError(f"grid actions must be integers in [0, {self.space.n}), got {arr.tolist()}")
            arr = arr.astype(np.int64)
        bad = (arr < 0) | (arr >= self.space.n)
        if np.any(bad):
            raise ValueError(f"grid action {arr[bad].tolist()} outside the action space Discrete({self.space.n})")
        return arr.astype(np.int64)

    def to_boxes(self, actions: np.ndarray) -> torch.Tensor:
        k = torch.as_tensor(actions, dtype=torch.long)
        top = self.positions[k // self.cells_per_side]
        left = self.positions[k % self.cells_per_side]
        side = torch.full_like(top, self.patch_size)
        return torch.stack([top, left, side, side], dim=1)

    def candidate_actions(self) -> np.ndarray:
        return np.arange(self.space.n, dtype=np.int64)

    def action_for_box(self, top: float, left: float, height: float, width: float) -> np.ndarray:
        pos = self.positions.numpy()
        row = int(np.argmin(np.abs(pos - top)))
        col = int(np.argmin(np.abs(pos - left)))
        return np.int64(row * self.cells_per_side + col)


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
        side = self.base_size * self.scales[s]
        root = torch.sqrt(self.ratios[r])
        return side * root, side / root

    @property
    def max_box_side(self) -> int:
        h, w = self._sides(torch.arange(len(self.ratios))[:, None], torch.arange(len(self.scales))[None, :])
        return min(self.image_size, math.ceil(float(torch.maximum(h, w).max())) + 1)

    def validate(self, actions: np.ndarray) -> np.ndarray:
        arr = _as_batch(actions, (4,), "box")
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.issubdtype(arr.dtype, np.floating) or np.any(arr != np.round(arr)):
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


class ContinuousActions(ActionType):
    """``Box(-1, 1, (4,))``: ``(x, y)`` centre over the whole image, log-linear ratio and scale.

    ``x = (a0 + 1) / 2 * W``; ratio ``= exp(a2 * ln(max_ratio))`` (in [1/max_ratio, max_ratio]);
    scale log-linear between ``min_scale`` and ``max_scale``; the box follows :class:`BoxActions`.
    NaN or values outside [-1, 1] raise ``ValueError`` (SB3 clips its actions before stepping).
    """

    name = "continuous"

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
        arr = _as_batch(actions, (4,), "continuous").astype(np.float32)
        if np.isnan(arr).any():
            raise ValueError(f"continuous action contains NaN: {arr.tolist()}")
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
        s = 2 * math.log(scale / self.min_scale) / math.log(self.max_scale / self.min_scale) - 1 \
            if self.max_scale > self.min_scale else 0.0
        return np.clip(np.array([x, y, r, s], dtype=np.float32), -1, 1)


ACTION_TYPES: dict[str, type[ActionType]] = {
    "grid": GridActions,
    "box": BoxActions,
    "continuous": ContinuousActions,
}


def build_action_type(block: dict, image_size: int) -> ActionType:
    """Build the action type of a config block ``{type: grid|box|continuous, **kwargs}``."""
    name, kwargs = split_type(block, "action config")
    if name not in ACTION_TYPES:
        raise ConfigError(f"unknown action.type '{name}'; valid: {', '.join(ACTION_TYPES)}")
    cls = ACTION_TYPES[name]
    check_kwargs(cls, kwargs, f"action type '{name}'")
    if "image_size" in kwargs:
        raise ConfigError("action.image_size is taken from the env's image_size")
    return cls(image_size, **kwargs)
