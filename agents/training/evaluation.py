"""Metrics of finished episodes and periodic evaluation on validation people.

Example (any :class:`~fh_gym.episodes.Actor`):
    >>> from fh_gym.agents.strategies import RandomStrategy
    >>> scores = evaluate_actor(eval_config, RandomStrategy(), num_faces=16)  # doctest: +SKIP
    >>> scores["psnr"], scores["psnr_gain"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from fh_gym.agents.evaluate import image_metrics, run_episodes
from fh_gym.episodes import Actor


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
                   dataset: Any = None, batch_size: int = 32, seed: int = 0) -> dict[str, float]:
    """Mean metrics of ``actor`` on the first ``num_faces`` faces of ``env_config``'s data (validation people).

    Args:
        env_config: Full env config whose ``data.split`` is the validation split.
        actor: Any actor (its own horizon and restorer count: :func:`fh_gym.episodes.build_engine`).
        num_faces: Number of validation faces.
        restorer: The restorer to repair with when the actor has none of its own (pass the training
            engine's to see fine-tuned weights).
        dataset: A ready validation dataset (built from the config otherwise).
        batch_size: Faces stepped together; seed: degradation / sampling seed (fixed: same LR inputs).

    Returns:
        ``psnr``, ``ssim``, ``psnr_y``, ``ssim_y``, ``psnr_gain`` (final minus start PSNR, dB),
        ``start_psnr`` and ``bicubic_psnr``: means over the faces.
    """
    if dataset is None:
        from fh_gym.data import build_dataset

        dataset = build_dataset(env_config["data"])
    indices = validation_indices(dataset, num_faces)
    results = run_episodes(env_config, actor, indices, restorer=restorer, dataset=dataset, batch_size=batch_size,
                           seed=seed)
    scores = {name: float(np.mean(values)) for name, values in results.metrics.items()}
    scores["psnr_gain"] = float(np.mean(results.metrics["psnr"] - results.start_metrics["psnr"]))
    scores["start_psnr"] = float(np.mean(results.start_metrics["psnr"]))
    scores["bicubic_psnr"] = float(np.mean(results.bicubic_metrics["psnr"]))
    return scores
