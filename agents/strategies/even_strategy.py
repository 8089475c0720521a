"""``even``: non-overlapping tiling in raster order, repeated from the start when T exceeds the tiles
(IPFH: "we divided the image of 128x128 evenly into 16 patches with size of 32x32")."""

from __future__ import annotations

import math

import numpy as np
from torch import Tensor

from fh_gym.agents.strategies.base import STRATEGIES, Strategy, box_sequence_actions, tile_side
from fh_gym.engine.core import RepairEngine


@STRATEGIES.register()
class EvenGridStrategy(Strategy):
    """Non-overlapping tiles of the action type's natural patch size, raster order, cycled."""

    name = "even"
    order = 20

    def sequence(self, engine: RepairEngine) -> np.ndarray:
        side = tile_side(engine)
        per_axis = max(1, math.ceil(engine.image_size / side))
        # Spread the tiles so the last one touches the border (no overlap when side divides the image).
        offsets = np.linspace(0, engine.image_size - side, per_axis) if per_axis > 1 else [0.0]
        boxes = [(float(top), float(left), side, side) for top in offsets for left in offsets]
        return box_sequence_actions(engine, boxes)

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        seq = self.sequence(engine)
        steps = engine.t[slots].cpu().numpy() % len(seq)
        return seq[steps]
