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
  joint distribution that SB3's factorised action distribution forces; the paper agents' own policies
  (:mod:`fh_gym.agents.policies`) keep the joint.

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
import numpy as np
import torch
import torch.nn.functional as F
from sb3_contrib.common.maskable.policies import MaskableMultiInputActorCriticPolicy
from stable_baselines3.common.policies import MultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

from fh_gym.agents.sb3.features import VECTOR_KEYS, ObservationStack
from fh_gym.engine.actions import build_action_type

__all__ = ["FaceRepairSpatialMaskablePolicy", "FaceRepairSpatialPolicy", "SpatialExtractor"]

#: pixels per cell of the feature map the boxes are averaged on
MAP_STRIDE = 8


def candidate_boxes(action: dict[str, Any], image_size: int) -> tuple[Tensor, list[int], bool]:
    """(K, 4) (top, left, height, width) pixel boxes of every candidate action, in the order SB3's logits take
    (``Discrete``: action order; ``MultiDiscrete``: C order over ``nvec``), the action dims (``nvec``; the
    patches only) and whether a ``stop`` action follows the patches (adaptive budgets: its logit is not a box's)."""
    kind = build_action_type(action, image_size)
    space = kind.space
    stop = kind.stop_action is not None
    if isinstance(space, gym.spaces.Discrete):
        cells = int(space.n) - int(stop)
        actions, dims = np.arange(cells), [cells]
    elif isinstance(space, gym.spaces.MultiDiscrete):
        dims = [int(n) for n in space.nvec]
        actions = np.stack(np.unravel_index(np.arange(int(np.prod(dims))), dims), axis=1)
    else:
        raise ValueError(f"the spatial head needs Discrete or MultiDiscrete actions; action type "
                         f"{action.get('type')!r} has {space}")
    return kind.to_boxes(actions).float(), dims, stop


class SpatialExtractor(BaseFeaturesExtractor):
    """Fully convolutional trunk -> per-candidate logits (box means of the map) + global features.

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
        size = stack.image_size
        if size % MAP_STRIDE:
            raise ValueError(f"the spatial head needs images whose side is a multiple of {MAP_STRIDE}, got {size}")
        boxes, dims, self.has_stop = candidate_boxes(action, size)
        logit_size = (int(sum(dims)) if len(dims) > 1 else dims[0]) + int(self.has_stop)
        super().__init__(observation_space, logit_size + int(global_dim))
        self.stack = stack
        self.action_dims = dims
        self.logit_size = logit_size
        channels = 2 * int(width)
        self.trunk = nn.Sequential(  # 128 -> 64 -> 32 -> 16 (stride 8), receptive field ~70 px
            nn.AvgPool2d(2),
            nn.Conv2d(10 * stack.frames + 2, width, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(width, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=2, dilation=2), nn.ReLU(),
        )
        cells = (boxes / MAP_STRIDE).round().long()
        top, left = cells[:, 0], cells[:, 1]
        bottom = torch.maximum(top + 1, (cells[:, 0] + cells[:, 2]).clamp(max=size // MAP_STRIDE))
        right = torch.maximum(left + 1, (cells[:, 1] + cells[:, 3]).clamp(max=size // MAP_STRIDE))
        self.register_buffer("box_cells", torch.stack([top, left, bottom, right], 1), persistent=False)
        self.register_buffer("box_geometry", torch.stack([(boxes[:, 0] + boxes[:, 2] / 2) / size,
                                                          (boxes[:, 1] + boxes[:, 3] / 2) / size,
                                                          boxes[:, 2] / size, boxes[:, 3] / size], 1),
                             persistent=False)
        self.score = nn.Linear(channels + 4, 1)
        vector = sum(int(observation_space.spaces[k].shape[0]) for k in VECTOR_KEYS)
        self.global_head = nn.Sequential(nn.Linear(2 * channels + vector, int(global_dim)), nn.ReLU())
        # The stop action (adaptive budgets) is no box: its logit comes from the whole face's pooled features.
        self.stop_score = nn.Linear(2 * channels + vector, 1) if self.has_stop else None

    def reset_logits(self, gain: float = 0.01) -> None:
        """Near-uniform first policy (SB3 gives its own action nets gain 0.01 for the same reason)."""
        for layer in (self.score, self.stop_score):
            if layer is not None:
                nn.init.orthogonal_(layer.weight, gain=gain)
                nn.init.zeros_(layer.bias)

    def box_means(self, maps: Tensor) -> Tensor:
        """(B, K, C) mean of ``maps`` (B, C, h, w) over every candidate's box (integral image)."""
        integral = F.pad(maps.cumsum(2).cumsum(3), (1, 0, 1, 0))
        top, left, bottom, right = self.box_cells.unbind(1)
        sums = (integral[:, :, bottom, right] - integral[:, :, top, right] - integral[:, :, bottom, left]
                + integral[:, :, top, left])
        area = ((bottom - top) * (right - left)).to(maps.dtype)
        return (sums / area).transpose(1, 2)

    def logits(self, joint: Tensor) -> Tensor:
        """SB3's logits from the (B, K) joint scores: as-is (Discrete) or each dimension's marginal."""
        if len(self.action_dims) == 1:
            return joint
        table = joint.view(-1, *self.action_dims)
        marginals = []
        for d in range(len(self.action_dims)):
            others = [k + 1 for k in range(len(self.action_dims)) if k != d]
            marginals.append(table.logsumexp(dim=others))
        return torch.cat(marginals, dim=1)

    def forward(self, observations: dict[str, Tensor]) -> Tensor:
        stack = self.stack(observations)
        b, _, h, w = stack.shape
        ys = torch.linspace(-1, 1, h, device=stack.device).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=stack.device).view(1, 1, 1, w).expand(b, 1, h, w)
        maps = self.trunk(torch.cat([stack, ys, xs], dim=1))
        geometry = self.box_geometry.unsqueeze(0).expand(b, -1, -1)
        joint = self.score(torch.cat([self.box_means(maps), geometry], dim=2)).squeeze(2)
        vector = torch.cat([observations[k].float().flatten(1) for k in VECTOR_KEYS], dim=1)
        pooled = torch.cat([maps.mean((2, 3)), maps.amax((2, 3)), vector], dim=1)
        logits = self.logits(joint)
        if self.stop_score is not None:
            logits = torch.cat([logits, self.stop_score(pooled)], dim=1)
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
