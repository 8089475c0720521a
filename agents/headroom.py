"""The headroom report (``fh-gym compare --budgets 2,4,8,16``): PSNR gain against the repair budget T.

For every budget T each actor repairs the same test faces with the same restorer for T steps. Per T the report
names the strongest *fixed* strategy (the best mean gain among the strategies that neither read the truth nor
learn: random, even, sequential, centre_out, best_fixed), the oracle headroom over it (greedy oracle minus that
strategy, paired over faces, 95% CI), and for every other actor its paired difference to the strongest fixed
strategy and the share of the headroom it closes ((actor - fixed) / (oracle - fixed), on the means; the oracle
is the one-step ``greedy``, so the two-step ``greedy2``'s share above 100% is what a one-step bound misses). Every
trained agent is also paired against the strongest *baseline*: the best of every strategy that does not read
the truth of the faces it repairs, the fixed ones and truth-free lookahead or supervised ones alike
(``self_lookahead``, ``gain_predictor``): what a learned policy must beat to be worth training.

With a stop action (adaptive budgets) T is the most calls a face may take: each row also carries the restorer
calls a face actually took (``calls``: mean, 95% CI), the Markdown table shows them and the plot draws PSNR
against them, so an actor that stops early is a curve of its own to the left of the fixed budgets.

Actors with their own episode length (a trained agent's T, ``random30``'s 30) run at the budget equal to it
(an agent trained on T = 8 is a row of the T = 8 table); with ``every_budget`` at every budget (a policy that
reads coverage / T, as ``GainPolicy`` does, can be asked for any T, but it was trained for one).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from fh_gym.agents.evaluate import EpisodeResults, run_episodes, sample_faces
from fh_gym.agents.reports import per_face_csv
from fh_gym.agents.strategies import STRATEGIES
from fh_gym.data import build_dataset
from fh_gym.engine.networks import env_network
from fh_gym.episodes import Actor
from fh_gym.metrics import format_mean_ci, mean_ci
from fh_gym.restorers.checkpoint import atomic_write_bytes

#: the strategies a learned policy must beat (no truth, no training)
FIXED = ("random", "even", "sequential", "centre_out", "best_fixed")
#: strategies that read the truth of the faces they repair: upper bounds, not baselines. The first one present
#: measures the headroom (the one-step ``greedy``; the two-step ``greedy2``'s share then says what it leaves)
ORACLES = ("greedy", "greedy2")


def runs_at(actor: Actor, budget: int, every_budget: bool = False) -> bool:
    """Whether ``actor`` is a row of the ``budget`` table (see the module docstring)."""
    return actor.horizon is None or every_budget or int(actor.horizon) == int(budget)


def headroom(env_config: dict[str, Any], actors: Sequence[Actor], budgets: Sequence[int], num_faces: int,
             batch_size: int = 32, seed: int = 0, progress: bool = True,
             every_budget: bool = False) -> tuple[list[dict[str, Any]], list[EpisodeResults]]:
    """The report's rows and the episodes behind them.

    Returns:
        ``(rows, results)``: one row per (budget, actor that runs at it): ``T``, ``strategy``, ``gain`` (mean,
        ci95), ``vs_fixed`` (mean, ci95) and ``share`` of the oracle headroom (None for the fixed strategy itself
        and where there is no oracle), ``calls`` (mean, ci95) with a stop action (else None: T calls), for
        trained agents ``strongest_baseline`` and ``vs_baseline`` (mean, ci95;
        None for strategies); ``results`` the per-face episodes of every row, in the same order (the
        same faces at every budget, so any two rows of one T can be paired afterwards).
    """
    if not any(runs_at(a, b, every_budget) for a in actors for b in budgets):
        raise ValueError(f"--budgets {','.join(map(str, budgets))}: every actor keeps its own T "
                         f"({', '.join(f'{a.name}: {a.horizon}' for a in actors)}); add a strategy or "
                         "--every-budget")
    dataset = build_dataset(env_config["data"])
    restorer = env_network(env_config).eval()
    indices = sample_faces(dataset.identities, num_faces, seed)
    rows: list[dict[str, Any]] = []
    episodes: list[EpisodeResults] = []
    for budget in tqdm(list(budgets), desc="budgets", disable=None if progress else True):
        results = [run_episodes(env_config, actor, indices, restorer=restorer, dataset=dataset,
                                batch_size=batch_size, seed=seed, horizon=int(budget))
                   for actor in actors if runs_at(actor, budget, every_budget)]
        rows.extend(_budget_rows(int(budget), results))
        episodes.extend(results)
    return rows, episodes


def _gain(result: EpisodeResults) -> np.ndarray:
    return result.metrics["psnr"] - result.bicubic_metrics["psnr"]


def _budget_rows(budget: int, results: Sequence[EpisodeResults]) -> list[dict[str, Any]]:
    fixed = [r for r in results if r.name in FIXED]
    best = max(fixed, key=lambda r: float(_gain(r).mean())) if fixed else None
    oracle = next((r for name in ORACLES for r in results if r.name == name), None)
    gap = float((_gain(oracle) - _gain(best)).mean()) if best is not None and oracle is not None else None
    strategies = set(STRATEGIES.names())
    baselines = [r for r in results if r.name in strategies and r.name not in ORACLES]
    baseline = max(baselines, key=lambda r: float(_gain(r).mean())) if baselines else None
    rows = []
    for r in results:
        row: dict[str, Any] = {"T": budget, "strategy": r.name, "n": len(r.indices), "gain": mean_ci(_gain(r)),
                               "strongest_fixed": best.name if best is not None else None,
                               "vs_fixed": None, "share": None, "strongest_baseline": None, "vs_baseline": None,
                               "calls": mean_ci(r.metrics["repairs"]) if "repairs" in r.metrics else None}
        if baseline is not None and r.name not in strategies:  # a trained agent
            row["strongest_baseline"] = baseline.name
            row["vs_baseline"] = mean_ci(_gain(r) - _gain(baseline))
        if best is not None and r is not best:
            diff = _gain(r) - _gain(best)
            row["vs_fixed"] = mean_ci(diff)
            if gap is not None and gap > 0 and r is not oracle:
                row["share"] = float(diff.mean()) / gap
        rows.append(row)
    return rows


def headroom_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The report as a Markdown table; with trained agents, a last column pairs each with the strongest baseline."""
    agents = any(row["vs_baseline"] is not None for row in rows)
    stops = any(row["calls"] is not None for row in rows)
    lines = ["| T | strategy | n |" + (" restorer calls a face |" if stops else "") + " PSNR gain vs bicubic (dB) | "
             "vs strongest fixed (dB, paired) | share of oracle headroom |"
             + (" vs strongest baseline (dB, paired) |" if agents else ""),
             "|---|---|---|---|---|---|" + ("---|" if stops else "") + ("---|" if agents else "")]
    for row in rows:
        vs = "" if row["vs_fixed"] is None else format_mean_ci(*row["vs_fixed"], 2)
        if row["vs_fixed"] is None and row["strategy"] == row["strongest_fixed"]:
            vs = "(strongest fixed)"
        share = "" if row["share"] is None else f"{100 * row['share']:.0f}%"
        calls = ""
        if stops:
            calls = f" {format_mean_ci(*row['calls'], 2)} |" if row["calls"] is not None else f" {row['T']} |"
        line = (f"| {row['T']} | {row['strategy']} | {row['n']} |{calls} {format_mean_ci(*row['gain'], 2)} | {vs} "
                f"| {share} |")
        if agents:
            against = row["vs_baseline"]
            line += "" if against is None else f" {format_mean_ci(*against, 2)} ({row['strongest_baseline']})"
            line += " |"
        lines.append(line)
    return "\n".join(lines) + "\n"


