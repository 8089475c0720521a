"""N>1 views of the engine: a Gymnasium ``VectorEnv`` and a Stable-Baselines3 ``VecEnv``.

Both step all N faces with one engine call (one restorer forward for the whole batch) and reach single
faces through :class:`~fh_gym.envs.slots.FaceSlot` (``call`` / ``env_method``, ``get_attr``, ``set_attr``).
The Gymnasium env has all three of Gymnasium's autoreset modes (next-step by default, same-step, disabled:
``reset(options={"reset_mask": ...})``, which TorchRL prefers); the SB3 adapter follows SB3's convention
(reset in the same step, ``info["terminal_observation"]``, ``reset_infos``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.envs.config import make_config
from fh_gym.envs.slots import FACE_METHODS, REWARD_PREFIX, FaceSlot, face_info, render_faces
from fh_gym.restorers.config import ConfigError
from fh_gym.variants import variant_of


def _variant(env_id: str | None, variant: str | None) -> str | None:
    """The variant of ``env_id`` (a registered id or deprecated alias) or ``variant`` (a variant name)."""
    if env_id is not None and variant is not None:
        raise ConfigError(f"give env_id ({env_id!r}) or variant ({variant!r}), not both")
    return variant_of(env_id) if env_id is not None else variant


class FaceRepairVectorEnv(gym.vector.VectorEnv):
    """N faces repaired in lockstep by one batched engine (same config keys as ``FaceRepairEnv``).

    ``info`` has the same keys from ``reset`` on, each a NumPy array with its ``_key`` mask, as Gymnasium's
    own vector envs batch them: ``psnr`` (float32), ``t``, ``face_index`` (int64) and ``reward_<term>`` (one
    float32 array per reward term, zero and masked out where a face did not step).

    Args:
        num_envs: Number of faces N.
        config: Overrides of ``FaceRepairEnv.default_config()``.
        render_mode: ``"rgb_array"`` (``render()`` returns one frame per face) or None.
        variant: Registered variant name (set by ``gymnasium.make_vec``).
        restorer: A ready patch restorer; dataset: a ready ``FaceDataset``.
        autoreset_mode: ``NEXT_STEP`` (Gymnasium's default), ``SAME_STEP`` (the terminal observation goes to
            ``info["final_obs"]``) or ``DISABLED`` (reset finished faces with ``options={"reset_mask": m}``).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, config: dict | None = None, render_mode: str | None = None, *,
                 variant: str | None = None, restorer: nn.Module | None = None, dataset: Any = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        #: Gymnasium's vector envs expose the mode as an attribute and in ``metadata`` (TorchRL reads the former)
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.config = make_config(config, variant)
        self.render_mode = render_mode
        self.engine = RepairEngine(self.config, num_envs, restorer=restorer, dataset=dataset)
        self.num_envs = num_envs
        self.single_observation_space = self.engine.single_observation_space
        self.single_action_space = self.engine.single_action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._slots = self.engine.all_slots()
        self._faces = [FaceSlot(self, i) for i in range(num_envs)]

    def face_rng(self) -> np.random.Generator:
        return self.np_random

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        if seed is not None:
            if not isinstance(seed, int | np.integer):
                raise ValueError(f"seed must be an int, got {seed!r}")
            self._np_random, self._np_random_seed = seeding.np_random(int(seed))
        options = dict(options or {})
        mask = np.asarray(options.pop("reset_mask", np.ones(self.num_envs, dtype=bool)))
        if mask.shape != (self.num_envs,) or mask.dtype != bool:
            raise ValueError(f"reset_mask must be a bool array of shape ({self.num_envs},), got {mask.dtype} "
                             f"{mask.shape}")
        self.engine.reset(self._slots[torch.as_tensor(mask)], self.np_random, options)
        self._autoreset[mask] = False
        return self.engine.observe(), self._info(np.zeros(self.num_envs, dtype=bool), {})

    def step(self, actions: Any) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = np.asarray(actions)
        n = self.num_envs
        if actions.ndim == 0 or len(actions) != n:
            raise ValueError(f"expected one action per env ({n}), got an array of shape {actions.shape}")
        reward = np.zeros(n, dtype=np.float32)
        terminated = np.zeros(n, dtype=bool)
        stepping = ~self._autoreset
        terms: dict[str, np.ndarray] = {}
        if self._autoreset.any():
            self.engine.reset(self._slots[torch.as_tensor(self._autoreset)], self.np_random)
        if stepping.any():
            rows = np.flatnonzero(stepping)
            out = self.engine.step(actions[rows], self._slots[torch.as_tensor(rows)])
            reward[rows] = out.reward
            terminated[rows] = out.terminated
            terms = {k: _scatter(v, rows, n) for k, v in out.terms.items()}
        info = self._info(stepping, terms)
        obs = self.engine.observe()
        if self.autoreset_mode is AutoresetMode.SAME_STEP and terminated.any():
            done = np.flatnonzero(terminated)
            info["final_obs"] = _object_rows(obs, done, n)
            info["_final_obs"] = terminated.copy()
            info["final_info"] = {k: v.copy() for k, v in info.items() if not k.startswith(("final", "_final"))}
            info["_final_info"] = terminated.copy()
            self.engine.reset(self._slots[torch.as_tensor(terminated)], self.np_random)
            obs = self.engine.observe()
            self._autoreset[:] = False
        elif self.autoreset_mode is AutoresetMode.NEXT_STEP:
            self._autoreset = terminated.copy()
        return obs, reward, terminated, np.zeros(n, dtype=bool), info

    def _info(self, stepped: np.ndarray, terms: dict[str, np.ndarray]) -> dict[str, Any]:
        """Every key every time (Gymnasium's batched layout, ``_key`` masks): stable from reset on."""
        info: dict[str, Any] = dict(self.engine.info())
        for key in list(info):
            info[f"_{key}"] = np.ones(self.num_envs, dtype=bool)
        for name in self.engine.term_names:
            info[REWARD_PREFIX + name] = terms.get(name, np.zeros(self.num_envs, dtype=np.float32))
            info[f"_{REWARD_PREFIX}{name}"] = stepped & bool(terms)
        return info

    # ------------------------------------------------------------------ per-face calls (Gymnasium's API)
    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """``name`` of every face: a method's result (called with the arguments) or an attribute's value."""
        values = [getattr(face, name) for face in self._faces]
        return tuple(v(*args, **kwargs) if callable(v) else v for v in values)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        return tuple(getattr(face, name) for face in self._faces)

    def set_attr(self, name: str, values: list[Any] | tuple[Any, ...] | Any) -> None:
        """Set ``name`` on every face: one value each (a list or tuple of N) or the same value for all."""
        if not isinstance(values, list | tuple):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"set_attr needs {self.num_envs} values (one per face), got {len(values)}")
        for face, value in zip(self._faces, values, strict=True):
            setattr(face, name, value)

    def action_masks(self) -> np.ndarray:
        """(N, mask_size) bool legal actions (see ``FaceRepairEnv.action_masks``)."""
        return self.engine.action_masks()

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode != "rgb_array":
            return None
        return tuple(render_faces(self.engine, self._slots))


