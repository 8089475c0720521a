"""The window geometry of every action of a ``Discrete`` action space, computed once per engine.

For ``grid`` actions a step's boxes, repair windows, box masks and window coordinates depend on the action
alone; :class:`DiscreteGeometry` builds them for all actions at construction and a step looks its rows up
(one ``index_select`` each) instead of recomputing them.
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from torch import Tensor

from fh_gym.engine.actions.base import ActionType
from fh_gym.engine.windows import box_mask, window_coords, window_starts

#: larger discrete spaces compute their geometry per step (the tables would grow with the action count)
MAX_CACHED_ACTIONS = 4096


class DiscreteGeometry:
    """Boxes (n, 4), window corners (n, 2), box masks (n, 1, w, w) and coordinates (n, 2, w, w) of the n
    actions of ``action_type`` on ``device``."""

    def __init__(self, action_type: ActionType, window: int, margin: int, scale: int, image_size: int,
                 device: torch.device) -> None:
        actions = torch.arange(action_type.space.n, device=device)
        self.boxes = action_type.to_boxes(actions).to(device)
        self.starts = window_starts(self.boxes, window, margin, scale, image_size)
        self.mask = box_mask(self.boxes, self.starts, window)
        self.coords = window_coords(self.starts, window, image_size)

    @classmethod
    def build(cls, action_type: ActionType, window: int, margin: int, scale: int, image_size: int,
              device: torch.device) -> DiscreteGeometry | None:
        """The tables, or None when the space is not ``Discrete`` or too large to tabulate."""
        space = action_type.space
        if not isinstance(space, spaces.Discrete) or space.n > MAX_CACHED_ACTIONS:
            return None
        return cls(action_type, window, margin, scale, image_size, device)

    def lookup(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Boxes, window corners, box masks and coordinates of ``actions`` (B,) (new tensors)."""
        rows = actions.long()
        return (self.boxes.index_select(0, rows), self.starts.index_select(0, rows),
                self.mask.index_select(0, rows), self.coords.index_select(0, rows))
