"""What the batched engine hands out: one face's observation space, its device, and each step's result.

A leaf of :mod:`fh_gym.engine` (re-exported by :mod:`fh_gym.engine.core`), so the envs and agents can name
these types without the engine's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces
from torch import Tensor

from fh_gym.engine.rewards.base import StepRecord
from fh_gym.restorers.base import RepairContext


@dataclass
class StepOutput:
    """Result of :meth:`RepairEngine.step` for the faces stepped (B = len(faces)).

    Attributes:
        reward / terms / terminated / boxes: per face (NumPy), what the envs return.
        record: What the repair did (windows before and after, the paste mask, the HR truth, the MSEs). With a
            stop action (adaptive budgets) it covers the repaired faces only (``record.slots``), None when
            every face stopped.
        context: The restorer inputs of this step, with the full images as they were *before* the paste,
            when the step was asked for them (``keep_batch=True``: joint restorer training); else None.
    """

    reward: np.ndarray
    terms: dict[str, np.ndarray]
    terminated: np.ndarray
    boxes: np.ndarray
    record: StepRecord | None
    context: RepairContext | None = None


@dataclass
class StepTensors:
    """Result of :meth:`RepairEngine.step_tensors`: :class:`StepOutput` as tensors on the engine's device.

    ``reward`` (B,) float32, ``terms`` (B,) float32 each (empty when no face has a ground truth),
    ``terminated`` (B,) bool, ``boxes`` (B, 4) int64; ``record`` and ``context`` as in :class:`StepOutput`.
    """

    reward: Tensor
    terms: dict[str, Tensor]
    terminated: Tensor
    boxes: Tensor
    record: StepRecord | None
    context: RepairContext | None = None

    def to_numpy(self) -> StepOutput:
        """The same result with NumPy per-face values (what the Gymnasium and SB3 envs return)."""
        return StepOutput(reward=self.reward.cpu().numpy(), terms={k: v.cpu().numpy() for k, v in self.terms.items()},
                          terminated=self.terminated.cpu().numpy(), boxes=self.boxes.cpu().numpy(),
                          record=self.record, context=self.context)


def observation_space(image_size: int) -> spaces.Dict:
    """One face's observation space (see ``FaceRepairEnv``'s docstring)."""
    s = int(image_size)
    return spaces.Dict({
        "image": spaces.Box(0, 255, (s, s, 3), np.uint8),
        "start": spaces.Box(0, 255, (s, s, 3), np.uint8),
        "coverage": spaces.Box(0, 255, (s, s, 1), np.uint8),
        "last_action": spaces.Box(0.0, 1.0, (4,), np.float32),
        "step": spaces.Box(0.0, 1.0, (1,), np.float32),
    })
