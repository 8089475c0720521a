"""Validation of full-image generators inside the recipes, the periodic-evaluation hook of a run and the
learning-rate schedules the recipes share.

Recipe validation is a quick float computation on the fixed validation batch (PSNR of [0, 1] RGB images with
the border cropped by the scale factor, and identity cosine when an identity network is given); reported
benchmark numbers follow ``docs/evaluation.md`` (``fh_gym.metrics``: uint8, Y channel, 95% CI).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.losses.identity import cosine_similarity
from fh_gym.restorers.training.identity_training import embed
from fh_gym.restorers.training.loop import TrainingRun
from fh_gym.restorers.training.recipe import PairBatch


def psnr_db(pred: Tensor, target: Tensor, crop_border: int = 0) -> Tensor:
    """(B,) PSNR in dB of [0, 1] images (``pred`` clamped), border cropped."""
    if crop_border:
        pred = pred[..., crop_border:-crop_border, crop_border:-crop_border]
        target = target[..., crop_border:-crop_border, crop_border:-crop_border]
    mse = (pred.clamp(0, 1) - target).pow(2).flatten(1).mean(dim=1)
    return -10.0 * torch.log10(mse.clamp(min=1e-12))


@torch.no_grad()
def run_generator(generator: nn.Module, lr: Tensor, batch_size: int = 32) -> Tensor:
    """Generator outputs for ``lr`` in chunks, eval mode (restored afterwards), clamped to [0, 1]."""
    was_training = generator.training
    generator.eval()
    try:
        return torch.cat([generator(lr[i:i + batch_size]).clamp(0, 1) for i in range(0, len(lr), batch_size)])
    finally:
        generator.train(was_training)


@torch.no_grad()
def generator_metrics(generator: nn.Module, batch: PairBatch, scale: int, identity_net: nn.Module | None = None,
                      prefix: str = "eval/") -> dict[str, float]:
    """PSNR (and identity cosine) of the generator and of bicubic upsampling on a validation batch."""
    sr = run_generator(generator, batch.lr)
    bicubic = F.interpolate(batch.lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)
    metrics = {f"{prefix}psnr": float(psnr_db(sr, batch.hr, scale).mean()),
               f"{prefix}psnr_bicubic": float(psnr_db(bicubic, batch.hr, scale).mean())}
    if identity_net is not None:
        f_hr, f_sr, f_bic = (embed(identity_net, x) for x in (batch.hr, sr, bicubic))
        metrics[f"{prefix}identity_cosine"] = float(cosine_similarity(f_sr, f_hr).mean())
        metrics[f"{prefix}identity_cosine_bicubic"] = float(cosine_similarity(f_bic, f_hr).mean())
    return metrics


def periodic_eval(every: int, evaluate: Callable[[], Mapping[str, float]]) -> Callable[[TrainingRun], None]:
    """A ``log_fn`` for :meth:`TrainingRun.run` that logs ``evaluate()`` (``eval/...`` tags) on rank 0 each
    time the step count passes a multiple of ``every``."""
    state = {"last": None}

    def log_fn(run: TrainingRun) -> None:
        if not run.is_main:
            return
        if state["last"] is None:
            # The previous log step (not step - 1): a run resumed between two log steps still evaluates
            # for a multiple of ``every`` that it passed before its first log.
            state["last"] = max(0, run.step - run.log_every) // max(1, every)
        if run.step // max(1, every) > state["last"]:
            state["last"] = run.step // max(1, every)
            metrics = dict(evaluate())
            run.log(metrics)  # the run's own writer: same event file, ``eval/`` tags
            run.history.append({"step": run.step, **metrics})

    return log_fn


def cosine_factor(floor: float, steps: int) -> Callable[[int], float]:
    """``LambdaLR`` factor: a cosine from 1 down to ``floor`` over ``steps`` global steps, then flat."""

    def factor(step: int) -> float:
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / max(1, steps)))

    return factor


def lr_milestone_factor(milestones: list[int], gamma: float = 0.1) -> Callable[[int], float]:
    """``LambdaLR`` factor: multiply by ``gamma`` at each global step in ``milestones``."""
    points = sorted(int(m) for m in milestones)

    def factor(step: int) -> float:
        return gamma ** sum(step >= m for m in points)

    return factor
