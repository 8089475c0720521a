"""``fh-gym bench``: env steps per second, batched VectorEnv vs N separate envs in SB3's DummyVecEnv."""

from __future__ import annotations

import argparse

from fh_gym.agents.cli.common import add_env_args, count, env_config_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="throughput: batched VectorEnv vs DummyVecEnv of N envs", description=__doc__)
    add_env_args(p, default_split="train")
    p.add_argument("--sizes", type=count("--sizes"), nargs="+", default=[1, 8, 64], help="numbers of envs N")
    p.add_argument("--steps", type=count("--steps"), default=48, help="vector steps per timed run")
    p.add_argument("--repeats", type=count("--repeats"), default=5,
                   help="timed runs per setting (the median is reported)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Lazy: SB3 and the engine load only for the command that runs.
    from fh_gym.benchmark import machine_description, rows_to_markdown, run_benchmark

    config = env_config_from_args(args)
    rows = run_benchmark(config, tuple(args.sizes), args.steps, args.repeats, config["device"])
    print(f"{args.env}, restorer {config['restorer']['type']}, {machine_description(config['device'])}, "
          f"{args.steps} vector steps per run, median of {args.repeats} runs")
    print(rows_to_markdown(rows))
    return 0
