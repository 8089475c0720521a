"""Losses shared by the training recipes (one module per idea).

* :mod:`~fh_gym.restorers.losses.ssim` — differentiable SSIM, ``1 - SSIM`` and C-SRIP's multi-scale SSIM loss;
* :mod:`~fh_gym.restorers.losses.texture` — Gram-matrix texture distance (IPFH);
* :mod:`~fh_gym.restorers.losses.adversarial` — standard GAN losses (SRGAN, OFHNet);
* :mod:`~fh_gym.restorers.losses.landmark` — landmark regression and OFHNet's semantic structure loss;
* :mod:`~fh_gym.restorers.losses.identity` — A-softmax (SphereFace), SICNN super-identity loss, IPFH feature loss.
"""

from fh_gym.restorers.losses.adversarial import (
    discriminator_loss,
    frozen_discriminator_loss,
    generator_adversarial_loss,
    set_requires_grad,
)
from fh_gym.restorers.losses.identity import (
    a_softmax_logits,
    a_softmax_loss,
    angular_margin_psi,
    cosine_similarity,
    feature_distance,
    super_identity_loss,
)
from fh_gym.restorers.losses.landmark import landmark_regression_loss, semantic_structure_loss
from fh_gym.restorers.losses.ssim import SSIMLoss, multiscale_ssim_loss, ssim, ssim_loss, ssim_map
from fh_gym.restorers.losses.texture import GramTexture

__all__ = [
    "GramTexture",
    "SSIMLoss",
    "a_softmax_logits",
    "a_softmax_loss",
    "angular_margin_psi",
    "cosine_similarity",
    "discriminator_loss",
    "feature_distance",
    "frozen_discriminator_loss",
    "generator_adversarial_loss",
    "landmark_regression_loss",
    "multiscale_ssim_loss",
    "semantic_structure_loss",
    "set_requires_grad",
    "ssim",
    "ssim_loss",
    "ssim_map",
    "super_identity_loss",
]
