"""``fh-gym pretrain-restorer``: supervised pre-training of a patch restorer on random patch pairs.

IPFH pre-trains its local restoration network "on randomly selected patch pairs"; here the pairs come
from random-policy repair episodes on the *training people* of the chosen data, so the restorer sees
the states it will meet in the env. It is the ``pretrain-restorer`` recipe (defaults and keys:
``envs_configs/recipes/pretrain_restorer.yaml``; library: ``fh_gym.agents.recipes.run_recipe``).
Progress bar, TensorBoard, atomic checkpoints; rerunning the same command resumes from ``<out>/last.pt``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fh_gym.agents.cli.common import add_env_args, add_out_arg, add_recipe_flags, env_config_from_args, recipe_flags
from fh_gym.agents.recipes import run_recipe
from fh_gym.restorers.config import load_yaml
from fh_gym.restorers.training.recipe import recipe_config

RECIPE = "pretrain-restorer"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain-restorer", help="pre-train a patch restorer on random patch pairs",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="train")
    p.add_argument("--config", type=Path, help="recipe YAML (see envs_configs/recipes/pretrain_restorer.yaml)")
    p.add_argument("--arch", help="restorer type to train, e.g. FSRCNN (default: the env's restorer)")
    add_recipe_flags(p, RECIPE, ("steps", "batch_size", "lr", "minutes", "seed", "eval_every", "checkpoint_every"))
    add_out_arg(p, "runs/restorer", "run folder (rerunning with the same folder resumes it)")
    p.add_argument("--no-resume", action="store_true", help="start over even if <out>/last.pt exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def recipe_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe's defaults <- ``--config`` <- the flags."""
    overrides = load_yaml(args.config) if args.config else {}
    flags = {**recipe_flags(args), "arch": {"type": args.arch} if args.arch else None}
    return recipe_config(RECIPE, {**overrides, **{k: v for k, v in flags.items() if v is not None}})


def run(args: argparse.Namespace) -> int:
    result = run_recipe(RECIPE, recipe_from_args(args), args.out, env_config=env_config_from_args(args),
                        resume=not args.no_resume, progress=not args.quiet)
    print(f"restorer checkpoint: {result['checkpoint']}  (steps {result['steps']}, "
          f"validation even-grid gain {result.get('eval/even_psnr_gain', float('nan')):+.3f} dB)")
    return 0
