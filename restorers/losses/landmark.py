"""Landmark losses of OFHNet: landmark regression (to pre-train the landmark net) and the semantic
structure loss (OFHNet Sec. 3.2, Eq. 5).

Coordinate form, not heatmaps: OFHNet's landmark net (the first level CNN of its ref. [25]) regresses
point coordinates with a Euclidean objective and Eq. 5 compares "the last layer" of the fixed net on the
generated and the real HR face, i.e. the predicted coordinates. Coordinates here are *normalised*:
``(x + 0.5) / W, (y + 0.5) / H`` in [0, 1] (pixel centres at integers, as ``PairBatch.landmarks``), so
the losses do not depend on the image size.

Layout: landmarks ``(B, K, 2)`` (x, y); images ``B x 3 x H x W`` in [0, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def normalize_landmarks(points: Tensor, height: int, width: int) -> Tensor:
    """HR pixel (x, y) coordinates -> [0, 1] coordinates (pixel centres at integers)."""
    scale = points.new_tensor([1.0 / width, 1.0 / height])
    return (points + 0.5) * scale


def denormalize_landmarks(points: Tensor, height: int, width: int) -> Tensor:
    """[0, 1] coordinates -> HR pixel (x, y) coordinates."""
    return points * points.new_tensor([float(width), float(height)]) - 0.5


def landmark_regression_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared Euclidean point error ``mean_b mean_k ||p_bk - t_bk||^2`` (the landmark net's objective).

    Args:
        pred: (B, K, 2) predicted normalised coordinates.
        target: (B, K, 2) true normalised coordinates.
    """
    if pred.shape != target.shape:
        raise ValueError(f"landmark shapes differ: predicted {tuple(pred.shape)}, target {tuple(target.shape)}")
    return (pred - target).pow(2).sum(dim=-1).mean()


def semantic_structure_loss(landmark_net: nn.Module, generated: Tensor, real: Tensor) -> Tensor:
    """OFHNet Eq. 5: ``mean_i ||A(h'_i) - A(h_i)||^2`` with the fixed landmark net ``A``.

    ``A(h)`` of the real face is a constant target (no gradient); gradients flow into ``generated``
    only. Freeze ``landmark_net`` (``requires_grad_(False)``, eval mode) before calling this.

    Args:
        landmark_net: Maps ``B x 3 x H x W`` faces to (B, K, 2) normalised coordinates.
        generated: Generated HR faces ``h'``.
        real: Ground-truth HR faces ``h``.
    """
    with torch.no_grad():
        target = landmark_net(real)
    return landmark_regression_loss(landmark_net(generated), target)
