"""Run a strategy or agent over fixed test faces and measure the results (SPEC evaluation protocol).

Every strategy sees the *same* LR inputs: faces are taken by dataset index in batches, and each batch's
degradation is drawn from a generator seeded by ``(seed, batch number)``. Final images are quantised to
uint8 before PSNR/SSIM (RGB and Y, border cropped by the scale factor).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from fh_gym.config import merge_config
from fh_gym.engine.core import RepairEngine
from fh_gym.metrics import mean_ci, psnr_per_image, quantize, ssim_per_image

#: ``act(engine, faces, rng) -> actions``: what a strategy or a trained agent provides
ActFn = Callable[[RepairEngine, torch.Tensor, np.random.Generator], np.ndarray]

METRICS = ("psnr", "ssim", "psnr_y", "ssim_y")


@dataclass
class EpisodeResults:
    """Per-face metrics of one strategy (arrays of length n_faces) and its episode length."""

    name: str
    horizon: int
    indices: np.ndarray
    metrics: dict[str, np.ndarray]
    start_metrics: dict[str, np.ndarray]
    bicubic_metrics: dict[str, np.ndarray]
    final_psnr: np.ndarray
    start_psnr: np.ndarray
    images: list[np.ndarray] = field(default_factory=list)
    boxes: np.ndarray | None = None

    def summary(self, which: str = "metrics") -> dict[str, tuple[float, float]]:
        """Metric -> (mean, 95% CI half-width)."""
        values = getattr(self, which)
        return {name: mean_ci(values[name]) for name in values}


def image_metrics(images: torch.Tensor, hr: torch.Tensor, scale: int) -> dict[str, np.ndarray]:
    """PSNR/SSIM on RGB and Y of uint8-quantised ``images`` vs ``hr`` (NCHW [0, 1]), border = ``scale``."""
    x = quantize(images)
    y = quantize(hr)
    return {
        "psnr": psnr_per_image(x, y, crop_border=scale).double().cpu().numpy(),
        "ssim": ssim_per_image(x, y, crop_border=scale).double().cpu().numpy(),
        "psnr_y": psnr_per_image(x, y, crop_border=scale, y_channel=True).double().cpu().numpy(),
        "ssim_y": ssim_per_image(x, y, crop_border=scale, y_channel=True).double().cpu().numpy(),
    }


def _collect(store: dict[str, list[np.ndarray]], new: dict[str, np.ndarray]) -> None:
    for key, value in new.items():
        store.setdefault(key, []).append(value)


def run_episodes(env_config: dict[str, Any], act: Any, indices: Sequence[int] | np.ndarray, *,
                 restorer: nn.Module | None = None, dataset: Any = None, batch_size: int = 32, seed: int = 0,
                 name: str | None = None, horizon: int | None = None, keep_images: bool = False,
                 extra_metrics: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], dict[str, np.ndarray]]
                 | None = None) -> EpisodeResults:
    """Run full episodes on the dataset faces ``indices`` and measure the final images.

    Args:
        env_config: A full env config (``fh_gym.envs.make_config(...)``).
        act: A strategy (``.act(engine, faces, rng)``) or a plain ``act`` function.
        indices: Dataset indices of the faces (test people for reports).
        restorer/dataset: Ready objects to share (built from the config otherwise). An actor with its own
            ``restorer`` attribute (paper agents) repairs with that one instead.
        batch_size: Faces stepped together.
        seed: Seeds the per-batch generators (degradations and random strategies).
        horizon: Episode length; default the strategy's own (``random30``) or the env's T.
        keep_images: Keep the final uint8 images (for figures).
        extra_metrics: ``fn(final, hr, faces) -> {name: (B,) array}`` (identity similarity...).
    """
    act_fn: ActFn = act.act if hasattr(act, "act") else act
    if getattr(act, "restorer", None) is not None:  # trained agents repair with their jointly trained restorer
        restorer = act.restorer
    horizon = horizon or getattr(act, "horizon", None) or env_config["horizon"]
    config = merge_config(env_config, {"horizon": int(horizon)})
    indices = np.asarray(indices, dtype=np.int64)
    size = int(min(batch_size, len(indices)))
    engine = RepairEngine(config, size, restorer=restorer, dataset=dataset)
    from fh_gym.restorers.archs.bicubic_arch import Bicubic

    bicubic = Bicubic(engine.scale).to(engine.device)
    final: dict[str, list] = {}
    start: dict[str, list] = {}
    bicubic_m: dict[str, list] = {}
    final_psnr, start_psnr, images, boxes = [], [], [], []
    for batch_no, lo in enumerate(range(0, len(indices), size)):
        chunk = indices[lo:lo + size]
        faces = engine.all_faces()[: len(chunk)]
        rng = np.random.default_rng([seed, batch_no])
        engine.reset(faces, rng, {"index": chunk})
        if hasattr(act, "start_episodes"):  # agents with per-episode state (recurrent policies)
            act.start_episodes(engine, faces)
        start_psnr.append(engine.psnr(faces))
        for _ in range(engine.horizon):
            engine.step(act_fn(engine, faces, rng), faces)
        hr = engine.hr[faces]
        _collect(final, image_metrics(engine.current[faces], hr, engine.scale))
        _collect(start, image_metrics(engine.start[faces], hr, engine.scale))
        with torch.no_grad():
            _collect(bicubic_m, image_metrics(bicubic(engine.lr[faces]), hr, engine.scale))
        if extra_metrics is not None:
            _collect(final, extra_metrics(engine.current[faces], hr, faces))
        final_psnr.append(engine.psnr(faces))
        boxes.append(engine.history[faces].cpu().numpy())
        if keep_images:
            images.extend(quantize(engine.current[faces]).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())
    return EpisodeResults(
        name=name or getattr(act, "name", "agent"), horizon=engine.horizon, indices=indices,
        metrics={k: np.concatenate(v) for k, v in final.items()},
        start_metrics={k: np.concatenate(v) for k, v in start.items()},
        bicubic_metrics={k: np.concatenate(v) for k, v in bicubic_m.items()},
        final_psnr=np.concatenate(final_psnr), start_psnr=np.concatenate(start_psnr), images=images,
        boxes=np.concatenate(boxes))
