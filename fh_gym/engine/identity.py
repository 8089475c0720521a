"""The identity terms of the IPFH long-term reward (IPFH Eqs. 12-14) and identity-net texture features.

``IPFHReward`` builds :class:`IdentityTerms` when its ``identity_net`` block is set, e.g.::

    reward:
      type: ipfh
      identity_net: {type: CNNR, checkpoint: runs/identity-net/identity_net.pt, margin: 1.5}
      texture_features: {type: CNNR, checkpoint: runs/identity-net/identity_net.pt, layer: res1}

``margin`` (optional) is the A-softmax margin of ``L_id`` (default: the one the head was trained with;
IPFH uses 1.5); ``layer`` turns an identity network into Gram-texture features (:func:`build_texture_features`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from fh_gym.config import ConfigError
from fh_gym.restorers.losses.identity import a_softmax_loss, cosine_similarity, feature_distance

if TYPE_CHECKING:
    from fh_gym.engine.core import RepairEngine


class IdentityTerms:
    """``L_f`` and ``L_id`` of IPFH for the faces of a :class:`~fh_gym.engine.core.RepairEngine`.

    * ``feature`` — IPFH Eq. 13, ``L_f = ||phi(y_hat) - phi(y)||_2`` with phi the identity features; the truth's
      features are computed once per episode in :meth:`reset` (cached per face slot).
    * ``identity`` — IPFH Eq. 14, the A-softmax loss (no annealing, ``lambda = 0``) of ``phi(y_hat)`` for the
      face's person when the identity network was trained on that person (its checkpoint's
      ``meta["class_names"]``, matched by name through ``engine.dataset``); otherwise (people never seen in
      training, faces given by ``reset(options={"hr": ...})``, a network without a head) the cosine
      distance ``1 - cos(phi(y_hat), phi(y))``.

    Args:
        engine: The engine whose faces are scored (device, dataset, face indices, HR truth).
        block: ``{type: CNNR, checkpoint: path, margin: m}``; ``margin`` is optional and not an
            architecture keyword (popped before the network is built).
    """

    paper = "IPFH Eqs. 13-14 (L_f, L_id)"
    paper_parameters: int | None = None

    def __init__(self, engine: RepairEngine, block: Mapping[str, Any]) -> None:
        block = dict(block)
        margin = block.pop("margin", None)
        self.engine = engine
        self.net: nn.Module = engine.build_scaled_network(block, kind="aux").eval()
        head = getattr(self.net, "head", None)
        self.head = head
        self.margin = float(margin) if margin is not None else (head.margin if head is not None else 1.5)
        names = list(getattr(self.net, "checkpoint_meta", {}).get("class_names", []) or [])
        if head is not None and names and len(names) != head.num_classes:
            raise ConfigError(f"identity checkpoint {block.get('checkpoint')} has {head.num_classes} classes but "
                              f"{len(names)} class names")
        self.class_index = {name: i for i, name in enumerate(names)} if head is not None else {}
        n = engine.num_envs
        self.truth_features: Tensor | None = None  # (N, D), allocated at the first reset
        self.labels = torch.full((n,), -1, dtype=torch.long, device=engine.device)
        self.cached = torch.zeros(n, dtype=torch.bool, device=engine.device)

    def _labels_for(self, faces: Tensor) -> Tensor:
        """Class index of each face's person in the identity network's classes (-1: unknown)."""
        if not self.class_index:
            return torch.full((len(faces),), -1, dtype=torch.long, device=self.engine.device)
        index = self.engine.face_index[faces.cpu().numpy()]
        labels = np.full(len(index), -1, dtype=np.int64)
        known = index >= 0
        if known.any():
            dataset = self.engine.dataset
            people = dataset.identities[index[known]]
            labels[known] = [self.class_index.get(dataset.identity_names[p], -1) for p in people]
        return torch.from_numpy(labels).to(self.engine.device)

    @torch.no_grad()
    def reset(self, faces: Tensor) -> None:
        """Cache the truth's identity features and class labels of ``faces`` (new episodes)."""
        features = self.net(self.engine.hr[faces])
        if self.truth_features is None:
            self.truth_features = features.new_zeros(self.engine.num_envs, features.shape[1])
        self.truth_features[faces] = features
        self.labels[faces] = self._labels_for(faces)
        self.cached[faces] = True

    @torch.no_grad()
    def losses(self, images: Tensor, faces: Tensor) -> dict[str, Tensor]:
        """``{"feature": L_f (B,), "identity": L_id (B,)}`` of ``images`` (B, 3, H, W) for ``faces`` (B,)."""
        return self.per_face_losses(images, faces)

    def per_face_losses(self, images: Tensor, faces: Tensor) -> dict[str, Tensor]:
        """:meth:`losses`, differentiable in ``images`` (joint restorer training, IPFH Eq. 17)."""
        if not bool(self.cached[faces].all()):
            self.reset(faces[~self.cached[faces]])
        features = self.net(images)
        truth = self.truth_features[faces]
        labels = self.labels[faces]
        identity = 1.0 - cosine_similarity(features, truth)
        known = labels >= 0
        if self.head is not None and bool(known.any()):
            soft = a_softmax_loss(features, self.head.weight, labels.clamp(min=0), self.margin, 0.0, "none")
            identity = torch.where(known, soft, identity)
        return {"feature": feature_distance(features, truth), "identity": identity}


def build_texture_features(engine: RepairEngine, block: Mapping[str, Any]) -> nn.Module:
    """The Gram-texture feature network of a reward block.

    ``{type: CNNR, checkpoint: ..., layer: res1}`` gives the identity network's conv maps at ``layer``
    (IPFH takes its texture features from the recognition network); any other block (default
    ``{type: GaborTextureFeatures}``) is built as an ``aux`` network.
    """
    block = dict(block)
    layer = block.pop("layer", None)
    net = engine.build_scaled_network(block, kind="aux").eval()
    if layer is None:
        return net
    from fh_gym.restorers.archs.sicnn_arch import CNNR, CNNRFeatureMaps

    if not isinstance(net, CNNR):
        raise ConfigError(f"texture_features.layer is only for CNNR identity networks, not {block.get('type')}")
    return CNNRFeatureMaps(net, str(layer)).eval()
