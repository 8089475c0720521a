"""Engine forks and the two-step lookahead oracle ``greedy2`` built on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fh_gym.agents.cli.main import main
from fh_gym.agents.strategies import GreedyOracleStrategy, TwoStepOracleStrategy, build_strategy
from fh_gym.engine.core import RepairEngine
from fh_gym.engine.fork import STATE_ARRAYS, STATE_TENSORS
from fh_gym.envs.face_repair import make_config
from fh_gym.restorers.config import ConfigError

SMALL = {"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}}


@pytest.fixture(scope="module")
def restorer():
    """The shipped x8 restorer: its repairs gain (a random one's all lose, and every oracle would stop)."""
    return RepairEngine(make_config(SMALL, "dense_x8"), 1).restorer


def started(restorer, variant: str = "dense_x8", n: int = 2, **config) -> RepairEngine:
    engine = RepairEngine(make_config({**SMALL, **config}, variant), n, restorer=restorer)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": list(range(n))})
    return engine


def state(engine: RepairEngine) -> dict[str, np.ndarray]:
    return {name: getattr(engine, name).cpu().numpy().copy() for name in STATE_TENSORS}


def test_the_fork_list_names_every_per_slot_tensor_of_the_engine(restorer):
    """A state tensor added to the engine but not to the fork's list would be shared, not copied."""
    engine = started(restorer, n=5)
    per_slot = {name for name, value in vars(engine).items()
                if isinstance(value, torch.Tensor) and value.ndim and value.shape[0] == 5}
    assert per_slot == set(STATE_TENSORS)
    assert all(len(getattr(engine, name)) == 5 for name in STATE_ARRAYS)


def test_a_stepped_fork_is_the_engines_own_step_and_leaves_the_engine_alone(restorer):
    engine = started(restorer, n=2)
    engine.step(np.array([3, 40]))
    before = state(engine)
    fork = engine.fork(torch.tensor([1, 1, 0]))
    assert fork.num_envs == 3 and fork.face_index.tolist() == [1, 1, 0]
    fork.step(np.array([10, 24, 24]))
    assert all(np.array_equal(before[name], value) for name, value in state(engine).items())
    engine.step(np.array([24, 10]))  # the engine's own step of the same repairs
    after = state(engine)
    for name in ("current", "mse", "coverage", "obs_image", "t", "history"):
        np.testing.assert_array_equal(getattr(fork, name)[[2, 0]].cpu().numpy(), after[name], err_msg=name)
    assert fork.t.tolist() == [2, 2, 2] and not np.array_equal(fork.current[0].numpy(), fork.current[1].numpy())


def test_fork_rejects_slots_outside_the_engine(restorer):
    engine = started(restorer, n=2)
    with pytest.raises(ValueError, match=r"fork slots must lie in 0\.\.1, got \[0, 2\]"):
        engine.fork(torch.tensor([0, 2]))


@pytest.mark.parametrize("name,measure", [("greedy2", "candidate_gains"), ("self_lookahead2", "candidate_changes")])
def test_full_beam_picks_the_first_repair_of_the_best_pair(restorer, name, measure):
    """With beam = K the first repair maximises first score + best second score (brute force over every pair):
    true gains in dB for the oracle, the restorer's squared changes for self_lookahead2."""
    engine = started(restorer, n=2, horizon=3)
    engine.step(np.array([0, 48]))
    candidates = engine.action_type.candidate_actions()
    first = getattr(engine, measure)(engine.all_slots(), candidates)
    pair = np.empty_like(first)
    for k, action in enumerate(candidates):
        fork = engine.fork(engine.all_slots())
        fork.step(np.full(2, action))
        pair[:, k] = first[:, k] + getattr(fork, measure)(fork.all_slots(), candidates).max(axis=1)
    chosen = build_strategy(name, beam=len(candidates)).act(engine, engine.all_slots(), np.random.default_rng(0))
    np.testing.assert_array_equal(chosen, candidates[pair.argmax(axis=1)])
    assert engine.t.tolist() == [1, 1]  # looked ahead on forks only


def test_two_steps_of_greedy2_gain_at_least_two_of_greedy(restorer):
    """Over a horizon of 2 the full-beam two-step oracle is the optimum, so never below the one-step oracle."""
    finals = {}
    for strategy in (GreedyOracleStrategy(), TwoStepOracleStrategy(beam=49)):
        engine = started(restorer, n=3, horizon=2)
        for _ in range(2):
            engine.step(strategy.act(engine, engine.all_slots(), np.random.default_rng(0)))
        finals[strategy.name] = engine.psnr()
    assert np.all(finals["greedy2"] >= finals["greedy"] - 1e-9)


@pytest.mark.parametrize("variant", ["attention_fh", "continuous", "dense_x8_t4"])
def test_greedy2_runs_on_box_continuous_and_grid_actions(restorer, variant):
    """A first step (which looks two repairs ahead) picks one of the action type's candidates."""
    engine = started(restorer, variant, n=2, horizon=2)
    candidates = engine.action_type.candidate_actions()
    actions = TwoStepOracleStrategy(beam=2).act(engine, engine.all_slots(), np.random.default_rng(0))
    assert all(any(np.array_equal(a, c) for c in candidates) for a in actions)
    engine.step(actions)
    assert engine.t.tolist() == [1, 1]


def test_greedy2_stops_where_no_pair_of_repairs_pays(restorer):
    cheap = started(restorer, "adaptive_x8", n=2, horizon=3, repair={"step_cost": 0.0})
    dear = started(restorer, "adaptive_x8", n=2, horizon=3, repair={"step_cost": 100.0})
    stop = dear.action_type.stop_action
    assert stop not in TwoStepOracleStrategy(beam=3).act(cheap, cheap.all_slots(), np.random.default_rng(0))
    assert TwoStepOracleStrategy(beam=3).act(dear, dear.all_slots(), np.random.default_rng(0)).tolist() == [stop] * 2
    # Without the truth there is no gain in dB to set against the cost: self_lookahead2 never stops.
    assert stop not in build_strategy("self_lookahead2", beam=3).act(dear, dear.all_slots(), np.random.default_rng(0))


def test_greedy2_never_tries_a_masked_cell(restorer):
    engine = started(restorer, n=2, horizon=3, action={"mask_repeats": True})
    visited = []
    for _ in range(3):
        actions = TwoStepOracleStrategy(beam=4).act(engine, engine.all_slots(), np.random.default_rng(0))
        visited.append(actions.tolist())
        engine.step(actions)
    assert all(len(set(face)) == 3 for face in zip(*visited))


def test_a_bad_beam_is_a_one_line_error(capsys):
    with pytest.raises(ConfigError, match="strategy greedy2: beam must be an integer >= 1, got 0"):
        build_strategy("greedy2", beam=0)
    with pytest.raises(SystemExit) as stop:
        main(["compare", "--data", "synthetic", "--strategies", "greedy2", "--two-step-beam", "0"])
    assert stop.value.code == 2
    assert "argument --two-step-beam: invalid value 0 (expected an integer >= 1)" in capsys.readouterr().err
