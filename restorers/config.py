"""Configuration dictionaries: deep merge with unknown-key rejection, one typed schema per block, YAML loading.

Every component of fh-gym is configured by a plain nested ``dict`` (highway-env style): a class exposes
``default_config()`` and a user (or a YAML file in ``envs_configs/``) overrides some of its keys.
Unlike highway-env we merge *deeply* and *reject unknown keys*, listing the valid ones, so a typo
never silently falls back to a default.

**Values** are checked by one mechanism, a :class:`Schema` of :class:`Field` specs per block: each field
holds its key's default *and* what it allows (type, range, choices, ``null``), so adding a key to a block
means adding its spec in the same place (``Schema.defaults()`` is the block's default config). The same
field checks a YAML value, a ``--set`` override and a command-line flag (:meth:`Field.argparse_type`).
Rules every field follows:

* no silent coercion: ``"16"`` (a string), ``16.7`` and ``true`` are not integers, ``true`` is not a number,
  ``1`` is not a boolean; an integral float (``16.0``, ``1.0e5``, RL-Zoo's ``!!float 1e6``) *is* accepted for an
  integer key and stored as the integer it equals;
* numbers must be finite (``.inf`` and ``.nan`` are errors) unless a field says otherwise;
* every error is one line naming the key, the value and what is allowed:
  ``invalid horizon: 16.7 (expected an integer >= 1 and <= 100000)``.

A *typed block* is a dict with a ``"type"`` key (``{"type": "FSRCNN", "d": 56}``). Its valid keys
depend on the type, so:

* overriding it with another ``type`` replaces the whole block;
* overriding it with the same ``type`` merges key by key, except that ``checkpoint`` and ``weights`` (the two
  ways to give a network its parameters) replace each other: an override that sets one drops the other;
* its keys are validated by the builder of that type (:func:`check_kwargs`), not by the merge: the key names
  against the builder's signature and the values against the signature's annotations (``int``, ``float``,
  ``bool``, ``str``, optionally ``| None``) refined by the class's ``param_specs`` (ranges).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from fh_gym.restorers.schema import (
    Anything,
    Block,
    Bool,
    Choice,
    ConfigError,
    Field,
    Float,
    Int,
    List,
    Schema,
    Str,
    Typed,
    device_problem,
    infer_field,
    parse_value,
    schema_from_defaults,
    signature_fields,
)

__all__ = ["Anything", "Block", "Bool", "Choice", "ConfigError", "Field", "Float", "Int", "List", "Schema", "Str",
           "Typed", "check_kwargs", "device_problem", "infer_field", "load_yaml", "merge_config", "parse_value",
           "schema_from_defaults", "signature_fields", "split_type"]


def _is_typed(block: Any) -> bool:
    return isinstance(block, Mapping) and "type" in block


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any] | None, path: str = "") -> dict:
    """Return ``base`` updated recursively by ``override`` (neither is modified).

    Args:
        base: The defaults; its keys are the only valid keys (except inside typed blocks).
        override: Keys to change. ``None`` means no change.
        path: Dotted prefix used in error messages.

    Raises:
        ConfigError: If ``override`` has a key ``base`` lacks; the message lists the valid keys.
    """
    result = copy.deepcopy(dict(base))
    if override is None:
        return result
    if not isinstance(override, Mapping):
        raise ConfigError(f"config {path or '<root>'} must be a mapping, got {type(override).__name__}")
    typed = _is_typed(base)
    for key, value in override.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in result:
            if typed:
                result[key] = copy.deepcopy(value)
                continue
            valid = ", ".join(sorted(map(str, result))) or "(none)"
            raise ConfigError(f"unknown config key '{where}'; valid keys here: {valid}")
        current = result[key]
        if _is_typed(current) and isinstance(value, Mapping):
            if "type" in value and value["type"] != current["type"]:
                result[key] = copy.deepcopy(dict(value))
            else:
                merged = merge_config(current, value, where)
                for given, other in (("checkpoint", "weights"), ("weights", "checkpoint")):
                    if given in value and other not in value:
                        merged.pop(other, None)
                result[key] = merged
        elif isinstance(current, Mapping) and isinstance(value, Mapping):
            result[key] = merge_config(current, value, where)
        else:
            result[key] = copy.deepcopy(value)
    return result


def check_kwargs(target: Callable[..., Any], kwargs: dict[str, Any], what: str,
                 extra: tuple[str, ...] = (), path: str = "") -> dict[str, Any]:
    """Check the keys and values of a typed block's keyword arguments against ``target``'s signature.

    Keys: one ``target`` does not accept raises :class:`ConfigError` listing the valid ones (a target with
    ``**kwargs`` accepts any). Values: checked by :func:`signature_fields` (annotations refined by
    ``target.param_specs``) and normalised *in place* (an integral float for an ``int`` key becomes an int),
    so the caller builds ``target(**kwargs)`` from the checked values.

    Args:
        target: A class or function whose keyword parameters are the valid keys.
        kwargs: The keys to check (``type`` is always allowed).
        what: Name used in the message, such as ``"restorer FSRCNN"``.
        extra: Further keys that the caller consumes itself (``checkpoint``...).
        path: The block's key in its config (``"action"``): value errors then name ``action.stride``.

    Returns:
        ``kwargs`` (the same dict).
    """
    params = inspect.signature(target).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        valid = {n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_POSITIONAL}
        valid |= set(extra) | {"type"}
        unknown = sorted(set(kwargs) - valid)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown} for {what}; valid keys: {', '.join(sorted(valid))}")
    fields = signature_fields(target)
    for key in list(kwargs):
        if key in fields and key not in extra:
            kwargs[key] = fields[key].validate(kwargs[key], f"{path}.{key}" if path else f"{key} of {what}")
    return kwargs


def split_type(block: Mapping[str, Any], what: str) -> tuple[str, dict]:
    """Split a typed block into its type name and the remaining keyword arguments."""
    if not _is_typed(block):
        raise ConfigError(f"{what} must be a mapping with a 'type' key, got {block!r}")
    kwargs = {k: v for k, v in block.items() if k != "type"}
    return str(block["type"]), kwargs


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping from ``path`` with a clear error when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data
