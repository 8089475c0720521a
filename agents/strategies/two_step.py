"""What the two-step lookaheads share (``greedy2`` with the truth, ``self_lookahead2`` without): the first repair
of the best *pair* of next repairs, where the best repair now need not be the best start of two.

Per step and face: a one-step score of every candidate (:meth:`TwoStepLookahead.scores`), then, for the ``beam``
best of them, a fork of the engine (:meth:`~fh_gym.engine.core.RepairEngine.fork`) that makes that repair and
scores every candidate again from the repaired image; the first repair whose pair scores most is made. Scores must
add up over two repairs (PSNR gains do: each is a log ratio of MSEs; so do MSE reductions). The engine itself is
never stepped.

Choices (the issue asks for "a 2-step lookahead oracle where affordable"; the papers have none):

* A beam rather than all K x K pairs: the second look costs ``beam`` lookaheads, so a step restores
  ``K * (1 + beam)`` windows (441 on the 49-cell grid with the default beam of 8: 9x a one-step lookahead).
  With ``beam >= K`` it is the exact two-step optimum of the score.
* At the last step of the horizon there is no second repair: it is the one-step lookahead.
* Masked candidates (``mask_repeats``) are never tried, at either look: the fork carries the visited cells.
* Where the score is in dB (``stops``) and the env has a stop action, a pair is worth ``max(g1 - c, g1 + g2 -
  2c)`` (one repair then stop, or two), ``c`` the env's ``repair.step_cost``; it stops where no first repair is
  worth more than 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from fh_gym.agents.strategies.base import Strategy, stop_unless_it_pays
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.config import ConfigError
from fh_gym.samplers.gain_labels import candidate_allowed


class TwoStepLookahead(Strategy):
    """Base class: the first repair of the best pair by :meth:`scores`, over a beam of first repairs.

    Args:
        beam: First repairs looked past, the best by their one-step score (K, all candidates, for the exact
            two-step optimum).
        chunk: Windows restored per restorer call (bounds memory).
    """

    in_defaults = False  # (1 + beam) lookaheads a step: asked for by name
    #: whether scores are gains in dB, set against the step cost (and the stop action taken where nothing pays)
    stops = False

    def __init__(self, beam: int = 8, chunk: int = 512) -> None:
        if not isinstance(beam, int) or isinstance(beam, bool) or beam < 1:
            raise ConfigError(f"strategy {self.name}: beam must be an integer >= 1, got {beam!r}")
        self.beam = beam
        self.chunk = chunk

    def scores(self, engine: RepairEngine, slots: Tensor, candidates: np.ndarray) -> np.ndarray:
        """(B, K) one-step score of each candidate repair of each face (additive over repairs)."""
        raise NotImplementedError

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        candidates = engine.action_type.candidate_actions()
        first = self._allowed_scores(engine, slots, candidates)  # (B, K)
        b, beam = len(slots), min(self.beam, len(candidates))
        tried = np.argsort(-first, axis=1, kind="stable")[:, :beam]  # (B, beam), best first
        first_score = np.take_along_axis(first, tried, axis=1)
        second_score = self._second_scores(engine, slots, candidates[tried.reshape(-1)], beam).reshape(b, beam)
        stops = self.stops and engine.action_type.stop_action is not None
        cost = engine.step_cost if stops else 0.0
        # A first repair is worth the repairs it starts less what they cost (the cost is a choice only with a
        # stop action: without one every step is taken anyway).
        value = np.maximum(first_score - cost, first_score + second_score - 2 * cost)
        pick = value.argmax(axis=1)
        best = candidates[tried[np.arange(b), pick]]
        return stop_unless_it_pays(engine, best, value[np.arange(b), pick] + cost) if stops else best

    def _allowed_scores(self, engine: RepairEngine, slots: Tensor, candidates: np.ndarray) -> np.ndarray:
        """:meth:`scores`, ``-inf`` where the action mask forbids a candidate."""
        return np.where(candidate_allowed(engine, slots, candidates), self.scores(engine, slots, candidates), -np.inf)

    def _second_scores(self, engine: RepairEngine, slots: Tensor, firsts: np.ndarray, beam: int) -> np.ndarray:
        """(B * beam,) best one-step score after each first repair (0 where the episode ends with it)."""
        fork = engine.fork(slots.repeat_interleave(beam))
        fork.step_tensors(torch.as_tensor(firsts), check=False)
        best = np.zeros(fork.num_envs)
        going = (fork.t < fork.horizon).cpu().numpy()
        if going.any():
            going_slots = fork.all_slots()[torch.as_tensor(going, device=fork.device)]
            best[going] = self._allowed_scores(fork, going_slots, fork.action_type.candidate_actions()).max(axis=1)
        return best
