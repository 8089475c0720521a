"""``greedy2``: the two-step lookahead oracle -- the first repair of the best *pair* of next repairs by true PSNR
gain (:mod:`fh_gym.agents.strategies.two_step`), a tighter upper bound than the one-step ``greedy`` where the best
repair now is not the best start of two. With a stop action it stops where no pair pays its step costs."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from fh_gym.agents.strategies.base import STRATEGIES
from fh_gym.agents.strategies.two_step import TwoStepLookahead
from fh_gym.engine.core import RepairEngine


@STRATEGIES.register()
class TwoStepOracleStrategy(TwoStepLookahead):
    """First repair of the best pair of repairs by true PSNR gain, over a beam of first repairs (uses the truth).

    Args:
        beam: First repairs looked past, the best by one-step gain (K, all candidates, for the exact optimum).
        chunk: Windows restored per restorer call (bounds memory).
    """

    name = "greedy2"
    order = 91
    uses_truth = True
    stops = True

    def scores(self, engine: RepairEngine, slots: Tensor, candidates: np.ndarray) -> np.ndarray:
        return engine.candidate_gains(slots, candidates, chunk=self.chunk)
