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
#: the env recipes with a command of their own: (command, recipe, help)
ENV_RECIPES = ((RECIPE, RECIPE, "pre-train a patch restorer on random patch pairs"),
               ("train-gain-predictor", "gain-predictor",
                "train the gain_predictor strategy's network on the greedy oracle's gains (one-step lookahead)"))


def add_parser(sub: argparse._SubParsersAction) -> None:
    for command, recipe, helptext in ENV_RECIPES:
        description = __doc__ if recipe == RECIPE else GAIN_PREDICTOR_DOC
        p = sub.add_parser(command, help=helptext, description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_env_args(p, default_split="train")
        p.add_argument("--config", type=Path, help=f"recipe YAML (see envs_configs/recipes/{recipe.replace('-', '_')}"
                                                   ".yaml)")
        if recipe == RECIPE:
            p.add_argument("--arch", help="restorer type to train, e.g. FSRCNN (default: the env's restorer)")
        add_recipe_flags(p, recipe, ("steps", "batch_size", "lr", "minutes", "seed", "eval_every",
                                     "checkpoint_every"))
        add_out_arg(p, "runs/restorer" if recipe == RECIPE else f"runs/{recipe}",
                    "run folder (rerunning with the same folder resumes it)")
        p.add_argument("--no-resume", action="store_true", help="start over even if <out>/last.pt exists")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.set_defaults(func=run, recipe=recipe)


GAIN_PREDICTOR_DOC = """``fh-gym train-gain-predictor``: the network of the ``gain_predictor`` strategy.

A box-pooled CNN learns, from the observation of an episode state (I_t, I_0, coverage), the PSNR gain each
candidate repair would bring; the labels are the greedy oracle's true gains on the env's training people
(``labels: self_lookahead``: the restorer's own expected gains, its squared change in dB), the states come from
episodes that follow the oracle or a random policy (``greedy_prob``). Validation: episodes of the
``gain_predictor`` strategy on validation people (PSNR gain over bicubic). The recipe is ``gain-predictor``
(``envs_configs/recipes/gain_predictor.yaml``); the checkpoint is ``<out>/gain_predictor.pt``, for ``fh-gym
compare --gain-predictor <out>/gain_predictor.pt`` (adds the ``gain_predictor`` row).
"""


def recipe_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe's defaults <- ``--config`` <- the flags."""
    overrides = load_yaml(args.config) if args.config else {}
    flags = recipe_flags(args)
    if getattr(args, "arch", None):
        flags["arch"] = {"type": args.arch}
    return recipe_config(args.recipe, {**overrides, **{k: v for k, v in flags.items() if v is not None}})


def run(args: argparse.Namespace) -> int:
    result = run_recipe(args.recipe, recipe_from_args(args), args.out, env_config=env_config_from_args(args),
                        resume=not args.no_resume, progress=not args.quiet)
    if args.recipe == RECIPE:
        print(f"restorer checkpoint: {result['checkpoint']}  (steps {result['steps']}, "
              f"validation even-grid gain {result.get('eval/even_psnr_gain', float('nan')):+.3f} dB)")
    else:
        print(f"gain predictor checkpoint: {result['checkpoint']}  (steps {result['steps']}, validation gain "
              f"{result.get('eval/psnr_gain', float('nan')):+.3f} dB)")
    return 0
