"""RL-Zoo-style hyperparameters: ``envs_configs/agents/<algo>.yaml``, validated against a full default set.

A file maps ``default`` and any registered env id to hyperparameters::

    default:                       # every env
      n_envs: 8
      total_timesteps: 200000      # RL-Zoo's ``n_timesteps`` is accepted as an alias
      learning_rate: 3.0e-4        # or "lin_3.0e-4" for a linear decay to 0
      policy_kwargs: {features_dim: 128, net_arch: {pi: [64], vf: [64]}}
    FaceRepair-IPFH-v0:            # merged on top of ``default`` for that env only
      gamma: 0.95

The valid keys are the algorithm constructor's own arguments (``n_steps``, ``gamma``, ``clip_range``...)
plus fh-gym's keys (:data:`FH_KEYS`) and the curated ``policy_kwargs``; anything else is a
:class:`~fh_gym.config.ConfigError` that lists the valid keys. Files ship inside the ``envs_configs``
package and are read with ``importlib.resources``, so they work from a non-editable install.
"""

from __future__ import annotations

import copy
import inspect
from importlib import resources
from typing import Any

import yaml
from torch import nn

from fh_gym.config import ConfigError, merge_config

#: fh-gym's own hyperparameters (not constructor arguments of the SB3 class)
FH_KEYS: dict[str, Any] = {
    "n_envs": 8,                 # faces stepped together by one batched engine
    "total_timesteps": 200_000,  # env steps (faces x repairs)
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
ALIASES = {"n_timesteps": "total_timesteps"}


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


def apply_aliases(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Rename RL-Zoo aliases (``n_timesteps`` -> ``total_timesteps``) at the top level."""
    result = dict(overrides or {})
    for alias, key in ALIASES.items():
        if alias in result:
            if key in result:
                raise ConfigError(f"give either {alias} or {key}, not both")
            result[key] = result.pop(alias)
    return result


def yaml_file(algo: str) -> dict[str, Any]:
    """The raw ``envs_configs/agents/<algo>.yaml`` (empty if the file does not exist)."""
    entry = resources.files("fh_gym.envs_configs") / "agents" / f"{algo}.yaml"
    if not entry.is_file():
        return {}
    data = yaml.safe_load(entry.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"envs_configs/agents/{algo}.yaml must map 'default' / env ids to hyperparameters")
    return data


def load_hyperparams(algo: str, algo_class: type, env_id: str, *, recurrent: bool = False,
                     continuous_ok: bool = True) -> dict[str, Any]:
    """Library defaults <- YAML ``default`` <- YAML ``env_id`` (unknown keys raise ``ConfigError``).

    Args:
        algo: Registered algorithm name (the YAML file stem).
        algo_class: The SB3 / sb3-contrib class (its constructor arguments are valid keys).
        env_id: Registered env id whose entry applies.
        recurrent: Add the LSTM ``policy_kwargs`` keys.
        continuous_ok: Add the Gaussian-policy keys (``log_std_init``).

    Example:
        >>> from stable_baselines3 import PPO
        >>> hp = load_hyperparams("ppo", PPO, "FaceRepair-Dense-x8-v0")
        >>> hp["n_envs"], hp["policy_kwargs"]["features_dim"]  # doctest: +SKIP
        (8, 128)
    """
    from fh_gym.registration import env_ids

    data = yaml_file(algo)
    valid_sections = {"default", *env_ids()}
    unknown = set(data) - valid_sections
    if unknown:
        raise ConfigError(f"envs_configs/agents/{algo}.yaml: unknown section(s) {sorted(unknown)}; valid: "
                          f"default, {', '.join(sorted(env_ids()))}")
    config = base_defaults(algo_class, recurrent, continuous_ok)
    for section in ("default", env_id):
        config = merge_config(config, apply_aliases(data.get(section)), f"{algo}.yaml[{section}]")
    return config


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
    from fh_gym.agents.sb3.features import FaceRepairExtractor

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
