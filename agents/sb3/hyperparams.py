"""The SB3 algorithms' hyperparameters: which keys are valid, their defaults, and how they reach SB3.

The valid keys (:func:`base_defaults`) are the algorithm constructor's own arguments (``n_steps``, ``gamma``,
``clip_range``...) plus fh-gym's keys (:data:`FH_KEYS`) and the curated ``policy_kwargs``; the files
``envs_configs/agents/<algo>.yaml`` set their values (one loader for every algorithm:
:mod:`fh_gym.agents.hyperparams`), e.g.::

    default:
      learning_rate: 3.0e-4        # or "lin_3.0e-4" for a linear decay to 0
      policy_kwargs: {features_dim: 128, net_arch: {pi: [64], vf: [64]}}
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from torch import nn

from fh_gym.agents.sb3.features import FaceRepairExtractor
from fh_gym.restorers.config import ConfigError

#: fh-gym's own hyperparameters (not constructor arguments of the SB3 class)
FH_KEYS: dict[str, Any] = {
    "n_envs": 8,                 # faces stepped together by one batched engine
    "total_timesteps": 200_000,  # env steps (faces x repairs); RL-Zoo's n_timesteps is an alias
    "normalize": False,          # VecNormalize: true = rewards only; or a dict of VecNormalize kwargs
    "finetune_restorer": None,   # joint restorer fine-tuning: true or {lr, every, grad_clip}
    "checkpoint_every": 10_000,  # env steps between checkpoints (checkpoints/last.zip)
    "image_every": 5,            # evaluations between TensorBoard image grids (0: never)
    "image_faces": 4,            # faces in each image grid
    "log_interval": 1,           # algorithm iterations between log dumps
    "deterministic_eval": True,  # greedy actions in evaluation
}

#: constructor arguments fh-gym sets itself
_RESERVED = {"policy", "env", "tensorboard_log", "policy_kwargs", "verbose", "seed", "device", "_init_setup_model",
             "rollout_buffer_class", "rollout_buffer_kwargs"}  # classes: not YAML-able, the Dict buffer is right

#: ``policy_kwargs`` keys; features_dim/encoder/width go to :class:`~fh_gym.agents.sb3.features.FaceRepairExtractor`
POLICY_KEYS: dict[str, Any] = {
    "features_dim": 128,
    "encoder": "small",
    "width": 16,
    "net_arch": {"pi": [64], "vf": [64]},
    "activation_fn": "tanh",
    "ortho_init": True,
    "share_features_extractor": True,
    "optimizer_kwargs": None,
}
CONTINUOUS_POLICY_KEYS: dict[str, Any] = {"log_std_init": 0.0}
LSTM_POLICY_KEYS: dict[str, Any] = {"lstm_hidden_size": 64, "n_lstm_layers": 1, "shared_lstm": False,
                                    "enable_critic_lstm": True}
EXTRACTOR_KEYS = ("features_dim", "encoder", "width")
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU}


def base_defaults(algo_class: type, recurrent: bool = False, continuous_ok: bool = True) -> dict[str, Any]:
    """Every valid key of an algorithm with its library default (before any YAML)."""
    params = inspect.signature(algo_class).parameters
    config = {k: p.default for k, p in params.items()
              if k not in _RESERVED and p.default is not inspect.Parameter.empty}
    policy = dict(POLICY_KEYS)
    if continuous_ok:
        policy.update(CONTINUOUS_POLICY_KEYS)
    if recurrent:
        policy.update(LSTM_POLICY_KEYS)
    return {**config, **copy.deepcopy(FH_KEYS), "policy_kwargs": policy}


def schedule(value: Any) -> Any:
    """A float, or ``"lin_<float>"`` (RL-Zoo) as a linear schedule from that value to 0."""
    if isinstance(value, str):
        if not value.startswith("lin_"):
            raise ConfigError(f"schedule must be a number or 'lin_<number>', got {value!r}")
        start = float(value[len("lin_"):])
        return lambda progress_remaining: progress_remaining * start
    return value


def policy_kwargs(hp: dict[str, Any], horizon: int) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` (with the features extractor) from the YAML ``policy_kwargs`` block."""
    block = dict(hp["policy_kwargs"])
    name = str(block.pop("activation_fn"))
    if name not in ACTIVATIONS:
        raise ConfigError(f"policy_kwargs.activation_fn {name!r} is unknown; valid: {', '.join(ACTIVATIONS)}")
    extractor = {k: block.pop(k) for k in EXTRACTOR_KEYS}
    extractor["horizon"] = int(horizon)
    if block.get("optimizer_kwargs") is None:
        block.pop("optimizer_kwargs", None)  # let the algorithm pick (A2C: RMSprop settings)
    return {**block, "activation_fn": ACTIVATIONS[name], "features_extractor_class": FaceRepairExtractor,
            "features_extractor_kwargs": extractor}


def constructor_kwargs(hp: dict[str, Any], algo_class: type) -> dict[str, Any]:
    """The hyperparameters the SB3 constructor takes (schedules converted), without fh-gym's keys."""
    params = inspect.signature(algo_class).parameters
    kwargs = {k: v for k, v in hp.items() if k in params and k not in _RESERVED}
    for key in ("learning_rate", "clip_range", "clip_range_vf"):
        if key in kwargs and kwargs[key] is not None:
            kwargs[key] = schedule(kwargs[key])
    return kwargs
