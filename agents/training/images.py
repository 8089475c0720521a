"""Image grids of repaired episodes with their boxes drawn (for TensorBoard), from any actor.

Example:
    >>> grid = episode_grid(eval_config, actor, [0, 1, 2, 3], dataset=val_set)  # doctest: +SKIP
    >>> writer.add_image("eval/episodes", grid, step, dataformats="HWC")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from fh_gym.envs.face_repair import render_faces
from fh_gym.episodes import Actor, build_engine, play_episodes


def episode_grid(env_config: dict[str, Any], actor: Actor, indices: Sequence[int] | np.ndarray, *,
                 restorer: nn.Module | None = None, dataset: Any = None, seed: int = 0,
                 render_scale: int = 1) -> np.ndarray:
    """Run one episode per face and stack their final frames vertically.

    Each row is ``render_faces``' frame at the end of the episode: LR | final image with every box of the
    episode (the last one thick) | HR, with the step and PSNR in the header.

    Args:
        env_config: Full env config (the validation split for training curves).
        actor: Any actor (its own horizon and restorer count, as in evaluation).
        indices: Dataset faces to show.
        restorer/dataset: Ready objects to share.
        seed: Seed of the degradations and of sampling actors.
        render_scale: Integer zoom of each panel.

    Returns:
        (rows * frame height, frame width, 3) uint8 image.
    """
    indices = np.asarray(indices, dtype=np.int64)
    engine = build_engine(env_config, actor, len(indices), restorer=restorer, dataset=dataset,
                          overrides={"render": {"scale": int(render_scale)}})
    slots = engine.all_slots()
    play_episodes(engine, actor, slots, np.random.default_rng(seed), {"index": indices})
    return np.concatenate(render_faces(engine, slots), axis=0)
