"""``random``: uniformly random actions (Attention-FH "Our w/ random")."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from fh_gym.agents.strategies.base import STRATEGIES, Strategy
from fh_gym.engine.core import RepairEngine
from fh_gym.samplers.patch_pairs import random_actions


@STRATEGIES.register()
class RandomStrategy(Strategy):
    """Uniformly random actions."""

    name = "random"
    order = 10

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        return random_actions(engine, len(slots), rng)
