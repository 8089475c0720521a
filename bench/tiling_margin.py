"""Does leaving the even tiling pay at T = 16 when the restorer is sure? ``self_lookahead`` with a tiling margin.

Usage: python bench/tiling_margin.py [--data lfw] [--split test] [--faces 200] [--margins 2,5] [--order raster]

The rule (scratch, not a package strategy): repair the next *fresh* cell of the even tiling (no pixel of it
repaired yet; ``--order raster`` the even grid's next one, ``--order change`` the one the restorer would change
most) unless some other allowed candidate's squared change
(:meth:`~fh_gym.engine.core.RepairEngine.candidate_changes`, ``self_lookahead``'s score, no truth) exceeds
``margin`` times the best fresh tiling cell's; then repair that candidate. Once no fresh tiling cell is left it
is ``self_lookahead``. A margin of ``inf`` with raster order is the even grid exactly; margin 1 with change order
is ``self_lookahead``. Each margin's row is paired against the even grid on the same faces and LR inputs
(mean PSNR difference, 95% CI) with the number of deviations from the tiling a face.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from fh_gym.agents.evaluate import run_episodes, sample_faces
from fh_gym.agents.strategies.base import build_strategy
from fh_gym.data import build_dataset
from fh_gym.engine.core import RepairEngine
from fh_gym.envs import make_config
from fh_gym.episodes import BaseActor
from fh_gym.metrics.stats import format_mean_ci, mean_ci
from fh_gym.samplers.gain_labels import candidate_allowed


class TilingMarginActor(BaseActor):
    """The rule of the module docstring; ``deviations`` counts the repairs off the fresh tiling."""

    def __init__(self, margin: float, order: str = "raster") -> None:
        self.name = f"tiling_margin_{margin:g}_{order}"
        self.margin, self.order, self.deviations = margin, order, 0

    def act(self, engine: RepairEngine, slots: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        candidates = engine.action_type.candidate_actions()
        boxes = engine.action_type.to_boxes(candidates).cpu().numpy().round().astype(int)
        side = boxes[0, 2]
        on_tiling = (boxes[:, 0] % side == 0) & (boxes[:, 1] % side == 0)
        coverage = engine.observe_tensors(slots)["coverage"][..., 0].cpu().numpy()
        # (B, K): no pixel of the candidate's box repaired yet (one slice per box, every face at once)
        fresh = np.stack([~coverage[:, top:top + h, left:left + w].any(axis=(1, 2)) for top, left, h, w in boxes],
                         axis=1)
        changes = engine.candidate_changes(slots, candidates)
        allowed = candidate_allowed(engine, slots, candidates)
        tiling = allowed & fresh & on_tiling
        rows = np.arange(len(slots))
        best = np.where(allowed, changes, -np.inf).argmax(axis=1)
        tiling_scores = np.where(tiling, changes, -np.inf)
        next_tile = tiling.argmax(axis=1) if self.order == "raster" else tiling_scores.argmax(axis=1)
        off = ~tiling[rows, best]
        leave = (off & (changes[rows, best] > self.margin * tiling_scores.max(axis=1))) | ~tiling.any(axis=1)
        if self.order == "change":  # the best candidate is the next tile when it is one
            leave |= ~off
        self.deviations += int((leave & off).sum())
        return candidates[np.where(leave, best, next_tile)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="lfw", help="dataset type (lfw, synthetic, ...)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--margins", default="2,5", help="comma-separated margins (inf allowed)")
    parser.add_argument("--order", choices=("raster", "change"), default="raster")
    parser.add_argument("--env", default="dense_x8", help="env variant (a T = 16 grid of 32-pixel cells)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        margins = [float(text) for text in args.margins.split(",")]
    except ValueError:
        parser.error(f"--margins {args.margins!r}: expected comma-separated numbers, e.g. 2,5,inf")
    torch.set_num_threads(args.threads)
    config = make_config({"data": {"type": args.data, "split": args.split}}, variant=args.env)
    dataset = build_dataset(config["data"])
    faces = sample_faces(dataset.identities, args.faces, args.seed)
    even = run_episodes(config, build_strategy("even"), faces, dataset=dataset, seed=args.seed).metrics["psnr"]
    print(f"{len(faces)} faces of {args.data}/{args.split}, T = {config['horizon']}, order {args.order}")
    print("| margin | PSNR - even (paired, 95% CI) | deviations a face | seconds |")
    print("|---|---|---|---|")
    for margin in margins:
        actor, started = TilingMarginActor(margin, args.order), time.time()
        psnr = run_episodes(config, actor, faces, dataset=dataset, seed=args.seed).metrics["psnr"]
        print(f"| {margin:g} | {format_mean_ci(*mean_ci(psnr - even), digits=3)} | {actor.deviations / len(faces):.2f} "
              f"| {time.time() - started:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
