"""What every action type shares: the :class:`ActionType` interface and the :data:`ACTIONS` registry.

An action type turns an agent's action into a box ``(top, left, height, width)`` in the HR image. One file per
type in this package (``grid``, ``box``, ``continuous``), registered with ``@ACTIONS.register()``; the
config block ``action: {type: <name>, **kwargs}`` picks one (``docs/environment.md``, "Actions"). Every type
validates actions (a clear ``ValueError`` for out-of-space, NaN or infinite actions), clips boxes to the image, and
knows the largest box it can produce (the engine sizes its repair windows from it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from fh_gym.restorers.registry import Registry


class ActionType:
    """Base class. Subclasses set ``name`` (their ``action.type``) and ``space`` (one face's action space,
    in ``__init__``); the first constructor argument is the env's ``image_size``, the others are config keys."""

    name = ""
    space: spaces.Space
    #: whether every box starts on a multiple of ``align`` pixels (lets the engine use tight windows)
    aligned_to: int = 1
    #: the side of every box when all are the same square inside the image (the engine then pastes only the
    #: box), or None
    box_side: int | None = None
    #: the action that ends the face's episode without a repair (adaptive budgets), or None
    stop_action: int | None = None

    def __init__(self, image_size: int) -> None:
        self.image_size = int(image_size)

    @property
    def max_box_side(self) -> int:
        raise NotImplementedError

    def validate(self, actions: np.ndarray) -> np.ndarray:
        """Check a batch of actions (one row per face) against ``space``; returns it as an array."""
        raise NotImplementedError

    def check_tensor(self, actions: torch.Tensor) -> torch.Tensor:
        """:meth:`validate` for a tensor batch on any device (one device sync): ``actions`` as the space holds
        them (int64, or float32 clipped to the box), or a ``ValueError``."""
        space = self.space
        shape = (len(actions), *space.shape)
        if tuple(actions.shape) != shape:
            raise ValueError(f"{self.name} actions must have shape {shape} for {space}, got {tuple(actions.shape)}")
        if isinstance(space, spaces.Box):
            actions = actions.to(torch.float32)
            bad = ~torch.isfinite(actions) | (actions.abs() > 1.0 + 1e-6)
            if bool(bad.any()):
                raise ValueError(f"{self.name} actions outside {space}: {actions[bad.any(-1)].tolist()}")
            return actions.clamp(-1.0, 1.0)
        if actions.is_floating_point() or actions.is_complex() or actions.dtype == torch.bool:
            raise ValueError(f"{self.name} actions must be integers for {space}, got {actions.dtype}")
        nvec = space.nvec if isinstance(space, spaces.MultiDiscrete) else space.n
        bad = (actions < 0) | (actions >= torch.as_tensor(nvec, device=actions.device))
        if bool(bad.any()):
            rows = bad if bad.ndim == 1 else bad.any(-1)
            raise ValueError(f"{self.name} actions outside {space}: {actions[rows].tolist()}")
        return actions.long()

    def to_boxes(self, actions: np.ndarray) -> torch.Tensor:
        """(N, 4) int64 boxes ``(top, left, height, width)``, clipped to the image, on the actions' device
        (a tensor's; the CPU for arrays)."""
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


def as_batch(actions: np.ndarray | Sequence | int, trailing: tuple[int, ...], what: str) -> np.ndarray:
    """``actions`` as an array with one row per face (a single action becomes one row); ``ValueError``
    naming the expected shape when the trailing dimensions are not ``trailing``."""
    arr = np.asarray(actions)
    if arr.ndim == len(trailing):
        arr = arr[None]
    if arr.shape[1:] != trailing:
        raise ValueError(f"{what} actions must have shape (N, {', '.join(map(str, trailing))}) "
                         f"or {trailing or '()'}, got {np.asarray(actions).shape}")
    return arr


def integral(arr: np.ndarray) -> bool:
    """Whether a float array holds only finite whole numbers (``inf`` would cast to -2**63)."""
    return bool(np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and np.all(arr == np.round(arr)))


#: every action type by ``action.type``, filled by the modules of this package
ACTIONS: Registry[type[ActionType]] = Registry("action type", "fh_gym.engine.actions")


def build_action_type(block: Mapping[str, Any], image_size: int) -> ActionType:
    """Build the action type of a config block ``{type: <name in ACTIONS>, **kwargs}`` for ``image_size``
    (the env's: a block may not set it)."""
    return ACTIONS.build(block, image_size=image_size)
