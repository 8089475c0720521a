"""Hyperparameter files of every algorithm: ``envs_configs/agents/<algo>.yaml``, one schema, one loader.

A file is RL-Zoo-like::

    default:                       # every env
      n_envs: 8
      total_timesteps: 200000      # RL-Zoo's ``n_timesteps`` is accepted as an alias
    fh_gym/FaceRepair-IPFH-v0:     # merged on top of ``default`` for that env only
      gamma: 0.95
    variants:                      # optional: named override sets, picked by the ``variant`` key
      fixed_box: {action: {type: box, positions: 8}}
    baselines:                     # optional: paper table row -> fixed strategy (``fh-gym compare``)
      "Our w/ random": random

The valid keys and their library defaults are stated by the algorithm's registry entry
(:meth:`fh_gym.agents.registry.Algo.base_hyperparams`: for SB3 algorithms the constructor's arguments plus
fh-gym's keys, for the paper agents the policy-gradient keys plus their policy's constructor arguments);
the file changes their values and any other key is a :class:`~fh_gym.restorers.config.ConfigError` naming
it and listing the valid ones. Files ship inside the ``envs_configs`` package and are read with
``importlib.resources``, so they work from a non-editable install. See ``docs/agents.md``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from fh_gym.agents.strategies import STRATEGIES
from fh_gym.registration import canonical_env_id, env_ids
from fh_gym.restorers.config import ConfigError, merge_config

#: optional sections besides ``default`` and the env ids
EXTRA_SECTIONS = ("variants", "baselines")
#: RL-Zoo names accepted for fh-gym's
ALIASES = {"n_timesteps": "total_timesteps"}


@functools.cache
def _read(algo: str) -> dict[str, Any]:
    entry = resources.files("fh_gym.envs_configs") / "agents" / f"{algo}.yaml"
    if not entry.is_file():
        return {}
    data = yaml.safe_load(entry.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"envs_configs/agents/{algo}.yaml must map 'default' / env ids to hyperparameters")
    valid = ("default", *EXTRA_SECTIONS, *sorted(env_ids()))
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"envs_configs/agents/{algo}.yaml: unknown section(s) {unknown}; valid: {', '.join(valid)}")
    return data


def hyperparam_file(algo: str) -> dict[str, Any]:
    """The parsed ``envs_configs/agents/<algo>.yaml`` (a copy; empty if the file does not exist)."""
    return copy.deepcopy(_read(algo))


def apply_aliases(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Rename RL-Zoo aliases (``n_timesteps`` -> ``total_timesteps``) at the top level."""
    result = dict(overrides or {})
    for alias, key in ALIASES.items():
        if alias in result:
            if key in result:
                raise ConfigError(f"give either {alias} or {key}, not both")
            result[key] = result.pop(alias)
    return result


def load_hyperparams(algo: str, base: Mapping[str, Any], env_id: str | None) -> dict[str, Any]:
    """``base`` (every valid key) <- the file's ``default`` <- its ``env_id`` section, validated.

    Example:
        >>> from fh_gym.agents.registry import get_algo
        >>> env_id = "fh_gym/FaceRepair-Dense-x8-v0"
        >>> load_hyperparams("ppo", get_algo("ppo").base_hyperparams(env_id), env_id)["n_envs"]
        8
    """
    data = _read(algo)
    config = dict(base)
    env_id = None if env_id is None else canonical_env_id(env_id)  # a deprecated alias reads its id's section
    for section in ("default", env_id):
        config = merge_config(config, apply_aliases(data.get(section)), f"{algo}.yaml[{section}]")
    return config


def merge_overrides(algo: str, config: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """``config`` updated by a user's overrides (``--config`` / ``--set-algo``; aliases accepted, validated)."""
    return merge_config(config, apply_aliases(overrides), algo)


def apply_variant(algo: str, defaults: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the overrides of its ``variant`` applied where it still holds the default value.

    So ``--set-algo variant=fixed_box --set-algo action=...`` keeps the explicit ``action``.

    Raises:
        ConfigError: For an unknown variant (listing the file's) or a variant key that is not a hyperparameter.
    """
    name = config.get("variant")
    if name is None:
        return dict(config)
    variants = _read(algo).get("variants") or {}
    if name not in variants:
        raise ConfigError(f"unknown {algo} variant '{name}'; available: {', '.join(variants)}")
    return _where_default(dict(config), defaults, variants[name] or {}, f"{algo}.variants.{name}")


def _where_default(config: dict[str, Any], defaults: Mapping[str, Any], variant: Mapping[str, Any],
                   where: str) -> dict[str, Any]:
    out = dict(config)
    for key, value in variant.items():
        if key not in defaults:
            raise ConfigError(f"unknown config key '{where}.{key}'; valid keys here: {', '.join(sorted(defaults))}")
        base = defaults[key]
        plain_dict = isinstance(base, Mapping) and "type" not in base and isinstance(value, Mapping)
        if plain_dict:
            out[key] = _where_default(dict(out[key]), base, value, f"{where}.{key}")
        elif out[key] == base:  # the user left it alone: the variant decides
            out[key] = copy.deepcopy(value)
    return out


def paper_baselines(algo: str) -> dict[str, str]:
    """Paper table row -> fixed strategy name (``fh-gym compare --strategies``) for ``algo``'s ablations."""
    rows = dict(_read(algo).get("baselines") or {})
    bad = {row: name for row, name in rows.items() if name not in STRATEGIES}
    if bad:
        raise ConfigError(f"envs_configs/agents/{algo}.yaml: unknown strategies {bad}; valid: {', '.join(STRATEGIES)}")
    return rows
