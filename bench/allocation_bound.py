"""How few restorer calls could an adaptive agent need? Hindsight allocation of calls over faces.

Usage: python bench/allocation_bound.py [--data lfw] [--split test] [--faces 200] [--strategies greedy,self_lookahead]
       [--budgets 8,10,12]

The adaptive-budget question (``fh_gym/FaceRepair-Adaptive-x8-v0``: may an agent reach the even grid's T = 16 PSNR
with <= 10 calls a face *on average*?) allows an agent to spend calls unevenly: few on a face that gains little,
many on one that gains much. A fixed budget of 10 calls per face understates what that is worth. This script
runs each strategy for T = 16 steps on ``dense_x8`` (the adaptive variant without its stop action), keeps every
face's PSNR after each repair (its *path*: uint8-quantised, border cropped, as the reports measure), and then
chooses in hindsight, with the truth, how many of its path's repairs each face keeps so that the mean over faces
is largest for a given mean number of calls (an exact knapsack over faces, :func:`best_allocation`). No stop rule
of an agent that follows the same path can do better on these faces, so the result bounds every agent that
selects like the strategy and stops however it likes. Beside it, the stop rule an agent can follow (repair while
the path's next repair gains more than a threshold, one threshold for all faces, the best one whose mean calls
fit the budget: :func:`best_stop_rule`) and the fixed budget (every face stops after the same number of calls).
Each row is paired against the even grid at 16 calls on the same faces and LR inputs (mean PSNR difference,
95% CI). ``--out FILE.npz`` keeps the paths (one (N, T + 1) array per strategy, the even grid's final PSNR
``even_at_horizon`` and the dataset indices ``faces``) for other analyses.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import torch

from fh_gym.agents.cli.compare import gain_predictor_block
from fh_gym.agents.evaluate import run_episodes, sample_faces
from fh_gym.agents.strategies.base import build_strategy
from fh_gym.data import build_dataset
from fh_gym.engine.core import RepairEngine
from fh_gym.envs import make_config
from fh_gym.episodes import EpisodeHook
from fh_gym.metrics import psnr_per_image, quantize
from fh_gym.metrics.stats import format_mean_ci, mean_ci
from fh_gym.restorers.config import ConfigError


class PathHook(EpisodeHook):
    """Every face's PSNR at the start and after each step (a face that stopped keeps its last value)."""

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []

    def _psnr(self, engine: RepairEngine, slots: torch.Tensor) -> np.ndarray:
        images, truth = quantize(engine.current[slots]), quantize(engine.hr[slots])
        return psnr_per_image(images, truth, crop_border=engine.scale).double().cpu().numpy()

    def on_start(self, engine: RepairEngine, slots: torch.Tensor) -> None:
        self.path = np.full((len(slots), engine.horizon + 1), np.nan)
        self.path[:, 0] = self._psnr(engine, slots)
        self.steps = 0

    def on_step(self, engine: RepairEngine, slots: torch.Tensor, step) -> None:
        self.steps += 1
        self.path[:, self.steps] = self.path[:, self.steps - 1]
        self.path[slots.cpu().numpy(), self.steps] = self._psnr(engine, slots)

    def on_end(self, engine: RepairEngine, slots: torch.Tensor) -> None:
        last = self.path[:, self.steps:self.steps + 1]
        self.path[:, self.steps:] = last  # an episode that ended early (every face stopped) stays where it was
        self.batches.append(self.path)

    def paths(self) -> np.ndarray:
        """(N, T + 1) PSNR in dB, faces in the order they were run."""
        return np.concatenate(self.batches)


