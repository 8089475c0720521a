"""``SpatialPolicy``: a fully convolutional policy for the paper agents' trainer (REINFORCE + joint restorer).

IPFH's policy controller ends in a softmax over patch locations from *global* features; this policy scores
every candidate patch with the same weights from a stride-8 feature map instead
(:class:`~fh_gym.agents.policies.spatial_scorer.SpatialScoring`: the map's mean over the candidate's box and the
box geometry), so where to repair is read off the map rather than learned per output index. The stack is
[I_t, I_0, coverage / T, I_t - I_0, y, x]; the baseline (value) is an MLP on the detached pooled map. The
candidates come from the engine's own action type at the first forward (grid cells; box combinations, each
factor's logits the joint's marginal; a stop action's logit from the pooled map), so the policy follows the
env it acts in. Not recurrent: the image, its coverage and the start image carry the episode's history.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fh_gym.agents.pg.policy_base import POLICIES, EpisodePolicy, PolicyOutput, State
from fh_gym.agents.policies.spatial_scorer import SpatialScoring, action_candidates, spatial_stack


@POLICIES.register()
class SpatialPolicy(SpatialScoring, EpisodePolicy):
    """One logit per candidate patch from a fully convolutional map (see the module docstring).

    Args:
        sizes: Choices per action factor (grid: ``[cells]``, ``[cells + 1]`` with a stop action).
        multi: Whether actions are ``MultiDiscrete`` rows.
        image_size: Side of the images.
        width: Channels of the trunk's first conv (the map has ``2 * width``).
        value_hidden: Units of the baseline MLP.
        avoid_repeats: Forbid positions chosen earlier in the episode (the grid env's masks already do).
    """

    def __init__(self, sizes: list[int], multi: bool, image_size: int = 128, width: int = 16,
                 value_hidden: int = 64, avoid_repeats: bool = False) -> None:
        EpisodePolicy.__init__(self, sizes, multi, image_size, avoid_repeats)
        self.remember(sizes=list(self.spec.sizes), multi=bool(multi), image_size=int(image_size), width=int(width),
                      value_hidden=int(value_hidden), avoid_repeats=bool(avoid_repeats))
        # A stop score always exists (unused without a stop action): the sizes alone cannot tell.
        self.build_scoring(width=int(width), stop=True)
        self.value_head = nn.Sequential(nn.Linear(self.pooled_size, int(value_hidden)), nn.ReLU(inplace=True),
                                        nn.Linear(int(value_hidden), 1))
        self.reset_logits()
        self._engine_id: int | None = None

    def _candidates(self, engine) -> None:
        if self._engine_id == id(engine):
            return
        boxes, dims, stop = action_candidates(engine.action_type)
        self.set_candidates(boxes, dims, stop, engine.image_size)
        if self.logit_size != self.spec.total:
            raise ValueError(f"SpatialPolicy was built for action factors {list(self.spec.sizes)}, the env's "
                             f"action type has {dims}{' + stop' if stop else ''}")
        self._engine_id = id(engine)

    def begin(self, engine, slots: Tensor) -> State:
        return {}

    def forward(self, engine, slots: Tensor, state: State, prev_actions: Tensor, first: Tensor) -> PolicyOutput:
        self._candidates(engine)
        coverage = engine.coverage[slots].unsqueeze(1).to(torch.float32) / engine.horizon
        stack = spatial_stack(engine.current[slots], engine.start[slots], coverage)
        logits, pooled = self.score_candidates(stack)
        return PolicyOutput(logits, self.value_head(pooled.detach()).squeeze(1), dict(state))
