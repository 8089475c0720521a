"""Env steps/s: the batched FaceRepairVectorEnv vs N separate FaceRepairEnv in SB3's DummyVecEnv.

Usage: python bench/bench_vector_env.py [--env FaceRepair-Dense-x8-v0] [--sizes 1 8 64] [--repeats 5]
Both sides share one restorer and one dataset and replay the same random actions; the ratio is measured
in the same run. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from fh_gym.benchmark import machine_description, rows_to_markdown, run_benchmark
from fh_gym.envs.face_repair import make_config
from fh_gym.registration import env_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="FaceRepair-Dense-x8-v0")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--restorer", default=None, help="restorer type (default: the env's)")
    args = parser.parse_args()
    overrides = {"restorer": {"type": args.restorer}} if args.restorer else {}
    config = make_config(overrides, env_ids()[args.env])
    rows = run_benchmark(config, tuple(args.sizes), args.steps, args.repeats, args.device)
    print(f"{args.env}, restorer {config['restorer']['type']}, {machine_description(args.device)}, "
          f"{args.steps} vector steps per run, median of {args.repeats} runs")
    print(rows_to_markdown(rows))


if __name__ == "__main__":
    main()
