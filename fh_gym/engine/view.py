"""A read-only view of the engine's episode state: what rewards and restorer losses may read.

Rewards never see the engine itself (see ``docs/environment.md``, "Rewards"): they get this view and each
step's :class:`~fh_gym.engine.rewards.base.StepRecord`. The view exposes the engine's state tensors without
copying them (they change in place as episodes run); a reader must not write into them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor


class EpisodeView:
    """The state of the N face slots of one engine, read-only.

    Args:
        engine: The :class:`~fh_gym.engine.core.RepairEngine` it shows (typed loosely: this leaf module
            must not import the engine's).

    Attributes (per slot, first dimension N; images (N, 3, S, S) in [0, 1], on :attr:`device`):
        hr: Ground truth ``y`` (zero where a slot has none, see :attr:`has_truth`).
        lr: LR input ``x`` (N, 3, S/s, S/s).
        start: Start image ``I_0`` (the front-end's output).
        current: Current image ``I_t``.
        start_mse / mse: Whole-image MSE of ``I_0`` / ``I_t`` vs ``y`` (float64).
        coverage: (N, S, S) uint8 number of boxes each pixel has been in.
        t: (N,) steps taken; has_truth: (N,) bool.
    """

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    # ----------------------------------------------------------------- constants
    @property
    def num_envs(self) -> int:
        return self._engine.num_envs

    @property
    def device(self) -> torch.device:
        return self._engine.device

    @property
    def image_size(self) -> int:
        return self._engine.image_size

    @property
    def scale(self) -> int:
        return self._engine.scale

    @property
    def horizon(self) -> int:
        return self._engine.horizon

    # ----------------------------------------------------------------- episode state
    @property
    def hr(self) -> Tensor:
        return self._engine.hr

    @property
    def lr(self) -> Tensor:
        return self._engine.lr

    @property
    def start(self) -> Tensor:
        return self._engine.start

    @property
    def current(self) -> Tensor:
        return self._engine.current

    @property
    def start_mse(self) -> Tensor:
        return self._engine.start_mse

    @property
    def mse(self) -> Tensor:
        return self._engine.mse

    @property
    def coverage(self) -> Tensor:
        return self._engine.coverage

    @property
    def t(self) -> Tensor:
        return self._engine.t

    @property
    def has_truth(self) -> Tensor:
        return self._engine.has_truth

    def identity_names(self, slots: Tensor) -> list[str | None]:
        """The person shown in each of ``slots`` (slot indices), as the dataset names them; ``None`` for
        faces without a known person (``reset(options={"hr": ...})`` or ``{"lr": ...}``)."""
        names: np.ndarray = self._engine.identity_name
        return names[slots.cpu().numpy()].tolist()
