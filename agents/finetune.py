"""Joint restorer fine-tuning during RL (Attention-FH Algorithm 1, line 18), for every agent.

Every env step asked with ``keep_batch=True`` returns the restorer's inputs (``StepOutput.context``, images as
they were before the paste) and the step record (``StepOutput.record``: the HR truth of the windows ``hr``,
``lr``, ``box_mask``, ``paste``, ``boxes``, ``starts``). :class:`RestorerFineTuner` makes one supervised L2
:func:`~fh_gym.restorers.training.patch_pretrain.restorer_step` on them after every (``every``-th) step,
updating the restorer *in place*: the engine's restorer object is the one the env repairs with, so the next
steps use the new weights. ``faces_per_step`` trains on a random subset of the step's faces (drawn from
``generator``, which a trainer may set per update), trading the every-face update for CPU time.

Used by the SB3 agents (``finetune_restorer``, through :class:`~fh_gym.agents.sb3.callbacks.RestorerFineTuneCallback`)
and by the paper agents (``restorer`` block; IPFH's Eqs. 16-17 subclass it:
:class:`~fh_gym.agents.ipfh.finetune.IPFHRestorerFineTuner`). See ``docs/agents.md``.

Example (plain loop, no SB3):
    >>> tuner = RestorerFineTuner(engine, lr=1e-4)  # doctest: +SKIP
    >>> stats = tuner.after_step(engine.step(actions, keep_batch=True))  # doctest: +SKIP
    >>> tuner.save_restorer("runs/my_run/restorer.pt")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.engine.networks import frontend_signature
from fh_gym.engine.rewards import StepRecord
from fh_gym.restorers.base import RepairContext
from fh_gym.restorers.checkpoint import network_payload, save_network
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.training.loop import optimizer_step
from fh_gym.restorers.training.patch_pretrain import restorer_step

FORMAT = "fh-gym/restorer-finetune-v1"
#: the SB3 agents' ``finetune_restorer`` settings and their defaults
DEFAULTS: dict[str, Any] = {"lr": 1e-4, "every": 1, "grad_clip": 1.0}


def finetune_settings(value: Any) -> dict[str, Any] | None:
    """The ``finetune_restorer`` hyperparameter as settings: None/False -> off, True -> defaults, dict -> merged."""
    if value is None or value is False:
        return None
    if value is True:
        return dict(DEFAULTS)
    if not isinstance(value, dict):
        raise ConfigError(f"finetune_restorer must be true, false or a mapping, got {value!r}")
    unknown = set(value) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown finetune_restorer key(s) {sorted(unknown)}; valid: {', '.join(DEFAULTS)}")
    settings = {**DEFAULTS, **value}
    if int(settings["every"]) < 1:
        raise ConfigError(f"finetune_restorer.every must be >= 1, got {settings['every']}")
    return settings


def slice_context(ctx: RepairContext, index: Tensor) -> RepairContext:
    """The repairs ``index`` of a batched context (global state dropped when absent)."""
    fields = {}
    for field in dataclasses.fields(ctx):
        value = getattr(ctx, field.name)
        fields[field.name] = value[index] if isinstance(value, Tensor) else value
    return RepairContext(**fields)


def cat_contexts(contexts: list[RepairContext]) -> RepairContext:
    """Concatenate contexts with the same window size into one batch (one restorer call)."""
    fields = {}
    for field in dataclasses.fields(contexts[0]):
        values = [getattr(c, field.name) for c in contexts]
        fields[field.name] = torch.cat(values, dim=0) if isinstance(values[0], Tensor) else values[0]
    return RepairContext(**fields)


def subsample_rows(count: int, limit: int | None, generator: torch.Generator | None) -> Tensor:
    """All of ``count`` rows, or ``limit`` of them drawn without replacement from ``generator``."""
    if limit is None or limit >= count:
        return torch.arange(count)
    return torch.randperm(count, generator=generator)[: int(limit)]


def training_batch(step: StepOutput, faces_per_step: int | None,
                   generator: torch.Generator | None) -> tuple[RepairContext, StepRecord, Tensor]:
    """A step's (context, record, chosen rows), subsampled to ``faces_per_step`` rows when set."""
    ctx, rec = step.context, step.record
    if ctx is None:
        raise RuntimeError("joint restorer training needs the step's inputs: engine.step(..., keep_batch=True)")
    count = ctx.current.shape[0]
    rows = subsample_rows(count, faces_per_step, generator).to(ctx.current.device)
    if len(rows) == count:
        return ctx, rec, rows
    picked = {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)}
    picked = {k: v[rows] if isinstance(v, Tensor) and v.shape[:1] == (count,) else v for k, v in picked.items()}
    return slice_context(ctx, rows), StepRecord(**picked), rows


