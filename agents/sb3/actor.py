"""A trained SB3 / sb3-contrib model as an fh-gym actor (evaluation, compare, record, hallucinate).

The actor reads the batched engine directly: ``engine.observe(faces)`` gives HxWxC uint8 images, which it
transposes to the CxHxW layout the policy was trained on (what ``VecTransposeImage`` did during training)
before ``model.predict`` (which scales images to [0, 1] like in training). MaskablePPO gets
``engine.action_masks(faces)``; RecurrentPPO keeps one LSTM state per engine face slot and treats a face
at ``t == 0`` as an episode start (``start_episodes`` also clears the states).

Example:
    >>> from fh_gym.agents.registry import load_agent
    >>> actor = load_agent("runs/fh_gym-FaceRepair-Dense-x8-v0__ppo__0__1700000000/final.zip")  # doctest: +SKIP
    >>> actions = actor.act(engine, engine.all_slots(), rng)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib import MaskablePPO, RecurrentPPO

from fh_gym.episodes import BaseActor
from fh_gym.restorers.config import ConfigError

IMAGE_KEYS = ("image", "start", "coverage")


def policy_observation(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Batched HxWxC image entries -> CxHxW (the ``VecTransposeImage`` layout the policy expects)."""
    return {k: np.ascontiguousarray(np.transpose(v, (0, 3, 1, 2))) if k in IMAGE_KEYS else v
            for k, v in obs.items()}


class SB3Actor(BaseActor):
    """Act with a trained SB3 model on a batched :class:`~fh_gym.engine.core.RepairEngine` (an
    :class:`~fh_gym.episodes.Actor`).

    Args:
        model: The SB3 model (PPO, A2C, RecurrentPPO or MaskablePPO).
        name: Row name in comparison tables.
        env_config: The config the agent was trained on (``horizon``: its episode length T).
        deterministic: Greedy actions (default) instead of sampling.
        meta: The agent file's metadata (kept for reference).
        restorer: The restorer fine-tuned with the agent (``finetune_restorer``), or None; evaluation,
            ``compare``, ``record`` and ``hallucinate`` repair with it instead of the env's
            (:func:`fh_gym.episodes.repairing_restorer`).
    """

    def __init__(self, model: Any, name: str, env_config: dict[str, Any], *, deterministic: bool = True,
                 meta: dict[str, Any] | None = None, restorer: Any = None) -> None:
        self.model = model
        self.name = name
        self.env_config = env_config
        #: episode length the policy was trained for (the episode runner uses it instead of the env's T)
        self.horizon = int(env_config["horizon"])
        self.deterministic = deterministic
        self.meta = dict(meta or {})
        self.restorer = restorer
        self.maskable = isinstance(model, MaskablePPO)
        self.recurrent = isinstance(model, RecurrentPPO)
        self._states: tuple[np.ndarray, np.ndarray] | None = None
        self._checked: int | None = None

    # ------------------------------------------------------------------ checks
    def check_engine(self, engine: Any) -> None:
        """Raise ``ConfigError`` if the engine's spaces differ from the ones the agent was trained on."""
        if self._checked == id(engine):
            return
        mine, theirs = self.model.action_space, engine.single_action_space
        if type(mine) is not type(theirs) or mine != theirs:
            raise ConfigError(f"agent {self.name} was trained with actions {mine} ({self.env_config['action']}); "
                              f"this env has {theirs} ({engine.config['action']})")
        size = int(self.env_config["image_size"])
        if engine.image_size != size:
            raise ConfigError(f"agent {self.name} was trained on {size}x{size} images, this env has "
                              f"{engine.image_size}x{engine.image_size}")
        self._checked = id(engine)

    # ------------------------------------------------------------------ recurrent state
    def _ensure_states(self, engine: Any) -> None:
        lstm = self.model.policy.lstm_actor
        shape = (lstm.num_layers, engine.num_envs, lstm.hidden_size)
        if self._states is None or self._states[0].shape != shape:
            self._states = (np.zeros(shape, np.float32), np.zeros(shape, np.float32))

    def start_episodes(self, engine: Any, slots: torch.Tensor) -> None:
        """Forget the recurrent state of ``slots`` (new episodes start there)."""
        if not self.recurrent:
            return
        self._ensure_states(engine)
        rows = slots.cpu().numpy()
        for state in self._states:
            state[:, rows] = 0.0

    def states(self, slots: torch.Tensor) -> tuple[np.ndarray, np.ndarray] | None:
        """Current (h, c) LSTM states of ``slots`` (None for non-recurrent agents)."""
        if self._states is None:
            return None
        rows = slots.cpu().numpy()
        return self._states[0][:, rows].copy(), self._states[1][:, rows].copy()

    # ------------------------------------------------------------------ acting
    def act(self, engine: Any, slots: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        """One action per face (rows follow ``slots``)."""
        self.check_engine(engine)
        obs = policy_observation(engine.observe(slots))
        kwargs: dict[str, Any] = {"deterministic": self.deterministic}
        if self.maskable:
            kwargs["action_masks"] = engine.action_masks(slots)
        if self.recurrent:
            self._ensure_states(engine)
            rows = slots.cpu().numpy()
            kwargs["state"] = (self._states[0][:, rows], self._states[1][:, rows])
            kwargs["episode_start"] = (engine.t[slots] == 0).cpu().numpy()
        actions, state = self.model.predict(obs, **kwargs)
        if self.recurrent:
            self._states[0][:, rows], self._states[1][:, rows] = state[0], state[1]
        return _batch_actions(actions, self.model.action_space, len(slots))


def _batch_actions(actions: np.ndarray, space: spaces.Space, count: int) -> np.ndarray:
    """Predicted actions as one row per face (SB3 squeezes a batch of one)."""
    actions = np.asarray(actions)
    if isinstance(space, spaces.Discrete):
        return actions.reshape(count).astype(np.int64)
    return actions.reshape(count, *space.shape)
