"""Helpers for training the restorer jointly with a policy, from the training batch a step returns.

``engine.step(actions, faces, keep_batch=True)`` returns the restorer inputs (``StepOutput.context``, the full
images as they were *before* the paste) and the step record (``hr``: the HR truth of the windows, ``lr``,
``box_mask``, ``paste``, ``boxes``, ``starts``). Training on a random subset of the faces (``faces_per_step``)
trades the paper's every-face update for CPU time.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from fh_gym.engine.core import StepOutput
from fh_gym.engine.rewards import StepRecord
from fh_gym.restorers.base import RepairContext


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


def training_batch(step: StepOutput, faces_per_step: int | None,
                   generator: torch.Generator | None) -> tuple[RepairContext, StepRecord, Tensor]:
    """A step's (context, record, chosen rows), subsampled to ``faces_per_step`` rows when set."""
    ctx, rec = step.context, step.record
    if ctx is None:
        raise RuntimeError("joint restorer training needs the step's inputs: engine.step(..., keep_batch=True)")
    count = ctx.current.shape[0]
    if faces_per_step is None or faces_per_step >= count:
        rows = torch.arange(count, device=ctx.current.device)
        return ctx, rec, rows
    rows = torch.randperm(count, generator=generator)[: int(faces_per_step)].to(ctx.current.device)
    picked = {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)}
    picked = {k: v[rows] if isinstance(v, Tensor) and v.shape[:1] == (count,) else v for k, v in picked.items()}
    return slice_context(ctx, rows), StepRecord(**picked), rows
