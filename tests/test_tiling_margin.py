"""bench/tiling_margin.py: its two ends are the even grid (infinite margin) and ``self_lookahead`` (margin 1)."""

from __future__ import annotations

import numpy as np
import pytest

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.strategies.base import build_strategy
from fh_gym.envs import make_config


@pytest.fixture(scope="module")
def script(bench_script):
    return bench_script("tiling_margin")


@pytest.fixture(scope="module")
def config():
    return make_config({"data": {"type": "synthetic", "split": "val"}}, variant="dense_x8")


def _psnr(config, actor) -> np.ndarray:
    return run_episodes(config, actor, np.arange(3), seed=0).metrics["psnr"]


def test_infinite_margin_in_raster_order_is_the_even_grid(script, config):
    actor = script.TilingMarginActor(float("inf"), "raster")
    np.testing.assert_array_equal(_psnr(config, actor), _psnr(config, build_strategy("even")))
    assert actor.deviations == 0


def test_margin_one_in_change_order_is_self_lookahead(script, config):
    actor = script.TilingMarginActor(1.0, "change")
    np.testing.assert_allclose(_psnr(config, actor), _psnr(config, build_strategy("self_lookahead")), atol=1e-9)
    assert actor.deviations > 0


def test_bad_margins_are_a_one_line_error(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--data", "synthetic", "--margins", "2,x"])
    assert exit_info.value.code == 2
    assert "--margins '2,x': expected comma-separated numbers" in capsys.readouterr().err
