"""``fh-gym train-generator NAME``: supervised training of full-image generators and auxiliary networks.

NAME is a registered image-pair recipe (``fh-gym train-generator --list``; the library function is
``fh_gym.agents.recipes.run_recipe``). The recipe config is the recipe's defaults updated by
``--config YAML`` (``envs_configs/recipes/<name>.yaml``) and the flags; LR/HR pairs come from the ``data``
block (training people) degraded by the ``degradation`` block. Progress bar, TensorBoard under ``<out>/tb``, atomic
checkpoints; running the same command again resumes from ``<out>/last.pt``.

Data-parallel: ``torchrun --nproc_per_node=2 -m fh_gym.agents.cli.main train-generator NAME ...`` runs one
process per device (gloo on CPU, NCCL on GPUs); each rank draws its own batches.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from fh_gym.agents.cli.common import DEVICE, add_recipe_flags, output_folder, recipe_flags
from fh_gym.agents.recipes import run_recipe
from fh_gym.degradations import SCHEMA as DEGRADATION_SCHEMA
from fh_gym.restorers.config import ConfigError, load_yaml
from fh_gym.restorers.training.recipe import RECIPES, get_recipe, recipe_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-generator", help="train a generator / identity / landmark network (recipes)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", help=f"recipe name: {', '.join(name for name, _ in pair_recipes())}")
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    p.add_argument("--config", type=Path, help="recipe YAML (see envs_configs/recipes/)")
    p.add_argument("--data", choices=["synthetic", "lfw", "celeba", "folder"])
    p.add_argument("--data-root")
    p.add_argument("--scale", type=DEGRADATION_SCHEMA["scale"].argparse_type("--scale"),
                   help="super-resolution factor (degradation.scale)")
    add_recipe_flags(p, None, ("steps", "minutes", "batch_size", "lr", "seed", "checkpoint_every"))
    p.add_argument("--device", type=DEVICE.argparse_type("--device"), help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--out", type=output_folder, help="run folder (default: runs/<name>; rerunning with the same "
                   "folder resumes it)")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def build_recipe_config(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe's defaults <- ``--config`` <- the flags."""
    overrides: dict[str, Any] = load_yaml(args.config) if args.config else {}
    flags = {**recipe_flags(args), "device": args.device}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    config = recipe_config(args.name, overrides)
    if args.data:
        config["data"] = {"type": args.data, **({"root": args.data_root} if args.data_root else {})}
    elif args.data_root:
        config["data"] = {**config["data"], "root": args.data_root}
    if args.scale:
        config["degradation"] = {**config["degradation"], "scale": args.scale}
    return config


def pair_recipes() -> list[tuple[str, str]]:
    """(name, description) of the recipes that train on image pairs (the patch recipes run inside an env)."""
    return [(name, text) for name, text in RECIPES.describe() if RECIPES.get(name).data == "pairs"]


def run(args: argparse.Namespace) -> int:
    if args.list or not args.name:
        for name, text in pair_recipes():
            print(f"{name:24s} {text}")
        return 0
    if get_recipe(args.name).data != "pairs":
        command = {"patches": args.name, "selection": "train-gain-predictor"}[get_recipe(args.name).data]
        raise ConfigError(f"recipe '{args.name}' trains inside the env: use fh-gym {command}")
    config = build_recipe_config(args)
    result = run_recipe(args.name, config, args.out or Path("runs") / args.name, resume=not args.no_resume,
                        progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
