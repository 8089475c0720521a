"""Cost of every registered patch restorer on CPU: parameters, MFLOPs and time per repair.

Usage::

    python bench/bench_restorers.py [--scale 8] [--window 48] [--batch 64] [--repeats 30] [--threads 0]

For each restorer (default kwargs) it prints the parameter count, the MFLOPs of one repair (counted by
``torch.utils.flop_counter.FlopCounterMode``: convolutions and matmuls, 2 FLOPs per multiply-add), the
median milliseconds of one repair at batch 1, and the median milliseconds per face of a batch.
The engine runs one repair per face per step, so the batched per-face time is what a vector env pays.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parents[1]


def random_context(batch: int, window: int, scale: int, image_size: int = 128) -> Any:
    """A random RepairContext: windows at the image's top-left corner, a box with an 8-px margin."""
    from fh_gym.restorers.base import RepairContext

    generator = torch.Generator().manual_seed(0)
    current = torch.rand(batch, 3, window, window, generator=generator)
    mask = torch.zeros(batch, 1, window, window)
    margin = min(8, window // 4)
    mask[..., margin:window - margin, margin:window - margin] = 1.0
    centres = (torch.arange(window) + 0.5) / image_size * 2 - 1
    coords = torch.stack(torch.meshgrid(centres, centres, indexing="ij")).expand(batch, 2, window, window)
    return RepairContext(current=current, start=torch.rand(batch, 3, window, window, generator=generator),
                         lr=F.avg_pool2d(current, scale), mask=mask, coords=coords.contiguous(),
                         image=torch.rand(batch, 3, image_size, image_size, generator=generator),
                         start_image=torch.rand(batch, 3, image_size, image_size, generator=generator),
                         scale=scale)


def median_ms(fn: Any, repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def bench_one(name: str, scale: int, window: int, batch: int, repeats: int) -> dict[str, float]:
    from torch.utils.flop_counter import FlopCounterMode

    from fh_gym.restorers import build_restorer
    from fh_gym.restorers.base import count_parameters

    model = build_restorer({"type": name, "scale": scale}).eval()
    single, batched = random_context(1, window, scale), random_context(batch, window, scale)
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:
            model(single)
        ms_single = median_ms(lambda: model(single), repeats)
        ms_batched = median_ms(lambda: model(batched), max(3, repeats // 3))
    return {"params": count_parameters(model), "mflops": counter.get_total_flops() / 1e6,
            "ms_single": ms_single, "ms_per_face": ms_batched / batch}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=8)
    parser.add_argument("--window", type=int, default=48)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing
    from fh_gym.restorers import list_archs

    print(f"x{args.scale}, {args.window}x{args.window} window, 128x128 image, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    header = f"| {'restorer':<20} | {'params':>9} | {'MFLOPs':>7} | {'ms/repair b=1':>13} | " \
             f"{'ms/face b=' + str(args.batch):>13} |"
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for name in list_archs("patch"):
        row = bench_one(name, args.scale, args.window, args.batch, args.repeats)
        print(f"| {name:<20} | {row['params']:>9,} | {row['mflops']:>7.2f} | {row['ms_single']:>13.3f} | "
              f"{row['ms_per_face']:>13.3f} |")


if __name__ == "__main__":
    main()
