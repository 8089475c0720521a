"""A resumable supervised training loop: progress bar, TensorBoard, atomic checkpoints, resume after a kill.

Recipes (patch-restorer pre-training, generator and identity-net training) supply a ``step_fn(step)``
that performs one optimisation step and returns scalar losses; :class:`TrainingRun` does the rest:

* ``<out_dir>/last.pt`` — a training checkpoint (networks, optimisers, step, config, RNG states) written
  atomically every ``checkpoint_every`` steps, at the end, and when the run is interrupted (Ctrl-C/SIGTERM);
* ``<out_dir>/<name>.pt`` — plain network checkpoints of the final weights (loadable by ``load_network``);
* ``<out_dir>/tb/`` — TensorBoard scalars under ``losses/`` (and whatever ``log_fn`` adds).

Starting the same run again with ``resume=True`` continues from ``last.pt`` with the same step count and
optimiser state. Ctrl-C and SIGTERM finish the current step, checkpoint and stop; an error leaves the last
good checkpoint untouched. Under ``torchrun`` only rank 0 writes files, and the ranks stop together (a
budget or a signal seen by one rank stops all at the same step).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from fh_gym.restorers.checkpoint import load_training_state, save_network, save_training_state

StepFn = Callable[[int], Mapping[str, float]]


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
    """

    def __init__(self, out_dir: str | os.PathLike, networks: Mapping[str, nn.Module],
                 optimizers: Mapping[str, torch.optim.Optimizer], config: Mapping[str, Any], total_steps: int,
                 checkpoint_every: int = 500, log_every: int = 50, resume: bool = True, progress: bool = True,
                 schedulers: Mapping[str, Any] | None = None, description: str = "train") -> None:
        self.out_dir = Path(out_dir)
        self.networks = dict(networks)
        self.optimizers = dict(optimizers)
        self.schedulers = dict(schedulers or {})
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
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume and self.checkpoint_path.exists():
            self._resume()

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "last.pt"

    def _bare(self) -> dict[str, nn.Module]:
        return {name: unwrap(model) for name, model in self.networks.items()}

    def _resume(self) -> dict[str, Any]:
        """Load ``last.pt`` into the networks, optimisers and schedulers; returns the checkpoint payload."""
        # load_training_state refuses a checkpoint whose architectures differ from this run's.
        data = load_training_state(self.checkpoint_path, networks=self._bare(), optimizers=self.optimizers)
        for name, sched in self.schedulers.items():
            if name in data["extra"].get("schedulers", {}):
                sched.load_state_dict(data["extra"]["schedulers"][name])
        self.step = int(data["step"])
        return data

    def save_checkpoint(self) -> None:
        if not self.is_main:
            return
        extra = {"schedulers": {n: s.state_dict() for n, s in self.schedulers.items()}}
        save_training_state(self.checkpoint_path, networks=self._bare(), optimizers=self.optimizers,
                            step=self.step, config=self.config, extra=extra)

    def _log(self, losses: Mapping[str, float]) -> None:
        if not self.is_main:
            return
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out_dir / "tb"))
        for name, value in losses.items():
            tag = name if "/" in name else f"losses/{name}"
            self.writer.add_scalar(tag, float(value), self.step)

    def run(self, step_fn: StepFn, log_fn: Callable[[TrainingRun], None] | None = None,
            time_budget_s: float | None = None) -> list[dict[str, float]]:
        """Train until ``total_steps`` (or ``time_budget_s`` seconds of this session); returns the logged
        loss history (one dict per log step)."""
        interrupted = {"flag": False}

        def on_signal(signum: int, frame: Any) -> None:
            # Finish the step in progress, then checkpoint: a step cut in half (networks updated, step count
            # not) would be replayed on resume.
            interrupted["flag"] = True

        handled = (signal.SIGTERM, signal.SIGINT) if self._can_handle_signals() else ()
        previous = {sig: signal.signal(sig, on_signal) for sig in handled}
        bar = tqdm(total=self.total_steps, initial=self.step, desc=self.description, disable=not (
            self.progress and self.is_main), dynamic_ncols=True)
        started = time.perf_counter()
        finished = False
        try:
            while self.step < self.total_steps:
                over_budget = time_budget_s is not None and time.perf_counter() - started > time_budget_s
                over_budget, interrupted["flag"] = agree_to_stop(over_budget, interrupted["flag"])
                if over_budget or interrupted["flag"]:
                    break
                losses = {k: float(v) for k, v in step_fn(self.step).items()}
                for sched in self.schedulers.values():
                    sched.step()
                self.step += 1
                bar.update(1)
                if self.step % self.log_every == 0 or self.step == self.total_steps:
                    self._log(losses)
                    self.history.append({"step": self.step, **losses})
                    bar.set_postfix({k: f"{v:.4g}" for k, v in list(losses.items())[:3]})
                    if log_fn is not None:
                        log_fn(self)
                if self.step % self.checkpoint_every == 0:
                    self.save_checkpoint()
            finished = True
        finally:
            bar.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            # Only a clean stop (done, budget, signal) overwrites last.pt: after an error (NaN, out of memory)
            # the last good checkpoint stays.
            if finished:
                self.save_checkpoint()
            if self.writer is not None:
                self.writer.flush()
        self.elapsed = time.perf_counter() - started
        if interrupted["flag"]:
            raise KeyboardInterrupt(f"training interrupted at step {self.step}; rerun to resume from "
                                    f"{self.checkpoint_path}")
        self.save_networks()
        return self.history

    def save_networks(self, meta: Mapping[str, Any] | None = None) -> dict[str, Path]:
        """Write each network's final weights to ``<out_dir>/<name>.pt``."""
        paths = {}
        if self.is_main:
            for name, model in self._bare().items():
                info = {"step": self.step, "recipe": self.config.get("recipe", ""), **(meta or {})}
                paths[name] = save_network(model, self.out_dir / f"{name}.pt", meta=info)
        return paths

    @staticmethod
    def _can_handle_signals() -> bool:
        import threading

        return threading.current_thread() is threading.main_thread()
