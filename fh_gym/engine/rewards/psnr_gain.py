"""``psnr_gain``: the dense PSNR improvement of each step (the default for PPO)."""

from __future__ import annotations

import torch
from torch import Tensor

from fh_gym.engine.rewards.base import REWARDS, Reward, StepRecord
from fh_gym.engine.view import EpisodeView
from fh_gym.restorers.pixels import psnr_gain


@REWARDS.register()
class PSNRGain(Reward):
    """Dense ``PSNR(I_t, y) - PSNR(I_{t-1}, y)`` in dB (images in [0, 1]); telescopes to the episode's gain."""

    name = "psnr_gain"
    uses_windows = False

    def terms(self, view: EpisodeView, rec: StepRecord) -> dict[str, Tensor]:
        return {"psnr_gain": psnr_gain(rec.mse_before, rec.mse_after).to(torch.float32)}
