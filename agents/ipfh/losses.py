"""IPFH restoration losses: the patch loss (Eq. 16) each step and the image loss (Eq. 17) at T.

* Patch loss ``L_p`` (Eq. 16): MSE + Gram texture between the restored patch and the HR truth (HR domain)
  and between the restored patch brought down to the LR grid and the LR input patch (LR domain), each
  over the repaired box only.
* Image loss ``L_im`` (Eq. 17): whole-image MSE + Gram texture against the HR truth, MSE in the LR domain
  (the hallucinated face brought down vs the LR input: the paper's dual-domain consistency), plus the
  identity-feature distance ``L_f`` and identity loss ``L_id`` (A-softmax for people the identity net was
  trained on, else cosine distance) when an identity network is configured, as the env's reward
  (:class:`fh_gym.engine.identity.IdentityTerms`, whose truth features and labels are reused).

The texture features (``phi``) and the LR-domain mapping are set up exactly as for the env's ``ipfh``
reward (one :class:`fh_gym.engine.dual_domain.DualDomain`): a fixed Gabor bank by default (the paper uses
SphereFace features) and antialiased bicubic ("resize", IPFH Table X "down-sampling") or a conv downsampler
block (``IPFHDualDownsampler``, Table X "convolution"); both are kept fixed (the paper trains neither jointly).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from fh_gym.engine.core import RepairEngine
from fh_gym.engine.dual_domain import DualDomain
from fh_gym.engine.identity import IdentityTerms

PATCH_TERMS = ("mse", "texture", "lr_mse", "lr_texture")
IMAGE_TERMS = ("mse", "texture", "lr_mse", "feature", "identity")


class IPFHLosses:
    """The Eq. 16 / Eq. 17 terms, differentiable in the restored pixels.

    Args:
        engine: The training engine (its network builder and episode view).
        texture_features: Network block for phi (default: ``{type: GaborTextureFeatures}``; ``{type: CNNR,
            checkpoint: ..., layer: res1}`` takes the identity network's maps, as the paper).
        lr_domain: ``"resize"`` or a network block mapping HR to LR.
        identity_net: Identity network block for ``L_f`` / ``L_id`` (None: no identity terms).
    """

    def __init__(self, engine: RepairEngine, texture_features: Mapping[str, Any] | None = None,
                 lr_domain: str | Mapping[str, Any] = "resize", identity_net: Mapping[str, Any] | None = None) -> None:
        self.scale = engine.scale
        self.dual = DualDomain(engine.networks, texture_features, lr_domain, where="restorer_loss")
        self.phi, self.down = self.dual.texture, self.dual.down
        self.identity = None if identity_net is None else IdentityTerms(engine.networks, engine.view, identity_net)

    def start_episode(self, slots: Tensor) -> None:
        """Cache the truth's identity features / labels of the new episodes' faces."""
        if self.identity is not None:
            self.identity.reset(slots)

    def identity_losses(self, images: Tensor, slots: Tensor) -> dict[str, Tensor]:
        """IPFH Eqs. 13-14 *with* gradients to ``images`` (the env's reward computes them without)."""
        return {name: value.mean() for name, value in self.identity.per_face_losses(images, slots).items()}

    def downsample(self, hr: Tensor) -> Tensor:
        return self.dual.downsample(hr)

    def patch(self, restored: Tensor, hr: Tensor, lr: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Eq. 16 terms (scalars, mean over the batch) for windows (B, 3, w, w) with box ``mask`` (B, 1, w, w)."""
        terms = self.dual.patch_terms(restored, hr, lr, mask)
        return {name: value.mean() for name, value in terms.items()}

    def image(self, images: Tensor, hr: Tensor, lr: Tensor, slots: Tensor) -> dict[str, Tensor]:
        """Eq. 17 terms (scalars) for whole images (B, 3, H, W); ``slots`` index the engine's slots."""
        out = {"mse": ((images - hr) ** 2).mean(), "texture": self.phi.distance(images, hr).mean(),
               "lr_mse": ((self.downsample(images) - lr) ** 2).mean()}
        if self.identity is not None:
            out.update(self.identity_losses(images, slots))
        return out


def weighted_sum(terms: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor:
    """``sum_k weights[k] * terms[k]`` over the terms present."""
    return sum(float(weights[k]) * v for k, v in terms.items())
