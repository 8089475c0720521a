"""Face data sources (synthetic, LFW, CelebA, folders), identity splits and caching."""

# The source modules register themselves with the dataset registry when imported.
from fh_gym.data import celeba, folder, lfw, synthetic  # noqa: F401
from fh_gym.data.base import (
    DATASET_REGISTRY,
    LANDMARK_NAMES,
    DatasetError,
    FaceDataset,
    build_dataset,
    clear_dataset_cache,
    register_dataset,
)
from fh_gym.data.splits import split_by_identity

__all__ = [
    "DATASET_REGISTRY",
    "LANDMARK_NAMES",
    "DatasetError",
    "FaceDataset",
    "build_dataset",
    "clear_dataset_cache",
    "register_dataset",
    "split_by_identity",
]
