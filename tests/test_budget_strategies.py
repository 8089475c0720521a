"""Strategies that make a budget count: centre_out and the best open-loop order (best_fixed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fh_gym.agents.strategies import BestFixedStrategy, CentreOutStrategy, EvenGridStrategy, build_strategy
from fh_gym.agents.strategies.best_fixed_strategy import order_key, search_order
from fh_gym.engine.core import RepairEngine, build_scaled
from fh_gym.envs.face_repair import make_config

SMALL = {"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}}


@pytest.fixture(scope="module")
def active_restorer():
    torch.manual_seed(0)
    restorer = build_scaled({"type": "FSRCNN", "weights": "none"}, "patch", 8)
    with torch.no_grad():
        for p in restorer.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return restorer.eval()


def test_centre_out_starts_at_the_centre_and_tiles_the_image(active_restorer):
    engine = RepairEngine(make_config(SMALL, "dense_x8"), 2, restorer=active_restorer)
    sequence = CentreOutStrategy().sequence(engine)
    assert sorted(sequence.tolist()) == sorted(EvenGridStrategy().sequence(engine).tolist())
    assert sequence[:4].tolist() == [16, 18, 30, 32]  # the four tiles around (64, 64), raster order
    assert sequence[-4:].tolist() == [0, 6, 42, 48]  # the corners last


def test_best_fixed_is_the_best_candidate_on_training_faces_and_is_cached(active_restorer, tmp_path, monkeypatch):
    monkeypatch.setenv("FH_GYM_CACHE", str(tmp_path))
    config = make_config({**SMALL, "horizon": 3}, "dense_x8")
    order, winner = search_order(config, active_restorer, search_faces=8, seed=0)
    assert order.shape == (3,) and winner in ("greedy", "even", "centre_out")
    again, _ = search_order(config, active_restorer, search_faces=8, seed=0)
    np.testing.assert_array_equal(order, again)  # deterministic
    engine = RepairEngine(config, 2, restorer=active_restorer)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0), {"index": [0, 1]})
    strategy = BestFixedStrategy(search_faces=8)
    actions = [strategy.act(engine, slots, np.random.default_rng(0)) for _ in range(1)]
    np.testing.assert_array_equal(actions[0], [order[0], order[0]])  # open loop: the same action for every face
    key = order_key(engine.config, engine.restorer, 8, 0)
    cached = json.loads((tmp_path / "best_fixed" / f"{key}.json").read_text())
    assert cached["order"] == order.tolist() and cached["winner"] == winner
    # A test split or another device is the same search; another horizon is another one.
    test_config = make_config({**SMALL, "horizon": 3, "data": {**SMALL["data"], "split": "test"}}, "dense_x8")
    assert order_key(test_config, active_restorer, 8, 0) == key
    assert order_key(make_config({**SMALL, "horizon": 4}, "dense_x8"), active_restorer, 8, 0) != key


@pytest.mark.parametrize("variant", ["attention_fh", "continuous", "adaptive_x8"])
@pytest.mark.parametrize("name", ["best_fixed", "self_lookahead", "self_lookahead_fresh"])
def test_lookahead_strategies_run_on_box_continuous_and_stop_actions(active_restorer, variant, name, tmp_path,
                                                                      monkeypatch):
    """Both pick among the action type's candidates (never the stop action: episodes run to T)."""
    monkeypatch.setenv("FH_GYM_CACHE", str(tmp_path))
    config = make_config({**SMALL, "horizon": 2}, variant)
    engine = RepairEngine(config, 2, restorer=active_restorer)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0))
    strategy = build_strategy(name, **({"search_faces": 2} if name == "best_fixed" else {}))
    candidates = engine.action_type.candidate_actions()
    for _ in range(2):
        actions = strategy.act(engine, slots, np.random.default_rng(0))
        assert all(any(np.array_equal(a, c) for c in candidates) for a in actions)
        engine.step(actions, slots)
    assert engine.t.tolist() == [2, 2]


def test_box_pooling_weights_average_exactly_over_the_box():
    from fh_gym.restorers.archs.selection_arch import box_pooling_weights

    weights = box_pooling_weights(torch.tensor([[0, 0, 32, 32], [8, 4, 16, 24]]), 128, 16)  # 8-px map cells
    torch.testing.assert_close(weights.sum(dim=(1, 2)), torch.ones(2))
    assert torch.all(weights[0, :4, :4] == 1 / 16) and weights[0, 4:].sum() == 0
    # Box 2 covers rows 8..24 (cells 1, 2 fully) and columns 4..28 (half of cell 0, cells 1, 2, half of 3).
    np.testing.assert_allclose(weights[1, 1:3, 0].numpy(), [0.5 / 6, 0.5 / 6], rtol=1e-6)
    np.testing.assert_allclose(weights[1, 1:3, 1].numpy(), [1 / 6, 1 / 6], rtol=1e-6)