def headroom_csv(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["T", "strategy", "n", "gain_mean", "gain_ci95", "strongest_fixed", "vs_fixed_mean",
                     "vs_fixed_ci95", "share", "strongest_baseline", "vs_baseline_mean", "vs_baseline_ci95",
                     "calls_mean", "calls_ci95"])
    for row in rows:
        vs = row["vs_fixed"] or ("", "")
        calls = row["calls"] or (row["T"], 0.0)  # without a stop action every step is one call
        writer.writerow([row["T"], row["strategy"], row["n"], *row["gain"], row["strongest_fixed"] or "", *vs,
                         "" if row["share"] is None else row["share"], row["strongest_baseline"] or "",
                         *(row["vs_baseline"] or ("", "")), *calls])
    return buffer.getvalue()


def headroom_plot(rows: Sequence[dict[str, Any]]) -> bytes:
    """PNG bytes: PSNR gain over bicubic against the restorer calls per face (the budget T, or with a stop action
    the calls the faces took), one line per actor."""
    import matplotlib  # lazy: plotting only for the report files

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy, after choosing the backend

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(r["strategy"] for r in rows):
        mine = [r for r in rows if r["strategy"] == name]
        ts = [r["T"] if r["calls"] is None else r["calls"][0] for r in mine]
        means = np.array([r["gain"][0] for r in mine])
        halves = np.array([r["gain"][1] for r in mine])
        ax.plot(ts, means, marker="o", label=name)
        ax.fill_between(ts, means - halves, means + halves, alpha=0.15)
    ax.set_xlabel("restorer calls per face")
    ax.set_ylabel("PSNR gain over bicubic (dB)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def write_headroom(rows: Sequence[dict[str, Any]], out_dir: Path,
                   results: Sequence[EpisodeResults] | None = None) -> dict[str, Path]:
    """Write ``headroom.md``, ``.csv`` and ``.png`` (and ``headroom_per_face.csv`` given the episodes
    ``results``: one line per strategy, T and face, for paired comparisons of any two rows) into ``out_dir``
    atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "headroom.md", "csv": out_dir / "headroom.csv", "plot": out_dir / "headroom.png"}
    if results:
        paths["per_face"] = out_dir / "headroom_per_face.csv"
        atomic_write_bytes(paths["per_face"], per_face_csv(results).encode())
    atomic_write_bytes(paths["markdown"], headroom_markdown(rows).encode())
    atomic_write_bytes(paths["csv"], headroom_csv(rows).encode())
    atomic_write_bytes(paths["plot"], headroom_plot(rows))
    return paths
