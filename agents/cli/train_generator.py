"""``fh-gym train-generator NAME``: supervised training of full-image generators and auxiliary networks.

NAME is a registered recipe (``fh-gym train-generator --list``). The recipe config is the recipe's
defaults updated by ``--config YAML`` and the flags; LR/HR pairs come from the ``data`` block (training
people) degraded by the ``degradation`` block. Progress bar, TensorBoard under ``<out>/tb``, atomic
checkpoints; running the same command again resumes from ``<out>/last.pt``.

Data-parallel: ``torchrun --nproc_per_node=2 -m fh_gym.agents.cli.main train-generator NAME ...`` runs one
process per device (gloo on CPU, NCCL on GPUs); each rank draws its own batches.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch

from fh_gym.config import load_yaml


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-generator", help="train a generator / identity / landmark network (recipes)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", help="recipe name")
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    p.add_argument("--config", type=Path, help="recipe YAML (see envs_configs/recipes/)")
    p.add_argument("--data", choices=["synthetic", "lfw", "celeba", "folder"])
    p.add_argument("--data-root")
    p.add_argument("--scale", type=int, help="super-resolution factor (degradation.scale)")
    p.add_argument("--steps", type=int)
    p.add_argument("--minutes", type=float, help="stop after this many minutes (resume later)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--out", type=Path, help="run folder (default runs/<name>)")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def build_recipe_config(args: argparse.Namespace) -> dict[str, Any]:
    from fh_gym.restorers.training.recipes import recipe_config

    overrides: dict[str, Any] = load_yaml(args.config) if args.config else {}
    overrides.pop("recipe", None)
    flags = {"steps": args.steps, "minutes": args.minutes, "batch_size": args.batch_size, "lr": args.lr,
             "seed": args.seed, "device": args.device}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    config = recipe_config(args.name, overrides)
    if args.data:
        config["data"] = {"type": args.data, **({"root": args.data_root} if args.data_root else {})}
    elif args.data_root:
        config["data"] = {**config["data"], "root": args.data_root}
    if args.scale:
        config["degradation"] = {**config["degradation"], "scale": args.scale}
    return config


def _init_distributed(device: str) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    from fh_gym.engine.core import resolve_device

    dev = resolve_device(device)
    if world <= 1:
        return 0, 1, dev
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    torch.distributed.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return torch.distributed.get_rank(), world, dev


def train_generator(name: str, config: dict[str, Any], out_dir: Path, resume: bool = True,
                    progress: bool = True) -> dict[str, Any]:
    """Run recipe ``name`` with a full ``config`` (see :func:`recipe_config`); returns its summary."""
    from fh_gym.restorers.training.recipes import RecipeContext, get_recipe
    from fh_gym.training.pairs import PairSampler

    recipe = get_recipe(name)
    rank, world, device = _init_distributed(config["device"])
    try:
        data = {**config["data"], "split": "train"}
        seed = int(config["seed"])
        torch.manual_seed(seed + rank)
        sampler = PairSampler(data, config["degradation"], seed=(seed << 8) + rank, device=device,
                              min_images_per_identity=config["min_images_per_identity"])
        # Same people filter as training, so identity recipes get same-person validation pairs.
        val = PairSampler({**config["data"], "split": "val"}, config["degradation"], seed=seed, device=device,
                          min_images_per_identity=config["min_images_per_identity"])
        ctx = RecipeContext(config=config, out_dir=out_dir, train_batch=sampler,
                            val_batch=val.fixed(config["val_size"]), num_identities=sampler.num_identities,
                            scale=sampler.scale,
                            image_size=sampler.dataset.image_size, device=device, resume=resume,
                            progress=progress and rank == 0, rank=rank, world_size=world,
                            extras={"class_names": sampler.class_names})
        return recipe.fn(ctx)
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def run(args: argparse.Namespace) -> int:
    from fh_gym.restorers.training.recipes import RECIPES, _load_all_recipes

    if args.list or not args.name:
        _load_all_recipes()
        for recipe in sorted(RECIPES.values(), key=lambda r: r.name):
            print(f"{recipe.name:24s} {recipe.description}")
        return 0
    config = build_recipe_config(args)
    result = train_generator(args.name, config, args.out or Path("runs") / args.name, resume=not args.no_resume,
                             progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
