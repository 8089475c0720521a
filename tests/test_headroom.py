"""The headroom report: gain against the budget T, strongest fixed strategy, oracle headroom, share closed."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from fh_gym.agents.cli.main import main
from fh_gym.agents.evaluate import EpisodeResults
from fh_gym.agents.headroom import _budget_rows, headroom_markdown

DATA = ["--data", "synthetic", "--set", "data.identities=24"]


def _result(name: str, gains: list[float]) -> EpisodeResults:
    n = len(gains)
    bicubic = {"psnr": np.full(n, 20.0)}
    return EpisodeResults(name=name, horizon=4, indices=np.arange(n), metrics={"psnr": 20.0 + np.array(gains)},
                          start_metrics=bicubic, bicubic_metrics=bicubic, final_psnr=np.zeros(n),
                          start_psnr=np.zeros(n), images=[], boxes=np.zeros((n, 4, 4)))


def test_rows_name_the_strongest_fixed_strategy_and_the_share_closed():
    rows = {r["strategy"]: r for r in _budget_rows(4, [
        _result("even", [0.2, 0.4]), _result("best_fixed", [1.0, 1.0]), _result("greedy", [2.0, 2.0]),
        _result("agent", [1.5, 1.5])])}
    assert {r["strongest_fixed"] for r in rows.values()} == {"best_fixed"}
    assert rows["best_fixed"]["vs_fixed"] is None and rows["best_fixed"]["share"] is None
    assert rows["agent"]["share"] == pytest.approx(0.5)  # (1.5 - 1.0) / (2.0 - 1.0)
    assert rows["greedy"]["vs_fixed"][0] == pytest.approx(1.0) and rows["greedy"]["share"] is None
    assert rows["even"]["share"] == pytest.approx(-0.7)
    assert rows["agent"]["strongest_baseline"] == "best_fixed" and rows["agent"]["vs_baseline"][0] == pytest.approx(0.5)


def test_agents_are_paired_with_the_strongest_baseline_not_only_the_strongest_fixed():
    rows = _budget_rows(4, [_result("best_fixed", [1.0, 1.0]), _result("self_lookahead", [1.6, 2.0]),
                            _result("greedy", [3.0, 3.0]), _result("gain_pg", [1.5, 1.5])])
    by_name = {r["strategy"]: r for r in rows}
    assert by_name["gain_pg"]["vs_fixed"][0] == pytest.approx(0.5)  # beats the strongest fixed strategy...
    assert by_name["gain_pg"]["strongest_baseline"] == "self_lookahead"  # ...not the oracle, though stronger
    assert by_name["gain_pg"]["vs_baseline"][0] == pytest.approx(-0.3)  # (1.5 - 1.6 + 1.5 - 2.0) / 2
    assert all(by_name[s]["vs_baseline"] is None for s in ("best_fixed", "self_lookahead", "greedy"))
    table = headroom_markdown(rows).splitlines()
    assert table[0].endswith("| vs strongest baseline (dB, paired) |") and table[1] == "|---|" * 1 + "---|" * 6
    assert table[-1].startswith("| 4 | gain_pg |") and table[-1].endswith(" -0.30 ± 2.54 (self_lookahead) |")
    assert "vs strongest baseline" not in headroom_markdown(rows[:3])  # no agent, no column


def test_compare_budgets_writes_the_report(tmp_path, capsys):
    out = tmp_path / "hr"
    assert main(["compare", *DATA, "--strategies", "even,best_fixed,greedy,random30", "--budgets", "2,4",
                 "--faces", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "left out of the budgets: random30 (T = 30): their own T is not one of them" in printed
    with open(out / "headroom.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["T"], r["strategy"]) for r in rows] == [(t, s) for t in ("2", "4") for s in ("even", "best_fixed",
                                                                                            "greedy")]
    assert all(float(r["calls_mean"]) == int(r["T"]) and float(r["calls_ci95"]) == 0 for r in rows)  # no stop action
    for t in ("2", "4"):
        mine = {r["strategy"]: r for r in rows if r["T"] == t}
        oracle, fixed = float(mine["greedy"]["gain_mean"]), float(mine[mine["even"]["strongest_fixed"]]["gain_mean"])
        assert oracle >= fixed - 1e-9  # the oracle is an upper bound of every fixed order here
    assert (out / "headroom.png").stat().st_size > 1000
    with open(out / "headroom_per_face.csv") as f:
        faces = list(csv.DictReader(f))
    assert len(faces) == 2 * 3 * 4  # budgets x strategies x faces
    for r in rows:  # the summary rows are the means of the per-face gains
        mine = [f for f in faces if f["T"] == r["T"] and f["strategy"] == r["strategy"]]
        assert len({f["face_index"] for f in mine}) == 4
        gain = np.mean([float(f["psnr"]) - float(f["bicubic_psnr"]) for f in mine])
        assert gain == pytest.approx(float(r["gain_mean"]), abs=1e-4)


def test_actors_with_their_own_t_run_at_it_or_at_every_budget(tmp_path, capsys):
    def rows_of(*extra: str) -> list[tuple[str, str]]:
        out = tmp_path / "-".join(extra or ("own",))
        assert main(["compare", *DATA, "--strategies", "even,random30", "--faces", "2", "--out", str(out),
                     *extra]) == 0
        with open(out / "headroom.csv") as f:
            return [(r["T"], r["strategy"]) for r in csv.DictReader(f)]

    assert rows_of("--budgets", "2,30") == [("2", "even"), ("30", "even"), ("30", "random30")]
    assert rows_of("--budgets", "2,3", "--every-budget") == [("2", "even"), ("2", "random30"), ("3", "even"),
                                                              ("3", "random30")]
    assert "left out of the budgets" not in capsys.readouterr().out
    assert main(["compare", *DATA, "--strategies", "random30", "--budgets", "2", "--faces", "2",
                 "--out", str(tmp_path / "none")]) == 2
    assert "every actor keeps its own T (random30: 30); add a strategy or --every-budget" in capsys.readouterr().err


def test_bad_budgets_are_one_line_errors(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["compare", *DATA, "--budgets", "4,0"])
    assert stop.value.code == 2
    assert "--budgets takes positive integers separated by commas (e.g. 2,4,8,16), got '4,0'" in \
        capsys.readouterr().err


def test_with_a_stop_action_the_report_counts_the_calls_faces_took(tmp_path):
    out = tmp_path / "adaptive"
    # a step cost no repair can pay: the oracle stops at once, the even grid never stops
    assert main(["compare", *DATA, "--env", "fh_gym/FaceRepair-Adaptive-x8-v0", "--set", "repair.step_cost=100",
                 "--strategies", "even,greedy", "--budgets", "2,3", "--faces", "3", "--out", str(out)]) == 0
    with open(out / "headroom.csv") as f:
        rows = {(r["T"], r["strategy"]): r for r in csv.DictReader(f)}
    for t in ("2", "3"):
        assert float(rows[(t, "even")]["calls_mean"]) == int(t) and float(rows[(t, "even")]["calls_ci95"]) == 0
        assert float(rows[(t, "greedy")]["calls_mean"]) == 0 and float(rows[(t, "greedy")]["gain_mean"]) == 0
    table = (out / "headroom.md").read_text().splitlines()
    assert table[0].startswith("| T | strategy | n | restorer calls a face | PSNR gain vs bicubic (dB) |")
    assert table[2].startswith("| 2 | even | 3 | 2.00 ± 0.00 |")
    assert table[3].startswith("| 2 | greedy | 3 | 0.00 ± 0.00 |")


def test_without_a_stop_action_every_step_is_a_call():
    rows = _budget_rows(4, [_result("even", [0.2, 0.4]), _result("greedy", [2.0, 2.0])])
    assert all(r["calls"] is None for r in rows)
    assert "restorer calls" not in headroom_markdown(rows)
