"""The env config's schema: every key's default and the values it allows, and :func:`check_env_config`.

The engine checks its config here when it is built, and :func:`fh_gym.envs.config.make_config` when a config
is made, so every path (``gymnasium.make``, the vector envs, the SB3 adapter, the command line, training runs,
``fh-gym hallucinate``) sees the same checks and the same messages (``invalid repair.margin: -8 (expected
an integer >= 0)``). What each key means is in ``docs/environment.md``; the rules (no coercion of strings,
fractional floats or booleans to integers; finite numbers) in :mod:`fh_gym.restorers.config`.

Plain blocks (``repair``, ``render``, ``degradation``) have their own :class:`~fh_gym.restorers.config.Schema`;
typed blocks (``data``, ``frontend``, ``restorer``, ``action``, ``reward``) are checked against the signature
of the builder their ``type`` names (:func:`~fh_gym.restorers.config.check_kwargs`: key names, annotated
types, the builder's ``param_specs``), ``data`` also against the keys every data source takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fh_gym.data.base import DATASETS
from fh_gym.data.build import COMMON_KEYS, SPLITS
from fh_gym.degradations import SCHEMA as DEGRADATION_SCHEMA
from fh_gym.degradations import Degradation
from fh_gym.engine.actions.base import ACTIONS, build_action_type
from fh_gym.engine.rewards.base import REWARDS
from fh_gym.restorers.config import (
    Block,
    Bool,
    Choice,
    ConfigError,
    Float,
    Int,
    List,
    Schema,
    Str,
    Typed,
    check_kwargs,
    device_problem,
    split_type,
)
from fh_gym.restorers.registry import ARCHS, Registry

#: the keys every data block takes besides its source's own (``fh_gym.data.build.COMMON_KEYS``)
DATA_SCHEMA = Schema({
    "split": Choice("train", SPLITS),
    "split_fractions": List((0.8, 0.1, 0.1), item=Float(min=0, max=1), length=3),
    "split_seed": Int(0, min=0),
    "max_images": Int(None, min=1, nullable=True, doc="use at most this many faces of the split"),
}, name="data")

#: the env config (defaults of the dense x8 variant); YAML variants override a subset of these keys
ENV_SCHEMA = Schema({
    "image_size": Int(128, min=16, max=2048, doc="HR side in pixels (divisible by the degradation scale)"),
    "horizon": Int(16, min=1, max=100_000, doc="repairs per episode (T; the box history is N x T x 4)"),
    "mode": Choice("train", ("train", "inference")),
    "device": Str("cpu", check=device_problem),
    "data": Typed({"type": "synthetic", "split": "train"}),
    "degradation": Block(DEGRADATION_SCHEMA),
    "frontend": Typed({"type": "Bicubic"}),
    "restorer": Typed({"type": "AttentionFHEnhancer"}),
    "action": Typed({"type": "grid", "patch_size": 32, "stride": 16, "mask_repeats": True}),
    "repair": Block(Schema({"margin": Int(8, min=0, doc="context pixels around the box"),
                            "feather": Int(0, min=0, doc="soft paste border in pixels"),
                            "step_cost": Float(0.0, min=0, doc="reward charged per restorer call (the "
                                               "'step_cost' term; adaptive budgets)")}, name="repair")),
    "reward": Typed({"type": "psnr_gain"}),
    "render": Block(Schema({"scale": Int(2, min=1, max=16), "history": Bool(True)}, name="render")),
})


def default_config() -> dict[str, Any]:
    """Defaults of every env key (the dense x8 variant), from :data:`ENV_SCHEMA`."""
    return ENV_SCHEMA.defaults()


def _check_typed(block: Mapping[str, Any], key: str, registry: Registry, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """A typed block's keyword arguments checked against the builder ``registry`` has for its type (names
    and values; messages name ``<key>.<kwarg>``)."""
    name, kwargs = split_type(block, key)
    check_kwargs(registry.get(name), kwargs, f"{key} type '{name}'", extra=extra, path=key)
    return {"type": name, **kwargs}


def check_env_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A full env config with every value checked (integral floats for integer keys made ints).

    Raises:
        ConfigError: Naming the key, the value and what is allowed, for the first bad value.
    """
    checked = ENV_SCHEMA.validate(config)
    scale = Degradation.from_config(checked["degradation"]).scale  # its ranges and the occlusion block
    if checked["image_size"] % scale:
        raise ConfigError(f"invalid image_size: {checked['image_size']} (expected a multiple of the degradation "
                          f"scale {scale})")
    data = _check_typed(checked["data"], "data", DATASETS, COMMON_KEYS)
    common = DATA_SCHEMA.validate({k: v for k, v in data.items() if k in DATA_SCHEMA}, "data")
    checked["data"] = {k: common[k] if k in DATA_SCHEMA else v for k, v in data.items()}
    for key in ("frontend", "restorer"):
        checked[key] = _check_typed(checked[key], key, ARCHS, ("checkpoint", "weights"))
    checked["reward"] = _check_typed(checked["reward"], "reward", REWARDS)
    checked["action"] = _check_typed(checked["action"], "action", ACTIONS)
    build_action_type(checked["action"], checked["image_size"])  # its cross-key rules (patch_size <= image_size)
    return checked
