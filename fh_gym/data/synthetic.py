"""Built-in procedural face dataset: seeded identities, per-image pose/lighting/expression, exact landmarks.

Nothing is downloaded. Each identity has persistent traits (face outline, skin tone, hair colour and style,
eyes, brows, nose, mouth, glasses, beard, background), drawn once into a per-identity base image; every
image then adds expression-dependent features, skin texture, a pose (rotation, shift, scale, mild yaw) and
lighting. Randomness comes from ``np.random.default_rng([seed, stream, identity(, image)])`` so a dataset
is byte-identical for the same arguments and an identity looks the same whatever the dataset size.

The traits and their random streams are in :mod:`fh_gym.data.synthetic_traits`, the drawing in
:mod:`fh_gym.data.synthetic_render`.
"""

from __future__ import annotations

import numpy as np
import torch

from fh_gym.data.base import DATASETS, FaceDataset
from fh_gym.data.synthetic_render import FaceRenderer
from fh_gym.data.synthetic_traits import identity_rng, image_rng, sample_identity, sample_jitter
from fh_gym.restorers.config import ConfigError


@DATASETS.register("synthetic")
def synthetic_faces(identities: int = 96, images_per_identity: int = 8, image_size: int = 128,
                    seed: int = 0) -> FaceDataset:
    """Generate the procedural face dataset (no download, byte-identical for the same arguments).

    Args:
        identities: Number of people.
        images_per_identity: Images of each person (pose, lighting and expression vary).
        image_size: Output side S in pixels (>= 32); rendered at 2S and area-downsampled.
        seed: Non-negative seed; person ``i`` of seed ``s`` is the same in any dataset size.

    Returns:
        A :class:`FaceDataset` with images (N, 3, S, S) uint8 RGB ordered person by person, identity names
        ``"synthetic_0007"``, image names ``"synthetic_0007_0003"`` and exact landmarks (N, 5, 2) float32
        (x, y) in output pixels (pixel centres at integers) in the order of ``LANDMARK_NAMES``.

    Raises:
        ConfigError: for non-positive counts, a negative seed or image_size < 32.
    """
    if identities < 1 or images_per_identity < 1 or seed < 0 or image_size < 32:
        raise ConfigError(f"synthetic: need identities >= 1, images_per_identity >= 1, seed >= 0 and "
                          f"image_size >= 32, got identities={identities} images_per_identity="
                          f"{images_per_identity} seed={seed} image_size={image_size}")
    count = identities * images_per_identity
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    landmarks = np.empty((count, 5, 2), dtype=np.float32)
    names: list[str] = []
    for person in range(identities):
        rng = identity_rng(seed, person)
        renderer = FaceRenderer(sample_identity(rng), image_size, rng)
        for image in range(images_per_identity):
            index = person * images_per_identity + image
            images[index], landmarks[index] = renderer.render(sample_jitter(image_rng(seed, person, image)))
            names.append(f"synthetic_{person:04d}_{image:04d}")
    return FaceDataset(
        images=torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))),
        identities=np.repeat(np.arange(identities, dtype=np.int64), images_per_identity),
        identity_names=[f"synthetic_{person:04d}" for person in range(identities)],
        names=names,
        landmarks=landmarks,
        source=f"synthetic(seed={seed})",
        meta={"seed": seed, "image_size": image_size},
    )
