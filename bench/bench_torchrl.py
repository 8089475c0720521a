"""The native TorchRL env vs the Gymnasium VectorEnv, and the env's overhead over its restorer.

Usage: python bench/bench_torchrl.py [--sizes 64 256] [--repeats 5] [--steps 32] [--device cpu] [--threads 1]

For each N, in the same run with the same restorer object, dataset and pre-drawn random actions:

* steps/s of ``FaceRepairTorchRLEnv.step`` (tensors on the device) and of ``FaceRepairVectorEnv.step``
  (NumPy), faces x steps / time;
* the overhead ratio = (native env step time) / (restorer-only forward time on the same windows): the
  restorer inputs of every timed step are recorded, then the restorer alone runs on them.

Times are CPU times of this process (``time.process_time``) on the CPU, which other jobs sharing the cores
disturb far less than wall-clock; on CUDA they are wall-clock after ``torch.cuda.synchronize``. Each figure
is the median of ``repeats`` runs; the ratio is the median of the per-run ratios. Episodes are long enough
(``horizon`` = steps) that no reset falls inside a timed run. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from fh_gym.benchmark import machine_description
from fh_gym.data import build_dataset
from fh_gym.engine.core import build_scaled
from fh_gym.envs.config import make_config
from fh_gym.envs.torchrl_env import FaceRepairTorchRLEnv
from fh_gym.envs.vector import FaceRepairVectorEnv
from fh_gym.variants import variant_of


def clock(device: torch.device) -> Callable[[], float]:
    if device.type == "cuda":
        def wall() -> float:
            torch.cuda.synchronize(device)
            return time.perf_counter()
        return wall
    return time.process_time


def time_native(env: FaceRepairTorchRLEnv, actions: list[torch.Tensor], now: Callable[[], float]) -> tuple[float, list]:
    """Seconds per step of the native env, and the restorer inputs of every timed step."""
    td = env.reset()
    contexts = []
    restore = env.engine.restore

    def recording(ctx):  # keeps each step's restorer inputs for the restorer-only timing
        contexts.append(ctx)
        return restore(ctx)

    env.engine.restore = recording
    td["action"] = actions[0]
    td = env.step(td)["next"]  # warm-up
    contexts.clear()
    start = now()
    for action in actions[1:]:
        td["action"] = action
        td = env.step(td)["next"]
    elapsed = now() - start
    env.engine.restore = restore
    return elapsed / (len(actions) - 1), contexts


def time_restorer(env: FaceRepairTorchRLEnv, contexts: list, now: Callable[[], float]) -> float:
    env.engine.restore(contexts[0])
    start = now()
    for ctx in contexts:
        env.engine.restore(ctx)
    return (now() - start) / len(contexts)


def time_vector(env: FaceRepairVectorEnv, actions: list[np.ndarray], now: Callable[[], float]) -> float:
    env.reset(seed=0)
    env.step(actions[0])
    start = now()
    for action in actions[1:]:
        env.step(action)
    return (now() - start) / (len(actions) - 1)


def run(env_id: str, sizes: list[int], steps: int, repeats: int, device: str) -> list[dict[str, float]]:
    config = make_config({"device": device, "horizon": steps + 1}, variant_of(env_id))
    dataset = build_dataset(config["data"])
    restorer = build_scaled(config["restorer"], "patch", int(config["degradation"]["scale"]), device).eval()
    rows = []
    for n in sizes:
        native = FaceRepairTorchRLEnv(env_id, n, {"device": device, "horizon": steps + 1}, restorer=restorer,
                                      dataset=dataset, check_actions=False)
        vector = FaceRepairVectorEnv(n, config, restorer=restorer, dataset=dataset)
        now = clock(native.engine.device)
        space = native.engine.single_action_space
        space.seed(n)
        drawn = [np.stack([space.sample() for _ in range(n)]) for _ in range(steps + 1)]
        on_device = [torch.as_tensor(a, device=native.engine.device) for a in drawn]
        native_t, vector_t, ratios = [], [], []
        for _ in range(repeats):
            step, contexts = time_native(native, on_device, now)
            ratios.append(step / time_restorer(native, contexts, now))
            native_t.append(step)
            vector_t.append(time_vector(vector, drawn, now))
        rows.append({"n": n, "native_sps": n / statistics.median(native_t),
                     "vector_sps": n / statistics.median(vector_t), "ratio": statistics.median(ratios)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="fh_gym/FaceRepair-Dense-x8-v0")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--steps", type=int, default=32, help="timed steps per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = run(args.env, args.sizes, args.steps, args.repeats, args.device)
    print(f"{args.env}, {machine_description(args.device)}, {args.steps} steps x {args.repeats} runs (medians)\n")
    print("| N | native TorchRL env (patch-steps/s) | Gymnasium VectorEnv (patch-steps/s) | native / vector | "
          "overhead: env step / restorer forward |")
    print("|---|---|---|---|---|")
    for r in rows:
        speedup = r["native_sps"] / r["vector_sps"]
        print(f"| {r['n']} | {r['native_sps']:,.0f} | {r['vector_sps']:,.0f} | {speedup:.2f}x | {r['ratio']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
