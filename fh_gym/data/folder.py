"""Any folder of face images (FFHQ-style numbered folders too): centre square crop, area resize."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from fh_gym.data.base import DATASETS, DatasetError, FaceDataset
from fh_gym.data.imageio import IMAGE_EXTENSIONS, ImageFile, cached_decode, center_crop, list_images, require_dir
from fh_gym.restorers.config import ConfigError

IDENTITY_MODES = ("subfolder", "file")


def scan_folder(root: Path, recursive: bool = True) -> list[ImageFile]:
    """Image files under ``root`` (at any depth if ``recursive``, else directly in it), sorted by path.

    Hidden files and folders (names starting with '.') are skipped.
    """
    folders = [root]
    if recursive:
        for current, subdirs, _ in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            folders += [Path(current) / d for d in subdirs]
    files = [f for folder in folders for f in list_images(folder, root)]
    return sorted(files, key=lambda f: f.rel.split("/"))


def identity_name(rel: str, mode: str, root_name: str) -> str:
    """The identity of a file: its parent folder relative to the root (``mode='subfolder'``) or itself."""
    if mode == "file":
        return rel
    parent = rel.rpartition("/")[0]
    return parent or root_name


@DATASETS.register("folder")
def folder(root: str, image_size: int = 128, identity_from: str = "subfolder", recursive: bool = True,
           cache_dir: str | None = None, workers: int = 2) -> FaceDataset:
    """Load every image under a folder as an HR face: its largest centred square, area-resized.

    Args:
        root: The folder. Extensions: jpg, jpeg, png, bmp, webp (any case).
        image_size: Output side S in pixels.
        identity_from: ``"subfolder"``: the folder holding an image (relative to ``root``, e.g.
            ``alice`` or ``group/alice``) is its identity, images directly in ``root`` share one identity
            named after ``root``; ``"file"``: every image is its own identity (FFHQ, whose numbered
            subfolders are not people).
        recursive: Search subfolders at any depth; ``False`` takes only the files directly in ``root``.
        cache_dir: Where decoded arrays are cached; default :func:`fh_gym.data.paths.cache_dir`.
        workers: Decoding threads.

    Returns:
        A :class:`FaceDataset` with images (N, 3, S, S) uint8 RGB, names relative to ``root`` and no landmarks.

    Raises:
        ConfigError: for an unknown ``identity_from``.
        DatasetError: if the folder is missing, holds no image, or an image is unreadable.
    """
    if identity_from not in IDENTITY_MODES:
        raise ConfigError(f"folder: unknown identity_from '{identity_from}'; valid: {', '.join(IDENTITY_MODES)}")
    if image_size < 1:
        raise ConfigError(f"folder: image_size must be positive, got {image_size}")
    base = require_dir(root, "folder dataset")
    files = scan_folder(base, recursive)
    if not files:
        where = "at any depth" if recursive else "directly in it (recursive=False)"
        raise DatasetError(f"folder dataset: no images ({', '.join(IMAGE_EXTENSIONS)}) in {base} {where}")
    labels = [identity_name(f.rel, identity_from, base.name) for f in files]
    identity_names = sorted(set(labels))
    index = {name: i for i, name in enumerate(identity_names)}
    images, cache_info = cached_decode("folder", base, files, center_crop(None, image_size), image_size,
                                       cache_dir=cache_dir, workers=workers)
    return FaceDataset(
        images=torch.from_numpy(images),
        identities=np.array([index[label] for label in labels], dtype=np.int64),
        identity_names=identity_names,
        names=[f.rel for f in files],
        landmarks=None,
        source=f"folder:{base}",
        meta={"root": str(base), "identity_from": identity_from, **cache_info},
    )
