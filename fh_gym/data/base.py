"""The in-memory face dataset every source produces, and the registry of data sources.

A :class:`FaceDataset` holds decoded, cropped HR faces as one uint8 tensor (N, 3, S, S), their identity
labels and (where known) 5-point landmarks. Each source (synthetic, LFW, CelebA, folders) is one module of
this package with a builder function registered in :data:`DATASETS`;
:func:`fh_gym.data.build.build_dataset` turns a typed config block into a dataset, splitting by identity and
caching the result in-process. This module is the leaf every other module of the package imports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fh_gym.restorers.registry import Registry

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

    def batch(self, indices: Sequence[int] | np.ndarray, device: torch.device | str = "cpu") -> FaceBatch:
        """The faces at ``indices`` with who they show (what an episode needs of its face)."""
        idx = np.asarray(indices, dtype=np.int64)
        return FaceBatch(hr=self.hr_float(idx, device), index=idx,
                         identity_names=[self.identity_names[p] for p in self.identities[idx]])


@dataclass
class FaceBatch:
    """Faces drawn from a :class:`FaceDataset`.

    Attributes:
        hr: (B, 3, S, S) float32 faces in [0, 1].
        index: (B,) their dataset indices.
        identity_names: The person each face shows (``FaceDataset.identity_names`` of its identity).
    """

    hr: torch.Tensor
    index: np.ndarray
    identity_names: list[str]


DatasetBuilder = Callable[..., FaceDataset]

#: every data source by ``data.type``: a builder ``fn(**kwargs) -> FaceDataset`` of the *whole* source
#: (unsplit), registered with ``@DATASETS.register("name")`` in its module of this package
DATASETS: Registry[DatasetBuilder] = Registry("data type", "fh_gym.data")