def best_allocation(values: np.ndarray, total: int) -> np.ndarray:
    """The calls ``k[f]`` for each face ``f`` that maximise ``sum_f values[f, k[f]]`` with ``sum_f k[f] <= total``.

    Args:
        values: (N, K + 1) the value of face ``f`` after ``k`` calls, ``k = 0 .. K`` (any shape of curve: an
            exact dynamic programme over faces and total calls, not a marginal-gain greedy, which needs concave
            curves).
        total: Calls to share, ``0 <= total``.

    Returns:
        (N,) int64 calls per face (ties: fewer calls).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or not np.isfinite(values).all():
        raise ValueError(f"values must be a finite (N, K + 1) array, got shape {values.shape}")
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    n, width = values.shape
    total = min(int(total), n * (width - 1))
    best = np.zeros(total + 1)  # best[c]: the largest sum over the faces so far with at most c calls
    choice = np.zeros((n, total + 1), dtype=np.int64)
    for f in range(n):
        new = np.full(total + 1, -np.inf)
        for k in range(min(width, total + 1)):
            candidate = np.full(total + 1, -np.inf)
            candidate[k:] = best[: total + 1 - k] + values[f, k]
            better = candidate > new
            new[better], choice[f, better] = candidate[better], k
        best = new
    calls, left = np.zeros(n, dtype=np.int64), total
    for f in range(n - 1, -1, -1):
        calls[f] = choice[f, left]
        left -= calls[f]
    return calls


def stop_rule_calls(values: np.ndarray, threshold: float) -> np.ndarray:
    """Calls per face of the stop rule an adaptive agent can follow: repair while the next repair of the path
    gains more than ``threshold`` (dB), stop at the first that does not (the greedy oracle's rule on the adaptive
    variant, with ``threshold`` its ``repair.step_cost``).

    Args:
        values: (N, K + 1) the value of each face after ``k`` calls.
        threshold: The least gain a repair must have.

    Returns:
        (N,) int64 calls per face.
    """
    gains = np.diff(np.asarray(values, dtype=np.float64), axis=1)
    pays = gains > threshold
    return np.where(pays.all(axis=1), pays.shape[1], (~pays).argmax(axis=1)).astype(np.int64)


def best_stop_rule(values: np.ndarray, budget: float) -> np.ndarray:
    """:func:`stop_rule_calls` at the threshold (one for all faces) whose mean value is largest with at most
    ``budget`` calls a face on average. Tried just below every gain of the paths, which gives every outcome a
    threshold can have (and no repair at all, the start)."""
    rows = np.arange(len(values))
    best_calls, best_value = np.zeros(len(values), dtype=np.int64), values[:, 0].mean()
    for threshold in np.nextafter(np.unique(np.diff(values, axis=1)), -np.inf):
        calls = stop_rule_calls(values, threshold)
        if calls.mean() <= budget + 1e-9 and values[rows, calls].mean() > best_value:
            best_calls, best_value = calls, values[rows, calls].mean()
    return best_calls


def tiling_by_change():
    """The even grid's 16 cells, the one the restorer would change most first (``bench/tiling_margin.py``'s rule
    with an infinite margin in change order): a truth-free order of the tiling."""
    spec = importlib.util.spec_from_file_location("tiling_margin", Path(__file__).with_name("tiling_margin.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TilingMarginActor(float("inf"), "change")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="lfw", help="dataset type (lfw, synthetic, ...)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--strategies", default="greedy,self_lookahead",
                        help="comma-separated strategy names, or tiling_by_change (see tiling_by_change())")
    parser.add_argument("--gain-predictor", default=None, metavar="FILE_OR_NAME",
                        help="add a gain_predictor row (a gain-predictor run's file or shipped weights: lfw_x8_t16)")
    parser.add_argument("--budgets", default="8,9,10,11,12", help="comma-separated mean calls a face")
    parser.add_argument("--env", default="dense_x8", help="env variant (a T = 16 grid of 32-pixel cells)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="keep the paths in this .npz file")
    args = parser.parse_args(argv)
    try:
        budgets = [float(text) for text in args.budgets.split(",")]
    except ValueError:
        parser.error(f"--budgets {args.budgets!r}: expected comma-separated numbers, e.g. 8,10,12")
    if any(b < 0 for b in budgets):
        parser.error(f"--budgets {args.budgets!r}: budgets must be >= 0")
    names = [name for name in args.strategies.split(",") if name]
    torch.set_num_threads(args.threads)
    config = make_config({"data": {"type": args.data, "split": args.split}}, variant=args.env)
    try:  # an unknown name fails here, before any run
        strategies = [tiling_by_change() if name == "tiling_by_change" else build_strategy(name) for name in names]
        if args.gain_predictor is not None:
            strategies.append(build_strategy("gain_predictor", **gain_predictor_block(args.gain_predictor)))
            names.append("gain_predictor")
    except ConfigError as error:
        parser.error(str(error))
    dataset = build_dataset(config["data"])
    faces = sample_faces(dataset.identities, args.faces, args.seed)
    horizon = int(config["horizon"])
    even = run_episodes(config, build_strategy("even"), faces, dataset=dataset, seed=args.seed).metrics["psnr"]
    print(f"{len(faces)} faces of {args.data}/{args.split}, paths of T = {horizon}; "
          f"even at {horizon} calls: {even.mean():.3f} dB")
    ref = f"PSNR - even@{horizon}"
    print(f"| strategy | calls a face | fixed budget: {ref} | stop rule: calls, {ref} | hindsight allocation: {ref} "
          f"| faces given 0 / {horizon} calls | seconds |")
    print("|---|---|---|---|---|---|---|")
    kept = {"faces": faces, "even_at_horizon": even}
    for name, strategy in zip(names, strategies):
        hook, started = PathHook(), time.time()
        final = run_episodes(config, strategy, faces, dataset=dataset, seed=args.seed, hooks=[hook]).metrics["psnr"]
        paths = kept[name] = hook.paths()
        np.testing.assert_allclose(paths[:, -1], final, atol=1e-6)  # the path ends where the report's PSNR does
        seconds = time.time() - started
        for budget in budgets:
            calls = best_allocation(paths, round(budget * len(faces)))
            chosen = paths[np.arange(len(faces)), calls]
            fixed = paths[:, min(int(budget), horizon)] if float(budget).is_integer() else None
            fixed_text = format_mean_ci(*mean_ci(fixed - even), digits=3) if fixed is not None else "-"
            stops = best_stop_rule(paths, budget)
            stopped = paths[np.arange(len(faces)), stops]
            print(f"| {name} | {budget:g} | {fixed_text} | {stops.mean():.2f}, "
                  f"{format_mean_ci(*mean_ci(stopped - even), digits=3)} | "
                  f"{format_mean_ci(*mean_ci(chosen - even), digits=3)} "
                  f"| {(calls == 0).sum()} / {(calls == horizon).sum()} | {seconds:.0f} |", flush=True)
    if args.out is not None:
        partial = args.out.with_name(args.out.name + ".partial.npz")
        np.savez(partial, **kept)
        os.replace(partial, args.out)  # atomic: a reader never sees half a file
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
