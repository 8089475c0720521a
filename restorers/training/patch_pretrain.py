"""Patch-restorer supervision: the loss on the repaired box and one optimisation step.

Used for pre-training on random patch pairs (IPFH: "we first pre-trained this network on randomly
selected patch pairs") and for joint fine-tuning during RL (Attention-FH Algorithm 1, line 18: the local
enhancement network is updated with the L2 loss between the restored patch and its HR truth).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from fh_gym.restorers.base import RepairContext
from fh_gym.restorers.training.loop import optimizer_step


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the pixels where ``mask`` > 0 (NCHW, [0, 1]); a scalar."""
    area = mask.sum().clamp(min=1.0) * pred.shape[1]
    return ((pred - target) ** 2 * mask).sum() / area


def restorer_step(restorer: nn.Module, optimizer: torch.optim.Optimizer, ctx: RepairContext, target: Tensor,
                  extra_loss: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None,
                  grad_clip: float | None = 1.0) -> dict[str, float]:
    """One supervised step: restore ``ctx``, L2 to ``target`` inside ``ctx.mask`` (+ ``extra_loss``).

    Args:
        restorer: The patch restorer being trained (in train mode).
        optimizer: Its optimiser.
        ctx: The repair inputs (their tensors must not require grad).
        target: (B, 3, w, w) HR truth of the windows.
        extra_loss: Optional ``fn(restored, target, mask) -> scalar`` added to the loss (e.g. texture).
        grad_clip: Max gradient norm (None or 0: no clipping).

    Returns:
        ``{"mse": ..., "psnr_box": ..., "loss": ...}`` as floats (``psnr_box`` in dB over the boxes).
    """
    restorer.train()
    restored = restorer(ctx)
    mse = masked_mse(restored, target, ctx.mask)
    loss = mse if extra_loss is None else mse + extra_loss(restored, target, ctx.mask)
    optimizer_step(optimizer, loss, restorer.parameters(), grad_clip)
    with torch.no_grad():
        clipped = masked_mse(restored.detach().clamp(0, 1), target, ctx.mask)
    return {"mse": mse.item(), "psnr_box": float(-10 * torch.log10(clipped.clamp(min=1e-12))),
            "loss": loss.item()}
