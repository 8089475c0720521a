"""A native TorchRL ``EnvBase`` over the batched engine: N faces, every tensor on the engine's device.

Unlike ``GymEnv`` / ``GymWrapper`` (which convert NumPy arrays at every step), :class:`FaceRepairTorchRLEnv`
calls the engine's tensor path (:meth:`~fh_gym.engine.core.RepairEngine.step_tensors`,
:meth:`~fh_gym.engine.core.RepairEngine.observe_tensors`): actions arrive as a tensor, observations,
rewards, reward terms, done flags and the action mask leave as tensors on ``engine.device``, with no NumPy
and no host copy per step. Needs the optional ``torchrl`` package (``pip install "fh-gym[torchrl]"``).

Keys (batch size ``[N]``): ``image``, ``start`` (N, S, S, 3) uint8, ``coverage`` (N, S, S, 1) uint8,
``last_action`` (N, 4), ``step`` (N, 1), ``psnr`` (N, 1) and ``reward_<term>`` (N, 1) float32,
``action_mask`` (N, n) bool for ``Discrete`` actions (TorchRL's ``ActionMask`` transform reads it), ``action``
(``Categorical`` / ``MultiCategorical`` / ``Bounded``), ``reward`` (N, 1), ``done`` / ``terminated`` /
``truncated`` (N, 1) bool. Finished faces are reset through TorchRL's partial resets (``"_reset"``), as its
rollouts and collectors do.

Example:
    >>> env = FaceRepairTorchRLEnv("fh_gym/FaceRepair-Dense-x8-v0", num_envs=64)  # doctest: +SKIP
    >>> rollout = env.rollout(16)  # (64, 16) TensorDict: one episode per face  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from tensordict import TensorDict, TensorDictBase
from torch import Tensor, nn
from torchrl.data import Binary, Bounded, Categorical, Composite, MultiCategorical, Unbounded
from torchrl.envs import EnvBase

from fh_gym.engine.core import RepairEngine
from fh_gym.envs.config import make_config
from fh_gym.envs.slots import REWARD_PREFIX
from fh_gym.restorers.pixels import psnr_from_mse
from fh_gym.variants import variant_of

__all__ = ["FaceRepairTorchRLEnv"]


def action_spec(space: spaces.Space, n: int, device: torch.device) -> Any:
    """The TorchRL spec of N faces' actions in ``space`` (Discrete, MultiDiscrete or Box)."""
    if isinstance(space, spaces.Discrete):
        return Categorical(int(space.n), shape=(n,), dtype=torch.int64, device=device)
    if isinstance(space, spaces.MultiDiscrete):
        return MultiCategorical(torch.as_tensor(space.nvec), shape=(n, len(space.nvec)), dtype=torch.int64,
                                device=device)
    if isinstance(space, spaces.Box):
        return Bounded(float(space.low.min()), float(space.high.max()), shape=(n, *space.shape), dtype=torch.float32,
                       device=device)
    raise TypeError(f"no TorchRL spec for {space}")


class FaceRepairTorchRLEnv(EnvBase):
    """N face-repair episodes as one batched TorchRL env (see the module docstring).

    Args:
        env_id: A registered id (``fh_gym/FaceRepair-Dense-x8-v0``) or None (the defaults).
        num_envs: Number of faces N (the batch size).
        config: Overrides of the id's config (``{"device": "cuda"}`` puts everything on the GPU).
        restorer / dataset: Ready objects to share (as for the Gymnasium envs).
        check_actions: Validate each step's actions against the space (one device sync per step).
    """

    def __init__(self, env_id: str | None = "fh_gym/FaceRepair-Dense-x8-v0", num_envs: int = 1,
                 config: dict | None = None, *, restorer: nn.Module | None = None, dataset: Any = None,
                 check_actions: bool = True) -> None:
        engine = RepairEngine(make_config(config, variant_of(env_id) if env_id else None), num_envs,
                              restorer=restorer, dataset=dataset)
        super().__init__(device=engine.device, batch_size=torch.Size([num_envs]))
        self.engine = engine
        self.env_id = env_id
        self.check_actions = check_actions
        self._rng = np.random.default_rng()
        self._masked = isinstance(engine.single_action_space, spaces.Discrete)
        self._make_specs()

    def _make_specs(self) -> None:
        n, s, dev = self.engine.num_envs, self.engine.image_size, self.device
        image = {"low": 0, "high": 255, "dtype": torch.uint8, "device": dev}
        observation = {
            "image": Bounded(shape=(n, s, s, 3), **image),
            "start": Bounded(shape=(n, s, s, 3), **image),
            "coverage": Bounded(shape=(n, s, s, 1), **image),
            "last_action": Bounded(0.0, 1.0, shape=(n, 4), dtype=torch.float32, device=dev),
            "step": Bounded(0.0, 1.0, shape=(n, 1), dtype=torch.float32, device=dev),
            "psnr": Unbounded(shape=(n, 1), dtype=torch.float32, device=dev),
            **{REWARD_PREFIX + name: Unbounded(shape=(n, 1), dtype=torch.float32, device=dev)
               for name in self.engine.term_names},
        }
        if self._masked:
            size = self.engine.action_type.mask_size()
            observation["action_mask"] = Binary(n=size, shape=(n, size), dtype=torch.bool, device=dev)
        self.observation_spec = Composite(observation, shape=(n,), device=dev)
        self.action_spec = action_spec(self.engine.single_action_space, n, dev)
        self.reward_spec = Unbounded(shape=(n, 1), dtype=torch.float32, device=dev)
        done = {"dtype": torch.bool, "device": dev, "shape": (n, 1)}
        self.done_spec = Composite(done=Categorical(2, **done), terminated=Categorical(2, **done),
                                   truncated=Categorical(2, **done), shape=(n,), device=dev)

    def _set_seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)

    def _observation(self, terms: dict[str, Tensor] | None) -> dict[str, Tensor]:
        engine = self.engine
        out: dict[str, Any] = engine.observe_tensors()
        out["psnr"] = self._psnr().unsqueeze(-1)
        for name in engine.term_names:
            value = terms.get(name) if terms else None
            out[REWARD_PREFIX + name] = (value if value is not None else torch.zeros(engine.num_envs,
                                                                                        device=self.device)
                                         ).unsqueeze(-1)
        if self._masked:
            out["action_mask"] = engine.action_mask_tensor()
        return out

    def _psnr(self) -> Tensor:
        """Whole-image PSNR in dB from the running MSE, on the device (NaN without ground truth)."""
        psnr = psnr_from_mse(self.engine.mse).to(torch.float32)
        return torch.where(self.engine.has_truth, psnr, torch.full_like(psnr, float("nan")))

    def _done(self, done: Tensor) -> dict[str, Tensor]:
        done = done.unsqueeze(-1)
        return {"done": done, "terminated": done.clone(), "truncated": torch.zeros_like(done)}

    def _reset(self, tensordict: TensorDictBase | None = None, **kwargs: Any) -> TensorDictBase:
        slots = self.engine.all_slots()
        if tensordict is not None and "_reset" in tensordict:
            slots = slots[tensordict.get("_reset").reshape(-1)]
        if len(slots):
            self.engine.reset(slots, self._rng)
        return TensorDict({**self._observation(None), **self._done(self.engine.t >= self.engine.horizon)},
                          batch_size=self.batch_size, device=self.device)

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        out = self.engine.step_tensors(tensordict.get("action"), check=self.check_actions)
        return TensorDict({**self._observation(out.terms), "reward": out.reward.unsqueeze(-1),
                           **self._done(out.terminated)}, batch_size=self.batch_size, device=self.device)
