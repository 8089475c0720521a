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

from fh_gym.config import merge_config


def episode_grid(env_config: dict[str, Any], actor: Any, indices: Sequence[int] | np.ndarray, *,
                 restorer: nn.Module | None = None, dataset: Any = None, seed: int = 0,
                 render_scale: int = 1) -> np.ndarray:
    """Run one episode per face and stack their final frames vertically.

    Each row is ``render_faces``' frame at the end of the episode: LR | final image with every box of the
    episode (the last one thick) | HR, with the step and PSNR in the header.

    Args:
        env_config: Full env config (the validation split for training curves).
        actor: ``.act(engine, faces, rng)`` (+ optional ``start_episodes`` and ``horizon``).
        indices: Dataset faces to show.
        restorer/dataset: Ready objects to share.
        seed: Seed of the degradations and of sampling actors.
        render_scale: Integer zoom of each panel.

    Returns:
        (rows * frame height, frame width, 3) uint8 image.
    """
    from fh_gym.engine.core import RepairEngine
    from fh_gym.envs.face_repair import render_faces

    horizon = getattr(actor, "horizon", None) or env_config["horizon"]
    config = merge_config(env_config, {"horizon": int(horizon), "render": {"scale": int(render_scale)}})
    indices = np.asarray(indices, dtype=np.int64)
    engine = RepairEngine(config, len(indices), restorer=restorer, dataset=dataset)
    faces = engine.all_faces()
    rng = np.random.default_rng(seed)
    engine.reset(faces, rng, {"index": indices})
    if hasattr(actor, "start_episodes"):
        actor.start_episodes(engine, faces)
    act = actor.act if hasattr(actor, "act") else actor
    for _ in range(engine.horizon):
        engine.step(act(engine, faces, rng), faces)
    return np.concatenate(render_faces(engine, faces), axis=0)
