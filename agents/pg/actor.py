"""A trained paper agent as an actor: its policy *and* its jointly trained restorer.

The episode runner repairs with ``actor.restorer`` (:func:`fh_gym.episodes.repairing_restorer`: the
restorer was trained together with the policy, Attention-FH Algorithm 1 / IPFH Sec. III-B.2, and the
policy's choices assume it). The actor keeps per-slot recurrent state, so it follows the engine's faces
independently (``start_episodes`` resets some slots; an episode that starts at t = 0 resets itself).

Action spaces: the actor acts in the space it was trained in. On an env whose action type differs (e.g.
the ``fixed_box`` ablation, one 48x48 box, on the full ``box`` env) each of its actions is translated
to the env action with the *same box*; when some box has no exact counterpart a ``ValueError`` says so.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fh_gym.agents.pg.distributions import FactorisedCategorical
from fh_gym.agents.pg.policy_base import EpisodePolicy, State, select_state
from fh_gym.engine.actions import build_action_type
from fh_gym.engine.core import RepairEngine
from fh_gym.episodes import BaseActor


class PolicyActor(BaseActor):
    """An :class:`~fh_gym.episodes.Actor` with a paper policy; argmax actions by default (both papers at
    test time). ``load_actor`` sets ``horizon`` (the trained T) and ``env_config`` (the training env, which
    ``fh-gym hallucinate --agent`` runs on); both stay None (the env's) for a policy built by hand.

    Args:
        policy: The trained policy network.
        restorer: The restorer trained with it (replaces the env's restorer in evaluation / record).
        action: The action block the policy was trained with (``{type: box, ...}``).
        name: Row name in comparison tables.
        deterministic: Argmax (True) or sample from ``rng`` (False).
    """

    def __init__(self, policy: EpisodePolicy, restorer: nn.Module | None, action: dict[str, Any], name: str,
                 deterministic: bool = True) -> None:
        self.policy = policy.eval()
        self.restorer = None if restorer is None else restorer.eval()
        self.action_block = dict(action)
        self.name = name
        self.deterministic = deterministic
        self.last_logits: Tensor | None = None
        self._engine: weakref.ref | None = None
        self._slots: dict[str, Any] = {}
        self._translate: np.ndarray | None = None

    # ------------------------------------------------------------ env compatibility
    def _attach(self, engine: RepairEngine) -> None:
        if self._engine is not None and self._engine() is engine:
            return
        self.policy.check_engine(engine)
        self._translate = action_translation(self.action_block, engine)
        # The previous action is read back from the env's box history (the env may have been stepped with
        # other actions than ours); boxes are looked up among the agent's own candidate boxes.
        own = build_action_type(self.action_block, engine.image_size)
        raw = own.candidate_actions()
        candidates = torch.as_tensor(raw).reshape(len(raw), len(self.policy.spec.sizes))
        keys = box_keys(own.to_boxes(raw), engine.image_size)
        order = torch.argsort(keys)
        self._box_keys, self._box_actions = keys[order].to(engine.device), candidates[order].to(engine.device)
        n, device = engine.num_envs, engine.device
        k = len(self.policy.spec.sizes)
        self._slots = {"t": torch.full((n,), -1, dtype=torch.long, device=device),
                       "prev_in": torch.zeros(n, k, dtype=torch.long, device=device),
                       "action": torch.zeros(n, k, dtype=torch.long, device=device),
                       "started": torch.zeros(n, dtype=torch.bool, device=device),
                       "state_in": None, "state_out": None}
        self._engine = weakref.ref(engine)

    def _store(self, key: str, slots: Tensor, state: State) -> None:
        memory = self._slots
        if memory[key] is None:
            memory[key] = {k: torch.zeros((len(memory["t"]), *v.shape[1:]), dtype=v.dtype, device=v.device)
                          for k, v in state.items()}
        for k, v in state.items():
            memory[key][k][slots] = v

    def _taken(self, engine: RepairEngine, slots: Tensor, t: Tensor) -> Tensor:
        """(B, K) the agent-space action whose box the env repaired at t - 1 (our own choice if none matches)."""
        keys = box_keys(engine.history[slots, (t - 1).clamp(min=0)], engine.image_size)
        index = torch.searchsorted(self._box_keys, keys).clamp(max=len(self._box_keys) - 1)
        found = self._box_keys[index] == keys
        return torch.where(found[:, None], self._box_actions[index], self._slots["action"][slots])

    # ------------------------------------------------------------ actor protocol
    @torch.no_grad()
    def start_episodes(self, engine: RepairEngine, slots: Tensor) -> None:
        """Reset the slots ``slots`` (call after ``engine.reset``)."""
        self._attach(engine)
        begin = self.policy.initial_state(engine, slots)
        self._store("state_out", slots, begin)
        self._store("state_in", slots, begin)
        self._slots["t"][slots] = -1
        self._slots["action"][slots] = 0
        self._slots["started"][slots] = True

    @torch.no_grad()
    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        self._attach(engine)
        memory = self._slots
        t, seen = engine.t[slots], memory["t"][slots]
        # A new episode that nobody announced with start_episodes (or a slot never started at all).
        fresh = (t == 0) & ((seen != -1) | ~memory["started"][slots])
        if bool(fresh.any()):
            self.start_episodes(engine, slots[fresh])
            seen = memory["t"][slots]
        again = t == seen  # asked twice for the same step: recompute from the saved inputs
        bad = ~again & (t != seen + 1)
        if bool(bad.any()):
            raise RuntimeError(f"actor state is at step {seen[bad].tolist()} but the env is at {t[bad].tolist()}: "
                               "call start_episodes(engine, slots) after engine.reset")
        out_state = {k: v[slots] for k, v in (memory["state_out"] or {}).items()}
        in_state = {k: v[slots] for k, v in (memory["state_in"] or {}).items()}
        state = select_state(again, in_state, out_state)
        prev = torch.where(again[:, None], memory["prev_in"][slots], self._taken(engine, slots, t))
        out, allowed = self.policy.step(engine, slots, state, prev, t == 0)
        mask = engine_mask(engine, slots, self._translate)
        mask = None if mask is None else torch.as_tensor(mask, device=out.logits.device)
        dist = FactorisedCategorical(out.logits, self.policy.spec, mask, allowed)
        action = dist.mode() if self.deterministic else dist.sample_numpy(rng)
        self.last_logits = out.logits
        self._store("state_in", slots, state)
        self._store("state_out", slots, out.state)
        memory["prev_in"][slots] = prev
        memory["action"][slots] = action
        memory["t"][slots] = t
        own = self.policy.spec.to_numpy(action)
        if self._translate is None:
            return own
        return self._translate[flat_index(own, self.policy.spec.sizes)]


def box_keys(boxes: Tensor, image_size: int) -> Tensor:
    """(N,) int64 key of each box ``(top, left, h, w)`` (distinct boxes get distinct keys)."""
    base = image_size + 1
    b = boxes.to(torch.long)
    return ((b[:, 0] * base + b[:, 1]) * base + b[:, 2]) * base + b[:, 3]


def flat_index(actions: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """Row index of each action in ``ActionType.candidate_actions()`` order (C order over the factors)."""
    arr = np.asarray(actions).reshape(len(actions), len(sizes))
    return np.ravel_multi_index(tuple(arr.T), sizes)


def action_translation(action_block: dict[str, Any], engine: RepairEngine) -> np.ndarray | None:
    """None when the env acts in the agent's space; else the env action for each of the agent's actions.

    Raises:
        ValueError: If the env cannot reproduce one of the agent's boxes exactly.
    """
    own = build_action_type(action_block, engine.image_size)
    env = engine.action_type
    candidates = own.candidate_actions()
    own_boxes = own.to_boxes(candidates)
    if own.space == env.space and torch.equal(own_boxes, env.to_boxes(candidates)):
        return None
    env_actions = env.candidate_actions()
    by_box: dict[tuple[int, ...], np.ndarray] = {}
    for action, box in zip(env_actions, env.to_boxes(env_actions).tolist(), strict=True):
        by_box.setdefault(tuple(box), action)
    missing = [box for box in own_boxes.tolist() if tuple(box) not in by_box]
    if missing:
        raise ValueError(f"this agent was trained with action {action_block} and the env's action "
                         f"{engine.config['action']} cannot reproduce its boxes; evaluate it on its own action "
                         f"space (e.g. --set action=\"{action_block}\"); missing boxes (top, left, h, w): "
                         f"{missing[:3]}")
    return np.stack([by_box[tuple(box)] for box in own_boxes.tolist()])


def engine_mask(engine: RepairEngine, slots: Tensor, translate: np.ndarray | None) -> np.ndarray | None:
    """The env's action mask in the agent's space (None when translating: masks are per env action)."""
    return engine.action_masks(slots) if translate is None else None
