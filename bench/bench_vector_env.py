"""Env steps/s: the batched FaceRepairVectorEnv vs N separate FaceRepairEnv in SB3's DummyVecEnv.

Usage: python bench/bench_vector_env.py [fh-gym bench options, e.g. --sizes 1 8 64 --repeats 5
       --set restorer.type=FSRCNN]
The same as ``fh-gym bench`` (``fh_gym.benchmark.run_benchmark``), runnable from a checkout without
installing: both sides share one restorer and one dataset and replay the same random actions, and the
ratio is measured in the same run. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from fh_gym.agents.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
