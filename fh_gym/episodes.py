"""Actors and the one episode runner: every way of running whole episodes goes through here.

An *actor* picks boxes: a fixed strategy, a trained SB3 model or a paper agent. They all speak the
:class:`Actor` protocol (usually by deriving from :class:`BaseActor`), so callers never ask what kind of
actor they hold. :func:`build_engine` builds the engine an actor runs on (its own episode length, the
restorer that :func:`repairing_restorer` picks) and :func:`play_episodes` runs one batch of episodes on it,
calling :class:`EpisodeHook` objects at the start, after every step and at the end. Evaluation, comparison,
recording, hallucination and TensorBoard image grids are hooks on this one loop.

Example:
    >>> engine = build_engine(env_config, actor, 4)  # doctest: +SKIP
    >>> slots = engine.all_slots()  # doctest: +SKIP
    >>> play_episodes(engine, actor, faces, np.random.default_rng(0), {"index": [0, 1, 2, 3]})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from torch import Tensor, nn

from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.restorers.config import merge_config

#: ``act(engine, slots, rng) -> actions``: one action row per face slot in ``slots``
ActFn = Callable[[RepairEngine, Tensor, np.random.Generator], np.ndarray]


@runtime_checkable
class Actor(Protocol):
    """What the episode runner runs.

    Attributes:
        name: Row name in comparison tables and file names of recordings.
        horizon: The actor's own episode length T (``random30``, a trained agent's T), or None for the env's.
        restorer: The restorer trained jointly with the actor (paper agents, SB3 runs that fine-tuned it),
            or None; see :func:`repairing_restorer`.
        env_config: The env config the actor was trained on, or None.
        uses_truth: True when ``act`` reads the ground truth (the greedy oracle): not usable on LR inputs.
    """

    name: str
    horizon: int | None
    restorer: nn.Module | None
    env_config: dict[str, Any] | None
    uses_truth: bool

    def start_episodes(self, engine: RepairEngine, slots: Tensor) -> None:
        """New episodes start in the slots ``slots`` (called after ``engine.reset``)."""

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        """One action per face slot in ``slots`` (rows follow ``slots``), drawing randomness from ``rng``."""


class BaseActor:
    """The :class:`Actor` defaults: no own horizon, restorer or env config, no truth, no episode state."""

    name: str = "actor"
    horizon: int | None = None
    restorer: nn.Module | None = None
    env_config: dict[str, Any] | None = None
    uses_truth: bool = False

    def start_episodes(self, engine: RepairEngine, slots: Tensor) -> None:
        """Stateless actors have nothing to reset."""

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class FunctionActor(BaseActor):
    """A plain ``act(engine, slots, rng)`` function as an actor."""

    def __init__(self, act: ActFn, name: str = "agent", horizon: int | None = None) -> None:
        self._act = act
        self.name = name
        self.horizon = horizon

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        return self._act(engine, slots, rng)


def as_actor(actor: Actor | ActFn) -> Actor:
    """``actor`` itself when it speaks the protocol; a plain function wrapped in :class:`FunctionActor`.

    Raises:
        TypeError: For anything else (the message names the missing members).
    """
    if isinstance(actor, Actor):
        return actor
    if callable(actor) and not hasattr(actor, "act"):
        return FunctionActor(actor)
    missing = [m for m in ("name", "horizon", "restorer", "env_config", "uses_truth", "start_episodes", "act")
               if not hasattr(actor, m)]
    raise TypeError(f"{type(actor).__name__} is not an actor (missing {', '.join(missing)}); derive it from "
                    "fh_gym.episodes.BaseActor")


def repairing_restorer(actor: Actor, env_restorer: nn.Module | None = None) -> nn.Module | None:
    """The restorer that repairs ``actor``'s episodes: the one rule for every runner.

    An actor's own restorer (trained jointly with it: paper agents, SB3 runs with ``finetune_restorer``)
    repairs its episodes, since its choices assume that restorer. Actors without one use ``env_restorer``
    (a ready network shared between runs), and None means the engine builds the env config's ``restorer``
    block (which ``--restorer`` sets).
    """
    return actor.restorer if actor.restorer is not None else env_restorer


def episode_config(env_config: Mapping[str, Any], actor: Actor, horizon: int | None = None,
                   overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``env_config`` with the episode length ``horizon`` (else the actor's own T, else the env's) and
    ``overrides`` (e.g. ``{"render": {"scale": 2}}``)."""
    steps = horizon or actor.horizon or env_config["horizon"]
    return merge_config(merge_config(env_config, {"horizon": int(steps)}), overrides)


def build_engine(env_config: Mapping[str, Any], actor: Actor, num_envs: int, *, restorer: nn.Module | None = None,
                 dataset: Any = None, horizon: int | None = None,
                 overrides: Mapping[str, Any] | None = None) -> RepairEngine:
    """The engine ``actor`` runs on: :func:`episode_config`, repaired by :func:`repairing_restorer`.

    Args:
        env_config: A full env config.
        actor: The actor (its ``horizon`` and ``restorer`` count).
        num_envs: Face slots of the engine.
        restorer: A ready env restorer to share (None: built from the config) for actors without their own.
        dataset: A ready dataset to share (None: built from the config).
        horizon: Episode length overriding the actor's and the env's.
        overrides: Further env config overrides.
    """
    config = episode_config(env_config, actor, horizon, overrides)
    return RepairEngine(config, num_envs, restorer=repairing_restorer(actor, restorer), dataset=dataset)


class EpisodeHook:
    """Called by :func:`play_episodes`; override the moments you need (the defaults do nothing)."""

    def on_start(self, engine: RepairEngine, slots: Tensor) -> None:
        """After the reset (and the actor's ``start_episodes``), before the first step."""

    def on_step(self, engine: RepairEngine, slots: Tensor, step: StepOutput) -> None:
        """After each of the T steps, with what the step returned; ``slots`` are the faces it stepped (fewer
        than the episode's once some have stopped)."""

    def on_end(self, engine: RepairEngine, slots: Tensor) -> None:
        """After the last step."""


def play_episodes(engine: RepairEngine, actor: Actor, slots: Tensor, rng: np.random.Generator,
                  options: Mapping[str, Any] | None = None, hooks: Sequence[EpisodeHook] = (), *,
                  keep_batch: bool = False) -> None:
    """Run one batch of whole episodes: reset ``slots``, start the actor, step ``engine.horizon`` times (faces
    that stop early, with an adaptive budget's stop action, are left out of the later steps).

    Args:
        engine: Built for the actor (:func:`build_engine`).
        actor: Picks the actions.
        slots: The engine slots to run (one episode each).
        rng: Draws the degradations and the actor's random choices (the same generator, in that order).
        options: ``engine.reset`` options: ``{"index": dataset indices}``, ``{"hr": images}`` or
            ``{"lr": LR images}`` (inference, no ground truth); None draws random dataset faces.
        hooks: Called in order at each moment.
        keep_batch: Ask each step for its restorer inputs (``StepOutput.context``).
    """
    engine.reset(slots, rng, options)
    actor.start_episodes(engine, slots)
    for hook in hooks:
        hook.on_start(engine, slots)
    for _ in range(engine.horizon):
        # A stop action (adaptive budgets) ends a face's episode early: the others go on.
        active = slots[engine.t[slots] < engine.horizon]
        if not len(active):
            break
        step = engine.step(actor.act(engine, active, rng), active, keep_batch=keep_batch)
        for hook in hooks:
            hook.on_step(engine, active, step)
    for hook in hooks:
        hook.on_end(engine, slots)
