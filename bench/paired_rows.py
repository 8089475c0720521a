"""Paired differences between rows of ``compare`` / headroom per-face CSVs, also across runs on the same faces.

Usage: python bench/paired_rows.py FILE [FILE ...] --pair A:TA B:TB [--pair ...] [--metric psnr] [--digits 2]

Every ``FILE`` is a ``headroom_per_face.csv`` or ``compare_per_face.csv`` (one line per strategy, T and face).
Each ``--pair`` names two rows as ``strategy:T`` (e.g. ``greedy2:10 even:16``: the oracle after 10 repairs
against the even grid after 16) and prints, over the faces both rows hold, the mean of ``A - B`` with its 95% CI
(the package's :func:`fh_gym.metrics.stats.mean_ci`) and the share of faces where A is ahead. Two runs of
``compare`` with the same ``--data``, ``--split``, ``--faces`` and ``--seed`` evaluate the same faces, so their rows
pair; a pair whose faces do not overlap is a one-line error.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from fh_gym.metrics.stats import format_mean_ci, mean_ci


def read_rows(paths: list[Path], metric: str) -> dict[tuple[str, int], dict[int, float]]:
    """``(strategy, T) -> {face_index: metric - bicubic metric}`` over every file (a later file's row wins)."""
    rows: dict[tuple[str, int], dict[int, float]] = {}
    for path in paths:
        with path.open(newline="") as handle:
            for line in csv.DictReader(handle):
                if metric not in line:
                    raise SystemExit(f"{path}: no column {metric!r}; columns: {', '.join(line)}")
                base = float(line["bicubic_psnr"]) if metric == "psnr" else 0.0
                rows.setdefault((line["strategy"], int(line["T"])), {})[int(line["face_index"])] = \
                    float(line[metric]) - base
    return rows


def parse_row(text: str) -> tuple[str, int]:
    name, _, horizon = text.rpartition(":")
    if not name or not horizon.isdigit():
        raise argparse.ArgumentTypeError(f"invalid row {text!r} (expected strategy:T, e.g. even:16)")
    return name, int(horizon)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--pair", nargs=2, type=parse_row, action="append", required=True, metavar=("A", "B"))
    parser.add_argument("--metric", default="psnr", help="column to pair (psnr is taken as the gain over bicubic)")
    parser.add_argument("--digits", type=int, default=2, help="decimals printed")
    args = parser.parse_args(argv)
    for path in args.files:
        if not path.is_file():
            parser.error(f"file not found: {path}")
    rows = read_rows(args.files, args.metric)
    print(f"| A | B | faces | {args.metric} A | {args.metric} B | A - B (paired, 95% CI) | A ahead |")
    print("|---|---|---|---|---|---|---|")
    for a, b in args.pair:
        for row in (a, b):
            if row not in rows:
                parser.error(f"no row {row[0]}:{row[1]}; rows: {', '.join(f'{s}:{t}' for s, t in sorted(rows))}")
        faces = sorted(set(rows[a]) & set(rows[b]))
        if not faces:
            parser.error(f"rows {a[0]}:{a[1]} and {b[0]}:{b[1]} share no face")
        va = np.array([rows[a][f] for f in faces])
        vb = np.array([rows[b][f] for f in faces])
        a_text, b_text, diff = (format_mean_ci(*mean_ci(v), args.digits) for v in (va, vb, va - vb))
        ahead = f"{np.mean(va > vb):.0%}"
        print(f"| {a[0]}:{a[1]} | {b[0]}:{b[1]} | {len(faces)} | {a_text} | {b_text} | {diff} | {ahead} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
