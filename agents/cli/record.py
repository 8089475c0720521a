"""``fh-gym record``: MP4 videos of repair episodes, one file per episode.

Each video has the start frame and one frame per step: LR | current image with the box history (the
current box thick) | HR, with the step and PSNR in the header.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from fh_gym.agents.cli.common import add_env_args, env_config_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record MP4 videos of repair episodes", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="test")
    p.add_argument("--strategy", default="even", help="baseline strategy (random, even, sequential, random30, greedy)")
    p.add_argument("--agent", type=Path, help="trained agent checkpoint (instead of --strategy)")
    p.add_argument("--episodes", type=int, default=2)
    p.add_argument("--fps", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("outputs/videos"))
    p.set_defaults(func=run)


def record_episodes(env_config: dict[str, Any], actor: Any, episodes: int, out_dir: Path, fps: float = 4.0,
                    seed: int = 0, indices: np.ndarray | None = None) -> list[Path]:
    """Run ``episodes`` episodes side by side and write ``<out>/<actor>_<k>.mp4`` for each."""
    from fh_gym.config import merge_config
    from fh_gym.engine.core import RepairEngine
    from fh_gym.envs.face_repair import render_faces
    from fh_gym.video import write_mp4

    horizon = getattr(actor, "horizon", None) or env_config["horizon"]
    # Trained paper agents carry the restorer trained with them (None: the env's restorer).
    engine = RepairEngine(merge_config(env_config, {"horizon": int(horizon)}), episodes,
                          restorer=getattr(actor, "restorer", None))
    faces = engine.all_faces()
    rng = np.random.default_rng(seed)
    chosen = indices if indices is not None else np.arange(episodes) % len(engine.dataset)
    engine.reset(faces, rng, {"index": chosen})
    if hasattr(actor, "start_episodes"):
        actor.start_episodes(engine, faces)
    frames = [[frame] for frame in render_faces(engine, faces)]
    act = actor.act if hasattr(actor, "act") else actor
    for _ in range(engine.horizon):
        engine.step(act(engine, faces, rng), faces)
        for store, frame in zip(frames, render_faces(engine, faces), strict=True):
            store.append(frame)
    name = getattr(actor, "name", "agent")
    return [write_mp4(store, out_dir / f"{name}_{k:03d}.mp4", fps) for k, store in enumerate(frames)]


def run(args: argparse.Namespace) -> int:
    from fh_gym.agents.cli.compare import build_actors

    env_config = env_config_from_args(args)
    actor = build_actors("", [args.agent], None)[0] if args.agent else build_actors(args.strategy, [], None)[0]
    paths = record_episodes(env_config, actor, args.episodes, args.out, args.fps, args.seed)
    for path in paths:
        print(f"wrote {path}")
    return 0
