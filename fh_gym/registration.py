"""Registered env ids, one YAML file each in ``envs_configs/envs/`` (shipped inside the package).

A variant file holds ``id``, ``description``, optionally ``extends`` (another variant's file stem) and
``config``: overrides of ``FaceRepairEnv.default_config()``. Registration passes only the variant name
to the env, so ``gymnasium.make(id, config={...})`` merges the user's keys *on top of* the variant's.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import gymnasium as gym
import yaml

from fh_gym.config import ConfigError, merge_config


@functools.cache
def _variant_files() -> dict[str, dict[str, Any]]:
    folder = resources.files("fh_gym.envs_configs") / "envs"
    variants = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text()) or {}
            unknown = set(data) - {"id", "description", "extends", "config"}
            if unknown:
                raise ConfigError(f"{entry.name}: unknown top-level key(s) {sorted(unknown)}; "
                                  "valid: id, description, extends, config")
            variants[entry.name[: -len(".yaml")]] = data
    return variants


def variant_names() -> list[str]:
    return list(_variant_files())


def variant_overrides(name: str) -> dict[str, Any]:
    """The config overrides of a variant, its ``extends`` chain applied (parent first)."""
    files = _variant_files()
    if name not in files:
        raise ConfigError(f"unknown env variant '{name}'; available: {', '.join(files)}")
    chain, seen = [], set()
    while name is not None:
        if name in seen:
            raise ConfigError(f"env variant '{name}' extends itself")
        seen.add(name)
        chain.append(files[name].get("config") or {})
        name = files[name].get("extends")
        if name is not None and name not in files:
            raise ConfigError(f"env variant extends unknown variant '{name}'")
    # Merge against the real defaults so a typo in any file is reported with the valid keys.
    from fh_gym.envs.face_repair import default_config

    merged = default_config()
    for overrides in reversed(chain):
        merged = merge_config(merged, overrides)
    return merged


def env_ids() -> dict[str, str]:
    """Registered env id -> variant name."""
    return {data["id"]: name for name, data in _variant_files().items()}


def register_envs() -> list[str]:
    """Register every variant with Gymnasium (idempotent); returns the ids."""
    ids = []
    for env_id, name in env_ids().items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="fh_gym.envs:FaceRepairEnv",
                         vector_entry_point="fh_gym.envs:FaceRepairVectorEnv", kwargs={"variant": name})
        ids.append(env_id)
    return ids


ENV_IDS: list[str] = register_envs()
