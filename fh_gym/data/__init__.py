"""Face data sources (synthetic, LFW, CelebA, folders; one module each, in :data:`DATASETS`), identity splits
and caching."""

from fh_gym.data.base import DATASETS, LANDMARK_NAMES, DatasetError, FaceBatch, FaceDataset
from fh_gym.data.build import build_dataset, clear_dataset_cache
from fh_gym.data.splits import split_by_identity

__all__ = [
    "DATASETS",
    "LANDMARK_NAMES",
    "DatasetError",
    "FaceBatch",
    "FaceDataset",
    "build_dataset",
    "clear_dataset_cache",
    "split_by_identity",
]
