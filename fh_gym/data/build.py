"""Building a dataset from a typed config block: the source, its identity split, an in-process cache."""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from fh_gym.data.base import DATASETS, DatasetError, FaceDataset
from fh_gym.data.splits import split_by_identity
from fh_gym.restorers.config import ConfigError, check_kwargs, split_type

SPLITS = ("train", "val", "test", "all")

# Keys every dataset block accepts besides the builder's own keyword arguments.
COMMON_KEYS = ("split", "split_fractions", "split_seed", "max_images")

_CACHE: dict[str, FaceDataset] = {}


def _cache_key(block: Mapping[str, Any]) -> str:
    return hashlib.sha1(json.dumps(block, sort_keys=True, default=str).encode()).hexdigest()


def build_dataset(block: Mapping[str, Any]) -> FaceDataset:
    """Build (or fetch from the in-process cache) the dataset described by a typed block.

    The block is ``{type: <name in DATASETS>, split: train|val|test|all,
    split_fractions: [train, val, test], split_seed: 0, max_images: None, **source kwargs}``.
    Splits are by identity (no person appears in two splits), see :func:`fh_gym.data.splits.split_by_identity`.
    """
    name, kwargs = split_type(block, "data config")
    builder = DATASETS.get(name)
    check_kwargs(builder, kwargs, f"data source '{name}'", extra=COMMON_KEYS)
    missing = [key for key, p in inspect.signature(builder).parameters.items()
               if p.default is inspect.Parameter.empty and key not in kwargs]
    if missing:
        raise ConfigError(f"data source '{name}' needs the key(s) {', '.join(missing)}")
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
    """Forget every dataset built in this process (tests that change files on disk)."""
    _CACHE.clear()
