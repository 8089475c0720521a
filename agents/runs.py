"""Agent training runs: what an algorithm is handed, the run folder and its ``run.json`` record, resuming.

Every ``fh-gym train`` run (SB3 and paper agents alike) lives in ``<out>/<env>__<algo>__<seed>__<unixtime>``
(CleanRL-style name; created exclusively, with a ``-2``, ``-3``... suffix when two runs start in the same second),
with:

* ``run.json``: everything needed to rebuild the run (algorithm, env id, seed, env and validation configs,
  the resolved hyperparameters, evaluation settings), written atomically before training starts;
* the algorithm's last checkpoint (:attr:`fh_gym.agents.registry.Algo.checkpoint`: ``checkpoints/last.zip``
  for SB3, ``last.pt`` for the paper agents), TensorBoard events and the agent files.

:func:`resume_context` turns a run folder back into the :class:`TrainContext` it was started with (the
record wins over new flags: a resumed run is the same experiment; only the total may be raised), and the
algorithm continues from its checkpoint with its step count, optimiser states and TensorBoard run (the steps
a killed attempt logged after its checkpoint are dropped). While a run trains, its folder is locked
(:func:`fh_gym.restorers.checkpoint.run_lock`): a second process training into it is refused. A run that fails
before its first checkpoint is removed (:func:`discard_unused_run`).

Example:
    >>> ctx = new_context(Path("runs"), "fh_gym/FaceRepair-Dense-x8-v0", "ppo", 0,  # doctest: +SKIP
    ...                   env_config, eval_config, hyperparams)
    >>> get_algo("ppo").train(ctx)  # doctest: +SKIP
    >>> get_algo("ppo").train(resume_context(ctx.run_dir, total_timesteps=400_000))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fh_gym.restorers.checkpoint import atomic_open
from fh_gym.restorers.config import ConfigError

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


def create_run_dir(out: Path, name: str) -> Path:
    """Create ``out/name`` exclusively (``name-2``, ``name-3``... when it exists), so two runs started in the same
    second never share a folder; ``ConfigError`` when ``out`` is a file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"invalid --out: {str(out)!r} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        run_dir = out / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            run_dir.mkdir()  # exclusive: exactly one process creates a given folder
        except FileExistsError:
            continue
        return run_dir
    raise ConfigError(f"{out} holds 999 runs named {name}: choose another --out")


def discard_unused_run(run_dir: Path, checkpoint: str) -> bool:
    """Remove a run folder that holds no checkpoint (its run failed before saving anything worth keeping);
    returns whether it was removed. A failed run then leaves no empty run folder behind."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or last_checkpoint(run_dir, checkpoint) is not None:
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return True


def new_context(out: Path, env_id: str, algo: str, seed: int, env_config: dict[str, Any],
                eval_config: dict[str, Any], algo_config: dict[str, Any], *, eval_every: int = 10_000,
                eval_faces: int = 32, progress: bool = True, when: float | None = None) -> TrainContext:
    """Create a fresh run folder ``out/<run_name>`` (:func:`create_run_dir`) with its ``run.json``; returns the
    run's context."""
    run_dir = create_run_dir(out, run_name(env_id, algo, seed, when))
    record = {"algo": algo, "env_id": env_id, "seed": seed, "env_config": env_config, "eval_config": eval_config,
              "algo_config": algo_config, "eval_every": eval_every, "eval_faces": eval_faces}
    write_run_record(run_dir, record)
    return context_from_record(record, run_dir, resume=False, progress=progress)


def finished_run_error(run_dir: Path, done: int, total: int) -> ValueError:
    """The error for resuming a run that has trained ``total`` steps or more already (raised before the trainer
    changes anything in the folder, ``run.json`` included)."""
    return ValueError(f"{run_dir} has trained {done} env steps of its total {total} already: resume with "
                      f"--timesteps above {done} to train on")


def resume_context(run_dir: Path, *, algo: str | None = None, total_timesteps: int | None = None,
                   progress: bool = True) -> tuple[str, TrainContext]:
    """(algorithm name, context) to continue the run in ``run_dir``.

    Args:
        run_dir: A folder made by :func:`new_context`.
        algo: The algorithm the caller expects (a mismatch is an error), or None.
        total_timesteps: A new total (above the steps trained so far; the trainer records it in ``run.json``),
            or None to keep the recorded one.
        progress: Show a progress bar.
    """
    record = read_run_record(run_dir)
    if algo and algo != record["algo"]:
        raise ValueError(f"{run_dir} is a {record['algo']} run, not {algo}")
    if total_timesteps:  # recorded by the trainer once it has checked the run has steps left (record_total)
        record["algo_config"]["total_timesteps"] = int(total_timesteps)
    return record["algo"], context_from_record(record, run_dir, resume=True, progress=progress)


def record_total(run_dir: Path, total_timesteps: int) -> None:
    """Write a resumed run's total into its ``run.json`` (the next ``--resume`` continues towards it); trainers
    call it after checking that the run has trained fewer steps than that (else :func:`finished_run_error`). A
    run folder without a record (a ``TrainContext`` built in Python) is left as it is."""
    if not (Path(run_dir) / RUN_RECORD).is_file():
        return
    record = read_run_record(run_dir)
    if int(record["algo_config"]["total_timesteps"]) != int(total_timesteps):
        record["algo_config"]["total_timesteps"] = int(total_timesteps)
        write_run_record(run_dir, record)
