"""The in-memory face dataset every source produces, and the dataset-type registry.

A :class:`FaceDataset` holds decoded, cropped HR faces as one uint8 tensor (N, 3, S, S), their identity
labels and (where known) 5-point landmarks. Sources (synthetic, LFW, CelebA, folders) register a builder
function with :func:`register_dataset`; :func:`build_dataset` turns a typed config block into a dataset,
splitting by identity and caching the result in-process.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fh_gym.config import ConfigError, check_kwargs, split_type

SPLITS = ("train", "val", "test", "all")
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


class DatasetError(ValueError):
    """A dataset folder is missing, empty, unreadable or inconsistent; the message names the path."""


@dataclass
class FaceDataset:
    """Decoded HR faces with identities.

    Attributes:
        images: (N, 3, S, S) uint8 RGB faces.
        identities: (N,) int64 identity index into ``identity_names``.
        identity_names: one name per identity.
        names: (N,) an identifier per image (file path relative to the root, or a synthetic id).
        landmarks: (N, 5, 2) float32 (x, y) pixel coordinates in the HR image, in the order of
            ``LANDMARK_NAMES``; ``None`` when the source has none. Sources with 68 points may store (N, 68, 2).
        source: a short description of where the faces came from.
        meta: free-form source details (crop, cache file...). A numpy array whose first dimension equals
            the number of images is per-image (e.g. ``meta["split"]``, an official partition 0/1/2) and
            is indexed along with the images by :meth:`subset`; store other arrays as lists or tuples.
    """

    images: torch.Tensor
    identities: np.ndarray
    identity_names: list[str]
    names: list[str]
    landmarks: np.ndarray | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[1] != 3 or self.images.dtype != torch.uint8:
            raise DatasetError(f"{self.source}: images must be a (N, 3, S, S) uint8 tensor, got "
                               f"{tuple(self.images.shape)} {self.images.dtype}")
        n = self.images.shape[0]
        if len(self.identities) != n or len(self.names) != n:
            raise DatasetError(f"{self.source}: {n} images but {len(self.identities)} identities "
                               f"and {len(self.names)} names")
        if self.landmarks is not None and self.landmarks.shape[0] != n:
            raise DatasetError(f"{self.source}: {n} images but {self.landmarks.shape[0]} landmark rows")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def num_identities(self) -> int:
        return len(np.unique(self.identities))

    def subset(self, indices: Sequence[int] | np.ndarray) -> FaceDataset:
        """A dataset with the given image indices (identity names are kept whole)."""
        idx = np.asarray(indices, dtype=np.int64)
        return FaceDataset(
            images=self.images[torch.from_numpy(idx)] if len(idx) else self.images[:0],
            identities=self.identities[idx],
            identity_names=self.identity_names,
            names=[self.names[i] for i in idx],
            landmarks=None if self.landmarks is None else self.landmarks[idx],
            source=self.source,
            meta={key: value[idx] if self._per_image(value) else value for key, value in self.meta.items()},
        )

    def _per_image(self, value: Any) -> bool:
        return isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == len(self)

    def hr_float(self, indices: Sequence[int] | np.ndarray | torch.Tensor,
                 device: torch.device | str = "cpu") -> torch.Tensor:
        """(B, 3, S, S) float32 faces in [0, 1] for the given indices."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return self.images[idx].to(device=device, dtype=torch.float32).div_(255.0)


DatasetBuilder = Callable[..., FaceDataset]
DATASET_REGISTRY: dict[str, DatasetBuilder] = {}


def register_dataset(name: str) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Decorator: register a builder ``fn(**kwargs) -> FaceDataset`` (the *whole* source, unsplit)."""

    def deco(fn: DatasetBuilder) -> DatasetBuilder:
        DATASET_REGISTRY[name] = fn
        return fn

    return deco


# Keys every dataset block accepts besides the builder's own keyword arguments.
COMMON_KEYS = ("split", "split_fractions", "split_seed", "max_images")

_CACHE: dict[str, FaceDataset] = {}


def _cache_key(block: Mapping[str, Any]) -> str:
    return hashlib.sha1(json.dumps(block, sort_keys=True, default=str).encode()).hexdigest()


def build_dataset(block: Mapping[str, Any]) -> FaceDataset:
    """Build (or fetch from the in-process cache) the dataset described by a typed block.

    The block is ``{type: synthetic|lfw|celeba|folder, split: train|val|test|all,
    split_fractions: [train, val, test], split_seed: 0, max_images: None, **source kwargs}``.
    Splits are by identity (no person appears in two splits), see :func:`fh_gym.data.splits.split_by_identity`.
    """
    import fh_gym.data  # noqa: F401  (registers the sources)
    from fh_gym.data.splits import split_by_identity

    name, kwargs = split_type(block, "data config")
    if name not in DATASET_REGISTRY:
        raise ConfigError(f"unknown data type '{name}'; available: {', '.join(sorted(DATASET_REGISTRY))}")
    builder = DATASET_REGISTRY[name]
    check_kwargs(builder, kwargs, f"data source '{name}'", extra=COMMON_KEYS)
    split = kwargs.pop("split", "train")
    fractions = kwargs.pop("split_fractions", (0.8, 0.1, 0.1))
    split_seed = kwargs.pop("split_seed", 0)
    max_images = kwargs.pop("max_images", None)
    if split not in SPLITS:
        raise ConfigError(f"unknown split '{split}'; valid: {', '.join(SPLITS)}")

    key = _cache_key({"type": name, **kwargs, "split": split, "fractions": list(fractions),
                      "split_seed": split_seed, "max_images": max_images})
    if key in _CACHE:
        return _CACHE[key]
    whole_key = _cache_key({"type": name, **kwargs})
    if whole_key not in _CACHE:
        _CACHE[whole_key] = builder(**copy.deepcopy(kwargs))
    dataset = _CACHE[whole_key]
    if split != "all":
        dataset = dataset.subset(split_by_identity(dataset, fractions, split_seed)[split])
    if max_images is not None and len(dataset) > max_images:
        dataset = dataset.subset(np.arange(int(max_images)))
    if len(dataset) == 0:
        raise DatasetError(f"{dataset.source}: the '{split}' split is empty (fractions {list(fractions)})")
    _CACHE[key] = dataset
    return dataset


def clear_dataset_cache() -> None:
    _CACHE.clear()
