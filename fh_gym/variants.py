"""The registered env variants: one YAML file each in ``envs_configs/envs/`` (shipped inside the package).

A variant file holds ``id``, ``description``, optionally ``extends`` (another variant's file stem) and
``config``: overrides of the env defaults (:func:`fh_gym.envs.config.default_config`). This leaf module only
reads the files (YAML, no torch), so registering the env ids stays cheap; merging the overrides onto the
defaults is :func:`fh_gym.envs.config.make_config`'s job.

Ids live in Gymnasium's ``fh_gym`` namespace (``fh_gym/FaceRepair-Dense-x8-v0``). The names without the
namespace (``FaceRepair-Dense-x8-v0``, fh-gym 0.1) still work for one release as deprecated aliases: they
make the same env and warn (:func:`canonical_env_id`).
"""

from __future__ import annotations

import functools
import re
import textwrap
import warnings
from importlib import resources
from typing import Any

import yaml

VARIANT_KEYS = ("id", "description", "extends", "config")
#: Gymnasium namespace of every registered id
NAMESPACE = "fh_gym"
_ID_PATTERN = re.compile(rf"{NAMESPACE}/[A-Za-z][\w.-]*-v\d+")


def _config_error(message: str) -> Exception:
    # Lazy: fh_gym.restorers (where ConfigError lives) imports torch, which registering the env ids must not.
    from fh_gym.restorers.config import ConfigError

    return ConfigError(message)


@functools.cache
def variant_files() -> dict[str, dict[str, Any]]:
    """Variant name (file stem) -> the file's contents, sorted by name."""
    folder = resources.files("fh_gym.envs_configs") / "envs"
    variants = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text()) or {}
            unknown = set(data) - set(VARIANT_KEYS)
            if unknown:
                raise _config_error(f"{entry.name}: unknown top-level key(s) {sorted(unknown)}; "
                                  f"valid: {', '.join(VARIANT_KEYS)}")
            if not _ID_PATTERN.fullmatch(str(data.get("id", ""))):
                raise _config_error(f"{entry.name}: id {data.get('id')!r} must look like "
                                    f"'{NAMESPACE}/Name-v0' (Gymnasium's namespace/name-version)")
            variants[entry.name[: -len(".yaml")]] = data
    return variants


def variant_names() -> list[str]:
    return list(variant_files())


def variant_chain(name: str) -> list[dict[str, Any]]:
    """The ``config`` overrides of ``name`` and of the variants it extends, the root first."""
    files = variant_files()
    if name not in files:
        raise _config_error(f"unknown env variant '{name}'; available: {', '.join(files)}")
    chain, seen = [], set()
    while name is not None:
        if name in seen:
            raise _config_error(f"env variant '{name}' extends itself")
        seen.add(name)
        chain.append(files[name].get("config") or {})
        name = files[name].get("extends")
        if name is not None and name not in files:
            raise _config_error(f"env variant extends unknown variant '{name}'")
    return chain[::-1]


def env_ids() -> dict[str, str]:
    """Registered env id (namespaced) -> variant name."""
    return {data["id"]: name for name, data in variant_files().items()}


def deprecated_env_ids() -> dict[str, str]:
    """Deprecated alias (the id without its namespace, fh-gym 0.1) -> the namespaced id; removed next release."""
    return {env_id.split("/", 1)[1]: env_id for env_id in env_ids()}


def deprecation_message(alias: str) -> str:
    return (f"env id '{alias}' is deprecated and will be removed in the next release; "
            f"use '{deprecated_env_ids()[alias]}'")


def canonical_env_id(env_id: str) -> str:
    """The namespaced id of ``env_id`` (itself, or the id a deprecated alias names, with a ``FutureWarning``).

    Raises:
        ConfigError: If ``env_id`` is neither a registered id nor an alias (the message lists the ids).
    """
    if env_id in env_ids():
        return env_id
    aliases = deprecated_env_ids()
    if env_id in aliases:
        warnings.warn(deprecation_message(env_id), FutureWarning, stacklevel=2)
        return aliases[env_id]
    raise _config_error(f"unknown env id '{env_id}'; registered: {', '.join(env_ids())}")


def variant_of(env_id: str) -> str:
    """The variant name of a registered id (or of a deprecated alias, with its warning)."""
    return env_ids()[canonical_env_id(env_id)]


def variants_doc(indent: str = "    ") -> str:
    """A reST bullet list of the variants (``id`` (file): description), for docstrings and help texts."""
    lines = []
    for name, data in variant_files().items():
        text = " ".join(str(data.get("description", "")).split())
        lines.append(textwrap.fill(f"* ``{data['id']}`` (``{name}.yaml``): {text}", width=110,
                                   initial_indent=indent, subsequent_indent=indent + "  "))
    return "\n".join(lines)
