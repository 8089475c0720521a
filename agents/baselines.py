"""Fixed patch-selection strategies (the papers' baselines) and the greedy oracle upper bound.

A strategy acts on a batch of faces of a :class:`~fh_gym.engine.core.RepairEngine` at once:
``act(engine, faces, rng) -> actions`` (one row per face). Strategies speak in boxes and ask the action
type for the nearest action, so each one runs on ``grid``, ``box`` and ``continuous`` envs alike.

* ``random``: uniform random actions (Attention-FH "Our w/ random").
* ``even``: non-overlapping tiling in raster order, repeated from the start when T exceeds the tiles
  (IPFH: "we divided the image of 128x128 evenly into 16 patches with size of 32x32").
* ``sequential``: a raster scan over the action grid, spaced so T steps sweep the whole image
  (Attention-FH "Our w/ sequences scans through the whole image in sequence").
* ``random30``: 30 random patches (IPFH Table VII), i.e. ``random`` with its own horizon of 30.
* ``greedy``: tries every candidate action with the truth and keeps the best next patch (largest PSNR
  gain) -- an upper bound for one-step lookahead, never a deployable agent.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fh_gym.engine.core import RepairEngine
from fh_gym.training.patch_pairs import random_actions


class Strategy:
    """Base class. ``horizon`` (if set) replaces the env's T for this strategy."""

    name = ""
    horizon: int | None = None
    uses_truth = False

    def act(self, engine: RepairEngine, faces: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class RandomStrategy(Strategy):
    """Uniformly random actions."""

    name = "random"

    def act(self, engine: RepairEngine, faces: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        return random_actions(engine, len(faces), rng)


class Random30Strategy(RandomStrategy):
    """IPFH's "randomly chosen 30 patches": random actions for 30 steps."""

    name = "random30"
    horizon = 30


def _box_sequence_actions(engine: RepairEngine, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    return np.stack([np.asarray(engine.actions.action_for_box(*box)) for box in boxes])


def _tile_side(engine: RepairEngine) -> int:
    actions = engine.actions
    side = getattr(actions, "patch_size", None) or getattr(actions, "base_size", engine.image_size // 4)
    return round(float(side))


class EvenGridStrategy(Strategy):
    """Non-overlapping tiles of the action type's natural patch size, raster order, cycled."""

    name = "even"

    def sequence(self, engine: RepairEngine) -> np.ndarray:
        side = _tile_side(engine)
        per_axis = max(1, math.ceil(engine.image_size / side))
        # Spread the tiles so the last one touches the border (no overlap when side divides the image).
        offsets = np.linspace(0, engine.image_size - side, per_axis) if per_axis > 1 else [0.0]
        boxes = [(float(top), float(left), side, side) for top in offsets for left in offsets]
        return _box_sequence_actions(engine, boxes)

    def act(self, engine: RepairEngine, faces: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        seq = self.sequence(engine)
        steps = engine.t[faces].cpu().numpy() % len(seq)
        return seq[steps]


class SequentialStrategy(Strategy):
    """Raster scan over the whole action grid, ``T`` positions evenly spaced in raster order."""

    name = "sequential"

    def sequence(self, engine: RepairEngine) -> np.ndarray:
        actions = engine.actions
        if hasattr(actions, "positions") and isinstance(actions.positions, torch.Tensor):  # grid
            scan = np.arange(actions.space.n)
        else:
            side = _tile_side(engine)
            count = getattr(actions, "positions", 8)
            centres = (np.arange(count) + 0.5) * engine.image_size / count
            boxes = [(cy - side / 2, cx - side / 2, side, side) for cy in centres for cx in centres]
            scan = _box_sequence_actions(engine, boxes)
        picks = np.round(np.linspace(0, len(scan) - 1, engine.horizon)).astype(int)
        return np.asarray(scan)[picks]

    def act(self, engine: RepairEngine, faces: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        seq = self.sequence(engine)
        return seq[engine.t[faces].cpu().numpy() % len(seq)]


class GreedyOracleStrategy(Strategy):
    """Best next patch by true PSNR gain among the action type's candidates (uses the ground truth).

    Args:
        max_candidates: Evaluate at most this many candidates per step (a random subset drawn from
            the strategy's generator); None evaluates all of them.
        chunk: Windows restored per restorer call (bounds memory).
    """

    name = "greedy"
    uses_truth = True

    def __init__(self, max_candidates: int | None = None, chunk: int = 512) -> None:
        self.max_candidates = max_candidates
        self.chunk = chunk

    def act(self, engine: RepairEngine, faces: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        candidates = engine.actions.candidate_actions()
        if self.max_candidates is not None and len(candidates) > self.max_candidates:
            candidates = candidates[rng.choice(len(candidates), self.max_candidates, replace=False)]
        gains = engine.candidate_gains(faces, candidates, chunk=self.chunk)
        return candidates[gains.argmax(axis=1)]


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (RandomStrategy, EvenGridStrategy, SequentialStrategy, Random30Strategy,
                              GreedyOracleStrategy)
}


def build_strategy(name: str) -> Strategy:
    """A strategy by name (``random``, ``even``, ``sequential``, ``random30``, ``greedy``)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy '{name}'; available: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]()
