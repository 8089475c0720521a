"""Gram-matrix texture distance over a pluggable feature network (IPFH Eq. 11, after Gatys et al.).

This is the one implementation (the env's ``ipfh`` reward and the IPFH restorer losses both use it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GramTexture:
    """``L_tex(x, y) = mean((G(phi(x)) - G(phi(y)))^2)`` with optional per-pixel weights.

    Layout: images ``B x 3 x H x W`` in [0, 1]; weights ``B x 1 x H x W`` (resized to the feature maps by
    area interpolation); result ``(B,)``.

    Args:
        features: Any module mapping (B, 3, H, W) images in [0, 1] to (B, C, h, w) feature maps
            (IPFH uses the identity network's convolutional features; fh-gym's default is a fixed
            Gabor bank, :class:`fh_gym.restorers.archs.texture_arch.GaborTextureFeatures`).
    """

    paper = "IPFH, Eq. 11 (Gram texture loss, after Gatys et al.)"
    paper_parameters: int | None = 0

    def __init__(self, features: nn.Module) -> None:
        self.features = features

    @staticmethod
    def gram(feats: Tensor, weights: Tensor | None) -> Tensor:
        """(B, C, C) Gram matrices normalised by channels and (weighted) area."""
        c = feats.shape[1]
        if weights is None:
            flat = feats.flatten(2)
            return flat @ flat.transpose(1, 2) / (c * flat.shape[-1])
        if weights.shape[-2:] != feats.shape[-2:]:
            weights = F.interpolate(weights, size=feats.shape[-2:], mode="area")
        area = weights.sum(dim=(1, 2, 3)).clamp(min=1e-6)
        flat = feats.flatten(2)
        weighted = (feats * weights).flatten(2)
        return weighted @ flat.transpose(1, 2) / (c * area[:, None, None])

    def distance(self, x: Tensor, y: Tensor, weights: Tensor | None = None) -> Tensor:
        """(B,) texture distance between image batches ``x`` and ``y`` (same shape, [0, 1])."""
        both = self.features(torch.cat([x, y], dim=0))
        fx, fy = both.chunk(2, dim=0)
        return ((self.gram(fx, weights) - self.gram(fy, weights)) ** 2).mean(dim=(1, 2))
