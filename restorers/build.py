"""Building networks from typed blocks ``{type: Name, **kwargs}`` (with trained weights when asked)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from fh_gym.restorers.checkpoint import load_network, remember_config
from fh_gym.restorers.config import ConfigError, check_kwargs, split_type
from fh_gym.restorers.registry import get_arch


def build_network(block: Mapping[str, Any], kind: str | None = None, *, scale: int | None = None,
                  init_seed: int | None = None, extra_keys: tuple[str, ...] = ("checkpoint",)) -> nn.Module:
    """Build a network from a typed block ``{type: Name, **kwargs}``.

    Args:
        block: The block; a ``checkpoint`` key (path) loads trained weights with
            :func:`fh_gym.restorers.checkpoint.load_network`, which checks that the checkpoint holds the same
            architecture and keyword arguments.
        kind: Required network kind.
        scale: The super-resolution factor of the caller (env, recipe): filled in when the network takes a
            ``scale`` argument and the block does not set it, and a block (or checkpoint) with another scale
            is refused.
        init_seed: Initialise the weights from this torch seed in a forked RNG (the same untrained network
            whatever the global RNG state, which building leaves untouched); None draws from the global RNG.
        extra_keys: Keys the caller consumes itself.
    """
    name, kwargs = split_type(block, "network config")
    cls = get_arch(name, kind)
    checkpoint = kwargs.pop("checkpoint", None)
    for key in extra_keys:
        kwargs.pop(key, None)
    takes_scale = scale is not None and "scale" in inspect.signature(cls).parameters
    if takes_scale and kwargs.setdefault("scale", int(scale)) != int(scale):
        raise ConfigError(f"{cls.kind} network {name} has scale {kwargs['scale']} but the degradation is x{scale}")
    check_kwargs(cls, kwargs, f"network {name}", extra=extra_keys)
    if checkpoint:
        return load_network(checkpoint, expected={"type": name, **kwargs}, kind=kind)
    if init_seed is None:
        return remember_config(cls(**kwargs), {"type": name, **kwargs})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return remember_config(cls(**kwargs), {"type": name, **kwargs})


def build_restorer(block: Mapping[str, Any]) -> nn.Module:
    """Build a patch restorer (``kind == "patch"``) from ``{type: Name, ...}``."""
    return build_network(block, kind="patch")


def build_generator(block: Mapping[str, Any]) -> nn.Module:
    """Build a full-image generator (``kind == "generator"``) from ``{type: Name, ...}``."""
    return build_network(block, kind="generator")
