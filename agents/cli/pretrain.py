"""``fh-gym pretrain-restorer``: supervised pre-training of a patch restorer on random patch pairs.

IPFH pre-trains its local restoration network "on randomly selected patch pairs"; here the pairs come
from random-policy repair episodes on the *training people* of the chosen data, so the restorer sees
the states it will meet in the env. Progress bar, TensorBoard, atomic checkpoints; rerunning the same
command resumes from ``<out>/last.pt``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fh_gym.agents.cli.common import add_env_args, env_config_from_args
from fh_gym.config import load_yaml, merge_config

RECIPE_DEFAULTS: dict[str, Any] = {
    "recipe": "pretrain-restorer",
    "arch": None,  # restorer block; None = the env's restorer
    "steps": 4000,
    "batch_size": 32,
    "lr": 1e-3,
    "lr_final": 1e-4,  # cosine decay from lr to lr_final over `steps`
    "grad_clip": 1.0,
    "seed": 0,
    "minutes": None,  # wall-clock budget of this session (stops early, resumable)
    "checkpoint_every": 250,
    "log_every": 25,
    "eval_every": 500,
    "eval_faces": 32,
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain-restorer", help="pre-train a patch restorer on random patch pairs",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="train")
    p.add_argument("--config", type=Path, help="recipe YAML (see envs_configs/recipes/pretrain_restorer.yaml)")
    p.add_argument("--arch", help="restorer type to train, e.g. FSRCNN (default: the env's restorer)")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--minutes", type=float, help="stop after this many minutes (resume later)")
    p.add_argument("--seed", type=int)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--out", type=Path, default=Path("runs/restorer"), help="run folder")
    p.add_argument("--no-resume", action="store_true", help="start over even if <out>/last.pt exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def recipe_from_args(args: argparse.Namespace) -> dict[str, Any]:
    recipe = merge_config(RECIPE_DEFAULTS, load_yaml(args.config) if args.config else {}, "recipe")
    flags = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "minutes": args.minutes,
             "seed": args.seed, "eval_every": args.eval_every}
    recipe.update({k: v for k, v in flags.items() if v is not None})
    if args.arch:
        recipe["arch"] = {"type": args.arch}
    return recipe


def pretrain(env_config: dict[str, Any], recipe: dict[str, Any], out_dir: Path, resume: bool = True,
             progress: bool = True) -> dict[str, Any]:
    """Train and return ``{"checkpoint": path, "steps": n, "eval_gain_db": ...}``."""
    from fh_gym.agents.baselines import EvenGridStrategy
    from fh_gym.agents.evaluate import run_episodes
    from fh_gym.data import build_dataset
    from fh_gym.engine.core import build_scaled
    from fh_gym.restorers.training import TrainingRun
    from fh_gym.restorers.training.patch_pretrain import restorer_step
    from fh_gym.training.patch_pairs import PatchPairSampler

    arch = dict(recipe["arch"] or env_config["restorer"])
    init_from = arch.pop("checkpoint", None)
    torch.manual_seed(recipe["seed"])
    scale = int(env_config["degradation"]["scale"])
    restorer = build_scaled({**arch, **({"checkpoint": init_from} if init_from else {})}, "patch", scale,
                            env_config["device"], init_seed=None)  # drawn from the run's seed above
    arch = dict(restorer.arch_config)
    optimizer = torch.optim.Adam(restorer.parameters(), lr=recipe["lr"])
    steps = int(recipe["steps"])
    decay = recipe["lr_final"] / recipe["lr"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: decay + (1 - decay) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    config = {**recipe, "arch": arch, "env": env_config}
    run = TrainingRun(out_dir, {"restorer": restorer}, {"restorer": optimizer}, config, steps,
                      checkpoint_every=recipe["checkpoint_every"], log_every=recipe["log_every"], resume=resume,
                      progress=progress, schedulers={"lr": scheduler}, description="pretrain-restorer")
    env_config = merge_config(env_config, {"restorer": arch})
    # Seeding by the resume step keeps a resumed run reproducible from that point.
    sampler = PatchPairSampler(env_config, recipe["batch_size"], restorer, seed=(recipe["seed"] << 20) + run.step)
    val_config = merge_config(env_config, {"data": {**env_config["data"], "split": "val"}})
    val_data = build_dataset(val_config["data"])
    val_faces = np.random.default_rng(recipe["seed"]).choice(len(val_data), min(recipe["eval_faces"], len(val_data)),
                                                             replace=False)
    evals: dict[str, float] = {}

    def evaluate(current: TrainingRun, force: bool = False) -> None:
        periodic = recipe["eval_every"] > 0 and current.step % recipe["eval_every"] == 0
        if not (force or periodic or current.step == steps):  # eval_every 0: only the final evaluation
            return
        result = run_episodes(val_config, EvenGridStrategy(), val_faces, restorer=restorer, dataset=val_data,
                              batch_size=len(val_faces), seed=recipe["seed"])
        restorer.train()
        gain = float(np.mean(result.final_psnr - result.start_psnr))
        evals["eval_gain_db"], evals["eval_step"] = gain, current.step
        current._log({"eval/even_psnr_gain": gain})

    def step(_: int) -> dict[str, float]:
        ctx, target = sampler.sample()
        return restorer_step(restorer, optimizer, ctx, target, grad_clip=recipe["grad_clip"])

    minutes = recipe["minutes"]
    run.run(step, log_fn=evaluate, time_budget_s=None if minutes is None else 60.0 * minutes)
    restorer.eval()
    if evals.get("eval_step") != run.step:
        evaluate(run, force=True)
    paths = run.save_networks({"eval_even_psnr_gain_db": evals["eval_gain_db"], "data": env_config["data"]})
    return {"checkpoint": paths.get("restorer"), "steps": run.step, **evals}


def run(args: argparse.Namespace) -> int:
    env_config = env_config_from_args(args)
    recipe = recipe_from_args(args)
    result = pretrain(env_config, recipe, args.out, resume=not args.no_resume, progress=not args.quiet)
    print(f"restorer checkpoint: {result['checkpoint']}  (steps {result['steps']}, "
          f"validation even-grid gain {result.get('eval_gain_db', float('nan')):+.3f} dB)")
    return 0
