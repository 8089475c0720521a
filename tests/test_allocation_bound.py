"""bench/allocation_bound.py: the knapsack over faces is exact, and a path ends at the report's final PSNR."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.strategies.base import build_strategy
from fh_gym.envs import make_config


@pytest.fixture(scope="module")
def script(bench_script):
    return bench_script("allocation_bound")


def _brute_force(values: np.ndarray, total: int) -> float:
    n, width = values.shape
    return max(sum(values[f, k] for f, k in enumerate(calls))
               for calls in itertools.product(range(width), repeat=n) if sum(calls) <= total)


@pytest.mark.parametrize("seed", range(6))
def test_best_allocation_matches_brute_force_on_curves_of_any_shape(script, seed):
    rng = np.random.default_rng(seed)
    values = np.cumsum(rng.normal(0.1, 0.3, size=(4, 5)), axis=1)  # not concave: gains may be negative
    for total in range(0, 17):
        calls = script.best_allocation(values, total)
        assert calls.sum() <= total and calls.min() >= 0 and calls.max() <= 4
        assert values[np.arange(4), calls].sum() == pytest.approx(_brute_force(values, total), abs=1e-12)


def test_best_allocation_gives_calls_where_they_gain_most(script):
    values = np.array([[0.0, 1.0, 1.5], [0.0, 0.1, 0.2], [0.0, 3.0, 3.1]])
    np.testing.assert_array_equal(script.best_allocation(values, 2), [1, 0, 1])
    np.testing.assert_array_equal(script.best_allocation(values, 3), [2, 0, 1])
    np.testing.assert_array_equal(script.best_allocation(values, 100), [2, 2, 2])  # more calls than there are
    with pytest.raises(ValueError, match="total must be >= 0"):
        script.best_allocation(values, -1)
    with pytest.raises(ValueError, match=r"finite \(N, K \+ 1\) array"):
        script.best_allocation(values[0], 1)


def test_a_path_starts_at_the_start_image_and_ends_at_the_final_psnr(script):
    config = make_config({"data": {"type": "synthetic", "split": "val"}, "horizon": 3}, variant="dense_x8")
    hook = script.PathHook()
    result = run_episodes(config, build_strategy("even"), np.arange(3), seed=0, batch_size=2, hooks=[hook])
    paths = hook.paths()
    assert paths.shape == (3, 4)
    np.testing.assert_allclose(paths[:, 0], result.start_metrics["psnr"], atol=1e-9)
    np.testing.assert_allclose(paths[:, -1], result.metrics["psnr"], atol=1e-9)
    assert (np.diff(paths, axis=1) != 0).all()  # every even-grid repair changes the PSNR


def test_bad_budgets_are_a_one_line_error(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--data", "synthetic", "--budgets", "8,x"])
    assert exit_info.value.code == 2
    assert "--budgets '8,x': expected comma-separated numbers" in capsys.readouterr().err


def test_the_stop_rule_stops_at_the_first_repair_that_gains_too_little(script):
    values = np.array([[0.0, 1.0, 1.2, 2.0], [0.0, 0.05, 1.0, 1.1], [0.0, 0.5, 1.0, 1.5]])
    np.testing.assert_array_equal(script.stop_rule_calls(values, 0.3), [1, 0, 3])
    np.testing.assert_array_equal(script.stop_rule_calls(values, -1.0), [3, 3, 3])
    # the best single threshold within 1 call a face: 0.2 <= t < 0.5 gives calls [1, 0, 3] (mean 4/3) > 1,
    # 0.5 <= t < 1 gives [1, 0, 0]: 1/3 call, value 1/3; t < 0.05 is over budget
    np.testing.assert_array_equal(script.best_stop_rule(values, 1.0), [1, 0, 0])
    np.testing.assert_array_equal(script.best_stop_rule(values, 3.0), [3, 3, 3])
    # never above the hindsight allocation, which may stop each face anywhere
    rng = np.random.default_rng(0)
    paths = np.cumsum(rng.normal(0.1, 0.3, size=(20, 9)), axis=1)
    for budget in (2, 4, 6):
        rule, bound = script.best_stop_rule(paths, budget), script.best_allocation(paths, budget * 20)
        rows = np.arange(20)
        assert rule.mean() <= budget and paths[rows, rule].sum() <= paths[rows, bound].sum() + 1e-12


def test_the_paths_are_kept_atomically(script, tmp_path, capsys):
    out = tmp_path / "paths.npz"
    assert script.main(["--data", "synthetic", "--split", "val", "--faces", "2", "--strategies", "even",
                        "--budgets", "8", "--threads", "1", "--out", str(out)]) == 0  # 1: the suite's thread count
    kept = np.load(out)
    assert sorted(kept.files) == ["even", "even_at_horizon", "faces"]
    assert kept["faces"].shape == (2,) and kept["even"].shape == (2, 17)
    np.testing.assert_allclose(kept["even"][:, -1], kept["even_at_horizon"], atol=1e-9)
    assert not list(tmp_path.glob("*.partial*"))
    assert "| even | 8 |" in capsys.readouterr().out


def test_tiling_by_change_repairs_the_even_grids_cells_in_another_order(script):
    config = make_config({"data": {"type": "synthetic", "split": "val"}}, variant="dense_x8")
    tiling = run_episodes(config, script.tiling_by_change(), np.arange(2), seed=0).boxes
    even = run_episodes(config, build_strategy("even"), np.arange(2), seed=0).boxes
    assert tiling.shape == even.shape == (2, 16, 4)
    for face in range(2):
        assert sorted(map(tuple, tiling[face].tolist())) == sorted(map(tuple, even[face].tolist()))
    assert not np.array_equal(tiling, even)  # the order is the restorer's, not raster
