"""Typed config schemas: one :class:`Field` per key (its default and what it allows), one :class:`Schema` per block.

The mechanism behind every value check of fh-gym (env config, recipes, hyperparameters, command-line flags);
:mod:`fh_gym.restorers.config` merges blocks and applies it to typed blocks. The rules (no silent coercion,
finite numbers, one-line errors naming the key, the value and what is allowed) are in that module's docstring.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names the key and the valid choices."""


_INT_TYPES = (int, numbers.Integral)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy.bool_ without importing numpy


def _bound(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Field:
    """One config key: its default and the values it allows.

    Build fields with :func:`Int`, :func:`Float`, :func:`Bool`, :func:`Str`, :func:`Choice`, :func:`List`,
    :func:`Block`, :func:`Typed` or :func:`Anything`.

    Attributes:
        default: The key's default value.
        kind: ``int``, ``float``, ``bool``, ``str``, ``list``, ``block`` (a plain nested block, ``schema``),
            ``typed`` (a ``{type: ...}`` block whose keys its builder checks) or ``any``.
        min / max: Inclusive bounds (``min_open`` / ``max_open``: exclusive) of numbers.
        choices: The allowed values.
        nullable: ``null`` (None) is allowed.
        item: The field every list item must satisfy; length: the list's required length.
        schema: The nested block's :class:`Schema` (``kind == "block"``).
        check: A further rule: ``fn(value) -> None`` or a message saying what is allowed instead.
        finite: Numbers must be finite.
        doc: What the key means (help texts).
    """

    default: Any = None
    kind: str = "any"
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    item: Field | None = None
    length: int | None = None
    schema: Schema | None = None
    check: Callable[[Any], str | None] | None = None
    finite: bool = True
    doc: str = ""

    def with_default(self, default: Any) -> Field:
        """The same spec with another default (a block overriding a shared key's default)."""
        return replace(self, default=default)

    def allowed(self) -> str:
        """What the field allows, in words (``an integer >= 1``, ``one of 'train', 'inference'``...)."""
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
                    "list": "a list", "block": "a mapping", "typed": "a mapping with a 'type' key",
                    "any": "any value"}[self.kind]
            if self.kind == "list" and self.item is not None:
                count = f"{self.length} " if self.length is not None else ""
                text = f"a list of {count}{self.item.allowed().replace('an integer', 'integers')}"
                text = text.replace("a number", "numbers").replace("a string", "strings")
            bounds = []
            if self.min is not None:
                bounds.append(f"{'>' if self.min_open else '>='} {_bound(self.min)}")
            if self.max is not None:
                bounds.append(f"{'<' if self.max_open else '<='} {_bound(self.max)}")
            if bounds and self.kind in ("int", "float"):
                text += " " + " and ".join(bounds)
        return text + (" or null" if self.nullable else "")

    def validate(self, value: Any, where: str) -> Any:
        """``value`` checked (and an integral float for an integer key made an int); :class:`ConfigError`
        ``invalid <where>: <value> (expected <allowed>)`` otherwise."""
        if value is None:
            if self.nullable or self.kind == "any":
                return None
            raise self.error(value, where)
        checked = self._typed(value, where)
        if self.kind in ("int", "float") and not self._in_range(checked):
            raise self.error(value, where)
        if self.choices is not None and checked not in self.choices:
            raise self.error(value, where)
        if self.check is not None:
            problem = self.check(checked)
            if problem:
                raise ConfigError(f"invalid {where}: {value!r} ({problem})")
        return checked

    def error(self, value: Any, where: str) -> ConfigError:
        return ConfigError(f"invalid {where}: {value!r} (expected {self.allowed()})")

    def _typed(self, value: Any, where: str) -> Any:
        kind = self.kind
        if kind == "int":
            if _is_bool(value):
                raise self.error(value, where)
            if isinstance(value, _INT_TYPES):
                return int(value)
            if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
                return int(value)
            raise self.error(value, where)
        if kind == "float":
            if _is_bool(value) or not isinstance(value, numbers.Real):
                raise self.error(value, where)
            if self.finite and not math.isfinite(value):
                raise self.error(value, where)
            return value if isinstance(value, (int, float)) else float(value)
        if kind == "bool":
            if not _is_bool(value):
                raise self.error(value, where)
            return bool(value)
        if kind == "str":
            if not isinstance(value, str):
                raise self.error(value, where)
            return value
        if kind == "list":
            return self._list(value, where)
        if kind == "block":
            if not isinstance(value, Mapping):
                raise self.error(value, where)
            return self.schema.validate(value, where) if self.schema is not None else dict(value)
        if kind == "typed":
            if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
                raise self.error(value, where)
            return copy.deepcopy(dict(value))
        return copy.deepcopy(value)

    def _list(self, value: Any, where: str) -> list:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise self.error(value, where)
        if self.length is not None and len(value) != self.length:
            raise self.error(value, where)
        if self.item is None:
            return list(value)
        try:
            return [self.item.validate(v, f"{where}[{i}]") for i, v in enumerate(value)]
        except ConfigError:
            raise self.error(value, where) from None

    def _in_range(self, value: float) -> bool:
        if self.min is not None and (value <= self.min if self.min_open else value < self.min):
            return False
        return not (self.max is not None and (value >= self.max if self.max_open else value > self.max))

    def parse(self, text: str, where: str) -> Any:
        """A command-line string read as YAML (``1e-3`` as a number), then checked."""
        return self.validate(parse_value(text), where)

    def argparse_type(self, flag: str) -> Callable[[str], Any]:
        """An argparse ``type=`` that checks a flag's value with this field (argparse then reports
        ``argument --flag: invalid value 0 (expected an integer >= 1)`` in one line)."""

        def convert(text: str) -> Any:
            try:
                return self.parse(text, flag)
            except ConfigError as exc:
                message = str(exc).replace(f"invalid {flag}: ", "invalid value ", 1)
                raise argparse.ArgumentTypeError(message) from None

        convert.__name__ = self.kind  # argparse names the type in some messages
        return convert


