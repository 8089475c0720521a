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
from fh_gym.restorers.weights import DEFAULT, NONE, ShippedWeights, find, resolve_default, stored_arch, verified_path


def build_network(block: Mapping[str, Any], kind: str | None = None, *, scale: int | None = None,
                  init_seed: int | None = None, weights_context: Mapping[str, Any] | None = None,
                  extra_keys: tuple[str, ...] = ("checkpoint", "weights")) -> nn.Module:
    """Build a network from a typed block ``{type: Name, **kwargs}``, trained when the block says so.

    Args:
        block: The block. ``checkpoint: path`` loads a user's file with
            :func:`fh_gym.restorers.checkpoint.load_network` (which checks that it holds the same architecture and
            keyword arguments); ``weights: name | default | none`` loads shipped weights
            (:mod:`fh_gym.restorers.weights`; ``default`` picks the file that fits ``weights_context``). A block
            may set one of the two.
        kind: Required network kind.
        scale: The super-resolution factor of the caller (env, recipe): filled in when the network takes a
            ``scale`` argument and the block does not set it, and a block (or checkpoint) with another scale
            is refused.
        init_seed: Initialise an untrained network from this torch seed in a forked RNG (the same untrained
            network whatever the global RNG state, which building leaves untouched); None draws from the global
            RNG.
        weights_context: What ``weights: default`` chooses by (``data``, ``windows``, ``frontend``...; see
            :func:`fh_gym.restorers.weights.resolve_default`).
        extra_keys: Keys the caller consumes itself (besides ``checkpoint`` and ``weights``).

    The network's ``weights_source`` attribute says what it holds: ``"weights:<name>"``,
    ``"checkpoint:<path>"`` or None (untrained).
    """
    name, kwargs = split_type(block, "network config")
    cls = get_arch(name, kind)
    checkpoint = kwargs.pop("checkpoint", None)
    weights = kwargs.pop("weights", None)
    for key in extra_keys:
        kwargs.pop(key, None)
    if checkpoint and weights not in (None, NONE):
        raise ConfigError(f"network {name}: give either checkpoint ({checkpoint}) or weights ({weights}), not both")
    takes_scale = scale is not None and "scale" in inspect.signature(cls).parameters
    if takes_scale and kwargs.setdefault("scale", int(scale)) != int(scale):
        raise ConfigError(f"{cls.kind} network {name} has scale {kwargs['scale']} but the degradation is x{scale}")
    check_kwargs(cls, kwargs, f"network {name}", extra=extra_keys)
    expected = {"type": name, **kwargs}
    if checkpoint:
        return _tagged(load_network(checkpoint, expected=expected, kind=kind), f"checkpoint:{checkpoint}")
    shipped = _shipped_weights(name, weights, kwargs, weights_context)
    if shipped is not None:
        with torch.random.fork_rng(devices=[]):  # the module's init (overwritten by the file) leaves no trace
            network = load_network(verified_path(name, shipped), expected=expected, kind=kind)
        return _tagged(network, f"weights:{shipped}")
    if init_seed is None:
        return _tagged(remember_config(cls(**kwargs), expected), None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return _tagged(remember_config(cls(**kwargs), expected), None)


def _shipped_weights(network: str, weights: Any, kwargs: Mapping[str, Any],
                     context: Mapping[str, Any] | None) -> str | None:
    """The shipped weights name a block's ``weights`` value asks for (None: an untrained network). ``default``
    only picks a file whose architecture has every keyword argument the block sets (a block that asks for
    other widths gets an untrained network, not an error)."""
    if weights is None or weights == NONE:
        return None
    if not isinstance(weights, str):
        raise ConfigError(f"network {network}: weights must be a name, 'default' or 'none', got {weights!r}")
    if weights == DEFAULT:
        def fits(candidate: ShippedWeights) -> bool:
            arch = stored_arch(candidate)
            return all(arch.get(key, _MISSING) == value for key, value in kwargs.items())

        chosen = resolve_default(network, kwargs.get("scale"), context, fits=fits)
        return None if chosen is None else chosen.name
    return find(network, weights).name


def _tagged(model: nn.Module, source: str | None) -> nn.Module:
    model.weights_source = source
    return model


def build_restorer(block: Mapping[str, Any]) -> nn.Module:
    """Build a patch restorer (``kind == "patch"``) from ``{type: Name, ...}``."""
    return build_network(block, kind="patch")


def build_generator(block: Mapping[str, Any]) -> nn.Module:
    """Build a full-image generator (``kind == "generator"``) from ``{type: Name, ...}``."""
    return build_network(block, kind="generator")


_MISSING = object()
