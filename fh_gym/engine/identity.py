"""The identity terms of the IPFH long-term reward (IPFH Eqs. 12-14).

``IPFHReward`` builds :class:`IdentityTerms` when its ``identity_net`` block is set, e.g.::

    reward:
      type: ipfh
      identity_net: {type: CNNR, checkpoint: runs/identity-net/identity_net.pt, margin: 1.5}
      texture_features: {type: CNNR, checkpoint: runs/identity-net/identity_net.pt, layer: res1}

``margin`` (optional) is the A-softmax margin of ``L_id`` (default: the one the head was trained with;
IPFH uses 1.5); ``layer`` turns an identity network into Gram-texture features
(:func:`fh_gym.engine.dual_domain.build_texture_features`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from fh_gym.engine.networks import NetworkBuilder, frozen
from fh_gym.engine.view import EpisodeView
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.losses.identity import a_softmax_loss, cosine_similarity, feature_distance


class IdentityTerms:
    """``L_f`` and ``L_id`` of IPFH for the face slots of an engine.

    * ``feature`` — IPFH Eq. 13, ``L_f = ||phi(y_hat) - phi(y)||_2`` with phi the identity features; the truth's
      features are computed once per episode in :meth:`reset` (cached per face slot).
    * ``identity`` — IPFH Eq. 14, the A-softmax loss (no annealing, ``lambda = 0``) of ``phi(y_hat)`` for the
      face's person when the identity network was trained on that person (its checkpoint's
      ``meta["class_names"]``, matched with the person's name the engine took from the dataset at reset,
      :meth:`~fh_gym.engine.view.EpisodeView.identity_names`); otherwise (people never seen in training,
      faces given by ``reset(options={"hr": ...})``, a network without a head) the cosine distance
      ``1 - cos(phi(y_hat), phi(y))``.

    Args:
        networks: Builds the identity network (the engine's scale and device); the network stays fixed.
        view: The episode state of the slots scored (HR truth, people's names).
        block: ``{type: CNNR, checkpoint: path, margin: m}``; ``margin`` is optional and not an
            architecture keyword (popped before the network is built).
    """

    paper = "IPFH Eqs. 13-14 (L_f, L_id)"
    paper_parameters: int | None = None

    def __init__(self, networks: NetworkBuilder, view: EpisodeView, block: Mapping[str, Any]) -> None:
        block = dict(block)
        margin = block.pop("margin", None)
        self.view = view
        self.net: nn.Module = frozen(networks(block, kind="aux"))
        head = getattr(self.net, "head", None)
        self.head = head
        self.margin = float(margin) if margin is not None else (head.margin if head is not None else 1.5)
        names = list(getattr(self.net, "checkpoint_meta", {}).get("class_names", []) or [])
        if head is not None and names and len(names) != head.num_classes:
            raise ConfigError(f"identity checkpoint {block.get('checkpoint')} has {head.num_classes} classes but "
                              f"{len(names)} class names")
        self.class_index = {name: i for i, name in enumerate(names)} if head is not None else {}
        n = view.num_envs
        self.truth_features: Tensor | None = None  # (N, D), allocated at the first reset
        self.labels = torch.full((n,), -1, dtype=torch.long, device=view.device)
        self.cached = torch.zeros(n, dtype=torch.bool, device=view.device)

    def _labels_for(self, slots: Tensor) -> Tensor:
        """Class index of each face's person in the identity network's classes (-1: unknown)."""
        if not self.class_index:
            return torch.full((len(slots),), -1, dtype=torch.long, device=self.view.device)
        names = self.view.identity_names(slots)
        labels = [-1 if name is None else self.class_index.get(name, -1) for name in names]
        return torch.tensor(labels, dtype=torch.long, device=self.view.device)

    @torch.no_grad()
    def reset(self, slots: Tensor) -> None:
        """Cache the truth's identity features and class labels of ``slots`` (new episodes)."""
        features = self.net(self.view.hr[slots])
        if self.truth_features is None:
            self.truth_features = features.new_zeros(self.view.num_envs, features.shape[1])
        self.truth_features[slots] = features
        self.labels[slots] = self._labels_for(slots)
        self.cached[slots] = True

    @torch.no_grad()
    def losses(self, images: Tensor, slots: Tensor) -> dict[str, Tensor]:
        """``{"feature": L_f (B,), "identity": L_id (B,)}`` of ``images`` (B, 3, H, W) for ``slots`` (B,)."""
        return self.per_face_losses(images, slots)

    def per_face_losses(self, images: Tensor, slots: Tensor) -> dict[str, Tensor]:
        """:meth:`losses`, differentiable in ``images`` (joint restorer training, IPFH Eq. 17)."""
        if not bool(self.cached[slots].all()):
            self.reset(slots[~self.cached[slots]])
        features = self.net(images)
        truth = self.truth_features[slots]
        labels = self.labels[slots]
        identity = 1.0 - cosine_similarity(features, truth)
        known = labels >= 0
        if self.head is not None and bool(known.any()):
            soft = a_softmax_loss(features, self.head.weight, labels.clamp(min=0), self.margin, 0.0, "none")
            identity = torch.where(known, soft, identity)
        return {"feature": feature_distance(features, truth), "identity": identity}

