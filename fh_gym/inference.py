"""Hallucination of real LR faces: no ground truth, the engine in inference mode (``fh-gym hallucinate``).

The front-end upsamples each LR face to the start image, the actor picks T boxes and the restorer that
:func:`fh_gym.episodes.repairing_restorer` names repairs them (the actor's own when it was trained with
one, else the env config's). Inputs must be ``image_size / scale`` pixels square; :func:`load_lr` resizes
others (area interpolation when shrinking, bicubic when enlarging) unless asked to be strict.

Example:
    >>> config = inference_config(make_config(None, "dense_x8"))  # doctest: +SKIP
    >>> result = hallucinate(config, EvenGridStrategy(), lr_images)  # doctest: +SKIP
    >>> result["final"].shape  # (N, 128, 128, 3) uint8  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from torch import nn
from tqdm.auto import tqdm

from fh_gym.data.imageio import image_names, read_rgb
from fh_gym.engine.config import check_env_config
from fh_gym.engine.networks import env_network
from fh_gym.episodes import Actor, build_engine, play_episodes, repairing_restorer
from fh_gym.recording import FrameRecorder, ImageRecorder
from fh_gym.restorers.config import Float, Int, merge_config
from fh_gym.restorers.training.session import progress_bar
from fh_gym.video import write_mp4


def inference_config(env_config: Mapping[str, Any]) -> dict[str, Any]:
    """``env_config`` in inference mode (reset takes LR images; no reward, no ground truth), every value checked
    (:func:`fh_gym.engine.config.check_env_config`: the env's own checks, before any size is computed)."""
    return check_env_config(merge_config(env_config, {"mode": "inference"}))


def check_inference_actor(actor: Actor) -> None:
    """Raise ``ValueError`` when ``actor`` needs the ground truth (the greedy oracle)."""
    if actor.uses_truth:
        raise ValueError(f"strategy '{actor.name}' needs the ground truth; hallucination has none")


def inference_restorer(config: Mapping[str, Any], actor: Actor) -> nn.Module:
    """The restorer that repairs ``actor``'s hallucinations: its own, else the config's ``restorer`` block."""
    own = repairing_restorer(actor, None)
    if own is not None:
        return own
    return env_network(config)


def training_repairs_note(actor: Actor, restorer: nn.Module) -> str | None:
    """A line saying so when ``restorer`` (what hallucination repairs with) holds other weights than the restorer
    ``actor`` was trained with (e.g. real-face ``lfw_x8`` for an agent trained on synthetic faces with ``syn_x8``:
    inference picks the shipped weights of real faces), else None."""
    if actor.env_config is None or repairing_restorer(actor, None) is not None:
        return None
    block = actor.env_config["restorer"]
    if "checkpoint" in block:  # named, not loaded: the file may be gone, and the note is only a note
        trained = f"checkpoint:{block['checkpoint']}"
    else:  # on the cpu: only the weights' name is compared (the agent may have been trained on a GPU)
        trained = getattr(env_network(merge_config(actor.env_config, {"device": "cpu"})), "weights_source", None)
    used = getattr(restorer, "weights_source", None)
    if trained == used or trained is None:
        return None
    used = used or "an untrained network"
    return (f"note: the agent was trained with the restorer of {trained}; these repairs use {used} "
            "(--restorer CKPT or --set restorer.weights=NAME picks another)")


def collect_inputs(paths: Sequence[Path]) -> list[Path]:
    """Files as given plus the image files directly inside given folders (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = [path / name for name in image_names(path)]
            if not found:
                raise FileNotFoundError(f"no image files in folder {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"input not found: {path}")
    stems = [f.stem for f in files]
    if len(set(stems)) != len(stems):
        raise ValueError("two inputs share a file name stem; outputs would overwrite each other")
    return files


def load_lr(path: Path, size: int, strict: bool) -> tuple[np.ndarray, str | None]:
    """Read an RGB image as (size, size, 3) uint8; returns it and a note when it had to be resized."""
    image = read_rgb(path)
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image, None
    if strict:
        raise ValueError(f"{path} is {w}x{h}; this env takes {size}x{size} LR faces (drop --strict-size to resize)")
    shrink = h >= size and w >= size
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    how = "area interpolation" if shrink else "bicubic interpolation (enlarged)"
    aspect = "" if h == w else ", aspect ratio not kept"
    return resized, f"{path.name}: {w}x{h} resized to {size}x{size} with {how}{aspect}"


def write_png(image: np.ndarray, path: Path) -> Path:
    """Write an (H, W, 3) uint8 RGB image as PNG (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def hallucinate(config: dict[str, Any], actor: Actor, images: np.ndarray, *, restorer: nn.Module | None = None,
                seed: int = 0, keep_steps: bool = False, keep_frames: bool = False) -> dict[str, Any]:
    """Repair a batch of LR faces (N, h, w, 3) uint8 without ground truth.

    Args:
        config: Env config in inference mode (:func:`inference_config`).
        actor: Picks the boxes (not one that needs the truth).
        images: The LR faces, ``image_size / scale`` square.
        restorer: A ready restorer for actors without their own (None: built from the config).
        seed: Seed of sampling actors.
        keep_steps: Also return the image after every step; keep_frames: also the rendered frames.

    Returns:
        ``final`` (N, S, S, 3) uint8; ``steps`` (T+1, N, S, S, 3) when ``keep_steps``; ``frames``
        (per face, T+1 rendered frames) when ``keep_frames``.
    """
    check_inference_actor(actor)
    engine = build_engine(config, actor, len(images), restorer=restorer)
    slots = engine.all_slots()
    steps, frames = ImageRecorder(), FrameRecorder()
    hooks = [hook for hook, wanted in ((steps, keep_steps), (frames, keep_frames)) if wanted]
    play_episodes(engine, actor, slots, np.random.default_rng(seed), {"lr": images}, hooks)
    out: dict[str, Any] = {"final": engine.observe(slots)["image"]}
    if keep_steps:
        out["steps"] = steps.images
    if keep_frames:
        out["frames"] = frames.frames
    return out


def hallucinate_files(config: dict[str, Any], actor: Actor, files: Sequence[Path], out_dir: Path, *,
                      restorer: nn.Module | None = None, batch_size: int = 32, seed: int = 0,
                      strict_size: bool = False, save_steps: bool = False, video: bool = False, fps: float = 4.0,
                      log: Callable[[str], None] = tqdm.write) -> int:
    """Hallucinate LR image files in batches; write ``<out>/NAME.png`` per input ``NAME.ext`` (with
    ``save_steps`` also ``NAME_stepTT.png``, with ``video`` ``NAME.mp4``). Returns the number of images.

    ``log`` receives a note for every input that had to be resized.

    Raises:
        ConfigError: For a bad config value, ``batch_size`` < 1 or ``fps`` <= 0 (before anything is written).
    """
    check_inference_actor(actor)
    config = check_env_config(config)
    batch_size = Int(min=1).validate(batch_size, "batch_size")
    if video:
        Float(min=0, min_open=True).validate(fps, "fps")
    size = config["image_size"] // config["degradation"]["scale"]
    restorer = restorer if restorer is not None else inference_restorer(config, actor)
    written = 0
    bar = progress_bar(len(files), desc="hallucinate", unit="image")
    for lo in range(0, len(files), batch_size):
        batch = files[lo:lo + batch_size]
        images = []
        for path in batch:
            image, note = load_lr(path, size, strict_size)
            if note:
                log(note)
            images.append(image)
        result = hallucinate(config, actor, np.stack(images), restorer=restorer, seed=seed, keep_steps=save_steps,
                             keep_frames=video)
        for k, path in enumerate(batch):
            write_png(result["final"][k], out_dir / f"{path.stem}.png")
            if save_steps:
                for t, step in enumerate(result["steps"][:, k]):
                    write_png(step, out_dir / f"{path.stem}_step{t:02d}.png")
            if video:
                write_mp4(result["frames"][k], out_dir / f"{path.stem}.mp4", fps)
            written += 1
        bar.update(len(batch))
    bar.close()
    return written
