"""A spatial (fully convolutional) action head for SB3 policies: one logit per candidate patch from a feature map.

The flatten + MLP policy (:class:`~fh_gym.agents.sb3.features.FaceRepairExtractor`) must learn *where* each of
its 49 outputs points from a flattened map; IPFH's policy instead takes a softmax over locations of a
spatial map. Here a fully convolutional trunk makes a stride-8 feature map of [I_t, I_0, coverage, I_t - I_0]
plus two coordinate channels, and every candidate action's logit is a linear function of the map's mean over
*its own box* (taken with an integral image, so any patch size, position, ratio or scale is exact to 8
pixels) and of the box's normalised geometry. The same weights score every location: a cell that looks like
another gets the same logit, whatever its index.

Actions (the candidates come from the env's own action type, :func:`fh_gym.engine.actions.build_action_type`):

* ``Discrete`` (``grid``): the logits are the candidates' scores in action order; MaskablePPO's masks apply
  to them unchanged, so a masked cell is never picked. A ``stop`` action (adaptive budgets) gets its logit
  from the pooled features of the whole face (a linear score), after the cells'.
* ``MultiDiscrete`` (``box``: x, y, ratio, scale): the candidates are every combination, their scores a
  joint logit tensor ``L[x, y, r, s]``; SB3's ``MultiCategorical`` samples each dimension independently, so
  each dimension's logits are the joint's marginal (log-sum-exp over the other dimensions). A deviation from a
  joint distribution that SB3's factorised action distribution forces (the paper agents' ``SpatialPolicy``
  shares this scoring, :mod:`fh_gym.agents.policies.spatial_scorer`).

Layout: the extractor's output is ``[action logits (sum of the action dims), global features (global_dim)]``;
:class:`SpatialHeadMixin` makes the policy's ``action_net`` read the first part as-is (``net_arch.pi`` is
empty) and the value net reads the whole vector.

Example (RL Baselines3 Zoo or plain SB3)::

    policy: fh_gym.agents.sb3.spatial.FaceRepairSpatialMaskablePolicy
    policy_kwargs: {features_extractor_kwargs: {action: {type: grid, patch_size: 32, stride: 16}, horizon: 4}}
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from sb3_contrib.common.maskable.policies import MaskableMultiInputActorCriticPolicy
from stable_baselines3.common.policies import MultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

from fh_gym.agents.policies.spatial_scorer import SpatialScoring, candidate_boxes, logit_length, with_coordinates
from fh_gym.agents.sb3.features import VECTOR_KEYS, ObservationStack

__all__ = ["FaceRepairSpatialMaskablePolicy", "FaceRepairSpatialPolicy", "SpatialExtractor", "candidate_boxes"]


class SpatialExtractor(SpatialScoring, BaseFeaturesExtractor):
    """The spatial scoring (:class:`~fh_gym.agents.policies.spatial_scorer.SpatialScoring`) of the SB3
    observation -> [the factorised logits, global features].

    Args:
        observation_space: The env's Dict space (images possibly transposed by SB3).
        action: The env's ``action`` block (``{type: grid, patch_size: 32, stride: 16}``...).
        horizon: Episode length T (coverage counts rescaled by it).
        width: Channels of the trunk's first conv (the map has ``2 * width``).
        global_dim: Length of the global features (value input, next to the logits).

    Raises:
        ValueError: If the observation lacks an fh-gym key, its images are not square multiples of 8 pixels,
            or the action type is continuous.
    """

    def __init__(self, observation_space: gym.spaces.Dict, action: dict[str, Any], horizon: int = 16,
                 width: int = 16, global_dim: int = 64) -> None:
        stack = ObservationStack(observation_space, horizon)
        boxes, dims, stop = candidate_boxes(action, stack.image_size)
        super().__init__(observation_space, logit_length(dims, stop) + int(global_dim))
        vector = sum(int(observation_space.spaces[k].shape[0]) for k in VECTOR_KEYS)
        self.stack = stack
        # 10 channels per frame ([I_t, I_0, coverage, I_t - I_0]) and the y, x coordinate channels
        self.build_scoring(10 * stack.frames + 2, int(width), extra_features=vector, stop=stop)
        self.set_candidates(boxes, dims, stop, stack.image_size)
        self.global_head = nn.Sequential(nn.Linear(self.pooled_size, int(global_dim)), nn.ReLU())

    def forward(self, observations: dict[str, Tensor]) -> Tensor:
        frames = self.stack(observations)
        vector = torch.cat([observations[k].float().flatten(1) for k in VECTOR_KEYS], dim=1)
        logits, pooled = self.score_candidates(with_coordinates(frames), vector)
        return torch.cat([logits, self.global_head(pooled)], dim=1)


class _Logits(nn.Module):
    """``action_net`` of a spatial policy: the first ``size`` features are the logits."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = int(size)

    def forward(self, latent: Tensor) -> Tensor:
        return latent[:, : self.size]


class SpatialHeadMixin:
    """Turns an SB3 actor-critic into a spatial one: :class:`SpatialExtractor`, an empty ``net_arch.pi`` and an
    ``action_net`` that reads the extractor's logits (the value net keeps its MLP, default ``[64]``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("features_extractor_class", SpatialExtractor)
        arch = kwargs.get("net_arch") or {}
        value = arch.get("vf", [64]) if isinstance(arch, dict) else list(arch)
        kwargs["net_arch"] = {"pi": [], "vf": value}
        super().__init__(*args, **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        extractor = self.features_extractor if self.share_features_extractor else self.pi_features_extractor
        self.action_net = _Logits(extractor.logit_size)
        extractor.reset_logits()
        # The optimiser was made over the replaced action net's parameters: make it again.
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)


class FaceRepairSpatialPolicy(SpatialHeadMixin, MultiInputActorCriticPolicy):
    """PPO / A2C with the spatial head."""


class FaceRepairSpatialMaskablePolicy(SpatialHeadMixin, MaskableMultiInputActorCriticPolicy):
    """MaskablePPO with the spatial head (a masked cell gets logit -inf: it is never picked)."""
