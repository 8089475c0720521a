"""Labeled Faces in the Wild: ``<root>/<Person>/<Person>_NNNN.jpg`` (e.g. lfw-deepfunneled, 250x250 JPEG)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from fh_gym.data.base import DATASETS, DatasetError, FaceDataset
from fh_gym.data.imageio import ImageFile, cached_decode, center_crop, image_names, is_image_name, require_dir
from fh_gym.data.paths import lfw_root
from fh_gym.restorers.config import ConfigError

LAYOUT = "<root>/<Person>/<Person>_NNNN.jpg"


def scan_people(root: Path, min_images_per_person: int = 1,
                max_people: int | None = None) -> list[tuple[str, list[ImageFile]]]:
    """The people of an LFW-style folder and their images, sorted by person then file name.

    People with fewer than ``min_images_per_person`` images are dropped first, then the first
    ``max_people`` of the rest (alphabetically) are kept.

    Raises:
        DatasetError: if no person folder holds an image.
    """
    with os.scandir(root) as entries:
        entries = sorted(entries, key=lambda e: e.name)
    folders = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    people = [(e.name, image_names(Path(e.path))) for e in folders]
    people = [(name, files) for name, files in people if files]
    if not people:
        loose = sum(1 for e in entries if e.is_file() and is_image_name(e.name))
        raise DatasetError(f"LFW: no images in the expected layout {LAYOUT} under {root} "
                           f"({len(folders)} subfolders without images, {loose} images directly in the root; "
                           f"use type 'folder' for a flat folder of faces)")
    people = [(name, files) for name, files in people if len(files) >= min_images_per_person]
    if max_people is not None:
        people = people[: int(max_people)]
    # Only the kept files are stat-ed (for the cache key): a small subset of a big folder stays fast.
    return [(name, [ImageFile.from_rel(root, f"{name}/{f}") for f in files]) for name, files in people]


@DATASETS.register("lfw")
def lfw(root: str | None = None, crop: int = 140, image_size: int = 128, cache_dir: str | None = None,
        max_people: int | None = None, min_images_per_person: int = 1, workers: int = 2) -> FaceDataset:
    """Load an LFW-layout folder as HR faces: the centre ``crop`` square of each image, area-resized.

    Args:
        root: Folder with one subfolder per person (``<root>/<Person>/<Person>_NNNN.jpg``); default the
            shared dev data, :func:`fh_gym.data.paths.lfw_root`.
        crop: Side of the centre square cut from each image (140 of the 250x250 deep-funneled images keeps
            the face and little background).
        image_size: Output side S in pixels.
        cache_dir: Where decoded arrays are cached; default :func:`fh_gym.data.paths.cache_dir`.
        max_people: Keep only the first people (alphabetically, after the ``min_images_per_person`` filter).
        min_images_per_person: Drop people with fewer images (e.g. 2 for verification-style identities).
        workers: Decoding threads.

    Returns:
        A :class:`FaceDataset` with images (N, 3, S, S) uint8 RGB, one identity per person folder,
        names ``"<Person>/<Person>_NNNN.jpg"`` and no landmarks.

    Raises:
        ConfigError: for a non-positive size or count.
        DatasetError: if the folder is missing or empty, an image is unreadable, or smaller than ``crop``.
    """
    if crop < 1 or image_size < 1 or min_images_per_person < 1 or (max_people is not None and max_people < 1):
        raise ConfigError(f"LFW: crop, image_size, min_images_per_person and max_people must be positive, "
                           f"got crop={crop} image_size={image_size} "
                           f"min_images_per_person={min_images_per_person} max_people={max_people}")
    folder = require_dir(root if root is not None else lfw_root(),
                         f"LFW (expected {LAYOUT}; set FH_GYM_DATA or pass root)")
    people = scan_people(folder, min_images_per_person, max_people)
    if not people:
        raise DatasetError(f"LFW: no person in {folder} has at least {min_images_per_person} images")
    files = [f for _, person_files in people for f in person_files]
    identities = np.repeat(np.arange(len(people), dtype=np.int64), [len(fs) for _, fs in people])
    images, cache_info = cached_decode("lfw", folder, files, center_crop(crop, image_size), image_size,
                                       cache_dir=cache_dir, workers=workers, crop=crop)
    return FaceDataset(
        images=torch.from_numpy(images),
        identities=identities,
        identity_names=[name for name, _ in people],
        names=[f.rel for f in files],
        landmarks=None,
        source=f"lfw:{folder}",
        meta={"crop": int(crop), "root": str(folder), **cache_info},
    )
