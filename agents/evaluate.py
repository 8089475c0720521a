"""Run a strategy or agent over fixed test faces and measure the results (the evaluation protocol of
``docs/evaluation.md``).

Every strategy sees the *same* LR inputs: faces are taken by dataset index in batches, and each batch's
degradation is drawn from a generator seeded by ``(seed, batch number)``. Final images are quantised to
uint8 before PSNR/SSIM (RGB and Y, border cropped by the scale factor). Test faces are spread over
people (:func:`sample_faces`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fh_gym.data import build_dataset
from fh_gym.engine.core import RepairEngine
from fh_gym.episodes import ActFn, Actor, EpisodeHook, as_actor, build_engine, play_episodes
from fh_gym.metrics import mean_ci, psnr_per_image, quantize, ssim_per_image, to_uint8_hwc
from fh_gym.restorers.archs.bicubic_arch import Bicubic

METRICS = ("psnr", "ssim", "psnr_y", "ssim_y")

#: ``fn(final, hr, faces) -> {name: (B,) array}``: further per-face metrics (identity similarity...)
ExtraMetrics = Callable[[Tensor, Tensor, Tensor], dict[str, np.ndarray]]


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


def sample_faces(identities: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` face indices (sorted), spread over people: one image of each person first, in a seeded
    random order, then second images, and so on. (The split's first faces would be a handful of people,
    and LFW's test split holds 530 images of one man.)"""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(identities))
    rank = np.empty(len(identities), dtype=np.int64)
    seen: dict[int, int] = {}
    for i in order:
        rank[i] = seen.get(int(identities[i]), 0)
        seen[int(identities[i])] = rank[i] + 1
    position = np.empty(len(identities), dtype=np.int64)
    position[order] = np.arange(len(identities))
    chosen = np.lexsort((position, rank))[: min(count, len(identities))]
    return np.sort(chosen)


class MetricsHook(EpisodeHook):
    """Collects the per-face measurements of every batch of episodes (start PSNR, final, start and
    bicubic image metrics, boxes and optionally the final images)."""

    def __init__(self, scale: int, device: torch.device, extra_metrics: ExtraMetrics | None = None,
                 keep_images: bool = False, extra_baselines: bool = True) -> None:
        self.bicubic = Bicubic(scale).to(device)
        self.extra_metrics = extra_metrics
        self.extra_baselines = extra_baselines
        self.keep_images = keep_images
        self.final: dict[str, list[np.ndarray]] = {}
        self.start: dict[str, list[np.ndarray]] = {}
        self.bicubic_metrics: dict[str, list[np.ndarray]] = {}
        self.final_psnr: list[np.ndarray] = []
        self.start_psnr: list[np.ndarray] = []
        self.boxes: list[np.ndarray] = []
        self.images: list[np.ndarray] = []

    def on_start(self, engine: RepairEngine, slots: Tensor) -> None:
        self.start_psnr.append(engine.psnr(slots))

    def on_end(self, engine: RepairEngine, slots: Tensor) -> None:
        hr, scale = engine.hr[slots], engine.scale
        _collect(self.final, image_metrics(engine.current[slots], hr, scale))
        _collect(self.start, image_metrics(engine.start[slots], hr, scale))
        with torch.no_grad():
            bicubic = self.bicubic(engine.lr[slots])
        _collect(self.bicubic_metrics, image_metrics(bicubic, hr, scale))
        if self.extra_metrics is not None:
            _collect(self.final, self.extra_metrics(engine.current[slots], hr, slots))
        if self.extra_metrics is not None and self.extra_baselines:  # the baseline rows get the columns too
            _collect(self.start, self.extra_metrics(engine.start[slots], hr, slots))
            _collect(self.bicubic_metrics, self.extra_metrics(bicubic.clamp(0, 1), hr, slots))
        self.final_psnr.append(engine.psnr(slots))
        if engine.action_type.stop_action is not None:  # adaptive budgets: how many calls each face took
            _collect(self.final, {"repairs": engine.info(slots)["repairs"].astype(np.float64)})
        self.boxes.append(engine.history[slots].cpu().numpy())
        if self.keep_images:
            self.images.extend(to_uint8_hwc(engine.current[slots]))

    def results(self, name: str, horizon: int, indices: np.ndarray) -> EpisodeResults:
        return EpisodeResults(
            name=name, horizon=horizon, indices=indices, metrics=_concat(self.final),
            start_metrics=_concat(self.start), bicubic_metrics=_concat(self.bicubic_metrics),
            final_psnr=np.concatenate(self.final_psnr), start_psnr=np.concatenate(self.start_psnr),
            images=self.images, boxes=np.concatenate(self.boxes))


def _collect(store: dict[str, list[np.ndarray]], new: dict[str, np.ndarray]) -> None:
    for key, value in new.items():
        store.setdefault(key, []).append(value)


def _concat(store: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate(values) for key, values in store.items()}


