"""Registry of trainable agents (``fh-gym train --algo NAME``) and loading of trained agents.

An algorithm registers a ``train(ctx: TrainContext) -> dict`` function and a ``load(path, device) -> Actor``
function. An *actor* is what evaluation, comparison, recording and hallucination run: it has a ``name``,
``act(engine, faces, rng) -> actions`` (one row per face of a batched
:class:`~fh_gym.engine.core.RepairEngine`) and, if it keeps per-episode state (recurrent policies),
``start_episodes(engine, faces)``.

Every trained-agent checkpoint is a ``.zip`` (SB3) or ``.pt`` file with a JSON/dict record of its ``algo``
so :func:`load_agent` can dispatch on it; see :func:`agent_algo`.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from fh_gym.config import ConfigError


class Actor(Protocol):
    name: str

    def act(self, engine: Any, faces: torch.Tensor, rng: np.random.Generator) -> np.ndarray: ...


@dataclass
class TrainContext:
    """What ``fh-gym train`` hands an algorithm.

    Attributes:
        env_id: Registered env id (for run names and records).
        env_config: Full env config on the *training* people.
        eval_config: The same env on *validation* people (periodic evaluation).
        algo_config: The algorithm's hyperparameters (RL-Zoo style YAML merged with flags).
        run_dir: ``<out>/<env>__<algo>__<seed>__<time>``; TensorBoard logs and checkpoints go here.
        seed: Seed of everything (envs, networks, sampling).
        total_timesteps: Env steps (faces x steps) to train for.
        resume: Continue from the checkpoint in ``run_dir`` when there is one.
        eval_every: Env steps between evaluations; eval_faces: validation faces per evaluation.
        device: Torch device for the networks.
    """

    env_id: str
    env_config: dict[str, Any]
    eval_config: dict[str, Any]
    algo_config: dict[str, Any]
    run_dir: Path
    seed: int
    total_timesteps: int
    resume: bool = True
    progress: bool = True
    eval_every: int = 10_000
    eval_faces: int = 32
    device: str = "cpu"
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Algo:
    name: str
    train: Callable[[TrainContext], dict[str, Any]]
    load: Callable[[Path, str], Actor]
    defaults: Callable[[str], dict[str, Any]]
    description: str


ALGOS: dict[str, Algo] = {}


def register_algo(name: str, *, train: Callable[[TrainContext], dict[str, Any]], load: Callable[[Path, str], Actor],
                  defaults: Callable[[str], dict[str, Any]], description: str) -> None:
    """Register an algorithm; ``defaults(env_id)`` gives its hyperparameters for an env (RL-Zoo style)."""
    if name in ALGOS:
        raise KeyError(f"algorithm '{name}' is registered twice")
    ALGOS[name] = Algo(name, train, load, defaults, description)


def _load_all() -> None:
    import fh_gym.agents.algos  # noqa: F401  (each module registers its algorithms)


def get_algo(name: str) -> Algo:
    _load_all()
    if name not in ALGOS:
        raise ConfigError(f"unknown algorithm '{name}'; available: {', '.join(sorted(ALGOS))}")
    return ALGOS[name]


def run_name(env_id: str, algo: str, seed: int, when: float | None = None) -> str:
    """CleanRL-style run name ``env__algo__seed__unixtime``."""
    return f"{env_id}__{algo}__{seed}__{int(time.time() if when is None else when)}"


def agent_algo(path: str | Path) -> str:
    """The ``algo`` recorded in a trained-agent checkpoint (SB3 ``.zip`` or fh-gym ``.pt``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent checkpoint not found: {path}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "fh_gym.json" in names:
                return json.loads(archive.read("fh_gym.json"))["algo"]
        # torch.save writes zip archives too (<name>/data.pkl): those are read below.
        if not any(name.endswith("/data.pkl") for name in names):
            raise ConfigError(f"{path} is an SB3 archive without fh-gym metadata (fh_gym.json)")
    from fh_gym.restorers.checkpoint import safe_load

    data = safe_load(path)
    if "algo" not in data:
        raise ConfigError(f"{path} is not an fh-gym agent checkpoint (no 'algo' entry)")
    return str(data["algo"])


def load_agent(path: str | Path, device: str = "cpu") -> Actor:
    """Load any trained agent as an actor (dispatches on its recorded algorithm)."""
    return get_algo(agent_algo(path)).load(Path(path), device)
