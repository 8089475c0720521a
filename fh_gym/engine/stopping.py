"""Adaptive budgets: a batched step in which some faces take the ``stop`` action (``action.stop``).

The faces that stop end their episode there, unrepaired (reward 0, no restorer call: they are left out of the
repair); the others are repaired by the engine's ordinary step. A function of the engine rather than one of its
methods, so :mod:`fh_gym.engine.core` keeps to the repair itself.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from fh_gym.engine.interface import StepTensors


def step_with_stops(engine: Any, actions: Tensor, slots: Tensor, stopping: Tensor, keep_batch: bool) -> StepTensors:
    """One step of ``slots`` of ``engine`` (a :class:`~fh_gym.engine.core.RepairEngine`, not imported: it imports
    this module) where ``stopping`` (B,) marks the faces that stop.

    Returns the step's :class:`StepTensors` for all B faces; ``record`` and ``context`` cover the repaired faces
    only (``record.slots`` says which) and are None when every face stopped.
    """
    engine.t[slots[stopping]] = engine.horizon
    b, device = len(slots), engine.device
    reward = torch.zeros(b, dtype=torch.float32, device=device)
    terms = {name: torch.zeros(b, dtype=torch.float32, device=device) for name in engine.term_names
             } if bool(engine.has_truth[slots].any()) else {}
    terminated = torch.ones(b, dtype=torch.bool, device=device)
    boxes = torch.zeros(b, 4, dtype=torch.long, device=device)
    if bool(stopping.all()):
        return StepTensors(reward=reward, terms=terms, terminated=terminated, boxes=boxes, record=None)
    going = ~stopping
    repaired = engine.step_tensors(actions[going], slots[going], keep_batch=keep_batch, check=False)
    reward[going], terminated[going], boxes[going] = repaired.reward, repaired.terminated, repaired.boxes
    for name, value in repaired.terms.items():
        terms[name][going] = value
    return StepTensors(reward=reward, terms=terms, terminated=terminated, boxes=boxes, record=repaired.record,
                       context=repaired.context)
