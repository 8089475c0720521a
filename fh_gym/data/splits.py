"""Identity-disjoint train/val/test splits.

Each identity goes to a split by a stable hash of ``(seed, identity name)``, not by its position, so adding
or removing people never moves anyone else to another split (a test image stays a test image).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

from fh_gym.data.base import DatasetError, FaceDataset
from fh_gym.restorers.config import ConfigError

SPLIT_NAMES = ("train", "val", "test")


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validate ``(train, val, test)`` fractions: three finite non-negative numbers summing to 1.

    Raises:
        ConfigError: naming the problem.
    """
    values = list(fractions) if isinstance(fractions, Sequence) and not isinstance(fractions, str) else None
    if values is None or len(values) != 3:
        raise ConfigError(f"split_fractions must be 3 numbers [train, val, test], got {fractions!r}")
    if not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"split_fractions must be numbers, got {fractions!r}")
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise ConfigError(f"split_fractions must be finite and non-negative, got {fractions!r}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(f"split_fractions must sum to 1, got {fractions!r} (sum {sum(values):g})")
    return float(values[0]), float(values[1]), float(values[2])


def identity_hash(name: str, seed: int = 0) -> float:
    """A stable uniform number in [0, 1) for an identity name (same on every machine and Python run)."""
    digest = hashlib.sha256(f"{int(seed)}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_identities(names: Sequence[str], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                      seed: int = 0) -> np.ndarray:
    """Split index (0 train, 1 val, 2 test) for each identity name.

    An identity whose hash falls in ``[0, f_train)`` is train, ``[f_train, f_train + f_val)`` val, else test.
    With at least 3 identities, a split with a positive fraction that hashing left empty takes the
    identity whose hash is nearest to its interval (from a split that keeps at least one).
    """
    fractions3 = check_fractions(fractions)
    train, val, _ = fractions3
    positions = np.array([identity_hash(n, seed) for n in names], dtype=np.float64)
    edges = np.array([0.0, train, train + val, 1.0])
    assignment = np.clip(np.searchsorted(edges, positions, side="right") - 1, 0, 2)
    if len(names) >= 3:
        for split in range(3):
            if fractions3[split] <= 0 or (assignment == split).any():
                continue
            counts = np.bincount(assignment, minlength=3)
            donors = np.flatnonzero(counts[assignment] >= 2)
            distance = np.maximum(edges[split] - positions[donors], positions[donors] - edges[split + 1])
            assignment[donors[np.argmin(distance)]] = split
    return assignment


def _official_split(dataset: FaceDataset, codes: np.ndarray) -> dict[str, np.ndarray]:
    codes = np.asarray(codes)
    if codes.shape != (len(dataset),) or not np.isin(codes, (0, 1, 2)).all():
        raise DatasetError(f"{dataset.source}: meta['split'] must hold one code 0/1/2 per image, "
                           f"got shape {codes.shape}")
    for identity in np.unique(dataset.identities):
        found = np.unique(codes[dataset.identities == identity])
        if len(found) > 1:
            raise DatasetError(f"{dataset.source}: identity '{dataset.identity_names[identity]}' appears in "
                               f"the official splits {[SPLIT_NAMES[c] for c in found]}; splits must be "
                               f"identity-disjoint")
    return {name: np.flatnonzero(codes == code) for code, name in enumerate(SPLIT_NAMES)}


def split_by_identity(dataset: FaceDataset, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                      seed: int = 0) -> dict[str, np.ndarray]:
    """Image indices of the train/val/test splits; no identity is in two splits.

    Args:
        dataset: The whole source.
        fractions: Target share of *identities* per split (train, val, test), summing to 1.
        seed: Changes the hash, hence which identities land where.

    Returns:
        ``{"train": idx, "val": idx, "test": idx}``, each a sorted int64 array of image indices. When the
        source provides an official partition (``dataset.meta["split"]``, codes 0/1/2) it is used instead of
        the fractions.

    Raises:
        ConfigError: for invalid fractions.
        DatasetError: if an official partition puts one identity in two splits.
    """
    check_fractions(fractions)
    if dataset.meta.get("split") is not None:
        return _official_split(dataset, dataset.meta["split"])
    present = np.unique(dataset.identities)
    assignment = assign_identities([dataset.identity_names[i] for i in present], fractions, seed)
    split_of_identity = np.full(len(dataset.identity_names), -1, dtype=np.int64)
    split_of_identity[present] = assignment
    image_split = split_of_identity[dataset.identities]
    return {name: np.flatnonzero(image_split == code) for code, name in enumerate(SPLIT_NAMES)}
