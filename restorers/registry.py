"""One registry mechanism for everything named in fh-gym (BasicSR style), and the network registry.

A :class:`Registry` maps names to objects (classes, recipe records, algorithm records). Entries register
themselves with ``@REGISTRY.register()`` in the files of the registry's *package*, which is scanned (every
module in it imported) on the first lookup, so adding an entry is one new file and nothing else to edit.
Every registry reports an unknown name the same way: ``unknown <what> 'name'; available: a, b, c``
(a :class:`~fh_gym.restorers.config.ConfigError`), and lists its entries for help texts and docs
(:meth:`Registry.names`, :meth:`Registry.describe`).

The registries and their packages: networks (``fh_gym.restorers.archs``, this module's :data:`ARCHS`),
training recipes (``fh_gym.restorers.training.recipes``), rewards (``fh_gym.engine.rewards``), action types
(``fh_gym.engine.actions``), data sources (``fh_gym.data``), strategies (``fh_gym.agents.strategies``),
algorithms (``fh_gym.agents.algos``), paper-agent policies (``fh_gym.agents.policies``).

Networks state their ``kind``: ``"patch"`` (repairs a window inside the env), ``"generator"`` (LR image -> HR
image: front-ends, reward references and baselines) or ``"aux"`` (recognisers, landmark nets, discriminators,
downsamplers); YAML blocks ``{type: Name, **kwargs}`` mirror the constructor keyword arguments.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from torch import nn

from fh_gym.restorers.config import ConfigError, check_kwargs, split_type

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> entry, filled by the modules of one package (scanned lazily on the first lookup).

    Args:
        what: What an entry is, for messages (``"network"``, ``"reward type"``...).
        package: Dotted name of the package whose modules register the entries.
        suffix: Only modules whose name ends with it are scanned (``"_arch"``); empty: every module.

    Example:
        >>> REWARDS = Registry("reward type", "fh_gym.engine.rewards")  # doctest: +SKIP
        >>> @REWARDS.register("psnr_gain")  # doctest: +SKIP
        ... class PSNRGain(Reward): ...
    """

    def __init__(self, what: str, package: str, suffix: str = "") -> None:
        self.what = what
        self.package = package
        self.suffix = suffix
        self._entries: dict[str, T] = {}
        self._scanned = False

    # ----------------------------------------------------------------- filling
    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name`` (default: its ``name`` attribute, else
        its ``__name__``)."""

        def deco(obj: T) -> T:
            self.add(name or getattr(obj, "name", None) or obj.__name__, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` under ``name`` (a second, different object under the same name is an error)."""
        if not name:
            raise KeyError(f"a {self.what} needs a non-empty name ({obj!r})")
        if name in self._entries and self._entries[name] is not obj:
            raise KeyError(f"{self.what} '{name}' is registered twice")
        self._entries[name] = obj

    def remove(self, name: str) -> None:
        """Forget ``name`` (tests that register temporary entries)."""
        self._entries.pop(name, None)

    def scan(self) -> None:
        """Import every module of the package once (their decorators register the entries)."""
        if self._scanned:
            return
        self._scanned = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if module.name.startswith("_") or not module.name.endswith(self.suffix):
                continue
            importlib.import_module(f"{self.package}.{module.name}")

    # ----------------------------------------------------------------- lookups
    def get(self, name: str) -> T:
        """The entry ``name``; :class:`ConfigError` ``unknown <what> 'name'; available: ...`` otherwise."""
        self.scan()
        if name not in self._entries:
            raise ConfigError(f"unknown {self.what} '{name}'; available: {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self.scan()
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return [(name, self._entries[name]) for name in self.names()]

    def __contains__(self, name: object) -> bool:
        self.scan()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self.scan()
        return len(self._entries)

    def describe(self) -> list[tuple[str, str]]:
        """(name, first docstring line or ``description``) per entry, for help texts and generated docs."""
        rows = []
        for name, obj in self.items():
            text = getattr(obj, "description", "") or (inspect.getdoc(obj) or "")
            rows.append((name, text.strip().splitlines()[0] if text.strip() else ""))
        return rows

    def help(self) -> str:
        """``a, b, c`` (for argparse help strings)."""
        return ", ".join(self.names())

    def build(self, block: Mapping[str, Any], *args: Any, extra: tuple[str, ...] = (), **context: Any) -> Any:
        """Build ``{type: name, **kwargs}``: ``entry(*args, **context, **kwargs)`` after checking the keys.

        ``context`` holds values the caller supplies itself (``image_size``...): the block may not set them.
        """
        name, kwargs = split_type(block, f"{self.what} config")
        cls = self.get(name)
        clash = sorted(set(kwargs) & set(context))
        if clash:
            raise ConfigError(f"{self.what} '{name}': {', '.join(clash)} is set by the environment, not the config")
        check_kwargs(cls, kwargs, f"{self.what} '{name}'", extra=extra)
        return cls(*args, **context, **kwargs)


# --------------------------------------------------------------------------- networks
KINDS = ("patch", "generator", "aux")

#: every network class by name (``{type: Name, ...}`` blocks), filled by ``archs/*_arch.py``
ARCHS: Registry[type[nn.Module]] = Registry("network type", "fh_gym.restorers.archs", suffix="_arch")


def register_arch(cls: type[nn.Module]) -> type[nn.Module]:
    """Class decorator: make ``cls`` buildable from ``{type: cls.__name__, ...}`` (checks its ``kind``)."""
    kind = getattr(cls, "kind", None)
    if kind not in KINDS:
        raise TypeError(f"{cls.__name__}.kind must be one of {KINDS}, got {kind!r}")
    ARCHS.add(cls.__name__, cls)
    return cls


def list_archs(kind: str | None = None) -> list[str]:
    """Names of the registered networks, optionally of one ``kind``."""
    return [n for n, c in ARCHS.items() if kind is None or c.kind == kind]


def get_arch(name: str, kind: str | None = None) -> type[nn.Module]:
    """The class registered as ``name``; ``kind`` restricts the allowed kinds."""
    if name not in ARCHS:
        raise ConfigError(f"unknown network type '{name}'; available: {', '.join(list_archs(kind))}")
    cls = ARCHS.get(name)
    if kind is not None and cls.kind != kind:
        raise ConfigError(f"network '{name}' is a {cls.kind} network, not a {kind} network; "
                          f"{kind} networks: {', '.join(list_archs(kind))}")
    return cls