class FaceRepairSB3VecEnv(VecEnv):
    """Stable-Baselines3 ``VecEnv`` over one batched engine (drop-in for ``DummyVecEnv`` of N envs).

    Finished episodes are reset in the same step; the last observation is in
    ``infos[i]["terminal_observation"]`` and the new episode's info in ``reset_infos[i]``. ``get_attr``,
    ``set_attr`` and ``env_method`` reach single faces as DummyVecEnv reaches its envs (``indices`` honoured;
    methods: ``action_masks`` (sb3-contrib MaskablePPO), ``render``, ``reset`` and the wrapper-attribute
    helpers). Wrap in ``VecMonitor`` for episode statistics. With ``keep_batch`` set, every step keeps the
    engine's output with the restorer inputs in ``last_step`` (joint restorer fine-tuning during RL).

    Args:
        num_envs: Number of faces N.
        config: Overrides of the env id's (or variant's) config.
        env_id: A registered id (``fh_gym/FaceRepair-Dense-x8-v0``; ``spec`` is its ``EnvSpec``).
        variant: Or a variant name (``dense_x8``); neither: the defaults.
        restorer / dataset: Ready objects to share; render_mode: ``"rgb_array"`` or None.
    """

    #: keep each step's restorer inputs in ``last_step`` (set by a fine-tuning callback)
    keep_batch: bool = False

    def __init__(self, num_envs: int = 1, config: dict | None = None, *, env_id: str | None = None,
                 variant: str | None = None, restorer: nn.Module | None = None, dataset: Any = None,
                 render_mode: str | None = None) -> None:
        self.config = make_config(config, _variant(env_id, variant))
        self.spec = gym.spec(env_id) if env_id is not None else None
        self.engine = RepairEngine(self.config, num_envs, restorer=restorer, dataset=dataset)
        self.render_mode = render_mode
        self._faces = [FaceSlot(self, i) for i in range(num_envs)]
        super().__init__(num_envs, self.engine.single_observation_space, self.engine.single_action_space)
        self._slots = self.engine.all_slots()
        self._actions: np.ndarray | None = None
        self._rng = np.random.default_rng()
        self.last_step: StepOutput | None = None

    def face_rng(self) -> np.random.Generator:
        return self._rng

    def reset(self) -> dict[str, np.ndarray]:
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._reset_seeds()
        options = self._options[0] if self._options and self._options[0] else None
        self._reset_options()
        self.engine.reset(self._slots, self._rng, options)
        self.reset_infos = [face_info(self.engine, self._slots[i:i + 1]) for i in range(self.num_envs)]
        return self.engine.observe()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[dict, np.ndarray, np.ndarray, list[dict]]:
        out = self.engine.step(self._actions, self._slots, keep_batch=self.keep_batch)
        self.last_step = out if self.keep_batch else None
        obs = self.engine.observe()
        infos = [{**face_info(self.engine, self._slots[i:i + 1], out.terms, i), "TimeLimit.truncated": False}
                 for i in range(self.num_envs)]
        done = out.terminated
        if done.any():
            finished = np.flatnonzero(done)
            for i in finished:
                infos[i]["terminal_observation"] = {k: v[i].copy() for k, v in obs.items()}
            rows = self._slots[torch.as_tensor(finished)]
            self.engine.reset(rows, self._rng)
            fresh = self.engine.observe(rows)
            for key in obs:
                obs[key][finished] = fresh[key]
            for i in finished:
                self.reset_infos[i] = face_info(self.engine, self._slots[i:i + 1])
        return obs, out.reward.copy(), done.copy(), infos

    def close(self) -> None:
        """Nothing to release (one in-process engine)."""

    def get_images(self) -> Sequence[np.ndarray | None]:
        return render_faces(self.engine, self._slots)

    def _targets(self, indices: Any) -> list[FaceSlot]:
        return [self._faces[i] for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [face.get_wrapper_attr(attr_name) for face in self._targets(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        for face in self._targets(indices):
            setattr(face, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list:
        if method_name not in FACE_METHODS:
            raise AttributeError(f"a face of FaceRepairSB3VecEnv has no method {method_name!r}; per-face methods: "
                                 f"{', '.join(FACE_METHODS)}")
        return [getattr(face, method_name)(*method_args, **method_kwargs) for face in self._targets(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._targets(indices)]

    def action_masks(self) -> np.ndarray:
        return self.engine.action_masks()


def _scatter(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=values.dtype)
    out[rows] = values
    return out


def _object_rows(obs: dict[str, np.ndarray], rows: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    for i in rows:
        out[i] = {k: v[i].copy() for k, v in obs.items()}
    return out
