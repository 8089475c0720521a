"""Agent training runs: what an algorithm is handed, the run folder and its ``run.json`` record, resuming.

Every ``fh-gym train`` run (SB3 and paper agents alike) lives in ``<out>/<env>__<algo>__<seed>__<unixtime>``
(CleanRL-style name) with:

* ``run.json``: everything needed to rebuild the run (algorithm, env id, seed, env and validation configs,
  the resolved hyperparameters, evaluation settings), written atomically before training starts;
* the algorithm's last checkpoint (:attr:`fh_gym.agents.registry.Algo.checkpoint`: ``checkpoints/last.zip``
  for SB3, ``last.pt`` for the paper agents), TensorBoard events and the agent files.

:func:`resume_context` turns a run folder back into the :class:`TrainContext` it was started with (the
record wins over new flags: a resumed run is the same experiment; only the total may be raised), and the
algorithm continues from its checkpoint with its step count, optimiser states and TensorBoard run.

Example:
    >>> ctx = new_context(Path("runs"), "fh_gym/FaceRepair-Dense-x8-v0", "ppo", 0,  # doctest: +SKIP
    ...                   env_config, eval_config, hyperparams)
    >>> get_algo("ppo").train(ctx)  # doctest: +SKIP
    >>> get_algo("ppo").train(resume_context(ctx.run_dir, total_timesteps=400_000))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fh_gym.restorers.checkpoint import atomic_open

RUN_RECORD = "run.json"


@dataclass
class TrainContext:
    """What ``fh-gym train`` hands an algorithm.

    Attributes:
        env_id: Registered env id (for run names and records).
        env_config: Full env config on the *training* people.
        eval_config: The same env on *validation* people (periodic evaluation).
        algo_config: The algorithm's hyperparameters (its YAML merged with the user's overrides).
        run_dir: ``<out>/<env>__<algo>__<seed>__<time>``; TensorBoard logs and checkpoints go here.
        seed: Seed of everything (envs, networks, sampling).
        total_timesteps: Env steps (faces x steps) to train for.
        resume: Continue from the algorithm's checkpoint in ``run_dir`` when there is one.
        progress: Show a progress bar.
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


def run_name(env_id: str, algo: str, seed: int, when: float | None = None) -> str:
    """CleanRL-style run name ``env__algo__seed__unixtime`` (the id's ``/`` becomes ``-``, as in RL Zoo's folders)."""
    return f"{env_id.replace('/', '-')}__{algo}__{seed}__{int(time.time() if when is None else when)}"


def write_run_record(run_dir: Path, record: dict[str, Any]) -> Path:
    """``<run_dir>/run.json``: everything a resume needs to rebuild the run (written atomically)."""
    with atomic_open(Path(run_dir) / RUN_RECORD, "w") as fh:
        json.dump(record, fh, indent=2, default=str)
    return Path(run_dir) / RUN_RECORD


def read_run_record(run_dir: Path) -> dict[str, Any]:
    """The ``run.json`` of a run folder (``FileNotFoundError`` naming what ``--resume`` takes otherwise)."""
    path = Path(run_dir) / RUN_RECORD
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not an fh-gym training run (no {RUN_RECORD}); "
                                "--resume takes the run folder that `fh-gym train` created")
    return json.loads(path.read_text())


def last_checkpoint(run_dir: Path, checkpoint: str) -> Path | None:
    """The run's last checkpoint (``checkpoint`` relative to ``run_dir``), or None before the first one."""
    path = Path(run_dir) / checkpoint
    return path if path.is_file() else None


def context_from_record(record: dict[str, Any], run_dir: Path, *, resume: bool, progress: bool) -> TrainContext:
    """The :class:`TrainContext` a ``run.json`` record describes."""
    return TrainContext(env_id=record["env_id"], env_config=record["env_config"], eval_config=record["eval_config"],
                        algo_config=record["algo_config"], run_dir=Path(run_dir), seed=int(record["seed"]),
                        total_timesteps=int(record["algo_config"]["total_timesteps"]), resume=resume,
                        progress=progress, eval_every=int(record["eval_every"]), eval_faces=int(record["eval_faces"]),
                        device=record["env_config"]["device"])


def new_context(out: Path, env_id: str, algo: str, seed: int, env_config: dict[str, Any],
                eval_config: dict[str, Any], algo_config: dict[str, Any], *, eval_every: int = 10_000,
                eval_faces: int = 32, progress: bool = True, when: float | None = None) -> TrainContext:
    """Create the run folder ``out/<run_name>`` with its ``run.json``; returns the run's context."""
    run_dir = Path(out) / run_name(env_id, algo, seed, when)
    record = {"algo": algo, "env_id": env_id, "seed": seed, "env_config": env_config, "eval_config": eval_config,
              "algo_config": algo_config, "eval_every": eval_every, "eval_faces": eval_faces}
    write_run_record(run_dir, record)
    return context_from_record(record, run_dir, resume=False, progress=progress)


def resume_context(run_dir: Path, *, algo: str | None = None, total_timesteps: int | None = None,
                   progress: bool = True) -> tuple[str, TrainContext]:
    """(algorithm name, context) to continue the run in ``run_dir``.

    Args:
        run_dir: A folder made by :func:`new_context`.
        algo: The algorithm the caller expects (a mismatch is an error), or None.
        total_timesteps: A new total (recorded in ``run.json``), or None to keep the recorded one.
        progress: Show a progress bar.
    """
    record = read_run_record(run_dir)
    if algo and algo != record["algo"]:
        raise ValueError(f"{run_dir} is a {record['algo']} run, not {algo}")
    if total_timesteps:
        record["algo_config"]["total_timesteps"] = int(total_timesteps)
        write_run_record(run_dir, record)
    return record["algo"], context_from_record(record, run_dir, resume=True, progress=progress)
