"""``fh-gym train --algo NAME --env ID``: train an agent (SB3 / sb3-contrib algorithms, paper agents).

Runs are named ``<env>__<algo>__<seed>__<unixtime>`` under ``--out``; TensorBoard logs (``charts/``,
``losses/``, ``eval/``), periodic evaluation on validation people and checkpoints go into the run folder.
``--resume RUN_DIR`` continues a run from its last checkpoint with its step count, its TensorBoard run
and its recorded config (``RUN_DIR/run.json``; ``--timesteps`` may raise the total). Hyperparameters come
from the algorithm's RL-Zoo-style YAML in ``envs_configs/agents/`` (per env id, with a default), then
``--config`` and ``--set-algo`` overrides (RL-Zoo's ``n_timesteps`` is accepted for ``total_timesteps``).

Examples::

    fh-gym train --list
    fh-gym train --algo ppo --env FaceRepair-Dense-x8-v0 --timesteps 50000 --set-algo n_envs=16
    fh-gym train --algo maskable_ppo --restorer runs/restorer/restorer.pt --set-algo finetune_restorer=true
    fh-gym train --resume runs/FaceRepair-Dense-x8-v0__ppo__0__1700000000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fh_gym.agents.cli.common import add_env_args, env_config_from_args, parse_overrides
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
    p.add_argument("--timesteps", type=int, help="total env steps of the run (default: the algorithm's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=10_000, help="env steps between evaluations")
    p.add_argument("--eval-faces", type=int, default=32, help="validation faces per evaluation")
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its checkpoint")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


RUN_RECORD = "run.json"


def _aliases(overrides: dict[str, Any]) -> dict[str, Any]:
    """RL-Zoo's ``n_timesteps`` is ``total_timesteps`` here."""
    overrides = dict(overrides or {})
    if "n_timesteps" in overrides:
        overrides["total_timesteps"] = overrides.pop("n_timesteps")
    return overrides


def write_run_record(run_dir: Path, record: dict[str, Any]) -> Path:
    """``<run_dir>/run.json``: everything ``--resume`` needs to rebuild the run (written atomically)."""
    from fh_gym.restorers.checkpoint import atomic_open

    with atomic_open(run_dir / RUN_RECORD, "w") as fh:
        json.dump(record, fh, indent=2, default=str)
    return run_dir / RUN_RECORD


def read_run_record(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_RECORD
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not an fh-gym training run (no {RUN_RECORD}); "
                                "--resume takes the run folder that `fh-gym train` created")
    return json.loads(path.read_text())


def run(args: argparse.Namespace) -> int:
    from fh_gym.agents.registry import ALGOS, TrainContext, _load_all, get_algo, run_name

    if args.list or not (args.algo or args.resume):
        _load_all()
        for algo in sorted(ALGOS.values(), key=lambda a: a.name):
            print(f"{algo.name:16s} {algo.description}")
        return 0
    if args.resume:
        # The run's own record wins over flags: a resumed run is the same experiment.
        record = read_run_record(args.resume)
        if args.algo and args.algo != record["algo"]:
            raise ValueError(f"{args.resume} is a {record['algo']} run, not {args.algo}")
        algo = get_algo(record["algo"])
        if args.timesteps:
            record["algo_config"]["total_timesteps"] = args.timesteps
            write_run_record(args.resume, record)
        run_dir = args.resume
    else:
        algo = get_algo(args.algo)
        env_config = env_config_from_args(args)
        eval_config = merge_config(env_config, {"data": {**env_config["data"], "split": "val"}})
        algo_config = algo.defaults(args.env)
        if args.config:
            algo_config = merge_config(algo_config, _aliases(load_yaml(args.config)), args.algo)
        algo_config = merge_config(algo_config, _aliases(parse_overrides(args.algo_overrides)), args.algo)
        if args.timesteps:
            algo_config["total_timesteps"] = args.timesteps
        run_dir = args.out / run_name(args.env, args.algo, args.seed)
        record = {"algo": args.algo, "env_id": args.env, "seed": args.seed, "env_config": env_config,
                  "eval_config": eval_config, "algo_config": algo_config, "eval_every": args.eval_every,
                  "eval_faces": args.eval_faces}
        write_run_record(run_dir, record)
    ctx = TrainContext(env_id=record["env_id"], env_config=record["env_config"], eval_config=record["eval_config"],
                       algo_config=record["algo_config"], run_dir=run_dir, seed=int(record["seed"]),
                       total_timesteps=int(record["algo_config"]["total_timesteps"]), resume=args.resume is not None,
                       progress=not args.quiet, eval_every=int(record["eval_every"]),
                       eval_faces=int(record["eval_faces"]), device=record["env_config"]["device"])
    print(f"run: {run_dir}")
    result = algo.train(ctx)
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0
