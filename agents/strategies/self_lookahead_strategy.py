"""``self_lookahead``: repair the candidate the restorer itself would change most -- a one-step lookahead without
the truth and without training (our addition; none of the papers has it).

For a restorer trained with L2 (``pretrain-restorer`` makes one L2 update on the repaired box a step; the
identity-aware fine-tunings add other terms and fit the argument less), its output estimates E[HR | input],
and then the expected error reduction of pasting it is exactly the squared change it makes:
E|x - y|^2 - E|R - y|^2 = |x - R|^2 when R = E[y | x]. So the squared change of each candidate repair
(:meth:`~fh_gym.engine.core.RepairEngine.candidate_changes`) ranks the candidates as the greedy oracle's true
gains would, to the extent the restorer is that estimate. Its cost is the oracle's: every candidate is restored
at every step (49 windows a step on the 32-pixel grid), though only the chosen one is pasted.

Where the restorer is no longer an estimate of the truth, the argument fails: windows it has repaired already
are out of its training distribution's centre, and it keeps changing them. Masked candidates are never picked;
with a stop action it never stops (a stop rule needs the gain in dB, which needs the current error).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from fh_gym.agents.strategies.base import STRATEGIES, Strategy
from fh_gym.engine.core import RepairEngine
from fh_gym.samplers.gain_labels import candidate_allowed


@STRATEGIES.register()
class SelfLookaheadStrategy(Strategy):
    """Argmax over the allowed candidates of the squared change the restorer's repair would make (no truth).

    Args:
        chunk: Windows restored per restorer call (bounds memory).
        fresh_only: Count the change on pixels no repair has touched yet only (overlapping boxes; see
            :meth:`~fh_gym.engine.core.RepairEngine.candidate_changes`).
    """

    name = "self_lookahead"
    order = 62
    in_defaults = False  # it restores every candidate at every step: asked for by name, as the oracle's cost

    def __init__(self, chunk: int = 512, fresh_only: bool = False) -> None:
        self.chunk = chunk
        self.fresh_only = fresh_only

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        candidates = engine.action_type.candidate_actions()
        changes = engine.candidate_changes(slots, candidates, chunk=self.chunk, fresh_only=self.fresh_only)
        allowed = candidate_allowed(engine, slots, candidates)
        return candidates[np.where(allowed, changes, -np.inf).argmax(axis=1)]
