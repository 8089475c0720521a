"""``GainPolicy``: a policy whose logits are predicted PSNR gains, so RL can start from the supervised predictor.

The ``gain-predictor`` recipe trains a :class:`~fh_gym.restorers.archs.selection_arch.BoxPoolingSelector` on the
greedy oracle's gain of every candidate; acting on its argmax (the ``gain_predictor`` strategy) is a one-step
lookahead without the truth. This policy is that network read as a softmax policy, ``logits = predicted gain
(dB) / temperature``, with a value head on its pooled map, and ``init`` loads a trained predictor's weights:
the deterministic policy (argmax) *is* the gain predictor at the first update, and policy gradient then trains
the same weights on the episode return (multi-step credit the one-step labels cannot give). This is the
pre-train-then-reinforce recipe of supervised policy initialisation (our choice; the papers start from scratch).

Candidates come from the engine's action type at the first forward (grid cells; for box actions every (x, y,
ratio, scale) combination, each factor's logits the joint's marginal). A stop action (adaptive budgets) gets
the logit ``stop_score(pooled)``, which starts at ``stop_gain / temperature``: the first policy stops when no
repair is predicted to gain more than ``stop_gain`` dB; ``gain_pg`` sets it to the env's ``repair.step_cost``, so
the first policy stops as the ``gain_predictor`` strategy does. Continuous actions are refused.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fh_gym.agents.pg.policy_base import POLICIES, EpisodePolicy, PolicyOutput, State
from fh_gym.agents.policies.spatial_scorer import action_candidates, factor_marginals, logit_length
from fh_gym.restorers.archs.selection_arch import BoxPoolingSelector
from fh_gym.restorers.build import build_network
from fh_gym.restorers.checkpoint import load_network
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.weights import file_or_shipped
from fh_gym.samplers.gain_labels import engine_selection_stack


def load_predictor(spec: str, width: int, hidden: int) -> BoxPoolingSelector:
    """The trained predictor ``spec`` (a ``gain_predictor.pt`` or shipped weights: ``lfw_x8_t16``); its widths must be
    the policy's (one-line error naming the keys)."""
    block = file_or_shipped(spec, "BoxPoolingSelector", "policy.init")
    # a checkpoint is loaded whatever it holds, so a wrong file gets the error below and not a type mismatch
    net = load_network(block["checkpoint"], kind="aux") if "checkpoint" in block else build_network(block, kind="aux")
    if not isinstance(net, BoxPoolingSelector):
        raise ConfigError(f"policy.init {spec}: a gain_predictor.pt (BoxPoolingSelector) is needed, got "
                          f"{type(net).__name__}")
    if (net.width, int(net.head[0].out_features)) != (width, hidden):
        raise ConfigError(f"policy.init {spec} has width {net.width}, hidden {net.head[0].out_features}: set "
                          f"policy.width={net.width} policy.hidden={net.head[0].out_features}")
    return net


@POLICIES.register()
class GainPolicy(EpisodePolicy):
    """Softmax over predicted gains of every candidate patch (see the module docstring).

    Args:
        sizes: Choices per action factor (grid: ``[cells]``, ``[cells + 1]`` with a stop action).
        multi: Whether actions are ``MultiDiscrete`` rows.
        image_size: Side of the images.
        width: Channels of the predictor's first trunk stage.
        hidden: Units of the predictor's head.
        temperature: dB per logit unit (0.03: a cell predicted to gain 0.1 dB more is e^3.3 ~ 28x likelier).
        init: A ``gain-predictor`` run's ``gain_predictor.pt``, or shipped ``BoxPoolingSelector`` weights by name
            (``lfw_x8_t4``, ``lfw_x8_t16``), to start from (``None``: untrained). Read when
            the policy is built for training; an agent file stores the trained weights, not this path's.
        value_hidden: Units of the value head.
        avoid_repeats: Forbid positions chosen earlier in the episode (the grid env's masks already do).
        stop_gain: The predicted gain (dB) below which the first policy stops (a stop action's starting logit);
            None: 0 (``gain_pg`` fills in the env's step cost). Like ``init``, only where training starts.
    """

    def __init__(self, sizes: list[int], multi: bool, image_size: int = 128, width: int = 16, hidden: int = 64,
                 temperature: float = 0.03, init: str | None = None, value_hidden: int = 64,
                 avoid_repeats: bool = False, stop_gain: float | None = None) -> None:
        EpisodePolicy.__init__(self, sizes, multi, image_size, avoid_repeats)
        if not temperature > 0:
            raise ConfigError(f"policy.temperature must be > 0, got {temperature}")
        # ``init`` is not part of the architecture: a loaded agent rebuilds without reading that file.
        self.remember(sizes=list(self.spec.sizes), multi=bool(multi), image_size=int(image_size), width=int(width),
                      hidden=int(hidden), temperature=float(temperature), value_hidden=int(value_hidden),
                      avoid_repeats=bool(avoid_repeats))
        self.temperature = float(temperature)
        self.selector = BoxPoolingSelector(int(image_size), int(width), int(hidden), out_dim=1)
        if init is not None:
            self.selector.load_state_dict(load_predictor(init, int(width), int(hidden)).state_dict())
        self.stop_score = nn.Linear(self.selector.feature_dim, 1)
        nn.init.zeros_(self.stop_score.weight)
        nn.init.constant_(self.stop_score.bias, float(stop_gain or 0.0))  # the logit divides it by the temperature
        self.value_head = nn.Sequential(nn.Linear(self.selector.feature_dim, int(value_hidden)), nn.ReLU(inplace=True),
                                        nn.Linear(int(value_hidden), 1))
        self._engine_id: int | None = None

    def _candidates(self, engine) -> None:
        if self._engine_id == id(engine):
            return
        boxes, dims, stop = action_candidates(engine.action_type)
        if logit_length(dims, stop) != self.spec.total:
            raise ValueError(f"GainPolicy was built for action factors {list(self.spec.sizes)}, the env's action "
                             f"type has {dims}{' + stop' if stop else ''}")
        self.register_buffer("boxes", boxes.to(self.stop_score.weight.device), persistent=False)
        self.action_dims, self.has_stop = dims, stop
        self._engine_id = id(engine)

    def begin(self, engine, slots: Tensor) -> State:
        return {}

    def forward(self, engine, slots: Tensor, state: State, prev_actions: Tensor, first: Tensor) -> PolicyOutput:
        self._candidates(engine)
        maps = self.selector.features(engine_selection_stack(engine, slots))
        gains = self.selector.score(maps, self.boxes)[..., 0]
        logits = factor_marginals(gains / self.temperature, self.action_dims)
        pooled = self.selector.pooled(maps)
        if self.has_stop:
            logits = torch.cat([logits, self.stop_score(pooled) / self.temperature], dim=1)
        return PolicyOutput(logits, self.value_head(pooled.detach()).squeeze(1), dict(state))
