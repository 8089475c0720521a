"""Baseline strategies, the greedy oracle's lookahead, evaluation runs and comparison reports."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fh_gym.agents.evaluate import run_episodes, sample_faces
from fh_gym.agents.reports import table_rows, to_csv, to_markdown, write_report
from fh_gym.agents.strategies import (
    EvenGridStrategy,
    GreedyOracleStrategy,
    Random30Strategy,
    RandomStrategy,
    SelfLookaheadStrategy,
    SequentialStrategy,
    build_strategy,
)
from fh_gym.engine.core import RepairEngine, build_scaled
from fh_gym.envs.face_repair import make_config

SMALL = {"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}}


@pytest.fixture(scope="module")
def active_restorer():
    """A restorer that changes what it repairs (random, non-zero tail) so strategies differ."""
    torch.manual_seed(0)
    restorer = build_scaled({"type": "FSRCNN"}, "patch", 8)
    with torch.no_grad():
        for p in restorer.parameters():  # small perturbation: activations stay in a normal range
            p.add_(0.01 * torch.randn_like(p))
    return restorer.eval()


def engine_for(variant: str, restorer, n: int = 3, **config) -> RepairEngine:
    return RepairEngine(make_config({**SMALL, **config}, variant), n, restorer=restorer)


def test_even_grid_tiles_the_image_once_per_pass(active_restorer):
    engine = engine_for("dense_x8", active_restorer)
    slots = engine.all_slots()
    rng = np.random.default_rng(0)
    engine.reset(slots, rng)
    strategy = EvenGridStrategy()
    for _ in range(16):
        engine.step(strategy.act(engine, slots, rng), slots)
    assert torch.all(engine.coverage == 1)
    assert len(strategy.sequence(engine)) == 16


def test_even_grid_on_box_actions_covers_the_image(active_restorer):
    engine = engine_for("attention_fh", active_restorer)
    slots = engine.all_slots()
    rng = np.random.default_rng(0)
    engine.reset(slots, rng)
    for _ in range(9):
        engine.step(EvenGridStrategy().act(engine, slots, rng), slots)
    assert torch.all(engine.coverage >= 1)


def test_sequential_scans_in_raster_order(active_restorer):
    engine = engine_for("dense_x8", active_restorer)
    seq = SequentialStrategy().sequence(engine)
    assert len(seq) == 16 and seq[0] == 0 and seq[-1] == 48
    assert np.all(np.diff(seq) > 0)


def test_random30_has_its_own_horizon(active_restorer):
    result = run_episodes(make_config(SMALL, "dense_x8"), Random30Strategy(), np.arange(4),
                          restorer=active_restorer, batch_size=4)
    assert result.horizon == 30 and result.boxes.shape == (4, 30, 4)


@pytest.mark.parametrize("feather", [0, 4])
def test_greedy_lookahead_predicts_the_real_gain(active_restorer, feather):
    engine = engine_for("dense_x8", active_restorer, repair={"margin": 8, "feather": feather})
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(1))
    engine.step(np.array([3, 10, 20]), slots)  # not from the start image only
    candidates = engine.action_type.candidate_actions()
    gains = engine.candidate_gains(slots, candidates, chunk=37)
    before = engine.psnr(slots)
    chosen = GreedyOracleStrategy().act(engine, slots, np.random.default_rng(0))
    assert np.array_equal(chosen, candidates[gains.argmax(axis=1)])
    engine.step(chosen, slots)
    np.testing.assert_allclose(engine.psnr(slots) - before, gains.max(axis=1), atol=1e-4)


def test_self_lookahead_measures_the_change_its_repair_makes(active_restorer):
    """``candidate_changes`` is the squared change a repair makes (no truth read), and self_lookahead repairs the
    allowed candidate that changes most: never a masked (already repaired) cell."""
    engine = engine_for("dense_x8", active_restorer, repair={"margin": 8})
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(1))
    engine.step(np.array([3, 10, 20]), slots)
    candidates = engine.action_type.candidate_actions()
    changes = engine.candidate_changes(slots, candidates, chunk=37)
    assert changes.shape == (3, 49) and np.all(changes >= 0) and np.all(changes.max(axis=1) > 0)
    allowed = engine.action_masks(slots)
    engine.hr[slots] = 0.5  # the truth is not read: a wrong one changes nothing
    np.testing.assert_array_equal(engine.candidate_changes(slots, candidates, chunk=49), changes)
    chosen = SelfLookaheadStrategy().act(engine, slots, np.random.default_rng(0))
    assert np.array_equal(chosen, np.where(allowed, changes, -np.inf).argmax(axis=1))
    assert all(allowed[i, c] for i, c in enumerate(chosen))
    before = engine.current.clone()
    engine.step(chosen, slots)
    made = (engine.current - before).double().square().mean(dim=(1, 2, 3)).numpy()
    np.testing.assert_allclose(made, changes[np.arange(3), chosen], rtol=1e-4, atol=1e-9)


def test_self_lookahead_fresh_counts_the_change_on_unrepaired_pixels_only(active_restorer):
    """``fresh_only``: the same changes before any repair; afterwards a repaired cell has nothing fresh left, a
    cell overlapping one counts less, a cell far from every repair counts the same; the strategy takes the argmax."""
    engine = engine_for("dense_x8", active_restorer, repair={"margin": 8})
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(1))
    candidates = engine.action_type.candidate_actions()
    np.testing.assert_array_equal(engine.candidate_changes(slots, candidates, fresh_only=True),
                                  engine.candidate_changes(slots, candidates))
    repaired = np.array([3, 10, 20])  # boxes (0, 48), (16, 48), (32, 96) of 32 x 32
    engine.step(repaired, slots)
    full = engine.candidate_changes(slots, candidates)
    fresh = engine.candidate_changes(slots, candidates, fresh_only=True)
    rows = np.arange(3)
    assert np.all(fresh <= full) and np.all(fresh[rows, repaired] == 0) and np.all(full[rows, repaired] > 0)
    beside = np.array([4, 11, 19])  # (0, 64), (16, 64), (32, 80): half of each is repaired
    assert np.all(fresh[rows, beside] < full[rows, beside])
    np.testing.assert_allclose(fresh[:, 48], full[:, 48], rtol=1e-12)  # (96, 96): far from every repair
    chosen = build_strategy("self_lookahead_fresh").act(engine, slots, np.random.default_rng(0))
    assert np.array_equal(chosen, np.where(engine.action_masks(slots), fresh, -np.inf).argmax(axis=1))


def test_strategies_see_identical_inputs_and_greedy_wins_one_step(active_restorer):
    config = make_config({**SMALL, "horizon": 1}, "dense_x8")
    results = {name: run_episodes(config, build_strategy(name), np.arange(6), restorer=active_restorer,
                                  batch_size=3, seed=4)
               for name in ("random", "even", "greedy")}
    starts = [r.start_psnr for r in results.values()]
    assert all(np.array_equal(starts[0], s) for s in starts)
    assert np.all(results["greedy"].final_psnr >= results["even"].final_psnr - 1e-6)
    assert np.all(results["greedy"].final_psnr >= results["random"].final_psnr - 1e-6)


def test_report_has_bicubic_row_and_ci_columns(tmp_path, active_restorer):
    config = make_config(SMALL, "dense_x8")
    results = [run_episodes(config, s, np.arange(5), restorer=active_restorer, batch_size=5)
               for s in (RandomStrategy(), EvenGridStrategy())]
    rows = table_rows(results)
    assert [r["strategy"] for r in rows] == ["bicubic", "random", "even"]
    mean, half_width = rows[2]["psnr"]
    assert mean == pytest.approx(float(np.mean(results[1].metrics["psnr"])))
    assert half_width > 0
    markdown = to_markdown(rows)
    assert markdown.splitlines()[0].startswith("| strategy | T | n | PSNR (dB) | PSNR gain vs bicubic (dB, paired)")
    gain_mean, _ = rows[2]["gain"]
    assert gain_mean == pytest.approx(float(np.mean(results[1].metrics["psnr"] - results[1].bicubic_metrics["psnr"])))
    assert " ± " in markdown
    assert to_csv(rows).splitlines()[0].startswith("strategy,T,n,psnr_mean,psnr_ci95")
    paths = write_report(rows, tmp_path, results=results)
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["per_face"].read_text().count("\n") == 1 + 2 * 5


def test_face_sample_spreads_over_people():
    identities = np.array([0] * 50 + [1, 2, 3, 4])
    chosen = sample_faces(identities, 5, seed=0)
    assert sorted(set(identities[chosen])) == [0, 1, 2, 3, 4]
    assert np.array_equal(chosen, sample_faces(identities, 5, seed=0))
