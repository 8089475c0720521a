"""``greedy``: tries every candidate action with the truth and keeps the best next patch (largest PSNR
gain) -- an upper bound for one-step lookahead, never a deployable agent. With a stop action (adaptive
budgets) it stops once no candidate gains more than the env's ``repair.step_cost``."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from fh_gym.agents.strategies.base import STRATEGIES, Strategy, stop_unless_it_pays
from fh_gym.engine.core import RepairEngine


@STRATEGIES.register()
class GreedyOracleStrategy(Strategy):
    """Best next patch by true PSNR gain among the action type's candidates (uses the ground truth).

    Args:
        max_candidates: Evaluate at most this many candidates per step (a random subset drawn from
            the strategy's generator); None evaluates all of them.
        chunk: Windows restored per restorer call (bounds memory).
    """

    name = "greedy"
    order = 90
    uses_truth = True

    def __init__(self, max_candidates: int | None = None, chunk: int = 512) -> None:
        self.max_candidates = max_candidates
        self.chunk = chunk

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        candidates = engine.action_type.candidate_actions()
        if self.max_candidates is not None and len(candidates) > self.max_candidates:
            candidates = candidates[rng.choice(len(candidates), self.max_candidates, replace=False)]
        gains = engine.candidate_gains(slots, candidates, chunk=self.chunk)
        return stop_unless_it_pays(engine, candidates[gains.argmax(axis=1)], gains.max(axis=1))
