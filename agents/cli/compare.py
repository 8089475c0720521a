"""``fh-gym compare`` / ``fh-gym eval``: strategies (and trained agents) x PSNR/SSIM with 95% CIs.

Every strategy repairs the same test faces from the same LR inputs with the same restorer. Writes
``<out>/compare.md``, ``compare.csv`` and ``compare.png`` and prints the Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from fh_gym.agents.cli.common import add_env_args, env_config_from_args

DEFAULT_STRATEGIES = "random,even,sequential,random30,greedy"


def add_parser(sub: argparse._SubParsersAction) -> None:
    for name, helptext in (("compare", "compare patch strategies / agents on test faces"),
                           ("eval", "evaluate one strategy or agent on test faces")):
        p = sub.add_parser(name, help=helptext, description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_env_args(p, default_split="test")
        default = DEFAULT_STRATEGIES if name == "compare" else "even"
        p.add_argument("--strategies", default=default,
                       help=f"comma-separated baseline strategies (default: {default})")
        p.add_argument("--agent", action="append", default=[], type=Path, metavar="CHECKPOINT",
                       help="trained agent checkpoint to include (repeatable)")
        p.add_argument("--faces", type=int, default=100, help="number of test faces")
        p.add_argument("--batch-size", type=int, default=32)
        p.add_argument("--greedy-candidates", type=int, help="greedy oracle: candidates per step (default all)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--identity-net", type=Path, metavar="CKPT",
                       help="identity network checkpoint: adds the identity cosine (SR vs HR) column")
        p.add_argument("--out", type=Path, default=Path(f"outputs/{name}"))
        p.set_defaults(func=run)


def build_actors(names: str, agents: list[Path], greedy_candidates: int | None) -> list[Any]:
    from fh_gym.agents.baselines import GreedyOracleStrategy, build_strategy

    actors: list[Any] = []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        actors.append(GreedyOracleStrategy(greedy_candidates) if name == "greedy" else build_strategy(name))
    for path in agents:
        from fh_gym.agents.registry import load_agent

        actors.append(load_agent(path))
    return actors


def sample_faces(identities: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` face indices (sorted), spread over people: one image of each person first, in a seeded
    random order, then second images, and so on. (The split's first faces would be a handful of people,
    and LFW's test split holds 530 images of one man.)"""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(identities))
    rank = np.empty(len(identities), dtype=np.int64)
    seen: dict[int, int] = {}
    for i in order:
        rank[i] = seen.get(int(identities[i]), 0)
        seen[int(identities[i])] = rank[i] + 1
    position = np.empty(len(identities), dtype=np.int64)
    position[order] = np.arange(len(identities))
    chosen = np.lexsort((position, rank))[: min(count, len(identities))]
    return np.sort(chosen)


def compare(env_config: dict[str, Any], actors: list[Any], faces: int, batch_size: int, seed: int,
            out_dir: Path, progress: bool = True,
            identity_net: Path | None = None) -> tuple[list[dict[str, object]], dict[str, Path]]:
    """Evaluate each actor on ``faces`` faces of the split (see :func:`sample_faces`); write the report."""
    from tqdm.auto import tqdm

    from fh_gym.agents.compare import table_rows, write_report
    from fh_gym.agents.evaluate import run_episodes
    from fh_gym.data import build_dataset
    from fh_gym.engine.core import build_scaled

    dataset = build_dataset(env_config["data"])
    restorer = build_scaled(env_config["restorer"], "patch", int(env_config["degradation"]["scale"]),
                            env_config["device"]).eval()
    indices = sample_faces(dataset.identities, faces, seed)
    extra_metrics = None
    if identity_net is not None:
        from fh_gym.identity_eval import identity_similarity
        from fh_gym.restorers.checkpoint import load_network

        net = load_network(identity_net, kind="aux").to(env_config["device"]).eval()

        def extra_metrics(final: Any, hr: Any, faces: Any) -> dict[str, np.ndarray]:
            return {"identity": identity_similarity(final, hr, net).numpy()}

    results = []
    for actor in tqdm(actors, desc="strategies", disable=not progress):
        results.append(run_episodes(env_config, actor, indices, restorer=restorer, dataset=dataset,
                                    batch_size=batch_size, seed=seed, extra_metrics=extra_metrics))
    rows = table_rows(results)
    return rows, write_report(rows, out_dir, results=results)


def run(args: argparse.Namespace) -> int:
    from fh_gym.agents.compare import to_markdown

    env_config = env_config_from_args(args)
    actors = build_actors(args.strategies, args.agent, args.greedy_candidates)
    rows, paths = compare(env_config, actors, args.faces, args.batch_size, args.seed, args.out,
                          identity_net=args.identity_net)
    print(to_markdown(rows))
    print(f"written: {', '.join(str(p) for p in paths.values())}")
    return 0
