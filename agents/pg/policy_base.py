"""The interface of the paper agents' policy networks, and their registry ``POLICIES`` (one module per
policy in ``agents/policies/``; checkpoints rebuild a policy from its ``{type, **kwargs}`` block).

A policy reads the batched engine directly (no NumPy observations): ``begin`` prepares per-episode state
for some faces (e.g. the feature vector of I_0), ``forward`` maps the engine's current state plus the
previous action to logits over the action factors and a baseline value. Recurrent state (the GRUs of
Attention-FH) travels in a dict of (B, ...) tensors, so the same code runs batched training rollouts and
the actor's per-slot bookkeeping.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.agents.pg.distributions import ActionSpec
from fh_gym.restorers.config import split_type
from fh_gym.restorers.registry import Registry

State = dict[str, Tensor]

#: every paper-agent policy class by name, filled by the modules of ``agents/policies/``
POLICIES: Registry[type[EpisodePolicy]] = Registry("policy", "fh_gym.agents.policies")

#: constructor arguments the trainer sets from the env (not hyperparameters)
ENV_ARGS = ("sizes", "multi", "image_size")


def build_policy(arch: dict[str, Any]) -> EpisodePolicy:
    """Rebuild a policy from its stored ``arch_config`` block (``{type: ClassName, **kwargs}``)."""
    name, kwargs = split_type(arch, "policy")
    return POLICIES.get(name)(**kwargs)


def policy_defaults(name: str) -> dict[str, Any]:
    """The ``policy`` hyperparameters of policy ``name``: its keyword arguments (but the env's) with defaults."""
    params = inspect.signature(POLICIES.get(name)).parameters
    return {key: list(p.default) if isinstance(p.default, tuple) else p.default for key, p in params.items()
            if key not in ENV_ARGS and p.default is not inspect.Parameter.empty}


@dataclass
class PolicyOutput:
    """One policy step for B faces: ``logits`` (B, spec.total), ``value`` (B,), the next ``state``."""

    logits: Tensor
    value: Tensor
    state: State


def to_signed(images: Tensor) -> Tensor:
    """[0, 1] images -> [-1, 1] (Attention-FH Sec. 4.2: "we normalize the input images into [-1, 1]")."""
    return images * 2.0 - 1.0


class EpisodePolicy(nn.Module):
    """Base class. Subclasses set ``spec`` and ``arch_config`` (``{type, **kwargs}``, JSON-like values).

    Args:
        sizes: Choices per action factor (``ActionSpec.sizes``).
        multi: Whether actions are ``MultiDiscrete`` rows.
        image_size: Side of the square images the policy reads.
        avoid_repeats: Forbid positions already chosen in the episode (see :meth:`step`).
    """

    def __init__(self, sizes: list[int], multi: bool, image_size: int, avoid_repeats: bool = False) -> None:
        super().__init__()
        self.spec = ActionSpec(tuple(int(s) for s in sizes), bool(multi))
        self.image_size = int(image_size)
        self.avoid_repeats = bool(avoid_repeats)

    def build_heads(self, in_features: int, head_hidden: int, value_hidden: int) -> None:
        """The action-logit head (one hidden layer when ``head_hidden`` > 0) and the value head.

        The last logit layer starts small, so the first episodes sample near-uniformly (exploration
        before any reward).
        """
        if head_hidden > 0:
            self.head = nn.Sequential(nn.Linear(in_features, head_hidden), nn.ReLU(inplace=True),
                                      nn.Linear(head_hidden, self.spec.total))
        else:
            self.head = nn.Linear(in_features, self.spec.total)
        self.value_head = nn.Sequential(nn.Linear(in_features, value_hidden), nn.ReLU(inplace=True),
                                        nn.Linear(value_hidden, 1))
        last = self.head[-1] if isinstance(self.head, nn.Sequential) else self.head
        nn.init.normal_(last.weight, std=0.01)
        nn.init.zeros_(last.bias)

    def remember(self, **kwargs: Any) -> None:
        """Record the constructor arguments (saved in checkpoints; TrainingRun refuses a resume that differs)."""
        self.arch_config = {"type": type(self).__name__, **kwargs}

    def check_engine(self, engine: Any) -> None:
        if engine.image_size != self.image_size:
            raise ValueError(f"{type(self).__name__} reads {self.image_size}px images but the env has "
                             f"image_size {engine.image_size}")

    def initial_state(self, engine: Any, slots: Tensor) -> State:
        """:meth:`begin` plus the visited positions when ``avoid_repeats`` (what rollouts and actors call)."""
        state = self.begin(engine, slots)
        if self.avoid_repeats:
            state["visited"] = torch.zeros(len(slots), self.spec.positions, dtype=torch.bool,
                                           device=engine.device)
        return state

    def step(self, engine: Any, slots: Tensor, state: State, prev_actions: Tensor,
             first: Tensor) -> tuple[PolicyOutput, Tensor | None]:
        """:meth:`forward`, and the allowed positions (None unless ``avoid_repeats``): a position chosen
        earlier in the episode is forbidden (Attention-FH Sec. 1: previously attended regions "are also
        recorded to avoid duplicated selection of a region")."""
        out = self(engine, slots, state, prev_actions, first)
        if not self.avoid_repeats:
            return out, None
        taken = F.one_hot(self.spec.position_index(prev_actions), self.spec.positions).to(torch.bool)
        visited = (state["visited"] | taken) & ~first[:, None]
        out.state["visited"] = visited
        return out, ~visited

    def begin(self, engine: Any, slots: Tensor) -> State:
        """Per-episode state for ``slots`` right after ``engine.reset`` (t = 0)."""
        raise NotImplementedError

    def forward(self, engine: Any, slots: Tensor, state: State, prev_actions: Tensor, first: Tensor) -> PolicyOutput:
        """Logits for the next action of ``slots``.

        Args:
            engine: The engine, in the state *after* the previous repair (image I_t).
            slots: (B,) engine slots.
            state: The state returned by ``begin`` or the previous ``forward``.
            prev_actions: (B, K) long, the action taken at t - 1 (ignored where ``first``).
            first: (B,) bool, True where t = 0 (no previous action: the paper's initial action h_0).
        """
        raise NotImplementedError


def select_state(keep: Tensor, a: State, b: State) -> State:
    """Per face: ``a`` where ``keep`` else ``b`` (both dicts share keys and shapes)."""
    out = {}
    for key, value in a.items():
        shape = (-1,) + (1,) * (value.ndim - 1)
        out[key] = torch.where(keep.view(shape), value, b[key])
    return out
