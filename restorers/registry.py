"""Name -> class registry for every network (BasicSR style).

Each architecture file (``archs/*_arch.py``) decorates its classes with :func:`register_arch`; YAML
blocks ``{type: Name, **kwargs}`` mirror the constructor keyword arguments. A network class states its
``kind``: ``"patch"`` (repairs a window inside the env), ``"generator"`` (LR image -> HR image:
front-ends, reward references and baselines) or ``"aux"`` (recognisers, landmark nets, discriminators,
downsamplers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from fh_gym.restorers.config import ConfigError, check_kwargs, split_type

T = TypeVar("T", bound=type[nn.Module])

ARCH_REGISTRY: dict[str, type[nn.Module]] = {}
KINDS = ("patch", "generator", "aux")


def register_arch(cls: T) -> T:
    """Class decorator: make ``cls`` buildable from ``{type: cls.__name__, ...}``."""
    kind = getattr(cls, "kind", None)
    if kind not in KINDS:
        raise TypeError(f"{cls.__name__}.kind must be one of {KINDS}, got {kind!r}")
    name = cls.__name__
    if name in ARCH_REGISTRY and ARCH_REGISTRY[name] is not cls:
        raise KeyError(f"network '{name}' is registered twice")
    ARCH_REGISTRY[name] = cls
    return cls


def _load_all_archs() -> None:
    # Importing the package registers every architecture file.
    import fh_gym.restorers.archs  # noqa: F401


def list_archs(kind: str | None = None) -> list[str]:
    """Names of the registered networks, optionally of one ``kind``."""
    _load_all_archs()
    return sorted(n for n, c in ARCH_REGISTRY.items() if kind is None or c.kind == kind)


def get_arch(name: str, kind: str | None = None) -> type[nn.Module]:
    """The class registered as ``name``; ``kind`` restricts the allowed kinds."""
    _load_all_archs()
    if name not in ARCH_REGISTRY:
        raise ConfigError(f"unknown network type '{name}'; registered: {', '.join(list_archs(kind))}")
    cls = ARCH_REGISTRY[name]
    if kind is not None and cls.kind != kind:
        raise ConfigError(f"network '{name}' is a {cls.kind} network, not a {kind} network; "
                          f"{kind} networks: {', '.join(list_archs(kind))}")
    return cls


def build_network(block: Mapping[str, Any], kind: str | None = None,
                  extra_keys: tuple[str, ...] = ("checkpoint",)) -> nn.Module:
    """Build a network from a typed block ``{type: Name, **kwargs}``.

    A ``checkpoint`` key (path) loads trained weights with :func:`fh_gym.restorers.checkpoint.load_network`,
    which checks that the checkpoint holds the same architecture and keyword arguments.
    """
    name, kwargs = split_type(block, "network config")
    cls = get_arch(name, kind)
    checkpoint = kwargs.pop("checkpoint", None)
    for key in extra_keys:
        kwargs.pop(key, None)
    check_kwargs(cls, kwargs, f"network {name}", extra=extra_keys)
    if checkpoint:
        from fh_gym.restorers.checkpoint import load_network

        return load_network(checkpoint, expected={"type": name, **kwargs}, kind=kind)
    from fh_gym.restorers.checkpoint import remember_config

    return remember_config(cls(**kwargs), {"type": name, **kwargs})


def build_restorer(block: Mapping[str, Any]) -> nn.Module:
    """Build a patch restorer (``kind == "patch"``) from ``{type: Name, ...}``."""
    return build_network(block, kind="patch")


def build_generator(block: Mapping[str, Any]) -> nn.Module:
    """Build a full-image generator (``kind == "generator"``) from ``{type: Name, ...}``."""
    return build_network(block, kind="generator")


ArchFactory = Callable[..., nn.Module]
