"""``fh-gym train --algo NAME --env ID``: train an agent (SB3 / sb3-contrib algorithms, paper agents).

Runs are named ``<env>__<algo>__<seed>__<unixtime>`` under ``--out``; TensorBoard logs (``charts/``,
``losses/``, ``eval/``), periodic evaluation on validation people and checkpoints go into the run folder.
``--resume RUN_DIR`` continues a run from its last checkpoint with its step count, its TensorBoard run
and its recorded config (``RUN_DIR/run.json``, see ``fh_gym.agents.runs``; ``--timesteps`` may raise the
total). Hyperparameters come from the algorithm's RL-Zoo-style YAML in ``envs_configs/agents/`` (per env
id, with a default), then ``--config`` and ``--set-algo`` overrides (RL-Zoo's ``n_timesteps`` is accepted
for ``total_timesteps``); docs/agents.md lists the keys.

Examples::

    fh-gym train --list
    fh-gym train --algo ppo --env fh_gym/FaceRepair-Dense-x8-v0 --timesteps 50000 --set-algo n_envs=16
    fh-gym train --algo maskable_ppo --restorer runs/restorer/restorer.pt --set-algo finetune_restorer=true
    fh-gym train --resume runs/fh_gym-FaceRepair-Dense-x8-v0__ppo__0__1700000000
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fh_gym.agents.cli.common import add_env_args, env_config_from_args, parse_overrides
from fh_gym.agents.hyperparams import merge_overrides
from fh_gym.agents.registry import ALGOS, get_algo
from fh_gym.agents.runs import new_context, resume_context
from fh_gym.restorers.config import load_yaml, merge_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an RL agent", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="train")
    p.add_argument("--algo", help=f"algorithm: {ALGOS.help()} (fh-gym train --list)")
    p.add_argument("--list", action="store_true", help="list the algorithms and exit")
    p.add_argument("--config", type=Path, help="YAML of hyperparameter overrides")
    p.add_argument("--set-algo", dest="algo_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hyperparameter, e.g. --set-algo n_steps=64")
    p.add_argument("--timesteps", type=int, help="total env steps of the run (default: the algorithm's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=10_000, help="env steps between evaluations")
    p.add_argument("--eval-faces", type=int, default=32, help="validation faces per evaluation")
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its checkpoint")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list or not (args.algo or args.resume):
        for name, text in ALGOS.describe():
            print(f"{name:16s} {text}")
        return 0
    if args.resume:
        # The run's own record wins over flags: a resumed run is the same experiment.
        name, ctx = resume_context(args.resume, algo=args.algo, total_timesteps=args.timesteps,
                                   progress=not args.quiet)
        algo = get_algo(name)
    else:
        algo = get_algo(args.algo)
        env_config = env_config_from_args(args)
        eval_config = merge_config(env_config, {"data": {**env_config["data"], "split": "val"}})
        algo_config = algo.defaults(args.env)
        if args.config:
            algo_config = merge_overrides(args.algo, algo_config, load_yaml(args.config))
        algo_config = merge_overrides(args.algo, algo_config, parse_overrides(args.algo_overrides))
        if args.timesteps:
            algo_config["total_timesteps"] = args.timesteps
        ctx = new_context(args.out, args.env, args.algo, args.seed, env_config, eval_config, algo_config,
                          eval_every=args.eval_every, eval_faces=args.eval_faces, progress=not args.quiet)
    print(f"run: {ctx.run_dir}")
    result = algo.train(ctx)
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0
