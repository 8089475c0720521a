"""Scoring every candidate patch from one fully convolutional feature map (the spatial policy heads).

Shared by the SB3 spatial head (:mod:`fh_gym.agents.sb3.spatial`) and the paper agents' ``SpatialPolicy``
(:mod:`fh_gym.agents.policies.spatial`). A trunk makes a stride-8 map of the 12-channel stack [I_t, I_0,
coverage, I_t - I_0, y, x] (two coordinate channels); each candidate's score is one linear function of the map's
mean over *its own box* (an integral image: exact to 8 pixels for any size, position, ratio or scale) and of the
box's normalised geometry, so the same weights score every location (IPFH's softmax over locations). A ``stop``
action (adaptive budgets) is no box: its score is a linear function of the pooled map.

For ``MultiDiscrete`` actions (``box``: x, y, ratio, scale) every combination is scored, a joint table
``L[x, y, r, s]``, and each factor's logits are the joint's marginal (log-sum-exp over the other factors): the
factorised distributions of SB3 and of the paper agents sample the factors independently.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.engine.actions import build_action_type
from fh_gym.engine.actions.base import ActionType

#: pixels per cell of the feature map the boxes are averaged on
MAP_STRIDE = 8
#: channels of the stack the trunk reads: I_t, I_0, coverage, I_t - I_0, y, x
STACK_CHANNELS = 12


def action_candidates(kind: ActionType) -> tuple[Tensor, list[int], bool]:
    """(K, 4) (top, left, height, width) pixel boxes of every candidate patch of an action type, in the order the
    factorised logits take (``Discrete``: action order; ``MultiDiscrete``: C order over ``nvec``), the factor
    sizes (the patches only) and whether a ``stop`` action follows the patches."""
    space = kind.space
    stop = kind.stop_action is not None
    if isinstance(space, gym.spaces.Discrete):
        cells = int(space.n) - int(stop)
        actions, dims = np.arange(cells), [cells]
    elif isinstance(space, gym.spaces.MultiDiscrete):
        dims = [int(n) for n in space.nvec]
        actions = np.stack(np.unravel_index(np.arange(int(np.prod(dims))), dims), axis=1)
    else:
        raise ValueError(f"the spatial head needs Discrete or MultiDiscrete actions; action type {kind.name!r} has "
                         f"{space}")
    return kind.to_boxes(actions).float(), dims, stop


def candidate_boxes(action: dict[str, Any], image_size: int) -> tuple[Tensor, list[int], bool]:
    """:func:`action_candidates` of an env's ``action`` block."""
    return action_candidates(build_action_type(action, image_size))


def logit_length(dims: list[int], stop: bool) -> int:
    """Length of the factorised logits of factors ``dims`` (plus the stop action's)."""
    return int(sum(dims)) + int(stop)


def factor_marginals(joint: Tensor, dims: list[int]) -> Tensor:
    """The factorised logits of (B, K) joint scores over factors ``dims`` (C order): as-is for one factor,
    else each factor's marginal (log-sum-exp over the others), concatenated."""
    if len(dims) == 1:
        return joint
    table = joint.view(-1, *dims)
    factors = range(len(dims))
    return torch.cat([table.logsumexp(dim=[k + 1 for k in factors if k != d]) for d in factors], dim=1)


def with_coordinates(stack: Tensor) -> Tensor:
    """``stack`` (B, C, H, W) with the y and x coordinate channels in [-1, 1] appended."""
    b, _, h, w = stack.shape
    ys = torch.linspace(-1, 1, h, device=stack.device).view(1, 1, h, 1).expand(b, 1, h, w)
    xs = torch.linspace(-1, 1, w, device=stack.device).view(1, 1, 1, w).expand(b, 1, h, w)
    return torch.cat([stack, ys, xs], dim=1)


def spatial_stack(image: Tensor, start: Tensor, coverage: Tensor) -> Tensor:
    """(B, 12, S, S) trunk input from images in [0, 1] and the coverage in episode fractions (B, 1, S, S)."""
    return with_coordinates(torch.cat([image, start, coverage, image - start], dim=1))


