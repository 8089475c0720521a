"""One-step gain labels for the supervised ``gain_predictor``: what every candidate repair would gain, by the oracle.

Each batch holds B episode states of the env's *training people*: the selection input (I_t, I_0, coverage;
:func:`~fh_gym.restorers.archs.selection_arch.selection_stack`), the true PSNR gain in dB of every candidate
action (the greedy oracle's lookahead, :meth:`~fh_gym.engine.core.RepairEngine.candidate_gains`) and the
action mask. Between batches every episode advances one repair, chosen by the oracle with probability
``greedy_prob`` and at random among the allowed actions otherwise, so states of every step t < T appear, both on
the paths a good policy takes and beside them (episodes restart at T).

``labels="self_lookahead"`` labels with the restorer's own expected gains instead
(:meth:`~fh_gym.engine.core.RepairEngine.candidate_changes`: for an L2 restorer the expected MSE reduction of a
repair is its squared change), put in dB against the face's current true MSE: ``10 log10(mse / (mse -
change))``. Within a state these labels rank the candidates as the ``self_lookahead`` strategy does, a
deterministic function of the observation (the truth only scales them per face): the mean gain given what the
predictor sees, of which the oracle's true gains are one noisy draw; the behaviour policy's "oracle" is then
``self_lookahead``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.archs.selection_arch import selection_stack
from fh_gym.restorers.pixels import psnr_gain
from fh_gym.restorers.training.recipes.gain_predictor import LABELS


@dataclass
class GainBatch:
    """Selection inputs and gain labels of B states.

    Attributes:
        stack: (B, 12, S, S) network input.
        gains: (B, K) float32 PSNR gain in dB of each candidate action (the oracle's true gain, or the
            restorer's expected gain with ``labels="self_lookahead"``).
        allowed: (B, K) bool action mask (MaskablePPO's: cells not yet repaired).
        boxes: (K, 4) candidate boxes ``(top, left, h, w)`` in pixels.
    """

    stack: Tensor
    gains: Tensor
    allowed: Tensor
    boxes: Tensor


def engine_selection_stack(engine: RepairEngine, slots: Tensor) -> Tensor:
    """The selection input of ``slots`` straight from the engine's state (float, on its device)."""
    coverage = engine.coverage[slots].unsqueeze(1).to(torch.float32) / engine.horizon
    return selection_stack(engine.current[slots], engine.start[slots], coverage)


def candidate_allowed(engine: RepairEngine, slots: Tensor, candidates: np.ndarray) -> np.ndarray:
    """(B, K) which candidates the action mask allows (all of them for action types without masks)."""
    try:
        masks = engine.action_masks(slots)
    except ValueError:  # continuous actions have no masks
        return np.ones((len(slots), len(candidates)), dtype=bool)
    stop = engine.action_type.stop_action
    if stop is not None:  # the stop action is no candidate: its mask column goes
        masks = np.delete(masks, stop, axis=1)
    if masks.shape[1] == len(candidates):  # Discrete: one mask entry per action, candidates in action order
        return masks
    return np.ones((len(slots), len(candidates)), dtype=bool)


class GainLabelSampler:
    """Batches of :class:`GainBatch` from B episodes of the env's training split (see the module docstring).

    Args:
        env_config: A full env config (its ``data`` block picks the people: the training split).
        batch_size: B, the number of episodes (and states per batch).
        restorer: The (frozen) restorer whose gains are predicted.
        seed: Seed of faces, degradations and the behaviour policy.
        greedy_prob: Probability that an episode advances with the labels' best choice.
        labels: ``"oracle"`` or ``"self_lookahead"`` (:data:`LABELS`, the module docstring).

    Raises:
        ValueError: For unknown ``labels``.
    """

    def __init__(self, env_config: dict[str, Any], batch_size: int, restorer: nn.Module, seed: int = 0,
                 greedy_prob: float = 0.5, dataset: Any = None, labels: str = "oracle") -> None:
        if labels not in LABELS:
            raise ValueError(f"labels must be one of {', '.join(LABELS)}, got {labels!r}")
        self.labels = labels
        self.engine = RepairEngine(env_config, batch_size, restorer=restorer, dataset=dataset)
        self.rng = np.random.default_rng(seed)
        self.greedy_prob = float(greedy_prob)
        self.slots = self.engine.all_slots()
        self.candidates = self.engine.action_type.candidate_actions()
        self.boxes = self.engine.action_type.to_boxes(self.candidates)
        self.engine.reset(self.slots, self.rng)

    def _advance(self, gains: np.ndarray, allowed: np.ndarray) -> None:
        if int(self.engine.t.max()) >= self.engine.horizon:
            self.engine.reset(self.slots, self.rng)
            return
        greedy = np.where(allowed, gains, -np.inf).argmax(axis=1)
        random = np.where(allowed, self.rng.random(allowed.shape), -1.0).argmax(axis=1)  # uniform among allowed
        pick = np.where(self.rng.random(len(self.slots)) < self.greedy_prob, greedy, random)
        self.engine.step(self.candidates[pick], self.slots)

    def _labels(self) -> np.ndarray:
        if self.labels == "oracle":
            return self.engine.candidate_gains(self.slots, self.candidates)
        changes = torch.from_numpy(self.engine.candidate_changes(self.slots, self.candidates))
        mse = self.engine.mse[self.slots].cpu().unsqueeze(1)
        # A change beyond the face's whole error would be an infinite gain: the estimate is capped at 30 dB.
        return psnr_gain(mse, (mse - changes).clamp(min=1e-3 * mse)).numpy()

    @torch.no_grad()
    def sample(self) -> GainBatch:
        """The labels of the current states, then every episode advances one repair."""
        gains = self._labels().astype(np.float32)
        allowed = candidate_allowed(self.engine, self.slots, self.candidates)
        batch = GainBatch(stack=engine_selection_stack(self.engine, self.slots), gains=torch.from_numpy(gains),
                          allowed=torch.from_numpy(allowed), boxes=self.boxes)
        self._advance(gains, allowed)
        return batch