def test_train_gain_predictor_then_compare_with_it(tmp_path, capsys):
    import csv

    from fh_gym.agents.cli.main import main
    from fh_gym.restorers.checkpoint import load_network

    data = ["--data", "synthetic", "--set", "data.identities=24", "--env", "fh_gym/FaceRepair-Dense-x8-T4-v0"]
    (tmp_path / "gp.yaml").write_text("eval_faces: 4\n")
    assert main(["train-gain-predictor", *data, "--steps", "3", "--batch-size", "4", "--eval-every", "0",
                 "--config", str(tmp_path / "gp.yaml"), "--out", str(tmp_path / "gp"), "--quiet"]) == 0
    assert "gain predictor checkpoint:" in capsys.readouterr().out
    net = load_network(tmp_path / "gp" / "gain_predictor.pt", kind="aux")
    assert type(net).__name__ == "BoxPoolingSelector" and net.checkpoint_meta["env_horizon"] == 4
    assert main(["compare", *data, "--split", "test", "--strategies", "even", "--faces", "4",
                 "--gain-predictor", str(tmp_path / "gp" / "gain_predictor.pt"), "--out", str(tmp_path / "c")]) == 0
    with open(tmp_path / "c" / "compare.csv") as f:
        rows = {row["strategy"]: row for row in csv.DictReader(f)}
    assert rows["gain_predictor"]["T"] == "4" and float(rows["gain_predictor"]["n"]) == 4


def test_compare_takes_a_shipped_gain_predictor_by_name(tmp_path, capsys, lfw_dir):
    import csv

    from fh_gym.agents.cli.main import main

    data = ["--data", "lfw", "--env", "fh_gym/FaceRepair-Dense-x8-T4-v0", "--split", "test"]
    assert main(["compare", *data, "--strategies", "even", "--faces", "4", "--gain-predictor", "lfw_x8_t4",
                 "--out", str(tmp_path / "c")]) == 0
    with open(tmp_path / "c" / "compare.csv") as f:
        rows = {row["strategy"]: row for row in csv.DictReader(f)}
    assert float(rows["gain_predictor"]["gain_mean"]) > float(rows["even"]["gain_mean"]) + 0.3
    capsys.readouterr()
    assert main(["compare", *data, "--faces", "2", "--gain-predictor", "nowhere", "--out", str(tmp_path / "d")]) == 2
    assert "--gain-predictor nowhere: no such file, nor shipped BoxPoolingSelector weights (shipped: lfw_x8_t4" in \
        capsys.readouterr().err


def test_self_lookahead_labels_are_the_restorers_expected_gains_in_db(active_restorer):
    from fh_gym.samplers.gain_labels import GainLabelSampler

    config = make_config(SMALL, "dense_x8")
    oracle = GainLabelSampler(config, 3, active_restorer, seed=5)
    mine = GainLabelSampler(config, 3, active_restorer, seed=5, labels="self_lookahead")
    engine = mine.engine
    changes = engine.candidate_changes(mine.slots, mine.candidates)
    mse = engine.mse[mine.slots].cpu().numpy()[:, None]
    batch = mine.sample()
    assert batch.gains.shape == (3, len(mine.candidates))
    np.testing.assert_allclose(batch.gains.numpy(), 10 * np.log10(mse / (mse - changes)), rtol=1e-4, atol=1e-6)
    # the same ranking as the self_lookahead strategy's scores, and not the oracle's labels of the same states
    assert (batch.gains.numpy().argmax(axis=1) == changes.argmax(axis=1)).all()
    assert not np.allclose(oracle.sample().gains.numpy(), batch.gains.numpy(), atol=1e-3)
    with pytest.raises(ValueError, match="labels must be one of oracle, self_lookahead, got 'truth'"):
        GainLabelSampler(config, 1, active_restorer, labels="truth")


def test_train_gain_predictor_rejects_unknown_labels(tmp_path, capsys):
    from fh_gym.agents.cli.main import main

    (tmp_path / "gp.yaml").write_text("labels: truth\n")
    assert main(["train-gain-predictor", "--data", "synthetic", "--set", "data.identities=24", "--steps", "1",
                 "--config", str(tmp_path / "gp.yaml"), "--out", str(tmp_path / "gp"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "labels must be one of oracle, self_lookahead, got 'truth'" in err and "Traceback" not in err
