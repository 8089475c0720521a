"""``sequential``: a raster scan over the action grid, spaced so T steps sweep the whole image
(Attention-FH "Our w/ sequences scans through the whole image in sequence")."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from fh_gym.agents.strategies.base import STRATEGIES, Strategy, box_sequence_actions, tile_side
from fh_gym.engine.core import RepairEngine


@STRATEGIES.register()
class SequentialStrategy(Strategy):
    """Raster scan over the whole action grid, ``T`` positions evenly spaced in raster order."""

    name = "sequential"
    order = 30

    def sequence(self, engine: RepairEngine) -> np.ndarray:
        actions = engine.action_type
        if hasattr(actions, "positions") and isinstance(actions.positions, torch.Tensor):  # grid
            scan = np.arange(actions.space.n)
        else:
            side = tile_side(engine)
            count = getattr(actions, "positions", 8)
            centres = (np.arange(count) + 0.5) * engine.image_size / count
            boxes = [(cy - side / 2, cx - side / 2, side, side) for cy in centres for cx in centres]
            scan = box_sequence_actions(engine, boxes)
        picks = np.round(np.linspace(0, len(scan) - 1, engine.horizon)).astype(int)
        return np.asarray(scan)[picks]

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        seq = self.sequence(engine)
        return seq[engine.t[slots].cpu().numpy() % len(seq)]
