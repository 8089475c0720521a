"""``fh-gym demo``: the whole pipeline on the built-in synthetic faces, in minutes on a CPU.

1. pre-trains the env's patch restorer on random patch pairs from the training people;
2. compares random / even / sequential / random-30 / greedy-oracle strategies on unseen test people
   (PSNR/SSIM with 95% CIs, plus the bicubic row) and prints the table;
3. records MP4 videos of greedy-oracle episodes.
"""

from __future__ import annotations

import argparse
import time

from fh_gym.agents.cli.common import add_env_args, add_out_arg, count, env_config_from_args
from fh_gym.agents.strategies import GreedyOracleStrategy, strategy_names
from fh_gym.restorers.config import merge_config
from fh_gym.restorers.training.recipe import COMMON_SCHEMA


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end-to-end demo on the built-in synthetic faces", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="test")
    add_out_arg(p, "outputs/demo")
    p.add_argument("--minutes", type=COMMON_SCHEMA["minutes"].argparse_type("--minutes"), default=3.0,
                   help="restorer pre-training budget (default: 3)")
    p.add_argument("--steps", type=count("--steps"), default=3000, help="restorer pre-training steps (at most)")
    p.add_argument("--faces", type=count("--faces"), default=64, help="test faces in the comparison")
    p.add_argument("--episodes", type=count("--episodes"), default=2, help="videos to record")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Lazy: the evaluation stack (scipy, matplotlib) loads only for the command that runs.
    from fh_gym.agents.comparison import build_actors, compare
    from fh_gym.agents.recipes import run_recipe
    from fh_gym.agents.reports import to_markdown
    from fh_gym.recording import record_episodes
    from fh_gym.restorers.training.recipe import recipe_config

    started = time.perf_counter()
    test_config = env_config_from_args(args)
    train_config = merge_config(test_config, {"data": {**test_config["data"], "split": "train"}})
    print(f"[1/3] pre-training {train_config['restorer']['type']} on {train_config['data']['type']} faces "
          f"(at most {args.minutes:g} min)")
    recipe = recipe_config("pretrain-restorer", {"steps": args.steps, "minutes": args.minutes})
    trained = run_recipe("pretrain-restorer", recipe, args.out / "restorer", env_config=train_config)
    restorer = {**test_config["restorer"], "checkpoint": str(trained["checkpoint"])}
    test_config = merge_config(test_config, {"restorer": restorer})

    print(f"[2/3] comparing strategies on {args.faces} faces of unseen test people")
    actors = build_actors(strategy_names())
    rows, paths = compare(test_config, actors, args.faces, 32, 0, args.out)
    print(to_markdown(rows))

    print(f"[3/3] recording {args.episodes} greedy-oracle episodes")
    videos = record_episodes(test_config, GreedyOracleStrategy(), args.episodes, args.out / "videos")
    print("written:", ", ".join(str(p) for p in [*paths.values(), *videos]))
    print(f"demo finished in {(time.perf_counter() - started) / 60:.1f} min")
    return 0
