"""Paper-agent hyperparameters from ``envs_configs/agents/<algo>.yaml`` (read with importlib.resources).

File layout::

    default:  {...every key, with its default...}
    envs:     {<env id>: {...overrides for that env...}}
    variants: {<name>: {...overrides...}}       # selected by the ``variant`` key (paper ablations)
    baselines: {<paper row>: <strategy name>}   # fixed strategies of agents.baselines for the same tables

A user's keys are merged over ``default`` (+ the env's overrides); an unknown key is a ``ConfigError``
that lists the valid ones. A variant changes a key only where the config still holds the default value,
so ``--set-algo variant=fixed_box --set-algo action=...`` keeps the explicit ``action``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from fh_gym.config import ConfigError, merge_config

TOP_LEVEL = ("default", "envs", "variants", "baselines")


@functools.cache
def _read(algo: str) -> dict[str, Any]:
    entry = resources.files("fh_gym.envs_configs") / "agents" / f"{algo}.yaml"
    if not entry.is_file():
        raise ConfigError(f"no hyperparameter file envs_configs/agents/{algo}.yaml")
    data = yaml.safe_load(entry.read_text()) or {}
    unknown = set(data) - set(TOP_LEVEL)
    if unknown:
        raise ConfigError(f"envs_configs/agents/{algo}.yaml: unknown top-level key(s) {sorted(unknown)}; "
                          f"valid: {', '.join(TOP_LEVEL)}")
    if "default" not in data:
        raise ConfigError(f"envs_configs/agents/{algo}.yaml has no 'default' block")
    return data


def agent_file(algo: str) -> dict[str, Any]:
    """The parsed YAML of ``algo`` (a copy)."""
    return copy.deepcopy(_read(algo))


def agent_defaults(algo: str, env_id: str | None = None) -> dict[str, Any]:
    """``default`` updated by the overrides for ``env_id`` (validated)."""
    data = _read(algo)
    config = merge_config(data["default"], (data.get("envs") or {}).get(env_id), f"{algo}.envs.{env_id}")
    return config


def variant_names(algo: str) -> list[str]:
    return list(_read(algo).get("variants") or {})


def paper_baselines(algo: str) -> dict[str, str]:
    """Paper table row -> fixed strategy name (``fh-gym compare --strategies``) for ``algo``'s ablations."""
    from fh_gym.agents.baselines import STRATEGIES

    rows = dict(_read(algo).get("baselines") or {})
    bad = {row: name for row, name in rows.items() if name not in STRATEGIES}
    if bad:
        raise ConfigError(f"envs_configs/agents/{algo}.yaml: unknown strategies {bad}; valid: {', '.join(STRATEGIES)}")
    return rows


def _apply_variant(config: dict[str, Any], defaults: Mapping[str, Any], variant: Mapping[str, Any],
                   where: str) -> dict[str, Any]:
    out = dict(config)
    for key, value in variant.items():
        if key not in defaults:
            raise ConfigError(f"unknown config key '{where}.{key}'; valid keys here: {', '.join(sorted(defaults))}")
        base = defaults[key]
        plain_dict = isinstance(base, Mapping) and "type" not in base and isinstance(value, Mapping)
        if plain_dict:
            out[key] = _apply_variant(dict(out[key]), base, value, f"{where}.{key}")
        elif out[key] == base:  # the user left it alone: the variant decides
            out[key] = copy.deepcopy(value)
    return out


def resolve_config(algo: str, env_id: str | None, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults for ``env_id`` <- ``overrides`` (validated) <- the selected variant (where still default)."""
    defaults = agent_defaults(algo, env_id)
    config = merge_config(defaults, overrides, algo)
    variants = _read(algo).get("variants") or {}
    name = config.get("variant")
    if name is None:
        return config
    if name not in variants:
        raise ConfigError(f"unknown {algo} variant '{name}'; available: {', '.join(variants)}")
    return _apply_variant(config, defaults, variants[name] or {}, f"{algo}.variants.{name}")
