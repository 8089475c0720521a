"""``self_lookahead2``: ``self_lookahead`` two repairs ahead -- the first repair of the pair of next repairs the
restorer itself would change most (squared change summed over the two; no truth, no training; our addition).

Under ``self_lookahead``'s argument (an L2 restorer's squared change is the expected MSE reduction of its
repair) the second repair's change, measured on a fork that made the first, is the pair's expected further
reduction, so the sum ranks pairs as their true MSE reductions would (:mod:`fh_gym.agents.strategies.two_step`).
Its cost is ``greedy2``'s (441 windows restored a step on the 49-cell grid with a beam of 8). Like
``self_lookahead`` it never stops (a stop rule needs gains in dB, which need the current error).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from fh_gym.agents.strategies.base import STRATEGIES
from fh_gym.agents.strategies.two_step import TwoStepLookahead
from fh_gym.engine.core import RepairEngine


@STRATEGIES.register()
class SelfLookahead2Strategy(TwoStepLookahead):
    """First repair of the pair of repairs with the largest total squared change, over a beam (no truth).

    Args:
        beam: First repairs looked past, the largest changes first (K, all candidates, for the exact optimum).
        chunk: Windows restored per restorer call (bounds memory).
    """

    name = "self_lookahead2"
    order = 63

    def scores(self, engine: RepairEngine, slots: Tensor, candidates: np.ndarray) -> np.ndarray:
        return engine.candidate_changes(slots, candidates, chunk=self.chunk)
