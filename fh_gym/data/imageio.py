"""Shared helpers of the file-based sources: finding, decoding, cropping and caching face images.

Every file-based source (LFW, CelebA, folders) turns a list of image files into one uint8 RGB array
(N, 3, S, S). Decoding is done in parallel threads (OpenCV releases the GIL) and the result is cached on
disk, keyed by a fingerprint of the file list (paths, sizes, mtimes) and the crop parameters, so a second
run loads one file instead of decoding thousands of JPEGs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fh_gym.data.base import DatasetError
from fh_gym.data.paths import cache_dir as default_cache_dir
from fh_gym.restorers.checkpoint import atomic_open

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# OpenCV >= 4.10 decodes straight to RGB; older versions decode BGR and need a conversion.
_DECODE_FLAG = getattr(cv2, "IMREAD_COLOR_RGB", cv2.IMREAD_COLOR)
# Bump when the cache layout or the decoding changes, so old cache files are never reused.
CACHE_VERSION = 1


@dataclass(frozen=True)
class ImageFile:
    """One image file: absolute path, '/'-separated path relative to the source root, size and mtime.

    Paths are plain strings: big folders have tens of thousands of files and pathlib is slow at that scale.
    """

    path: str
    rel: str
    size: int
    mtime_ns: int

    @classmethod
    def from_rel(cls, root: Path, rel: str) -> ImageFile:
        path = os.path.join(root, rel)
        stat = os.stat(path)
        return cls(path, rel, stat.st_size, stat.st_mtime_ns)


def is_image_name(name: str) -> bool:
    """Whether a file name has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def image_names(folder: Path) -> list[str]:
    """Names of the image files directly inside ``folder``, sorted (no stat calls: cheap to scan).

    Hidden files (``.name``, e.g. macOS ``._x.jpg`` resource forks) are skipped.
    """
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries
                      if is_image_name(e.name) and not e.name.startswith(".") and e.is_file())


def list_images(folder: Path, root: Path) -> list[ImageFile]:
    """The image files directly inside ``folder``, sorted by name, with paths relative to ``root``."""
    prefix = folder.relative_to(root).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    return [ImageFile.from_rel(root, prefix + name) for name in image_names(folder)]


def require_dir(root: str | os.PathLike | None, what: str) -> Path:
    """``root`` as an absolute Path, or :class:`DatasetError` saying it is missing and what was expected."""
    if root is None:
        raise DatasetError(f"{what}: no root folder given and none found by default")
    path = Path(root).expanduser().absolute()
    if not path.is_dir():
        raise DatasetError(f"{what}: folder not found: {path}")
    return path


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to an (H, W, 3) uint8 RGB array.

    Raises:
        DatasetError: naming the file when it cannot be read or is not a decodable image.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DatasetError(f"cannot read image file {path}: {exc}") from exc
    image = cv2.imdecode(data, _DECODE_FLAG) if data.size else None
    if image is None:
        raise DatasetError(f"corrupt or unreadable image file {path} ({data.size} bytes)")
    return image if _DECODE_FLAG != cv2.IMREAD_COLOR else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def crop_resize(image: np.ndarray, box: tuple[int, int, int], size: int, path: str | os.PathLike) -> np.ndarray:
    """Cut the square ``box = (x0, y0, side)`` out of ``image`` and resize it to size x size (INTER_AREA).

    Raises:
        DatasetError: naming the file when the box does not fit inside the image.
    """
    x0, y0, side = box
    height, width = image.shape[:2]
    if x0 < 0 or y0 < 0 or x0 + side > width or y0 + side > height:
        raise DatasetError(f"image {path} is {width}x{height}; expected at least a {side}x{side} crop "
                           f"at ({x0}, {y0})")
    patch = image[y0:y0 + side, x0:x0 + side]
    if side == size:
        return np.ascontiguousarray(patch)
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(patch, (size, size), interpolation=interpolation)


def center_box(width: int, height: int, crop: int | None = None) -> tuple[int, int, int]:
    """The centred square ``(x0, y0, side)``: ``crop`` pixels wide, or the largest square when ``None``."""
    side = min(width, height) if crop is None else int(crop)
    return (width - side) // 2, (height - side) // 2, side


Prepare = Callable[[np.ndarray, str], np.ndarray]


def center_crop(crop: int | None, size: int) -> Prepare:
    """A ``prepare`` function for :func:`decode_images`: centre ``crop`` square (largest if None), resized."""

    def prepare(image: np.ndarray, path: str) -> np.ndarray:
        return crop_resize(image, center_box(image.shape[1], image.shape[0], crop), size, path)

    return prepare


