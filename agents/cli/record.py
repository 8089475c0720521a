"""``fh-gym record``: MP4 videos of repair episodes, one file per episode.

Each video has the start frame and one frame per step: LR | current image with the box history (the
current box thick) | HR, with the step and PSNR in the header. An agent trained with its own restorer
repairs with that one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fh_gym.agents.cli.common import FPS, add_env_args, add_out_arg, add_seed_arg, count, env_config_from_args
from fh_gym.agents.strategies import strategy_names


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record MP4 videos of repair episodes", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="test")
    p.add_argument("--strategy", default="even",
                   help=f"baseline strategy ({', '.join(strategy_names(defaults_only=False))})")
    p.add_argument("--agent", type=Path, help="trained agent checkpoint (instead of --strategy)")
    p.add_argument("--episodes", type=count("--episodes"), default=2, help="videos to record (default: 2)")
    p.add_argument("--fps", type=FPS.argparse_type("--fps"), default=4.0, help="video frame rate (default: 4)")
    add_seed_arg(p, "seed of the degradations and sampling strategies")
    add_out_arg(p, "outputs/videos", "folder of the videos")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Lazy: the evaluation stack (scipy, matplotlib) loads only for the command that runs.
    from fh_gym.agents.comparison import build_actors
    from fh_gym.recording import record_episodes

    env_config = env_config_from_args(args)
    (actor,) = build_actors([], [args.agent], env_config=env_config) if args.agent else build_actors([args.strategy])
    paths = record_episodes(env_config, actor, args.episodes, args.out, args.fps, args.seed)
    for path in paths:
        print(f"wrote {path}")
    return 0