class SpatialScoring:
    """Mixin of an ``nn.Module``: the trunk, the per-candidate score and the stop score as its own layers
    (``trunk``, ``score``, ``stop_score``), and ``score_candidates(stack, extra) -> (logits, pooled)``.

    Call :meth:`build_scoring` in ``__init__`` (after ``nn.Module.__init__``) and :meth:`set_candidates` before
    the first forward.
    """

    def build_scoring(self, in_channels: int = STACK_CHANNELS, width: int = 16, extra_features: int = 0,
                      stop: bool = False) -> None:
        """The layers: ``in_channels`` of stack, ``width`` channels in the first conv (``2 * width`` in the map),
        ``extra_features`` appended to the pooled map, and a stop score when ``stop``."""
        channels = 2 * int(width)
        self.trunk = nn.Sequential(  # 128 -> 64 -> 32 -> 16 (stride 8), receptive field ~70 px
            nn.AvgPool2d(2),
            nn.Conv2d(in_channels, width, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(width, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=2, dilation=2), nn.ReLU(),
        )
        self.score = nn.Linear(channels + 4, 1)
        #: length of the pooled features (mean and max of the map, then the extra vector)
        self.pooled_size = 2 * channels + int(extra_features)
        self.stop_score = nn.Linear(self.pooled_size, 1) if stop else None
        self.action_dims: list[int] = []
        self.has_stop = False

    def set_candidates(self, boxes: Tensor, dims: list[int], stop: bool, image_size: int) -> None:
        """The candidate boxes (K, 4) in pixels of ``image_size`` images, the factor sizes, whether there is a
        ``stop`` action (non-persistent buffers: the action type rebuilds them)."""
        if image_size % MAP_STRIDE:
            raise ValueError(f"the spatial head needs images whose side is a multiple of {MAP_STRIDE}, got "
                             f"{image_size}")
        if stop and self.stop_score is None:
            raise ValueError("the action space has a stop action but the spatial head was built without one")
        cells = (boxes / MAP_STRIDE).round().long()
        side = image_size // MAP_STRIDE
        top, left = cells[:, 0].clamp(max=side - 1), cells[:, 1].clamp(max=side - 1)
        bottom = torch.maximum(top + 1, (cells[:, 0] + cells[:, 2]).clamp(max=side))
        right = torch.maximum(left + 1, (cells[:, 1] + cells[:, 3]).clamp(max=side))
        device = self.score.weight.device
        self.register_buffer("box_cells", torch.stack([top, left, bottom, right], 1).to(device), persistent=False)
        geometry = torch.stack([(boxes[:, 0] + boxes[:, 2] / 2), (boxes[:, 1] + boxes[:, 3] / 2), boxes[:, 2],
                                boxes[:, 3]], 1) / image_size
        self.register_buffer("box_geometry", geometry.to(device), persistent=False)
        self.action_dims, self.has_stop = list(dims), bool(stop)

    @property
    def logit_size(self) -> int:
        """Length of the factorised logits (the sum of the factor sizes, plus the stop action's)."""
        return logit_length(self.action_dims, self.has_stop)

    def reset_logits(self, gain: float = 0.01) -> None:
        """Near-uniform first policy (SB3 and the paper agents start their action heads small too)."""
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

    def factor_logits(self, joint: Tensor) -> Tensor:
        """The factorised logits from the (B, K) joint scores (:func:`factor_marginals`)."""
        return factor_marginals(joint, self.action_dims)

    def score_candidates(self, stack: Tensor, extra: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(logits (B, logit_size), pooled (B, pooled_size))`` of a (B, C, S, S) stack."""
        if not self.action_dims:
            raise RuntimeError("set_candidates() was not called")
        maps = self.trunk(stack)
        geometry = self.box_geometry.unsqueeze(0).expand(len(stack), -1, -1)
        joint = self.score(torch.cat([self.box_means(maps), geometry], dim=2)).squeeze(2)
        pooled = torch.cat([maps.mean((2, 3)), maps.amax((2, 3)), *(() if extra is None else (extra,))], dim=1)
        logits = self.factor_logits(joint)
        if self.has_stop:
            logits = torch.cat([logits, self.stop_score(pooled)], dim=1)
        return logits, pooled