def decode_images(files: Sequence[ImageFile], prepare: Prepare, size: int, workers: int = 2) -> np.ndarray:
    """Decode and prepare every file into one (N, 3, size, size) uint8 RGB array, in the given order.

    Args:
        files: The images to decode.
        prepare: ``fn(rgb_hwc_uint8, path) -> (size, size, 3) uint8``, e.g. :func:`center_crop`.
        size: Output side in pixels.
        workers: Decoding threads (cv2 releases the GIL, so threads run in parallel).

    Raises:
        DatasetError: for the first file (in order) that cannot be decoded or cropped.
    """
    out = np.empty((len(files), 3, size, size), dtype=np.uint8)

    def work(index: int) -> None:
        out[index] = prepare(read_rgb(files[index].path), files[index].path).transpose(2, 0, 1)

    if workers <= 1 or len(files) < 2:
        for index in range(len(files)):
            work(index)
    else:
        with ThreadPoolExecutor(max_workers=int(workers)) as pool:
            # list() re-raises the first failure in submission order, so the error is deterministic.
            list(pool.map(work, range(len(files))))
    return out


def fingerprint(kind: str, root: Path, files: Sequence[ImageFile], **params: Any) -> str:
    """A hex key of (source kind, absolute root, relative files with sizes and mtimes, crop parameters)."""
    digest = hashlib.sha1()
    header = {"kind": kind, "version": CACHE_VERSION, "root": str(root), "params": params}
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for f in files:
        digest.update(f"\n{f.rel}\t{f.size}\t{f.mtime_ns}".encode())
    return digest.hexdigest()


def _checksum(images: np.ndarray) -> str:
    return hashlib.sha1(memoryview(np.ascontiguousarray(images)).cast("B")).hexdigest()


# Cache file: magic, 8-byte header length, JSON header (shape, checksum), then the raw uint8 pixels.
# Raw bytes load with one np.fromfile call, several times faster than an .npz (zip) member.
_MAGIC = b"FHGYMDS1"


def _read_cache(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The cached images when the file is complete and intact; ``None`` (never a partial array) otherwise."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_MAGIC)) != _MAGIC:
                raise ValueError("not an fh-gym dataset cache")
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
            if tuple(header["shape"]) != shape:
                raise ValueError(f"shape {header['shape']} != expected {list(shape)}")
            images = np.fromfile(handle, dtype=np.uint8, count=int(np.prod(shape)))
        if images.size != int(np.prod(shape)) or _checksum(images) != header["sha1"]:
            raise ValueError("truncated or corrupted pixel data")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("rebuilding dataset cache %s: %s", path, exc)
        return None
    return images.reshape(shape)


def _write_cache(path: Path, images: np.ndarray) -> None:
    """Write atomically (temp file + os.replace) so a reader never sees a half-written cache."""
    images = np.ascontiguousarray(images)
    header = json.dumps({"shape": list(images.shape), "sha1": _checksum(images)}).encode()
    try:
        with atomic_open(path) as handle:
            handle.write(_MAGIC + len(header).to_bytes(8, "little") + header)
            images.tofile(handle)
    except OSError as exc:  # a read-only or full disk must not stop training
        warnings.warn(f"could not write dataset cache {path}: {exc}", stacklevel=3)


def cached_decode(kind: str, root: Path, files: Sequence[ImageFile], prepare: Prepare, size: int,
                  cache_dir: str | os.PathLike | None = None, workers: int = 2,
                  **params: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode ``files`` (see :func:`decode_images`) through the on-disk cache.

    Args:
        kind: Source name, part of the key and the file name (``"lfw"``...).
        root: Absolute source root (part of the key).
        files: The images, in output order.
        prepare: Crop/resize function; its parameters must be passed as ``params`` so they enter the key.
        size: Output side in pixels.
        cache_dir: Cache folder; default :func:`fh_gym.data.paths.cache_dir`.
        workers: Decoding threads.
        **params: Everything else that changes the decoded pixels (crop size...).

    Returns:
        The (N, 3, size, size) uint8 RGB array and ``{"cache_file": str, "cache_hit": bool}``.
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    key = fingerprint(kind, root, files, size=size, **params)
    # The key already covers every file name, size and mtime, so a matching file holds these images.
    path = folder / f"{kind}-{key[:24]}.fhcache"
    images = _read_cache(path, (len(files), 3, size, size)) if path.is_file() else None
    hit = images is not None
    if images is None:
        images = decode_images(files, prepare, size, workers)
        _write_cache(path, images)
    return images, {"cache_file": str(path), "cache_hit": hit}
