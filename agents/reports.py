"""Comparison reports: strategy x metric tables (mean and 95% CI per strategy, plus the bicubic row, the
paired PSNR gain over bicubic) as Markdown, CSV, a bar chart and per-face CSV (see ``docs/evaluation.md``)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fh_gym.agents.evaluate import METRICS, EpisodeResults
from fh_gym.metrics import format_mean_ci, mean_ci
from fh_gym.restorers.checkpoint import atomic_write_bytes

COLUMNS = {"psnr": "PSNR (dB)", "gain": "PSNR gain vs bicubic (dB, paired)", "ssim": "SSIM",
           "psnr_y": "PSNR-Y (dB)", "ssim_y": "SSIM-Y", "identity": "ID cosine",
           "id_distance": "ID distance to HR", "id_same": "same person as HR",
           "gain_start": "PSNR gain vs start (dB, paired)", "repairs": "restorer calls"}
#: columns measured per face (the paired gains are derived from ``psnr``)
MEASURED = [key for key in COLUMNS if key not in ("gain", "gain_start")]


def table_rows(results: Sequence[EpisodeResults]) -> list[dict[str, object]]:
    """One row per strategy, preceded by ``bicubic`` (and ``start`` when the front-end is not bicubic)."""
    if not results:
        raise ValueError("no results to compare")
    first = results[0]
    bicubic = first.bicubic_metrics["psnr"]
    if any(not np.array_equal(r.indices, first.indices) for r in results):
        raise ValueError("results to compare must cover the same faces")
    rows = [_row("bicubic", 0, first.bicubic_metrics, None)]
    start_psnr = first.start_metrics["psnr"]
    front_end = not np.allclose(start_psnr, bicubic, atol=1e-6)
    if front_end:
        rows.append(_row("start (front-end)", 0, first.start_metrics, bicubic))
    # With a front-end, what the repairs add on top of it, paired over the same faces.
    rows.extend(_row(r.name, r.horizon, r.metrics, bicubic, start_psnr if front_end else None) for r in results)
    return rows


def _row(name: str, horizon: int, metrics: dict[str, np.ndarray], bicubic_psnr: np.ndarray | None,
         start_psnr: np.ndarray | None = None) -> dict[str, object]:
    row: dict[str, object] = {"strategy": name, "T": horizon, "n": len(next(iter(metrics.values())))}
    for key in dict.fromkeys([*METRICS, *MEASURED]):
        if key in metrics:
            row[key] = mean_ci(metrics[key])
    if bicubic_psnr is not None:
        # Paired over the same faces: far tighter than the spread of PSNR across faces.
        row["gain"] = mean_ci(metrics["psnr"] - bicubic_psnr)
    if start_psnr is not None:
        row["gain_start"] = mean_ci(metrics["psnr"] - start_psnr)
    return row


def to_markdown(rows: Sequence[dict[str, object]]) -> str:
    keys = [k for k in COLUMNS if any(k in r for r in rows)]
    header = "| strategy | T | n | " + " | ".join(COLUMNS[k] for k in keys) + " |"
    lines = [header, "|" + "---|" * (3 + len(keys))]
    for row in rows:
        cells = []
        for key in keys:
            if key not in row:
                cells.append("")
                continue
            mean, hw = row[key]
            cells.append(format_mean_ci(mean, hw, 2 if key in ("psnr", "psnr_y", "gain", "gain_start") else 4))
        lines.append(f"| {row['strategy']} | {row['T']} | {row['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[dict[str, object]]) -> str:
    keys = [k for k in COLUMNS if any(k in r for r in rows)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["strategy", "T", "n"] + [f"{k}{suffix}" for k in keys for suffix in ("_mean", "_ci95")])
    for row in rows:
        values = []
        for key in keys:
            values.extend(row.get(key, ("", "")))
        writer.writerow([row["strategy"], row["T"], row["n"], *values])
    return buffer.getvalue()


def plot(rows: Sequence[dict[str, object]], metric: str = "gain") -> bytes:
    """PNG bytes of a bar chart of ``metric`` (default: paired PSNR gain over bicubic) with 95% CI bars."""
    import matplotlib  # lazy: matplotlib takes ~1 s to import and only the report writer needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: after selecting the Agg backend

    names = [str(r["strategy"]) for r in rows if metric in r]
    means = [r[metric][0] for r in rows if metric in r]
    errors = [r[metric][1] for r in rows if metric in r]
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 3.5), dpi=120)
    ax.bar(names, means, yerr=errors, capsize=4, color="#4c72b0")
    low = min(m - e for m, e in zip(means, errors, strict=True))
    high = max(m + e for m, e in zip(means, errors, strict=True))
    if metric == "gain":
        low, high = min(0.0, low), max(0.0, high)
    pad = 0.15 * (high - low) + 1e-3
    ax.set_ylim(low - pad, high + pad)
    ax.set_ylabel(COLUMNS[metric])
    ax.set_title(f"{COLUMNS[metric]}: mean and 95% CI")
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def per_face_csv(results: Sequence[EpisodeResults]) -> str:
    """One line per (strategy, face): every metric, for paired re-analysis."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = list(results[0].metrics)
    writer.writerow(["strategy", "T", "face_index", "bicubic_psnr", "start_psnr", *keys])
    for r in results:
        for i, face in enumerate(r.indices):
            writer.writerow([r.name, r.horizon, int(face), r.bicubic_metrics["psnr"][i], r.start_metrics["psnr"][i],
                             *(r.metrics[k][i] for k in keys)])
    return buffer.getvalue()


def write_report(rows: Sequence[dict[str, object]], out_dir: str | os.PathLike, stem: str = "compare",
                 results: Sequence[EpisodeResults] | None = None) -> dict[str, Path]:
    """Write ``<stem>.md``, ``.csv``, ``.png`` (and ``<stem>_per_face.csv`` given ``results``) atomically."""
    out = Path(out_dir)
    paths = {"md": out / f"{stem}.md", "csv": out / f"{stem}.csv", "png": out / f"{stem}.png"}
    atomic_write_bytes(paths["md"], to_markdown(rows).encode())
    atomic_write_bytes(paths["csv"], to_csv(rows).encode())
    atomic_write_bytes(paths["png"], plot(rows))
    if results is not None:
        paths["per_face"] = out / f"{stem}_per_face.csv"
        atomic_write_bytes(paths["per_face"], per_face_csv(results).encode())
    return paths
