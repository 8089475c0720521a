"""``fh-gym train --algo NAME --env ID``: train an agent (SB3 / sb3-contrib algorithms, paper agents).

Runs are named ``<env>__<algo>__<seed>__<unixtime>`` under ``--out`` (``-2``, ``-3``... when that folder exists:
two runs never share one); TensorBoard logs (``charts/``, ``losses/``, ``eval/``), periodic evaluation on
validation people and checkpoints go into the run folder. A checkpoint is written after the first update and
then every ``--checkpoint-every`` env steps, so a killed run loses at most one interval. ``--resume RUN_DIR``
continues a run from its last checkpoint with its step count, its TensorBoard run (without the steps the killed
attempt logged after its checkpoint) and its recorded config (``RUN_DIR/run.json``, see ``fh_gym.agents.runs``;
``--timesteps`` may change the total to any number above the steps trained). Hyperparameters come from the
algorithm's RL-Zoo-style YAML in ``envs_configs/agents/`` (per env id, with a default), then ``--config`` and
``--set-algo`` overrides (RL-Zoo's ``n_timesteps`` is accepted for ``total_timesteps``); every value is checked
before the run folder is made; docs/agents.md lists the keys.

Examples::

    fh-gym train --list
    fh-gym train --algo ppo --env fh_gym/FaceRepair-Dense-x8-v0 --timesteps 50000 --set-algo n_envs=16
    fh-gym train --algo maskable_ppo --restorer runs/restorer/restorer.pt --set-algo finetune_restorer=true
    fh-gym train --resume runs/fh_gym-FaceRepair-Dense-x8-v0__ppo__0__1700000000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fh_gym.agents.cli.common import (
    add_env_args,
    add_out_arg,
    add_seed_arg,
    count,
    env_config_from_args,
    parse_overrides,
)
from fh_gym.agents.hyperparams import merge_overrides
from fh_gym.agents.registry import ALGOS, Algo, get_algo
from fh_gym.agents.runs import TrainContext, discard_unused_run, new_context, read_run_record, resume_context
from fh_gym.restorers.checkpoint import run_lock
from fh_gym.restorers.config import Int, load_yaml, merge_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an RL agent", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="train")
    p.add_argument("--algo", help=f"algorithm: {ALGOS.help()} (fh-gym train --list)")
    p.add_argument("--list", action="store_true", help="list the algorithms and exit")
    p.add_argument("--config", type=Path, help="YAML of hyperparameter overrides")
    p.add_argument("--set-algo", dest="algo_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hyperparameter, e.g. --set-algo n_steps=64")
    p.add_argument("--timesteps", type=count("--timesteps"),
                   help="total env steps of the run (default: the algorithm's; with --resume: the new total)")
    p.add_argument("--checkpoint-every", type=count("--checkpoint-every"), metavar="STEPS",
                   help="env steps between checkpoints (default: the algorithm's checkpoint_every, 10000 env steps "
                        "for SB3, 10 updates for the paper agents); one is also written after the first update")
    add_seed_arg(p)
    p.add_argument("--eval-every", type=Int(min=0).argparse_type("--eval-every"), default=10_000,
                   help="env steps between evaluations (0: only at the end; default: 10000)")
    p.add_argument("--eval-faces", type=count("--eval-faces"), default=32,
                   help="validation faces per evaluation (default: 32)")
    add_out_arg(p, "runs", "parent folder of the run folders")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its checkpoint")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list or not (args.algo or args.resume):
        for name, text in ALGOS.describe():
            print(f"{name:16s} {text}")
        return 0
    if args.resume:
        read_run_record(args.resume)  # names what --resume takes when it is not a run folder
        with run_lock(args.resume):  # a run is continued by one process at a time
            # The run's own record wins over flags: a resumed run is the same experiment.
            name, ctx = resume_context(args.resume, algo=args.algo, total_timesteps=args.timesteps,
                                       progress=not args.quiet)
            return _train(get_algo(name), ctx, fresh=False)
    algo = get_algo(args.algo)
    env_config = env_config_from_args(args)
    eval_config = merge_config(env_config, {"data": {**env_config["data"], "split": "val"}})
    algo_config = algo.defaults(args.env)
    if args.config:
        algo_config = merge_overrides(args.algo, algo_config, load_yaml(args.config))
    algo_config = merge_overrides(args.algo, algo_config, parse_overrides(args.algo_overrides, "--set-algo"))
    if args.timesteps is not None:
        algo_config["total_timesteps"] = args.timesteps
    if args.checkpoint_every is not None:
        algo_config["checkpoint_every"] = algo.checkpoint_interval(args.checkpoint_every, algo_config, env_config)
    # Every value checked before the run folder exists: a mistake leaves nothing behind.
    algo_config = algo.check_hyperparams(args.env, algo_config)
    algo.check_env(env_config, args.env)
    ctx = new_context(args.out, args.env, args.algo, args.seed, env_config, eval_config, algo_config,
                      eval_every=args.eval_every, eval_faces=args.eval_faces, progress=not args.quiet)
    return _train(algo, ctx, fresh=True)


def _train(algo: Algo, ctx: TrainContext, *, fresh: bool) -> int:
    """Run ``algo`` on ``ctx``; a fresh run that ends before its first checkpoint leaves no folder behind."""
    print(f"run: {ctx.run_dir}")
    try:
        result = algo.train(ctx)
    except BaseException:
        if fresh and discard_unused_run(ctx.run_dir, algo.checkpoint):
            print(f"removed {ctx.run_dir}: the run ended before its first checkpoint", file=sys.stderr)
        raise
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0
