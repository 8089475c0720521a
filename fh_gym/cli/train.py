"""``fh-gym train --algo NAME --env ID``: train an agent (SB3 / sb3-contrib algorithms, paper agents).

Runs are named ``<env>__<algo>__<seed>__<unixtime>`` under ``--out``; TensorBoard logs (``charts/``,
``losses/``, ``eval/``), periodic evaluation on validation people and checkpoints go into the run folder.
``--resume RUN_DIR`` continues a run from its last checkpoint with its step count. Hyperparameters come
from the algorithm's RL-Zoo-style YAML in ``envs_configs/agents/`` (per env id, with a default), then
``--config`` and ``--set-algo`` overrides.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fh_gym.cli.common import add_env_args, env_config_from_args, parse_overrides
from fh_gym.config import load_yaml, merge_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an RL agent", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="train")
    p.add_argument("--algo", help="algorithm (fh-gym train --list)")
    p.add_argument("--list", action="store_true", help="list the algorithms and exit")
    p.add_argument("--config", type=Path, help="YAML of hyperparameter overrides")
    p.add_argument("--set-algo", dest="algo_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hyperparameter, e.g. --set-algo n_steps=64")
    p.add_argument("--timesteps", type=int, help="env steps to train for (default: the algorithm's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=10_000, help="env steps between evaluations")
    p.add_argument("--eval-faces", type=int, default=32, help="validation faces per evaluation")
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its checkpoint")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agents.registry import ALGOS, TrainContext, _load_all, get_algo, run_name

    if args.list or not args.algo:
        _load_all()
        for algo in sorted(ALGOS.values(), key=lambda a: a.name):
            print(f"{algo.name:16s} {algo.description}")
        return 0
    algo = get_algo(args.algo)
    env_config = env_config_from_args(args)
    eval_config = merge_config(env_config, {"data": {**env_config["data"], "split": "val"}})
    algo_config = algo.defaults(args.env)
    if args.config:
        algo_config = merge_config(algo_config, load_yaml(args.config), args.algo)
    algo_config = merge_config(algo_config, parse_overrides(args.algo_overrides), args.algo)
    if args.timesteps:
        algo_config["total_timesteps"] = args.timesteps
    run_dir = args.resume or args.out / run_name(args.env, args.algo, args.seed)
    ctx = TrainContext(env_id=args.env, env_config=env_config, eval_config=eval_config, algo_config=algo_config,
                       run_dir=run_dir, seed=args.seed, total_timesteps=int(algo_config["total_timesteps"]),
                       resume=args.resume is not None, progress=not args.quiet, eval_every=args.eval_every,
                       eval_faces=args.eval_faces, device=env_config["device"])
    result = algo.train(ctx)
    print(f"run: {run_dir}")
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0
