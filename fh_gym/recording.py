"""Recording episodes: rendered frames and observed images per step (``fh-gym record``, ``hallucinate``) and
image grids of finished episodes for TensorBoard (:func:`episode_grid`).

Each rendered frame is ``render_faces``': LR | current image with the box history (the current box thick)
| HR (when there is a ground truth), with the step and PSNR in the header.

Example:
    >>> paths = record_episodes(env_config, EvenGridStrategy(), 2, Path("outputs/videos"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor, nn

from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.envs.face_repair import render_faces
from fh_gym.episodes import Actor, EpisodeHook, build_engine, play_episodes
from fh_gym.video import write_mp4


class FrameRecorder(EpisodeHook):
    """Rendered frames of every face: the start frame and one per step (``frames[k]`` for face row k; a face
    that stopped early repeats its last frame, so the videos stay side by side)."""

    def __init__(self) -> None:
        self.frames: list[list[np.ndarray]] = []
        self.slots: Tensor | None = None

    def on_start(self, engine: RepairEngine, slots: Tensor) -> None:
        self.slots = slots
        self.frames = [[frame] for frame in render_faces(engine, slots)]

    def on_step(self, engine: RepairEngine, slots: Tensor, step: StepOutput) -> None:
        for store, frame in zip(self.frames, render_faces(engine, self.slots), strict=True):
            store.append(frame)


class ImageRecorder(EpisodeHook):
    """The observed uint8 image of every face at the start and after every step: ``images`` (T+1, B, S, S, 3)
    (a face that stopped early keeps its final image)."""

    def __init__(self) -> None:
        self.steps: list[np.ndarray] = []
        self.slots: Tensor | None = None

    def on_start(self, engine: RepairEngine, slots: Tensor) -> None:
        self.slots = slots
        self.steps = [engine.observe(slots)["image"]]

    def on_step(self, engine: RepairEngine, slots: Tensor, step: StepOutput) -> None:
        self.steps.append(engine.observe(self.slots)["image"])

    @property
    def images(self) -> np.ndarray:
        return np.stack(self.steps)


def record_episodes(env_config: dict[str, Any], actor: Actor, episodes: int, out_dir: Path, fps: float = 4.0,
                    seed: int = 0, indices: np.ndarray | None = None) -> list[Path]:
    """Run ``episodes`` episodes side by side and write ``<out>/<actor>_<k>.mp4`` for each.

    Args:
        env_config: Full env config (the actor's own restorer, if any, repairs:
            :func:`fh_gym.episodes.repairing_restorer`).
        actor: Picks the boxes.
        episodes: Number of episodes (videos).
        out_dir: Folder of the videos.
        fps: Frames per second (one frame per step, plus the start frame).
        seed: Seed of the degradations and of sampling actors.
        indices: Dataset faces (default the first ``episodes``, cycled over the dataset).
    """
    engine = build_engine(env_config, actor, episodes)
    slots = engine.all_slots()
    chosen = indices if indices is not None else np.arange(episodes) % len(engine.dataset)
    recorder = FrameRecorder()
    play_episodes(engine, actor, slots, np.random.default_rng(seed), {"index": chosen}, [recorder])
    return [write_mp4(store, out_dir / f"{actor.name}_{k:03d}.mp4", fps) for k, store in enumerate(recorder.frames)]


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
