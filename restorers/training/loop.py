"""A resumable supervised training loop: progress bar, TensorBoard, atomic checkpoints, resume after a kill.

Recipes (patch-restorer pre-training, generator and identity-net training) supply a ``step_fn(step)``
that performs one optimisation step and returns scalar losses; :class:`TrainingRun` does the rest:

* ``<out_dir>/last.pt`` — a training checkpoint (networks, optimisers, step, config, RNG states) written
  atomically every ``checkpoint_every`` steps, at the end, and when the run is interrupted (Ctrl-C/SIGTERM);
* ``<out_dir>/<name>.pt`` — plain network checkpoints of the final weights (loadable by ``load_network``),
  written by :meth:`TrainingRun.save_networks` once the caller knows what to record with them;
* ``<out_dir>/tb/`` — TensorBoard scalars under ``losses/`` (and whatever ``log_fn`` adds).

Starting the same run again with ``resume=True`` continues from ``last.pt`` with the same step count and
optimiser state. Callers add to this through hooks instead of subclassing: ``state`` (further objects with
``state_dict`` / ``load_state_dict`` kept in ``last.pt``, e.g. a policy-gradient baseline), ``on_checkpoint``
(runs after every checkpoint, e.g. writes a loadable agent file) and ``log_units_per_step`` (the TensorBoard
x-axis unit: one policy update of B faces x T steps logs at env steps, as the SB3 runs of the same env).

Ctrl-C and SIGTERM finish the current step, checkpoint and stop (:class:`Interrupted`, exit code 130 / 143);
an error leaves the last good checkpoint untouched. The first step is checkpointed at once (a killed run loses
at most one ``checkpoint_every`` interval, and a resume never silently starts over), a resumed run's TensorBoard
drops the steps the killed attempt logged after its checkpoint (``purge_step``), one process at a time writes
a run folder (:func:`~fh_gym.restorers.checkpoint.run_lock`; a second one is refused) and a run that fails before
its first checkpoint removes the folder it made. Progress goes to a tqdm bar on a terminal and to a plain
line every 10% in logs (:func:`~fh_gym.restorers.training.session.progress_bar`). Under ``torchrun`` only rank 0
writes files, and the ranks stop together (a budget or a signal seen by one rank stops all at the same step).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from fh_gym.restorers.checkpoint import load_training_state, run_lock, save_network, save_training_state
from fh_gym.restorers.training.session import deferred_signals, progress_bar

StepFn = Callable[[int], Mapping[str, float]]
#: the training checkpoint inside the run folder
CHECKPOINT = "last.pt"


def _rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def agree_to_stop(*local_flags: bool) -> list[bool]:
    """Each flag OR-ed over the ranks of a ``torchrun`` job (the flags themselves when not distributed).

    Ranks that stop on their own clock or signal would leave the others waiting forever in DDP's next
    gradient all-reduce; deciding together costs one tiny all-reduce per step.
    """
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(local_flags)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    flags = torch.tensor([float(f) for f in local_flags], device=device)
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return [bool(f) for f in flags.tolist()]


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel (or any ``.module``) wrapper."""
    return getattr(model, "module", model)


