"""Arguments shared by the ``fh-gym`` commands: which env, which data, which restorer, config overrides."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fh_gym.engine.config import check_env_config
from fh_gym.envs.face_repair import make_config
from fh_gym.registration import canonical_env_id, env_ids
from fh_gym.restorers.checkpoint import TRAINING_FORMAT, safe_load
from fh_gym.restorers.config import ConfigError, Float, Int, Str, device_problem, load_yaml, merge_config, parse_value
from fh_gym.restorers.training.recipe import COMMON_SCHEMA, get_recipe

#: the env of every command when no ``--env`` is given
DEFAULT_ENV = "fh_gym/FaceRepair-Dense-x8-v0"

#: value specs of the flags shared by several commands (the same checks as the config keys they feed)
COUNT = Int(min=1)
SEED = Int(min=0)
FPS = Float(min=0, min_open=True)
DEVICE = Str(check=device_problem)


def count(flag: str) -> Any:
    """argparse ``type=`` of a count flag (an integer >= 1)."""
    return COUNT.argparse_type(flag)


def output_folder(text: str) -> Path:
    """argparse ``type=`` of an ``--out`` folder: refuses an existing file (written into, it would fail late)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    return path


def add_out_arg(parser: argparse.ArgumentParser, default: str | None, what: str = "output folder") -> None:
    """``--out`` with its default in the help text."""
    shown = f" (default: {default})" if default else ""
    parser.add_argument("--out", type=output_folder, default=None if default is None else Path(default),
                        help=f"{what}{shown}")


#: recipe keys that have a flag (``--batch-size`` for ``batch_size``) and what the flag says
RECIPE_FLAG_HELP = {"steps": "optimisation steps of the run", "batch_size": "samples per step", "lr": "learning rate",
                    "minutes": "stop after this many minutes of this session (resume later)", "seed": "seed",
                    "eval_every": "steps between validations (0: only at the end)",
                    "checkpoint_every": "steps between checkpoints (<out>/last.pt; also one after the first step)"}


def add_recipe_flags(parser: argparse.ArgumentParser, recipe: str | None, keys: tuple[str, ...]) -> None:
    """One flag per recipe key (default: the recipe's, shown in the help when ``recipe`` is given), checked by
    the key's field in the recipe schema (the same check as the YAML key)."""
    fields = get_recipe(recipe).schema.fields if recipe else COMMON_SCHEMA.fields
    for key in keys:
        flag = "--" + key.replace("_", "-")
        shown = f" (default: {fields[key].default})" if recipe else " (default: the recipe's)"
        parser.add_argument(flag, dest=key, type=fields[key].argparse_type(flag), help=RECIPE_FLAG_HELP[key] + shown)


def recipe_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe keys given as flags (:func:`add_recipe_flags`)."""
    return {key: getattr(args, key) for key in RECIPE_FLAG_HELP if getattr(args, key, None) is not None}


def add_seed_arg(parser: argparse.ArgumentParser, what: str = "seed", default: int | None = 0) -> None:
    parser.add_argument("--seed", type=SEED.argparse_type("--seed"), default=default,
                        help=what + (f" (default: {default})" if default is not None else ""))


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
    group.add_argument("--max-images", type=count("--max-images"), help="use at most this many faces of the split")
    group.add_argument("--restorer", type=Path, help="trained restorer checkpoint (.pt) to repair with")
    group.add_argument("--device", type=DEVICE.argparse_type("--device"), help="cpu, cuda, cuda:N, mps or auto")


def parse_overrides(pairs: list[str], flag: str = "--set") -> dict[str, Any]:
    """``["a.b=1", "c=[1, 2]"]`` -> ``{"a": {"b": 1}, "c": [1, 2]}`` (values parsed as YAML, ``1e-3`` a float);
    errors name ``flag`` and the key."""
    result: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"{flag} expects KEY=VALUE, got {pair!r}")
        key, raw = pair.split("=", 1)
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{flag} {pair!r}: {part} is set to a value and used as a block")
        try:
            node[parts[-1]] = parse_value(raw)
        except ConfigError as exc:
            raise ConfigError(f"{flag} {key.strip()}: {exc}") from None
    return result


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
    replaces the block), the ``restorer`` checkpoint, the ``device``, then the ``--set KEY=VALUE`` pairs; every
    value is then checked (:func:`fh_gym.engine.config.check_env_config`, the engine's own checks).
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
    return check_env_config(merge_config(config, parse_overrides(list(overrides))))


def env_config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The full env config the command line describes (variant, then file, then flags; see
    :func:`build_env_config`)."""
    flags = {"type": args.data, "root": args.data_root, "split": args.split, "max_images": args.max_images}
    data = {k: v for k, v in flags.items() if v is not None}
    return build_env_config(args.env, env_config_file=args.env_config, data=data,
                            restorer=args.restorer, device=args.device, overrides=args.overrides)