class RestorerFineTuner:
    """Supervised updates of an engine's restorer on the patches the agent repairs.

    Args:
        engine: The training :class:`~fh_gym.engine.core.RepairEngine` (its restorer is updated in place).
        lr: Adam learning rate.
        every: Update after every ``every``-th env step.
        grad_clip: Max gradient norm (None or 0: no clipping).
        faces_per_step: Train on this many random faces of each step (None: all of them).
        weight_decay: Adam weight decay.

    Attributes:
        generator: Draws the ``faces_per_step`` subsets (None: the global torch RNG); trainers that replay an
            update from a seed set it per update.
        optimizer: The restorer's Adam (saved with the run).

    ``start_episode`` / ``end_episode`` are hooks for losses on whole episodes (IPFH's image loss, Eq. 17);
    here they do nothing.
    """

    def __init__(self, engine: RepairEngine, lr: float = 1e-4, every: int = 1, grad_clip: float | None = 1.0,
                 faces_per_step: int | None = None, weight_decay: float = 0.0) -> None:
        if not any(p.requires_grad for p in engine.restorer.parameters()):
            raise ConfigError(f"restorer {type(engine.restorer).__name__} has no trainable parameters to fine-tune")
        self.engine = engine
        self.restorer = engine.restorer
        #: the start images it learns on: recorded in the fine-tuned checkpoint (issue 13's front-end check)
        self.frontend = frontend_signature(engine.frontend)
        self.every = int(every)
        self.grad_clip = grad_clip
        self.faces_per_step = faces_per_step
        self.generator: torch.Generator | None = None
        self.optimizer = torch.optim.Adam(self.restorer.parameters(), lr=float(lr), weight_decay=float(weight_decay))
        self.calls = 0
        self.updates = 0

    # ---------------------------------------------------------------- the update
    def after_step(self, step: StepOutput | None) -> dict[str, float] | None:
        """Call once after each ``engine.step(..., keep_batch=True)`` with its output; returns the update's
        TensorBoard scalars, or None when it skipped (not an update step, no inputs kept, faces without
        ground truth)."""
        self.calls += 1
        if self.calls % self.every or step is None or step.context is None:
            return None
        if not bool(step.record.truth.all()):
            return None  # inference faces have no target
        ctx, record, _ = training_batch(step, self.faces_per_step, self.generator)
        stats = self.update(ctx, record)
        self.restorer.eval()  # the env repairs in eval mode (BatchNorm / dropout restorers)
        self.updates += 1
        return stats

    def update(self, ctx: RepairContext, record: StepRecord) -> dict[str, float]:
        """One L2 step on the repaired boxes (Attention-FH Algorithm 1, line 18)."""
        out = restorer_step(self.restorer, self.optimizer, ctx, record.hr.float(), grad_clip=self.grad_clip)
        return {"losses/restorer": out["loss"], "losses/restorer_mse": out["mse"],
                "charts/restorer_psnr_box": out["psnr_box"]}

    def optimise(self, loss: Tensor) -> None:
        """One optimiser step on ``loss`` (clipped), the restorer back in eval mode (for subclasses' losses)."""
        optimizer_step(self.optimizer, loss, self.restorer.parameters(), self.grad_clip)
        self.restorer.eval()

    def start_episode(self, slots: Tensor) -> None:
        """Called after ``slots`` are reset (before the episode's first step)."""

    def end_episode(self, slots: Tensor) -> dict[str, float]:
        """Called at T, before the next reset; returns TensorBoard scalars."""
        return {}

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Restorer weights + architecture, optimiser state and counters (``weights_only``-safe)."""
        return {"format": FORMAT, "network": network_payload(self.restorer, self.meta()),
                "optimizer": self.optimizer.state_dict(), "calls": self.calls, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume: restorer weights, optimiser state and counters from :meth:`state_dict`."""
        if state.get("format") != FORMAT:
            raise ConfigError(f"not a restorer fine-tuning state (format {state.get('format')!r})")
        self.restorer.load_state_dict(state["network"]["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.calls, self.updates = int(state["calls"]), int(state["updates"])

    def meta(self) -> dict[str, Any]:
        """What the fine-tuned checkpoint records: its updates and the front-end of the start images."""
        return {"finetune_updates": self.updates, "frontend": self.frontend}

    def save_restorer(self, path: str | os.PathLike) -> Path:
        """The fine-tuned restorer as a network checkpoint (usable as ``--restorer``)."""
        return save_network(self.restorer, path, self.meta())
