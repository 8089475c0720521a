"""``centre_out``: the even tiling ordered from the centre of the face outwards (eyes, nose and mouth first)."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from fh_gym.agents.strategies.base import STRATEGIES, Strategy
from fh_gym.agents.strategies.even_strategy import EvenGridStrategy
from fh_gym.engine.core import RepairEngine


@STRATEGIES.register()
class CentreOutStrategy(Strategy):
    """Non-overlapping tiles sorted by the distance of their centre to the image centre (ties: raster order).

    fh-gym's faces are aligned crops, so the centre holds the features that matter most; under a budget this is
    the cheap content-blind guess of where to repair first.
    """

    name = "centre_out"
    order = 22

    def sequence(self, engine: RepairEngine) -> np.ndarray:
        tiles = EvenGridStrategy().sequence(engine)
        boxes = engine.action_type.to_boxes(tiles).numpy().astype(np.float64)
        centre = engine.image_size / 2
        distance = np.hypot(boxes[:, 0] + boxes[:, 2] / 2 - centre, boxes[:, 1] + boxes[:, 3] / 2 - centre)
        return tiles[np.argsort(distance, kind="stable")]

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        sequence = self.sequence(engine)
        return sequence[engine.t[slots].cpu().numpy() % len(sequence)]
