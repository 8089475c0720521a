"""Pieces shared by the recipes that train or use an identity network (``identity-net``, ``sicnn``).

* :class:`RecognitionLoss` — the A-softmax loss of a :class:`~fh_gym.restorers.archs.sicnn_arch.CNNR` as one module,
  so DistributedDataParallel sees the whole computation in ``forward``;
* :func:`verification_metrics` — same/different-person verification on a labelled validation batch
  (:func:`pair_verification` on given features);
* :func:`class_label_map` — relabel a recipe's identity labels to the classes of a pretrained head.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.losses.identity import cosine_similarity
from fh_gym.restorers.training.verification import batch_pairs, kfold_verification

#: the optimiser keys the identity recipes share (``identity-net``, ``identity-distill``): Adam, the learning
#: rate divided by 10 at 60% and 85% of the steps, gradient clipping
OPTIMIZER_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.9,  # SGD only
    "weight_decay": 0.0,
    "lr_milestones": [0.6, 0.85],  # fractions of ``steps`` where the learning rate is divided by 10
    "grad_clip": 10.0,
}


def make_optimizer(name: str, params: Any, lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """``"adam"`` (fh-gym's CPU default: learns much faster in short runs) or ``"sgd"`` with momentum (the
    papers' choice for their recognisers)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")


def random_hflip(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Flip each image of (B, C, H, W) left-right with probability 1/2 (face-recognition augmentation)."""
    flip = torch.rand(images.shape[0], generator=generator, device="cpu") < 0.5
    if not bool(flip.any()):
        return images
    flip = flip.to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


class RecognitionLoss(nn.Module):
    """``forward(images, labels) -> mean A-softmax loss`` of an identity network with a head.

    Labels ``< 0`` (people the head has no class for) are left out of the mean. Wrapping this module (not
    the bare network) in DDP keeps the head's parameters inside DDP's forward.

    Args:
        net: A :class:`~fh_gym.restorers.archs.sicnn_arch.CNNR` built with ``num_classes > 0``.
    """

    paper = "SICNN Eq. 2 (L_FR, A-softmax)"
    paper_parameters: int | None = None

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        if getattr(net, "head", None) is None:
            raise ValueError("the identity network has no A-softmax head: build it with num_classes > 0")
        self.net = net

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        known = labels >= 0
        features = self.net(images)
        losses = self.net.head.loss(features, labels.clamp(min=0), reduction="none")
        return (losses * known).sum() / known.sum().clamp(min=1)


@torch.no_grad()
def recalibrate_batchnorm(net: nn.Module, batches: Iterable[Tensor]) -> None:
    """Re-estimate every batch-norm layer's running statistics as the plain average over ``batches``.

    During training the running statistics trail the moving network (momentum 0.1), and an identity
    network's features are nearly constant apart from small per-person variations: with stale statistics
    every eval-mode cosine is ~1. A pass over a few training batches (train-mode forward, no gradient, no
    parameter change) fixes that before evaluating or saving.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    was_training = net.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    net.train()
    try:
        for images in batches:
            net(images)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        net.train(was_training)


@torch.no_grad()
def embed(net: nn.Module, images: Tensor, batch_size: int = 64) -> Tensor:
    """(N, D) identity features of (N, 3, H, W) images, in chunks, in eval mode (mode restored)."""
    was_training = net.training
    net.eval()
    try:
        return torch.cat([net(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
    finally:
        net.train(was_training)


def flip_averaged(features: Tensor, mirrored: Tensor) -> Tensor:
    """Unit mean of the unit features of faces and of their mirror images (test-time flip averaging)."""
    return F.normalize(F.normalize(features, dim=1) + F.normalize(mirrored, dim=1), dim=1)


def verification_metrics(net: nn.Module, images: Tensor, labels: Tensor, prefix: str = "eval/") -> dict[str, float]:
    """Verification on every same-person pair of a batch and as many different-person pairs.

    Returns ``{prefix + name: value}``: ``verification_acc`` (10-fold threshold protocol, or 2-fold with few
    pairs), ``roc_auc``, ``cos_same`` and ``cos_different`` (mean cosines). Without a same-person pair only
    the mean different-pair cosine is returned.
    """
    return pair_verification(embed(net, images), labels, prefix)


def pair_verification(features: Tensor, labels: Tensor, prefix: str = "eval/") -> dict[str, float]:
    """:func:`verification_metrics` of given (N, D) features (e.g. a teacher recogniser's embeddings)."""
    first, second, same = batch_pairs(labels.cpu().numpy(), max_negatives_per_positive=1)
    if len(first) == 0:
        return {}
    scores = cosine_similarity(features[first], features[second]).cpu().numpy()
    metrics = {f"{prefix}cos_different": float(scores[~same].mean())} if (~same).any() else {}
    if same.any() and (~same).any():
        folds = min(10, int(same.sum()), int((~same).sum()))
        if folds >= 2:
            # Interleave so every contiguous fold holds both kinds of pairs.
            order = np.argsort(np.concatenate([np.arange(same.sum()), np.arange((~same).sum())]), kind="stable")
            result = kfold_verification(scores[order], same[order], folds)
            metrics[f"{prefix}verification_acc"] = result.accuracy
            metrics[f"{prefix}roc_auc"] = result.auc
        metrics[f"{prefix}cos_same"] = float(scores[same].mean())
    return metrics


def class_label_map(recipe_classes: Sequence[str] | None, head_classes: Sequence[str] | None,
                    num_identities: int) -> Tensor | None:
    """(C_recipe,) int64 map from a recipe's identity labels to a pretrained head's classes (-1: none).

    Returns ``None`` when no relabelling is needed (same class list, or names unknown on both sides and the
    counts agree).

    Raises:
        ValueError: If the class lists are unknown and the counts differ, or no recipe person is a head class.
    """
    if recipe_classes is None or head_classes is None:
        if head_classes is not None and len(head_classes) != num_identities:
            raise ValueError(f"the identity checkpoint has {len(head_classes)} classes but the training data "
                             f"{num_identities} people, and the data's names are unknown to map them")
        return None
    if list(recipe_classes) == list(head_classes):
        return None
    index = {name: i for i, name in enumerate(head_classes)}
    mapping = torch.tensor([index.get(name, -1) for name in recipe_classes], dtype=torch.long)
    if not bool((mapping >= 0).any()):
        raise ValueError(f"none of the {len(recipe_classes)} training people is a class of the identity checkpoint "
                         f"({len(head_classes)} classes, e.g. {list(head_classes)[:3]}): train the identity net "
                         "on the same data")
    return mapping
