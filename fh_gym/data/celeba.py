"""CelebA aligned-and-cropped (img_align_celeba, 178x218) with identities, 5-point landmarks and partitions.

Layout::

    <root>/img_align_celeba/000001.jpg ...      178x218 JPEG
    <root>/identity_CelebA.txt                  "000001.jpg 2880"
    <root>/list_landmarks_align_celeba.txt      count, column names, "000001.jpg 69 109 106 113 77 142 ..."
    <root>/list_eval_partition.txt              "000001.jpg 0"  (0/1/2 = train/val/test; partition="official")

The HR face is the 178x178 square at rows 20..197, area-resized to ``image_size``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fh_gym.data.base import DATASETS, DatasetError, FaceDataset
from fh_gym.data.imageio import cached_decode, crop_resize, list_images, require_dir
from fh_gym.restorers.config import ConfigError

IMAGE_DIR = "img_align_celeba"
IDENTITY_FILE = "identity_CelebA.txt"
LANDMARK_FILE = "list_landmarks_align_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
LANDMARK_COLUMNS = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
                    "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y")
ALIGNED_SIZE = (178, 218)  # width, height of img_align_celeba
CROP_TOP = 20
CROP_SIDE = 178
PARTITIONS = ("identity", "official")


def _need(path: Path) -> Path:
    if not path.is_file():
        raise DatasetError(f"CelebA: missing file {path}")
    return path


def read_table(path: Path, columns: int, skip: int = 0) -> dict[str, list[str]]:
    """``{file name: [values]}`` from a whitespace-separated CelebA list file, checking every row's width."""
    table: dict[str, list[str]] = {}
    with open(_need(path)) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if number <= skip or not fields:
                continue
            if len(fields) != columns + 1:
                raise DatasetError(f"CelebA: {path} line {number}: expected a file name and {columns} "
                                   f"values, got {line.strip()!r}")
            table[fields[0]] = fields[1:]
    return table


def read_landmarks(path: Path) -> dict[str, list[str]]:
    """The landmark table, after checking its header (count line, then the ten column names)."""
    with open(_need(path)) as handle:
        handle.readline()
        header = tuple(handle.readline().split())
    if header != LANDMARK_COLUMNS:
        raise DatasetError(f"CelebA: {path} line 2 should name the columns {' '.join(LANDMARK_COLUMNS)}, "
                           f"got {' '.join(header)!r}")
    return read_table(path, len(LANDMARK_COLUMNS), skip=2)


def _lookup(table: dict[str, list[str]], names: list[str], path: Path) -> list[list[str]]:
    missing = [n for n in names if n not in table]
    if missing:
        raise DatasetError(f"CelebA: {len(missing)} images have no row in {path}, e.g. {missing[0]}")
    return [table[n] for n in names]


def _numbers(rows: list[list[str]], path: Path) -> np.ndarray:
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise DatasetError(f"CelebA: {path} holds a value that is not a number: {exc}") from exc


def aligned_to_hr(points: np.ndarray, image_size: int) -> np.ndarray:
    """Map (x, y) pixel coordinates of the 178x218 aligned image into the HR crop.

    Pixel centres sit at integer coordinates, so a resize by ``k`` maps ``x`` to ``(x + 0.5) * k - 0.5``.
    """
    scale = image_size / CROP_SIDE
    shifted = points.astype(np.float64) - np.array([0.0, CROP_TOP])
    return ((shifted + 0.5) * scale - 0.5).astype(np.float32)


@DATASETS.register("celeba")
def celeba(root: str, image_size: int = 128, cache_dir: str | None = None, max_items: int | None = None,
           partition: str = "identity", workers: int = 2) -> FaceDataset:
    """Load CelebA aligned faces with identities and 5-point landmarks.

    Args:
        root: Folder holding ``img_align_celeba/`` and the list files (see the module docstring).
        image_size: Output side S in pixels.
        cache_dir: Where decoded arrays are cached; default :func:`fh_gym.data.paths.cache_dir`.
        max_items: Keep only the first images (sorted by file name), e.g. for quick experiments.
        partition: ``"identity"``: splits by hashed identity like every source; ``"official"``: the
            train/val/test partition of list_eval_partition.txt (stored in ``meta["split"]``).
        workers: Decoding threads.

    Returns:
        A :class:`FaceDataset` with images (N, 3, S, S) uint8 RGB, identities named by the CelebA
        identity number, names like ``"000001.jpg"`` and landmarks (N, 5, 2) float32 in HR pixels.

    Raises:
        ConfigError: for an unknown ``partition``.
        DatasetError: naming the missing file, a malformed list file, an image without a row in a list,
            an image that is not 178x218, or an unreadable image.
    """
    if partition not in PARTITIONS:
        raise ConfigError(f"celeba: unknown partition '{partition}'; valid: {', '.join(PARTITIONS)}")
    if image_size < 1 or (max_items is not None and max_items < 1):
        raise ConfigError(f"celeba: image_size and max_items must be positive, got {image_size}, {max_items}")
    base = require_dir(root, "CelebA (expected <root>/img_align_celeba and the list files)")
    image_dir = require_dir(base / IMAGE_DIR, "CelebA images")
    identity_path, landmark_path = base / IDENTITY_FILE, base / LANDMARK_FILE
    identity_table = read_table(identity_path, 1)
    landmark_table = read_landmarks(landmark_path)
    partition_table = read_table(base / PARTITION_FILE, 1) if partition == "official" else None

    files = list_images(image_dir, image_dir)
    if not files:
        raise DatasetError(f"CelebA: no images in {image_dir}")
    files = files[: max_items] if max_items is not None else files
    names = [f.rel for f in files]
    labels = [row[0] for row in _lookup(identity_table, names, identity_path)]
    landmarks = _numbers(_lookup(landmark_table, names, landmark_path), landmark_path).reshape(-1, 5, 2)
    identity_names = sorted(set(labels), key=lambda s: (len(s), s))  # numeric order for numeric ids
    index = {name: i for i, name in enumerate(identity_names)}

    def prepare(image: np.ndarray, path: str) -> np.ndarray:
        if (image.shape[1], image.shape[0]) != ALIGNED_SIZE:
            raise DatasetError(f"CelebA: image {path} is {image.shape[1]}x{image.shape[0]}; expected the "
                               f"aligned {ALIGNED_SIZE[0]}x{ALIGNED_SIZE[1]} ({IMAGE_DIR})")
        return crop_resize(image, (0, CROP_TOP, CROP_SIDE), image_size, path)

    images, cache_info = cached_decode("celeba", image_dir, files, prepare, image_size, cache_dir=cache_dir,
                                       workers=workers, crop=(0, CROP_TOP, CROP_SIDE))
    meta = {"root": str(base), "crop": (0, CROP_TOP, CROP_SIDE), "partition": partition, **cache_info}
    if partition_table is not None:
        codes = _numbers(_lookup(partition_table, names, base / PARTITION_FILE), base / PARTITION_FILE).ravel()
        if not np.isin(codes, (0, 1, 2)).all():
            raise DatasetError(f"CelebA: {base / PARTITION_FILE} has codes other than 0/1/2")
        meta["split"] = codes.astype(np.int64)
    return FaceDataset(
        images=torch.from_numpy(images),
        identities=np.array([index[label] for label in labels], dtype=np.int64),
        identity_names=identity_names,
        names=names,
        landmarks=aligned_to_hr(landmarks, image_size),
        source=f"celeba:{base}",
        meta=meta,
    )