def Int(default: Any = None, min: float | None = None, max: float | None = None, **kw: Any) -> Field:
    """An integer key (integral floats accepted, booleans and strings not)."""
    return Field(default, "int", min=min, max=max, **kw)


def Float(default: Any = None, min: float | None = None, max: float | None = None, **kw: Any) -> Field:
    """A finite number (an int is a number; a boolean is not)."""
    return Field(default, "float", min=min, max=max, **kw)


def Bool(default: Any = None, **kw: Any) -> Field:
    """``true`` or ``false`` (not 0 / 1)."""
    return Field(default, "bool", **kw)


def Str(default: Any = None, **kw: Any) -> Field:
    """A string."""
    return Field(default, "str", **kw)


def Choice(default: Any, choices: Sequence[Any], **kw: Any) -> Field:
    """One of ``choices`` (strings unless the choices say otherwise)."""
    kind = "str" if all(isinstance(c, str) for c in choices) else "any"
    return Field(default, kind, choices=tuple(choices), **kw)


def List(default: Any = None, item: Field | None = None, length: int | None = None, **kw: Any) -> Field:
    """A list (YAML sequence), each item checked by ``item``."""
    return Field(default, "list", item=item, length=length, **kw)


def Block(schema: Schema, **kw: Any) -> Field:
    """A plain nested block checked by its own :class:`Schema` (its default is the schema's defaults)."""
    return Field(schema.defaults(), "block", schema=schema, **kw)


def Typed(default: Mapping[str, Any] | None, **kw: Any) -> Field:
    """A typed block ``{type: name, **kwargs}``; its keys are checked by its builder (:func:`check_kwargs`)."""
    return Field(None if default is None else dict(default), "typed", **kw)


def Anything(default: Any = None, **kw: Any) -> Field:
    """Any value (its consumer checks it)."""
    return Field(default, "any", **kw)


class Schema:
    """The fields of one config block, in order: its defaults and its validation.

    Args:
        fields: Key -> :class:`Field`.
        name: The block's name in messages (``"degradation"``); nested blocks add their key.

    Example:
        >>> schema = Schema({"horizon": Int(16, min=1), "mode": Choice("train", ["train", "inference"])})
        >>> schema.defaults()
        {'horizon': 16, 'mode': 'train'}
        >>> schema.validate({"horizon": 16.7})
        Traceback (most recent call last):
        ...
        fh_gym.restorers.schema.ConfigError: invalid horizon: 16.7 (expected an integer >= 1)
    """

    def __init__(self, fields: Mapping[str, Field], name: str = "") -> None:
        self.fields = dict(fields)
        self.name = name

    def __contains__(self, key: object) -> bool:
        return key in self.fields

    def __getitem__(self, key: str) -> Field:
        return self.fields[key]

    def defaults(self) -> dict[str, Any]:
        """The block's default config (a fresh copy)."""
        return {key: copy.deepcopy(f.default) for key, f in self.fields.items()}

    def validate(self, config: Mapping[str, Any] | None, where: str | None = None) -> dict[str, Any]:
        """``config`` with every key checked (missing keys take their defaults); unknown keys are errors.

        Args:
            config: The block (typically the defaults merged with overrides by :func:`merge_config`).
            where: Dotted prefix of the keys in messages (default: the schema's name).
        """
        prefix = self.name if where is None else where
        config = {} if config is None else config
        if not isinstance(config, Mapping):
            raise ConfigError(f"config {prefix or '<root>'} must be a mapping, got {config!r}")
        unknown = sorted(set(map(str, config)) - set(self.fields))
        if unknown:
            key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
            raise ConfigError(f"unknown config key '{key}'; valid keys here: {', '.join(sorted(self.fields))}")
        return {key: f.validate(config[key], f"{prefix}.{key}" if prefix else key) if key in config
                else copy.deepcopy(f.default) for key, f in self.fields.items()}