def optimizer_step(optimizer: torch.optim.Optimizer, loss: Tensor, parameters: Any = None,
                   grad_clip: float | None = None) -> None:
    """One update: clear the gradients, back-propagate ``loss``, clip ``parameters``' gradient norm to
    ``grad_clip`` (None or 0: no clipping; ``clip_grad_norm_`` with 0 would zero them), step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(parameters, float(grad_clip))
    optimizer.step()


class TrainingRun:
    """Drive ``step_fn`` for ``total_steps`` steps with checkpoints and logging.

    Args:
        out_dir: Folder of the run (created).
        networks: Name -> module (DDP-wrapped modules are unwrapped for saving).
        optimizers: Name -> optimiser.
        config: The recipe config, stored in every checkpoint.
        total_steps: Steps to reach (a resumed run does only the remaining ones).
        checkpoint_every: Steps between training checkpoints.
        log_every: Steps between TensorBoard writes.
        resume: Continue from ``<out_dir>/last.pt`` when it exists.
        progress: Show a tqdm progress bar.
        schedulers: Optional name -> LR scheduler, stepped after every step and saved.
        description: Progress-bar label.
        state: Optional name -> object with ``state_dict()`` / ``load_state_dict(state)`` (plain tensors and
            numbers), saved in every checkpoint and restored on resume.
        on_checkpoint: Called with the run after every checkpoint it writes (rank 0 only).
        log_units_per_step: TensorBoard x-axis units per step (:attr:`log_step` = ``step * log_units_per_step``).
    """

    def __init__(self, out_dir: str | os.PathLike, networks: Mapping[str, nn.Module],
                 optimizers: Mapping[str, torch.optim.Optimizer], config: Mapping[str, Any], total_steps: int,
                 checkpoint_every: int = 500, log_every: int = 50, resume: bool = True, progress: bool = True,
                 schedulers: Mapping[str, Any] | None = None, description: str = "train", *,
                 state: Mapping[str, Any] | None = None,
                 on_checkpoint: Callable[[TrainingRun], None] | None = None, log_units_per_step: int = 1) -> None:
        self.out_dir = Path(out_dir)
        self.networks = dict(networks)
        self.optimizers = dict(optimizers)
        self.schedulers = dict(schedulers or {})
        self.state = dict(state or {})
        self.on_checkpoint = on_checkpoint
        self.log_units_per_step = int(log_units_per_step)
        self.config = dict(config)
        self.total_steps = int(total_steps)
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.log_every = max(1, int(log_every))
        self.progress = progress
        self.description = description
        self.is_main = _rank() == 0
        self.step = 0
        self.writer = None
        self.history: list[dict[str, float]] = []
        #: whether this run made its folder (a run that fails before its first checkpoint removes it again)
        self.created = not self.out_dir.exists()
        self._lock = contextlib.ExitStack()
        if self.is_main:
            # One writer per run folder (a second run into it is refused), stale temporaries of killed saves removed.
            self._lock.enter_context(run_lock(self.out_dir))
        self.resumed = bool(resume and self.checkpoint_path.exists())
        if self.resumed:
            self._resume()
        elif resume and (self.out_dir / "tb").is_dir() and self.is_main:
            tqdm.write(f"{self.out_dir}: no checkpoint yet, starting from step 0 (the earlier attempt's TensorBoard "
                       "steps are replaced)")
        self._has_checkpoint = self.resumed
        #: TensorBoard drops what an earlier attempt logged from here on (it was not checkpointed)
        self.purge_step = self.log_step

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT

    @property
    def log_step(self) -> int:
        """The TensorBoard x-axis value of the current step."""
        return self.step * self.log_units_per_step

    def _bare(self) -> dict[str, nn.Module]:
        return {name: unwrap(model) for name, model in self.networks.items()}

    def _resume(self) -> None:
        """Load ``last.pt`` into the networks, optimisers, schedulers and ``state`` objects."""
        # load_training_state refuses a checkpoint whose architectures differ from this run's.
        data = load_training_state(self.checkpoint_path, networks=self._bare(), optimizers=self.optimizers)
        extra = dict(data["extra"])
        # Checkpoints written before fh-gym 0.2 kept the paper agents' extra state under "agent".
        extra["state"] = {**extra.get("agent", {}), **extra.get("state", {})}
        for group, objects in (("schedulers", self.schedulers), ("state", self.state)):
            for name, obj in objects.items():
                if name in extra.get(group, {}):
                    obj.load_state_dict(extra[group][name])
        self.step = int(data["step"])

    def save_checkpoint(self) -> None:
        """Write ``last.pt`` atomically (rank 0), then call ``on_checkpoint``."""
        if not self.is_main:
            return
        extra = {"schedulers": {n: s.state_dict() for n, s in self.schedulers.items()},
                 "state": {n: s.state_dict() for n, s in self.state.items()}}
        save_training_state(self.checkpoint_path, networks=self._bare(), optimizers=self.optimizers,
                            step=self.step, config=self.config, extra=extra)
        self._has_checkpoint = True
        if self.on_checkpoint is not None:
            self.on_checkpoint(self)

    def log(self, values: Mapping[str, float], step: int | None = None) -> None:
        """Write scalars to the run's TensorBoard (rank 0) at ``step`` (default :attr:`log_step`); names
        without a ``/`` go under ``losses/``."""
        if not self.is_main:
            return
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter  # lazy: tensorboard is only needed once logging

            self.writer = SummaryWriter(str(self.out_dir / "tb"), purge_step=self.purge_step)
        for name, value in values.items():
            tag = name if "/" in name else f"losses/{name}"
            self.writer.add_scalar(tag, float(value), self.log_step if step is None else int(step))

    def run(self, step_fn: StepFn, log_fn: Callable[[TrainingRun], None] | None = None,
            time_budget_s: float | None = None) -> list[dict[str, float]]:
        """Train until ``total_steps`` (or ``time_budget_s`` seconds of this session); returns the logged
        loss history (one dict per log step). The final weights are written by :meth:`save_networks`.

        The first step of a fresh run is checkpointed at once, then every ``checkpoint_every`` steps, so a
        killed run loses at most one interval and a resume never starts over. SIGINT / SIGTERM finish the step,
        checkpoint and raise :class:`Interrupted`.
        """
        bar = progress_bar(self.total_steps, initial=self.step, desc=self.description,
                           enabled=self.progress and self.is_main)
        started = time.perf_counter()
        finished = False
        try:
            with deferred_signals() as stop:
                while self.step < self.total_steps:
                    over_budget = time_budget_s is not None and time.perf_counter() - started > time_budget_s
                    over_budget, signalled = agree_to_stop(over_budget, bool(stop))
                    if over_budget or signalled:
                        stop.signum = stop.signum or (signal.SIGTERM if signalled else None)
                        break
                    self._one_step(step_fn, log_fn, bar)
                finished = True
        except BaseException:
            self._abandon()
            raise
        finally:
            bar.close()
            # Only a clean stop (done, budget, signal) overwrites last.pt: after an error (NaN, out of memory)
            # the last good checkpoint stays.
            if finished:
                self.save_checkpoint()
            if self.writer is not None:
                self.writer.flush()
        self.elapsed = time.perf_counter() - started
        if stop:
            raise stop.interrupted(f"training interrupted at step {self.step}; rerun to resume from "
                                   f"{self.checkpoint_path}")
        return self.history

    def _one_step(self, step_fn: StepFn, log_fn: Callable[[TrainingRun], None] | None, bar: Any) -> None:
        losses = {k: float(v) for k, v in step_fn(self.step).items()}
        for sched in self.schedulers.values():
            sched.step()
        self.step += 1
        bar.update(1)
        if self.step % self.log_every == 0 or self.step == self.total_steps:
            self.log(losses)
            self.history.append({"step": self.step, **losses})
            bar.set_postfix({k: f"{v:.4g}" for k, v in list(losses.items())[:3]})
            if log_fn is not None:
                log_fn(self)
        if self.step % self.checkpoint_every == 0 or not self._has_checkpoint:
            self.save_checkpoint()

    def _abandon(self) -> None:
        """After an error: release the folder, and remove it when this run made it and never checkpointed
        (a failed run leaves no empty run folder behind)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.close()
        if self.is_main and self.created and not self._has_checkpoint:
            shutil.rmtree(self.out_dir, ignore_errors=True)

    def close(self) -> None:
        """Release the run folder's lock (done by :meth:`save_networks` and after an error)."""
        self._lock.close()

    def save_networks(self, meta: Mapping[str, Any] | None = None,
                      names: Sequence[str] | None = None) -> dict[str, Path]:
        """Write the final weights of ``names`` (default: every network) to ``<out_dir>/<name>.pt`` (rank 0).

        Call it once after :meth:`run`, with what the checkpoints should record (``meta``: final validation
        metrics, class names...; ``step`` and ``recipe`` are always recorded). Returns name -> path (empty on
        other ranks).
        """
        paths = self.write_networks(meta, names)
        if self.writer is not None:
            self.writer.flush()
        self.close()
        return paths

    def write_networks(self, meta: Mapping[str, Any] | None = None,
                       names: Sequence[str] | None = None) -> dict[str, Path]:
        """Write the current weights of ``names`` (default: every network) to ``<out_dir>/<name>.pt`` (rank 0),
        atomically, recording ``step``, ``recipe`` and ``meta``; the run goes on (e.g. from ``on_checkpoint``,
        so a network file never lags ``last.pt``). Returns name -> path (empty on other ranks)."""
        paths = {}
        if self.is_main:
            bare = self._bare()
            for name in bare if names is None else names:
                info = {"step": self.step, "recipe": self.config.get("recipe", ""), **(meta or {})}
                paths[name] = save_network(bare[name], self.out_dir / f"{name}.pt", meta=info)
        return paths
