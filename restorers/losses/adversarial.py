"""GAN losses of SRGAN and OFHNet: the standard (Goodfellow) minimax game with the non-saturating G loss.

Both papers write the discriminator objective as ``E[log D(h)] + E[log(1 - D(G(l)))]`` (OFHNet Eq. 3,
SRGAN Eq. 2) and the generator loss as ``-log D(G(l))`` (OFHNet Eq. 4, SRGAN's adversarial loss).
Our discriminators return *logits* (the papers' final sigmoid is folded into the loss), so both are
binary cross-entropies with logits, which is numerically stable where ``D`` saturates.

Layout: logits of any shape (``(B, 1)`` for the global discriminators here); results are scalars.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """``-[log D(real) + log(1 - D(fake))]`` averaged (OFHNet Eq. 3 negated, to be minimised).

    Args:
        real_logits: D's logits on real HR faces.
        fake_logits: D's logits on generated faces (detach them from the generator).
        real_label: Target for real faces; < 1 is one-sided label smoothing (Salimans et al.), 1 = papers.
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss ``-log D(G(l))`` averaged (OFHNet Eq. 4; SRGAN)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    """Freeze (False) or unfreeze (True) a network, e.g. the discriminator during the generator step."""
    for param in module.parameters():
        param.requires_grad_(flag)


def frozen_discriminator_loss(discriminator: nn.Module, fake: Tensor) -> Tensor:
    """The generator's adversarial loss on ``fake`` through a frozen ``discriminator``.

    D's parameters are frozen while the graph is built, so the generator step's backward gives D no
    gradient (pass the bare module, not its DDP wrapper, so no gradient reduction is triggered for D).
    """
    set_requires_grad(discriminator, False)
    try:
        return generator_adversarial_loss(discriminator(fake))
    finally:
        set_requires_grad(discriminator, True)
