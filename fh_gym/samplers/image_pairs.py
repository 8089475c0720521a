"""LR/HR pair batches for the supervised recipes (``fh-gym train-generator``), drawn from fh-gym data.

Faces come from a dataset split (training people), are degraded by the env's degradation pipeline and
carry class labels ``0..C-1`` of the split's people (for identity networks) and landmarks when the
source has them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fh_gym.data import FaceDataset, build_dataset
from fh_gym.degradations import Degradation
from fh_gym.restorers.config import merge_config
from fh_gym.restorers.training.recipe import PairBatch


class PairSampler:
    """Random (or fixed) batches of :class:`PairBatch` from one dataset split.

    Args:
        data: Typed data block (``{type: lfw, split: train, ...}``).
        degradation: Degradation config overrides (``{scale: 8, ...}``).
        seed: Seed of the sampler's generator (faces and degradations).
        device: Where the batches go.
        min_images_per_identity: Keep only people with at least this many images (identity training).
        dataset: A ready dataset (else built from ``data``).
    """

    def __init__(self, data: dict[str, Any], degradation: dict[str, Any], seed: int = 0,
                 device: torch.device | str = "cpu", min_images_per_identity: int = 1,
                 dataset: FaceDataset | None = None) -> None:
        dataset = dataset if dataset is not None else build_dataset(data)
        if min_images_per_identity > 1:
            ids, counts = np.unique(dataset.identities, return_counts=True)
            keep = np.isin(dataset.identities, ids[counts >= min_images_per_identity])
            if not keep.any():
                raise ValueError(f"no person in {dataset.source} has {min_images_per_identity} images")
            dataset = dataset.subset(np.flatnonzero(keep))
        self.dataset = dataset
        self.degrade = Degradation.from_config(merge_config(Degradation.default_config(), degradation))
        self.scale = self.degrade.scale
        self.rng = np.random.default_rng(seed)
        self.device = torch.device(device)
        people, labels = np.unique(dataset.identities, return_inverse=True)
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.num_identities = len(people)
        #: the person name of each class label (identity checkpoints store it to map people to classes)
        self.class_names = [dataset.identity_names[i] for i in people]

    def batch(self, indices: np.ndarray, rng: np.random.Generator) -> PairBatch:
        hr = self.dataset.hr_float(indices, self.device)
        degraded = self.degrade(hr, rng)
        landmarks = None
        if self.dataset.landmarks is not None:
            landmarks = torch.from_numpy(self.dataset.landmarks[indices]).to(self.device, torch.float32)
        occlusion = degraded.occlusion_mask
        return PairBatch(hr=hr, lr=degraded.lr.to(self.device), identities=self.labels[indices].to(self.device),
                         landmarks=landmarks,
                         occlusion=None if occlusion is None else occlusion.to(self.device, torch.float32))

    def __call__(self, batch_size: int) -> PairBatch:
        """``batch_size`` random faces (with replacement across calls) with fresh degradations."""
        return self.batch(self.rng.integers(len(self.dataset), size=batch_size), self.rng)

    def fixed_indices(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Sorted indices of up to ``count`` distinct faces drawn from ``rng`` (the faces :meth:`fixed` picks)."""
        return np.sort(rng.choice(len(self.dataset), size=min(count, len(self.dataset)), replace=False))

    def fixed(self, count: int, seed: int = 12345) -> PairBatch:
        """A reproducible batch of up to ``count`` distinct faces (validation)."""
        rng = np.random.default_rng(seed)
        return self.batch(self.fixed_indices(count, rng), rng)
