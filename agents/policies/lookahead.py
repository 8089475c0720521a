"""``LookaheadPolicy``: a softmax over the restorer's own expected gains plus a learned correction, so RL starts
from ``self_lookahead``, the strongest truth-free strategy on the budgeted grids.

``self_lookahead`` repairs the candidate whose repair the restorer would change most: for an L2 restorer the
squared change is the repair's expected error reduction given the image (see
:mod:`fh_gym.agents.strategies.self_lookahead_strategy`). This policy reads those changes from the engine's
lookahead (:meth:`~fh_gym.engine.core.RepairEngine.candidate_changes`: every candidate restored, none pasted) and
scores candidate ``k`` by

    logit_k = (log(change_k + floor) + correction_k) / temperature

in log-change units: with ``temperature`` 0.05 a candidate whose repair changes 10% more is e^(ln 1.1 / 0.05)
~ 6.7x likelier. ``correction_k`` is a :class:`~fh_gym.restorers.archs.selection_arch.BoxPoolingSelector`'s
score of the box on the observation stack, its last layer zero at the start: the first deterministic policy
*is* ``self_lookahead``, and policy gradient learns where the restorer's self-assessment misleads (already
repaired pixels, borders) from the episode return. A stop action (adaptive budgets) scores
``log(floor) + stop_score(pooled)``: the first policy stops only when no repair would change anything, as
``self_lookahead`` never stops. Continuous actions are refused.

The price is the oracle's lookahead at every policy step (49 window restorations a step on the 32-pixel grid),
in training rollouts and in evaluation alike. Not a paper's policy (our addition, as ``GainPolicy``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from fh_gym.agents.pg.policy_base import POLICIES, PolicyOutput, State
from fh_gym.agents.policies.gain import GainPolicy
from fh_gym.agents.policies.spatial_scorer import factor_marginals
from fh_gym.restorers.config import ConfigError
from fh_gym.samplers.gain_labels import engine_selection_stack


@POLICIES.register()
class LookaheadPolicy(GainPolicy):
    """Softmax over the log squared change of every candidate repair, plus a learned correction (module docstring).

    Args:
        sizes: Choices per action factor (grid: ``[cells]``, ``[cells + 1]`` with a stop action).
        multi: Whether actions are ``MultiDiscrete`` rows.
        image_size: Side of the images.
        width: Channels of the correction network's first trunk stage.
        hidden: Units of the correction network's head.
        temperature: Log-change units per logit unit.
        value_hidden: Units of the value head.
        avoid_repeats: Forbid positions chosen earlier in the episode (the grid env's masks already do).
        fresh_only: Count each candidate's change on pixels no repair has touched yet only
            (``self_lookahead_fresh``'s score).
        floor: Added to every change (mean squared change over the image, [0, 1] scale) before the log, so a
            candidate that changes nothing has a finite logit.
        chunk: Windows restored per restorer call of the lookahead (bounds memory).
    """

    def __init__(self, sizes: list[int], multi: bool, image_size: int = 128, width: int = 16, hidden: int = 64,
                 temperature: float = 0.05, value_hidden: int = 64, avoid_repeats: bool = False,
                 fresh_only: bool = False, floor: float = 1e-8, chunk: int = 512) -> None:
        if not floor > 0:
            raise ConfigError(f"policy.floor must be > 0, got {floor}")
        super().__init__(sizes, multi, image_size, width, hidden, temperature, init=None, value_hidden=value_hidden,
                         avoid_repeats=avoid_repeats, stop_gain=math.log(floor))
        self.remember(sizes=list(self.spec.sizes), multi=bool(multi), image_size=int(image_size), width=int(width),
                      hidden=int(hidden), temperature=float(temperature), value_hidden=int(value_hidden),
                      avoid_repeats=bool(avoid_repeats), fresh_only=bool(fresh_only), floor=float(floor),
                      chunk=int(chunk))
        self.fresh_only, self.floor, self.chunk = bool(fresh_only), float(floor), int(chunk)
        last = self.selector.head[-1]
        nn.init.zeros_(last.weight)  # no correction at the start: the policy's argmax is self_lookahead's
        nn.init.zeros_(last.bias)

    def forward(self, engine, slots: Tensor, state: State, prev_actions: Tensor, first: Tensor) -> PolicyOutput:
        self._candidates(engine)
        with torch.no_grad():  # the restorer is the env's: no gradient through the lookahead
            # candidate_actions lists the patches in the order of self.boxes (action order; C order over factors)
            changes = engine.candidate_changes(slots, engine.action_type.candidate_actions(), chunk=self.chunk,
                                               fresh_only=self.fresh_only)
        prior = torch.as_tensor(np.log(changes + self.floor), dtype=torch.float32, device=self.boxes.device)
        maps = self.selector.features(engine_selection_stack(engine, slots))
        correction = self.selector.score(maps, self.boxes)[..., 0]
        logits = factor_marginals((prior + correction) / self.temperature, self.action_dims)
        pooled = self.selector.pooled(maps)
        if self.has_stop:
            logits = torch.cat([logits, self.stop_score(pooled) / self.temperature], dim=1)
        return PolicyOutput(logits, self.value_head(pooled.detach()).squeeze(1), dict(state))