def infer_field(default: Any) -> Field:
    """The field of a key known only by its default: its type follows the default (an ``int`` default takes
    integers, a ``float`` one any number, a ``bool`` one booleans, a ``str`` one strings, a list a list, a
    ``{type: ...}`` block a typed block, another mapping a block of inferred fields; ``None``: anything)."""
    if isinstance(default, Field):
        return default
    if isinstance(default, bool):
        return Bool(default)
    for kind, constructor in ((int, Int), (float, Float), (str, Str)):
        if isinstance(default, kind):
            return constructor(default)
    if isinstance(default, Mapping):
        if "type" in default:
            return Typed(default)
        return Block(Schema({k: infer_field(v) for k, v in default.items()}))
    if isinstance(default, (list, tuple)):
        return List(list(default))
    return Anything(default)


def schema_from_defaults(defaults: Mapping[str, Any], specs: Mapping[str, Field], name: str = "") -> Schema:
    """The schema of a block known by its defaults: each key's field from ``specs`` (with the default given
    here), or one that follows the default's type (:func:`infer_field`); a default that is a Field is used
    as it is. So a key added to ``defaults`` without a spec is still type-checked."""
    fields = {}
    for key, value in defaults.items():
        if isinstance(value, Field):
            fields[key] = value
        elif key in specs:
            fields[key] = specs[key].with_default(copy.deepcopy(value))
        else:
            fields[key] = infer_field(value)
    return Schema(fields, name=name)


def device_problem(value: str) -> str | None:
    """What is wrong with a torch device name (None for ``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``auto``)."""
    if re.fullmatch(r"cpu|auto|mps|cuda(:\d+)?", value):
        return None
    return "expected cpu, cuda, cuda:N, mps or auto"


def parse_value(raw: str) -> Any:
    """A command-line value read as YAML, except that ``1e-3`` is a float (YAML 1.1 reads exponents without a
    dot as strings). Text that is not YAML (an unclosed ``[`` or ``{``) is a :class:`ConfigError`."""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{raw!r} is not a YAML value ({problem})") from None
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+(\.\d*)?[eE][+-]?\d+", value.strip()):
        return float(value)
    return value


def annotation_field(annotation: Any, default: Any) -> Field:
    """The :class:`Field` a parameter's annotation states: ``int``, ``float``, ``bool``, ``str`` (each
    optionally ``| None``, ``Optional[...]``); anything else (sequences, unions, classes) is not checked.
    A ``None`` default makes the field nullable."""
    names = _annotation_names(annotation)
    nullable = default is None or "None" in names
    names = [n for n in names if n != "None"]
    kind = names[0] if len(names) == 1 and names[0] in ("int", "float", "bool", "str") else "any"
    return Field(None if default is inspect.Parameter.empty else default, kind, nullable=nullable)


def _annotation_names(annotation: Any) -> list[str]:
    if annotation is inspect.Parameter.empty:
        return ["any"]
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        if text.startswith("Optional[") and text.endswith("]"):
            return [*_annotation_names(text[len("Optional["):-1]), "None"]
        parts, depth, current = [], 0, ""
        for char in text:  # split on top-level `|` only (not inside brackets)
            depth += (char == "[") - (char == "]")
            if char == "|" and depth == 0:
                parts.append(current)
                current = ""
            else:
                current += char
        return [*parts, current]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [n for arg in typing.get_args(annotation) for n in _annotation_names(arg)]
    if annotation is type(None):
        return ["None"]
    return [getattr(annotation, "__name__", "any")] if isinstance(annotation, type) else ["any"]


def signature_fields(target: Callable[..., Any]) -> dict[str, Field]:
    """Parameter name -> :class:`Field` of a builder: its annotations (:func:`annotation_field`) refined by the
    builder's ``param_specs`` (name -> Field with ranges; the signature's default is kept)."""
    fields = {}
    for name, param in inspect.signature(target).parameters.items():
        if name != "self" and param.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            fields[name] = annotation_field(param.annotation, param.default)
    for name, spec in (getattr(target, "param_specs", None) or {}).items():
        if name in fields:
            fields[name] = spec.with_default(fields[name].default)
    return fields
