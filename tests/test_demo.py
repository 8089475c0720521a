"""The README's main job: ``fh-gym demo`` repairs with the shipped weights, trains an agent, compares, records."""

from __future__ import annotations

import csv

import pytest

from fh_gym.agents.cli.main import main


@pytest.mark.slow
def test_demo_end_to_end_with_a_tiny_budget(tmp_path, capsys):
    assert main(["demo", "--timesteps", "256", "--faces", "4", "--episodes", "1", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "with weights:syn_x8 (synthetic faces)" in printed
    with open(tmp_path / "compare" / "compare.csv") as f:
        rows = {row["strategy"]: row for row in csv.DictReader(f)}
    assert {"bicubic", "even", "best_fixed", "greedy", "maskable_ppo-final"} <= set(rows)
    assert float(rows["even"]["gain_mean"]) > 0.5  # the shipped restorer repairs: even cells gain over bicubic
    assert len(list((tmp_path / "videos").glob("*.mp4"))) == 1
    assert len(list((tmp_path / "agents").glob("*/final.zip"))) == 1
