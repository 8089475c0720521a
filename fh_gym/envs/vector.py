"""N>1 views of the engine: a Gymnasium ``VectorEnv`` and a Stable-Baselines3 ``VecEnv``.

Both step all N faces with one engine call (one restorer forward for the whole batch). The Gymnasium
env follows Gymnasium's autoreset modes (next-step by default, same-step on request); the SB3 adapter
follows SB3's convention (reset in the same step, ``info["terminal_observation"]``).
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
from fh_gym.envs.face_repair import render_faces


class FaceRepairVectorEnv(gym.vector.VectorEnv):
    """N faces repaired in lockstep by one batched engine (same config keys as ``FaceRepairEnv``).

    Args:
        num_envs: Number of faces N.
        config: Overrides of ``FaceRepairEnv.default_config()``.
        render_mode: ``"rgb_array"`` (``render()`` returns one frame per face) or None.
        variant: Registered variant name (set by ``gymnasium.make_vec``).
        restorer: A ready patch restorer; dataset: a ready ``FaceDataset``.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` (Gymnasium default) or ``AutoresetMode.SAME_STEP``
            (the terminal observation goes to ``info["final_obs"]``).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, config: dict | None = None, render_mode: str | None = None, *,
                 variant: str | None = None, restorer: nn.Module | None = None, dataset: Any = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        autoreset_mode = AutoresetMode(autoreset_mode)
        if autoreset_mode is AutoresetMode.DISABLED:
            raise ValueError("FaceRepairVectorEnv supports NEXT_STEP and SAME_STEP autoreset")
        self.metadata = {**self.metadata, "autoreset_mode": autoreset_mode}
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
        slots = self._slots[torch.as_tensor(mask)]
        self.engine.reset(slots, self.np_random, options)
        self._autoreset[mask] = False
        return self.engine.observe(), self._info(np.zeros(0, dtype=int), {})

    def step(self, actions: Any) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = np.asarray(actions)
        n = self.num_envs
        if actions.ndim == 0 or len(actions) != n:
            raise ValueError(f"expected one action per env ({n}), got an array of shape {actions.shape}")
        reward = np.zeros(n, dtype=np.float32)
        terminated = np.zeros(n, dtype=bool)
        stepping = np.flatnonzero(~self._autoreset)
        terms: dict[str, np.ndarray] = {}
        if self._autoreset.any():
            self.engine.reset(self._slots[torch.as_tensor(self._autoreset)], self.np_random)
        if len(stepping):
            out = self.engine.step(actions[stepping], self._slots[torch.as_tensor(stepping)])
            reward[stepping] = out.reward
            terminated[stepping] = out.terminated
            terms = {k: _scatter(v, stepping, n) for k, v in out.terms.items()}
        info = self._info(stepping, terms)
        obs = self.engine.observe()
        if self.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP and terminated.any():
            done = np.flatnonzero(terminated)
            info["final_obs"] = _object_rows(obs, done, n)
            info["_final_obs"] = terminated.copy()
            info["final_info"] = {k: v.copy() for k, v in info.items() if not k.startswith(("final", "_final"))}
            info["_final_info"] = terminated.copy()
            self.engine.reset(self._slots[torch.as_tensor(terminated)], self.np_random)
            obs = self.engine.observe()
            self._autoreset[:] = False
        else:
            self._autoreset = terminated.copy()
        return obs, reward, terminated, np.zeros(n, dtype=bool), info

    def _info(self, stepped: np.ndarray, terms: dict[str, np.ndarray]) -> dict[str, Any]:
        info: dict[str, Any] = dict(self.engine.info())
        for key in list(info):
            info[f"_{key}"] = np.ones(self.num_envs, dtype=bool)
        if terms:
            mask = np.zeros(self.num_envs, dtype=bool)
            mask[stepped] = True
            info["rewards"] = terms
            info["_rewards"] = mask
        return info

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
    ``infos[i]["terminal_observation"]``. ``env_method("action_masks")`` serves sb3-contrib MaskablePPO.
    Wrap in ``VecMonitor`` for episode statistics. With ``keep_batch`` set, every step keeps the engine's
    output with the restorer inputs in ``last_step`` (joint restorer fine-tuning during RL).
    """

    #: keep each step's restorer inputs in ``last_step`` (set by a fine-tuning callback)
    keep_batch: bool = False

    def __init__(self, num_envs: int = 1, config: dict | None = None, *, variant: str | None = None,
                 restorer: nn.Module | None = None, dataset: Any = None, render_mode: str | None = None) -> None:
        self.config = make_config(config, variant)
        self.engine = RepairEngine(self.config, num_envs, restorer=restorer, dataset=dataset)
        self.render_mode = render_mode
        super().__init__(num_envs, self.engine.single_observation_space, self.engine.single_action_space)
        self._slots = self.engine.all_slots()
        self._actions: np.ndarray | None = None
        self._rng = np.random.default_rng()
        self.last_step: StepOutput | None = None

    def reset(self) -> dict[str, np.ndarray]:
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._reset_seeds()
        options = self._options[0] if self._options and self._options[0] else None
        self._reset_options()
        self.engine.reset(self._slots, self._rng, options)
        return self.engine.observe()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[dict, np.ndarray, np.ndarray, list[dict]]:
        out = self.engine.step(self._actions, self._slots, keep_batch=self.keep_batch)
        self.last_step = out if self.keep_batch else None
        obs = self.engine.observe()
        stats = self.engine.info()
        infos: list[dict[str, Any]] = [
            {"psnr": float(stats["psnr"][i]), "t": int(stats["t"][i]), "face_index": int(stats["face_index"][i]),
             "rewards": {k: float(v[i]) for k, v in out.terms.items()}, "TimeLimit.truncated": False}
            for i in range(self.num_envs)
        ]
        done = out.terminated
        if done.any():
            finished = np.flatnonzero(done)
            for i in finished:
                infos[i]["terminal_observation"] = {k: v[i].copy() for k, v in obs.items()}
            self.engine.reset(self._slots[torch.as_tensor(finished)], self._rng)
            fresh = self.engine.observe(self._slots[torch.as_tensor(finished)])
            for key in obs:
                obs[key][finished] = fresh[key]
        return obs, out.reward.copy(), done.copy(), infos

    def close(self) -> None:
        """Nothing to release (one in-process engine)."""

    def get_images(self) -> Sequence[np.ndarray | None]:
        return render_faces(self.engine, self._slots)

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self, attr_name) if hasattr(self, attr_name) else getattr(self.engine, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list:
        idx = self._indices(indices)
        if method_name == "action_masks":
            masks = self.engine.action_masks()
            return [masks[i] for i in idx]
        if method_name == "render":
            frames = self.get_images()
            return [frames[i] for i in idx]
        raise AttributeError(f"FaceRepairSB3VecEnv supports env_method('action_masks') and ('render'), "
                             f"not {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

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
