"""Does a better estimate of the face rank repairs better? Greedy against a proxy truth instead of the HR face.

Usage: python bench/proxy_greedy.py [--data lfw] [--split test] [--faces 200] [--env dense_x8] [--steps 16]
       [--truth-shares 0,0.25,0.5]

A truth-free selector ranks candidate repairs by some estimate of their gain; ``self_lookahead`` uses the
restorer's own change (its implicit estimate of the HR face). This probe makes the estimate explicit: a
*reference* image computed from the same LR face by another pipeline (``--reference csrip_pipeline``: the
shipped C-SRIP generator, then ``--steps`` repairs of the even grid by that variant's restorer), and at every
step the one-step greedy oracle's choice with the reference in place of the HR face
(:meth:`~fh_gym.engine.core.RepairEngine.candidate_gains` with ``reference``). No HR face is read by the
selection. The row is paired against the even grid and ``self_lookahead`` on the same faces and LR inputs.
The reference is computed from the LR quantised to 8 bits, as a user's file would be.

``--truth-shares a,b,...`` is a diagnostic that *reads* the truth: a row per share ``a`` whose reference is
``a * HR + (1 - a) * pipeline face`` (0: the truth-free row; 1: the greedy oracle exactly), with the reference's
own PSNR beside it. It answers how good an estimate of the face would have to be for selection by it to pay.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from fh_gym.agents.evaluate import image_metrics, run_episodes, sample_faces
from fh_gym.agents.strategies.base import build_strategy
from fh_gym.data import build_dataset
from fh_gym.engine.core import RepairEngine
from fh_gym.envs import make_config
from fh_gym.episodes import BaseActor, build_engine
from fh_gym.metrics.stats import format_mean_ci, mean_ci
from fh_gym.samplers.gain_labels import candidate_allowed

#: ``reference(engine, slots) -> (B, 3, S, S)``: the image that stands in for the truth of those faces
Reference = Callable[[RepairEngine, Tensor], Tensor]


class ProxyGreedyActor(BaseActor):
    """Greedy against ``reference``'s image instead of the HR face (computed once per episode)."""

    def __init__(self, reference: Reference, name: str = "proxy_greedy") -> None:
        self.reference, self.name = reference, name
        self.proxy: Tensor | None = None

    def start_episodes(self, engine: RepairEngine, slots: Tensor) -> None:
        if self.proxy is None or self.proxy.shape != engine.current.shape:
            self.proxy = torch.zeros_like(engine.current)
        self.proxy[slots] = self.reference(engine, slots)

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        candidates = engine.action_type.candidate_actions()
        gains = engine.candidate_gains(slots, candidates, reference=self.proxy)
        allowed = candidate_allowed(engine, slots, candidates)
        return candidates[np.where(allowed, gains, -np.inf).argmax(axis=1)]


def pipeline_reference(variant: str, steps: int, data: dict, dataset) -> Reference:
    """The face ``variant``'s env makes from the same LR after ``steps`` even-grid repairs (its front-end and
    restorer; no truth). ``data`` / ``dataset``: the selecting env's (an engine needs a source; it is not read)."""
    config = make_config({"data": data}, variant=variant)
    even, state = build_strategy("even"), {}

    def reference(engine: RepairEngine, slots: Tensor) -> Tensor:
        if state.get("n") != engine.num_envs:
            state["engine"] = build_engine(config, even, engine.num_envs, dataset=dataset)
            state["n"] = engine.num_envs
        ref = state["engine"]
        lr = (engine.lr[slots] * 255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()
        ref.reset(slots, np.random.default_rng(0), {"lr": lr})
        for _ in range(steps):
            ref.step(even.act(ref, slots, None), slots)
        return ref.current[slots].to(engine.device)

    return reference


def blend_with_truth(reference: Reference, share: float) -> Reference:
    """``share * HR + (1 - share) * reference`` (reads the truth unless ``share`` is 0)."""
    if share == 0:
        return reference

    def blended(engine: RepairEngine, slots: Tensor) -> Tensor:
        return share * engine.hr[slots] + (1 - share) * reference(engine, slots)

    return blended


def reference_psnr(reference: Reference, config: dict, faces: np.ndarray, dataset, batch: int = 64) -> np.ndarray:
    """(F,) PSNR in dB of ``reference``'s image against the HR face, measured as the rows' (``image_metrics``)."""
    engine = build_engine(config, build_strategy("even"), min(batch, len(faces)), dataset=dataset)
    out = []
    for lo in range(0, len(faces), engine.num_envs):
        chunk = faces[lo:lo + engine.num_envs]
        slots = engine.all_slots()[:len(chunk)]
        engine.reset(slots, np.random.default_rng(0), {"index": chunk})
        out.append(image_metrics(reference(engine, slots), engine.hr[slots], engine.scale)["psnr"])
    return np.concatenate(out)


def parse_shares(text: str) -> list[float]:
    """``"0,0.5,1"`` -> shares in [0, 1] (ValueError naming the bad item)."""
    shares = []
    for item in text.split(","):
        try:
            share = float(item)
        except ValueError:
            raise ValueError(f"--truth-shares item {item!r}: not a number") from None
        if not 0 <= share <= 1:
            raise ValueError(f"--truth-shares item {item!r}: must be in [0, 1]")
        shares.append(share)
    return shares


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="lfw", help="dataset type (lfw, synthetic, ...)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--env", default="dense_x8", help="env variant the selection runs on")
    parser.add_argument("--reference", default="csrip_pipeline", help="env variant that makes the reference")
    parser.add_argument("--steps", type=int, default=16, help="even-grid repairs of the reference (0: front-end)")
    parser.add_argument("--truth-shares", default="0",
                        help="comma-separated shares of the HR face blended into the reference (diagnostic, reads "
                             "the truth; 0: truth-free)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.steps < 0:
        parser.error(f"--steps {args.steps}: must be >= 0")
    try:
        shares = parse_shares(args.truth_shares)
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(args.threads)
    config = make_config({"data": {"type": args.data, "split": args.split}}, variant=args.env)
    dataset = build_dataset(config["data"])
    faces = sample_faces(dataset.identities, args.faces, args.seed)
    rows = {name: run_episodes(config, build_strategy(name), faces, dataset=dataset, seed=args.seed).metrics["psnr"]
            for name in ("even", "self_lookahead")}
    pipeline = pipeline_reference(args.reference, args.steps, config["data"], dataset)
    print(f"{len(faces)} faces of {args.data}/{args.split}, {args.env} (T = {config['horizon']}), reference "
          f"{args.reference} after {args.steps} even repairs")
    print("| truth share | reference PSNR (dB) | row | PSNR (dB) | proxy greedy - row (paired, 95% CI) |")
    print("|---|---|---|---|---|")
    for share in shares:
        reference = blend_with_truth(pipeline, share)
        psnr = run_episodes(config, ProxyGreedyActor(reference), faces, dataset=dataset, seed=args.seed).metrics["psnr"]
        ref_psnr = reference_psnr(reference, config, faces, dataset).mean()
        for name, values in rows.items():
            print(f"| {share:g} | {ref_psnr:.3f} | {name} | {values.mean():.3f} | "
                  f"{format_mean_ci(*mean_ci(psnr - values), digits=3)} |")
        print(f"| {share:g} | {ref_psnr:.3f} | proxy_greedy | {psnr.mean():.3f} | |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
