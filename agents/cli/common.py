"""Arguments shared by the ``fh-gym`` commands: which env, which data, which restorer, config overrides."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import yaml

from fh_gym.envs.face_repair import make_config
from fh_gym.registration import canonical_env_id, env_ids
from fh_gym.restorers.checkpoint import TRAINING_FORMAT, safe_load
from fh_gym.restorers.config import ConfigError, load_yaml, merge_config

#: the env of every command when no ``--env`` is given
DEFAULT_ENV = "fh_gym/FaceRepair-Dense-x8-v0"


def add_env_args(parser: argparse.ArgumentParser, default_split: str = "test") -> None:
    group = parser.add_argument_group("environment")
    group.add_argument("--env", default=DEFAULT_ENV,
                       help=f"registered env id ({', '.join(env_ids())})")
    group.add_argument("--env-config", type=Path, help="YAML file of env config overrides")
    group.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override one env config key, e.g. --set horizon=20 --set action.stride=8")
    group.add_argument("--data", choices=["synthetic", "lfw", "celeba", "folder"],
                       help="face source (default: the env's, i.e. the built-in synthetic faces)")
    group.add_argument("--data-root", help="dataset folder (LFW default: $FH_GYM_DATA/lfw-deepfunneled)")
    group.add_argument("--split", default=default_split, choices=["train", "val", "test", "all"])
    group.add_argument("--max-images", type=int, help="use at most this many faces of the split")
    group.add_argument("--restorer", type=Path, help="trained restorer checkpoint (.pt) to repair with")
    group.add_argument("--device", help="cpu, cuda, cuda:N or auto")


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=[1, 2]"]`` -> ``{"a": {"b": 1}, "c": [1, 2]}`` (values parsed as YAML)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        key, raw = pair.split("=", 1)
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _parse_value(raw)
    return result


def _parse_value(raw: str) -> Any:
    """YAML scalar, except that ``1e-3`` is a float (YAML 1.1 reads exponents without a dot as strings)."""
    value = yaml.safe_load(raw)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+(\.\d*)?[eE][+-]?\d+", value.strip()):
        return float(value)
    return value


def restorer_block(checkpoint: Path) -> dict[str, Any]:
    """``{type, **kwargs, checkpoint}`` of a restorer checkpoint (network or training checkpoint)."""
    data = safe_load(checkpoint)
    arch = data["network"]["arch"] if data["format"] == TRAINING_FORMAT else data["arch"]
    return {**arch, "checkpoint": str(checkpoint)}


def build_env_config(env_id: str, *, base: dict[str, Any] | None = None, env_config_file: Path | None = None,
                     data: dict[str, Any] | None = None, restorer: Path | None = None, device: str | None = None,
                     overrides: list[str] = ()) -> dict[str, Any]:
    """The full env config of the command-line options (every command that takes an env builds it here).

    Order: the env variant of ``env_id`` (or ``base``, e.g. the config an agent was trained on), the
    ``env_config_file`` YAML, the ``data`` keys (``type``, ``root``, ``split``, ``max_images``; another type
    replaces the block), the ``restorer`` checkpoint, the ``device``, then the ``--set KEY=VALUE`` pairs.
    """
    file_overrides = load_yaml(env_config_file) if env_config_file else {}
    if base is not None:
        config = merge_config(base, file_overrides)
    else:
        config = make_config(file_overrides, env_ids()[canonical_env_id(env_id)])
    if data:
        same_type = data.get("type", config["data"]["type"]) == config["data"]["type"]
        config["data"] = {**(config["data"] if same_type else {}), **data}
    if restorer:
        config["restorer"] = restorer_block(restorer)
    if device:
        config["device"] = device
    return merge_config(config, parse_overrides(list(overrides)))


def env_config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The full env config the command line describes (variant, then file, then flags; see
    :func:`build_env_config`)."""
    flags = {"type": args.data, "root": args.data_root, "split": args.split, "max_images": args.max_images}
    return build_env_config(args.env, env_config_file=args.env_config, data={k: v for k, v in flags.items() if v},
                            restorer=args.restorer, device=args.device, overrides=args.overrides)
