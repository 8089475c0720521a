"""``attention_fh``: the delayed reward of Attention-FH (Eq. 6), MSE gain over a reference plus coverage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from fh_gym.engine.networks import NetworkBuilder
from fh_gym.engine.rewards.base import REWARDS, Reward, StepRecord
from fh_gym.engine.view import EpisodeView
from fh_gym.restorers.config import ConfigError


@REWARDS.register()
class AttentionFHReward(Reward):
    """Attention-FH delayed reward (Eq. 6), higher is better: 0 before T, at T MSE gain over B + coverage.

    Args:
        mse_scale: Multiplies ``MSE(B, y) - MSE(I_T, y)`` (MSE of [0, 1] images, about 5e-3 at x8, so a
            1 dB gain is about 1e-3; 1000 makes it about 1).
        coverage_weight: Weight of the fraction of the image covered by at least one box (E_V).
        reference: The reference B: ``"start"`` (I_0), or a generator block such as ``{type: Bicubic}``
            or ``{type: SRGANGenerator, checkpoint: ...}`` applied to the LR input.
    """

    name = "attention_fh"
    uses_windows = False

    def __init__(self, mse_scale: float = 1000.0, coverage_weight: float = 0.1,
                 reference: str | Mapping[str, Any] = "start") -> None:
        self.mse_scale = float(mse_scale)
        self.coverage_weight = float(coverage_weight)
        self.reference = reference
        self._generator = None

    def setup(self, networks: NetworkBuilder, view: EpisodeView) -> None:
        if self.reference == "start":
            return
        if not isinstance(self.reference, Mapping):
            raise ConfigError(f"reward.reference must be 'start' or a generator block, got {self.reference!r}")
        self._generator = networks(self.reference, kind="generator").eval()
        self._reference_mse = torch.zeros(view.num_envs, dtype=torch.float64, device=view.device)

    def reset(self, view: EpisodeView, slots: Tensor) -> None:
        if self._generator is None:
            return
        with torch.no_grad():
            ref = self._generator(view.lr[slots]).clamp(0, 1)
        diff = (ref.double() - view.hr[slots].double()) ** 2
        self._reference_mse[slots] = diff.mean(dim=(1, 2, 3))

    def term_names(self) -> tuple[str, ...]:
        return ("mse_gain", "coverage")

    def terms(self, view: EpisodeView, rec: StepRecord) -> dict[str, Tensor]:
        zero = torch.zeros_like(rec.mse_after, dtype=torch.float32)
        if not bool(rec.done.any()):
            return {"mse_gain": zero, "coverage": zero}
        ref = view.start_mse[rec.slots] if self._generator is None else self._reference_mse[rec.slots]
        gain = self.mse_scale * (ref - rec.mse_after).to(torch.float32)
        covered = (view.coverage[rec.slots] > 0).to(torch.float32).mean(dim=(1, 2))
        done = rec.done.to(torch.float32)
        return {"mse_gain": gain * done, "coverage": self.coverage_weight * covered * done}
