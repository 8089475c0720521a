"""Forks of a repair engine: copies of some faces' episode state that can be stepped without touching the original.

A lookahead that looks more than one repair ahead (the two-step oracle, ``greedy2``) must repair, then look again
from the repaired image. It forks the engine (:meth:`RepairEngine.fork <fh_gym.engine.core.RepairEngine.fork>`):
the fork copies the episode state of the chosen slots (a slot may be copied several times, one per first repair
tried) and shares everything that does not change (restorer, front-end, dataset, geometry), so stepping the fork
is the engine's own step on copies, paste and running MSE included, and the engine itself is left as it was.

Choice: a fork's reward is plain ``psnr_gain`` (plus ``step_cost`` where the env charges calls). A lookahead reads
the fork's MSE, not its reward, and the engine's own reward may hold networks and per-slot state (a reference
generator's MSE, a previous identity score) that a fork would have to copy for nothing.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from torch import Tensor

from fh_gym.engine.rewards.base import build_reward
from fh_gym.engine.view import EpisodeView

#: the engine's per-slot state tensors (first dimension N), copied row by row into a fork
STATE_TENSORS = ("hr", "lr", "start", "current", "occlusion", "coverage", "obs_image", "obs_start", "t", "repairs",
                 "mse", "start_mse", "history", "last_box", "has_truth", "visited")
#: the engine's per-slot NumPy state (face index, person), copied the same way
STATE_ARRAYS = ("face_index", "identity_name")

#: the engine's class (a TypeVar, not the class itself: the engine imports this module)
EngineT = TypeVar("EngineT")


def fork_engine(engine: EngineT, slots: Tensor) -> EngineT:
    """A new engine whose slot ``i`` holds a copy of the state of ``engine``'s slot ``slots[i]``.

    Args:
        engine: A :class:`~fh_gym.engine.core.RepairEngine`.
        slots: (M,) slot indices of ``engine``, repeats allowed (M may exceed the engine's N).

    Returns:
        An engine of ``engine``'s class with ``num_envs == M`` that shares the engine's networks,
        dataset and action geometry and owns copies of the state; stepping it leaves ``engine`` unchanged.
    """
    slots = slots.to(engine.device)
    if slots.ndim != 1 or not len(slots):
        raise ValueError(f"fork needs a non-empty 1-d tensor of slot indices, got shape {tuple(slots.shape)}")
    if bool(((slots < 0) | (slots >= engine.num_envs)).any()):
        raise ValueError(f"fork slots must lie in 0..{engine.num_envs - 1}, got {slots.tolist()}")
    fork = object.__new__(type(engine))
    fork.__dict__.update(engine.__dict__)
    rows = slots.cpu().numpy()
    for name in STATE_TENSORS:
        setattr(fork, name, getattr(engine, name)[slots])  # advanced indexing copies
    for name in STATE_ARRAYS:
        setattr(fork, name, np.asarray(getattr(engine, name))[rows].copy())
    fork.num_envs = len(slots)
    fork.reward_fn = build_reward({"type": "psnr_gain"})
    fork.term_names = tuple(fork.reward_fn.term_names()) + (("step_cost",) if engine.charges_calls else ())
    fork.view = EpisodeView(fork)
    fork.reward_fn.setup(fork.networks, fork.view)
    return fork