def run_episodes(env_config: dict[str, Any], act: Actor | ActFn, indices: Sequence[int] | np.ndarray, *,
                 restorer: nn.Module | None = None, dataset: Any = None, batch_size: int = 32, seed: int = 0,
                 name: str | None = None, horizon: int | None = None, keep_images: bool = False,
                 extra_metrics: ExtraMetrics | None = None, extra_baselines: bool = True,
                 hooks: Sequence[EpisodeHook] = ()) -> EpisodeResults:
    """Run full episodes on the dataset faces ``indices`` and measure the final images.

    Args:
        env_config: A full env config (``fh_gym.envs.make_config(...)``).
        act: An actor (a strategy, a trained agent) or a plain ``act(engine, slots, rng)`` function.
        indices: Dataset indices of the faces (test people for reports).
        restorer/dataset: Ready objects to share (built from the config otherwise). An actor with its own
            restorer repairs with that one instead (:func:`fh_gym.episodes.repairing_restorer`).
        batch_size: Faces stepped together.
        seed: Seeds the per-batch generators (degradations and random strategies).
        name: Row name (default the actor's).
        horizon: Episode length; default the strategy's own (``random30``) or the env's T.
        keep_images: Keep the final uint8 images (for figures).
        extra_metrics: ``fn(final, hr, faces) -> {name: (B,) array}`` (identity similarity...).
        extra_baselines: Also measure the start and bicubic images with ``extra_metrics`` (the same for every
            actor on the same faces: a comparison asks once).
        hooks: Further :class:`~fh_gym.episodes.EpisodeHook` objects, called after the measuring one (each
            batch's slots are ``0 .. len(batch) - 1``, the batch's faces in ``indices`` order).
    """
    actor = as_actor(act)
    indices = np.asarray(indices, dtype=np.int64)
    size = int(min(batch_size, len(indices)))
    engine = build_engine(env_config, actor, size, restorer=restorer, dataset=dataset, horizon=horizon)
    hook = MetricsHook(engine.scale, engine.device, extra_metrics, keep_images, extra_baselines)
    for batch_no, lo in enumerate(range(0, len(indices), size)):
        chunk = indices[lo:lo + size]
        slots = engine.all_slots()[: len(chunk)]
        play_episodes(engine, actor, slots, np.random.default_rng([seed, batch_no]), {"index": chunk}, [hook, *hooks])
    return hook.results(name or actor.name, engine.horizon, indices)


def validation_indices(dataset: Any, num_faces: int) -> np.ndarray:
    """The first ``num_faces`` dataset indices (the same faces at every evaluation, so curves are comparable)."""
    return np.arange(min(int(num_faces), len(dataset)))


def episode_metrics(final: np.ndarray, start: np.ndarray, hr: torch.Tensor, scale: int) -> dict[str, np.ndarray]:
    """Per-episode PSNR / SSIM of final uint8 images and the PSNR gain over the start images.

    Args:
        final: (B, H, W, 3) uint8 final images I_T (e.g. SB3's ``terminal_observation["image"]``).
        start: (B, H, W, 3) uint8 start images I_0.
        hr: (B, 3, H, W) float [0, 1] ground truth.
        scale: Border cropped before measuring (``docs/evaluation.md``: the border is the scale factor).

    Returns:
        ``psnr``, ``ssim`` (RGB, as :func:`fh_gym.agents.evaluate.image_metrics`) and ``psnr_gain`` arrays (B,).
    """
    def to_float(images: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255.0)

    end = image_metrics(to_float(final), hr, scale)
    begin = image_metrics(to_float(start), hr, scale)
    return {"psnr": end["psnr"], "ssim": end["ssim"], "psnr_gain": end["psnr"] - begin["psnr"]}


def evaluate_actor(env_config: dict[str, Any], actor: Actor, *, num_faces: int = 32, restorer: nn.Module | None = None,
                   dataset: Any = None, batch_size: int = 32, seed: int = 0,
                   extra_metrics: ExtraMetrics | None = None) -> dict[str, float]:
    """Mean metrics of ``actor`` on the first ``num_faces`` faces of ``env_config``'s data (validation people).

    Args:
        env_config: Full env config whose ``data.split`` is the validation split.
        actor: Any actor (its own horizon and restorer count: :func:`fh_gym.episodes.build_engine`).
        num_faces: Number of validation faces.
        restorer: The restorer to repair with when the actor has none of its own (pass the training
            engine's to see fine-tuned weights).
        dataset: A ready validation dataset (built from the config otherwise).
        batch_size: Faces stepped together; seed: degradation / sampling seed (fixed: same LR inputs).
        extra_metrics: More per-face columns of the final images (e.g. a recogniser's ``id_distance``, ``id_same``).

    Returns:
        ``psnr``, ``ssim``, ``psnr_y``, ``ssim_y``, ``psnr_gain`` (final minus start PSNR, dB),
        ``start_psnr`` and ``bicubic_psnr`` (and the ``extra_metrics`` columns): means over the faces.
    """
    if dataset is None:
        dataset = build_dataset(env_config["data"])
    indices = validation_indices(dataset, num_faces)
    results = run_episodes(env_config, actor, indices, restorer=restorer, dataset=dataset, batch_size=batch_size,
                           seed=seed, extra_metrics=extra_metrics, extra_baselines=False)
    scores = {name: float(np.mean(values)) for name, values in results.metrics.items()}
    scores["psnr_gain"] = float(np.mean(results.metrics["psnr"] - results.start_metrics["psnr"]))
    scores["start_psnr"] = float(np.mean(results.start_metrics["psnr"]))
    scores["bicubic_psnr"] = float(np.mean(results.bicubic_metrics["psnr"]))
    return scores
