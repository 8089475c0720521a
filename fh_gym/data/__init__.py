"""Face data sources (synthetic, LFW, CelebA, folders), identity splits and caching."""

from fh_gym.data.base import (
    DATASET_REGISTRY,
    LANDMARK_NAMES,
    DatasetError,
    FaceDataset,
    build_dataset,
    clear_dataset_cache,
    register_dataset,
)

__all__ = [
    "DATASET_REGISTRY",
    "LANDMARK_NAMES",
    "DatasetError",
    "FaceDataset",
    "build_dataset",
    "clear_dataset_cache",
    "register_dataset",
]
