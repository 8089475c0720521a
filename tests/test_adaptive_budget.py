"""Adaptive budgets: a stop action ends a face's episode without a repair, each restorer call costs reward."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import fh_gym  # noqa: F401  (registers the ids)
from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.reports import table_rows, to_markdown
from fh_gym.agents.strategies import build_strategy
from fh_gym.engine.core import RepairEngine
from fh_gym.envs.face_repair import make_config
from fh_gym.envs.vector import FaceRepairSB3VecEnv
from fh_gym.episodes import FunctionActor
from fh_gym.registration import env_ids
from fh_gym.restorers.config import ConfigError

ID = "fh_gym/FaceRepair-Adaptive-x8-v0"
SMALL = {"data": {"type": "synthetic", "split": "test", "max_images": 8}}
STOP = 49


def _config(**overrides):
    return make_config({**SMALL, **overrides}, env_ids()[ID])


def test_the_variant_adds_a_stop_action_and_a_step_cost_term():
    env = gym.make(ID, config=SMALL)
    assert env.action_space == gym.spaces.Discrete(50)
    _, info = env.reset(seed=0)
    assert info["reward_step_cost"] == 0 and info["repairs"] == 0
    _, reward, terminated, _, info = env.step(3)
    assert not terminated and info["repairs"] == 1
    assert info["reward_step_cost"] == pytest.approx(-0.03)
    assert reward == pytest.approx(info["reward_psnr_gain"] - 0.03, abs=1e-6)
    assert env.unwrapped.action_masks()[STOP]  # stopping is always allowed
    psnr = info["psnr"]
    _, reward, terminated, _, info = env.step(STOP)
    assert terminated and reward == 0 and info["repairs"] == 1 and info["psnr"] == psnr
    with pytest.raises(RuntimeError, match="or a stop action"):
        env.step(4)


def test_other_variants_are_unchanged():
    env = gym.make("fh_gym/FaceRepair-Dense-x8-v0", config=SMALL)
    assert env.action_space == gym.spaces.Discrete(49)
    _, info = env.reset(seed=0)
    assert "reward_step_cost" not in info
    with pytest.raises(ConfigError, match="stop"):
        gym.make("fh_gym/FaceRepair-AttentionFH-v0", config={**SMALL, "action": {"stop": True}})


def test_a_batch_where_some_faces_stop_repairs_only_the_others():
    engine = RepairEngine(_config(), 3)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0, 1, 2]})
    before = engine.current.clone()
    out = engine.step(np.array([5, STOP, 20]))
    assert out.terminated.tolist() == [False, True, False]
    assert out.reward[1] == 0 and out.terms["step_cost"].tolist() == pytest.approx([-0.03, 0, -0.03])
    assert out.record.slots.tolist() == [0, 2]
    assert torch.equal(engine.current[1], before[1]) and not torch.equal(engine.current[0], before[0])
    assert engine.info()["repairs"].tolist() == [1, 0, 1]
    everyone = engine.step(np.array([STOP, STOP]), engine.all_slots()[[0, 2]])
    assert everyone.record is None and everyone.terminated.all() and (everyone.reward == 0).all()


def test_episodes_end_early_and_reports_count_the_calls():
    def act(engine, slots, rng):  # face k stops after k repairs
        t = engine.t[slots].cpu().numpy()
        return np.where(t >= slots.cpu().numpy(), STOP, t)

    results = run_episodes(_config(), FunctionActor(act, "stop_after_k"), np.arange(4), batch_size=4)
    assert results.metrics["repairs"].tolist() == [0, 1, 2, 3]
    assert results.final_psnr[0] == pytest.approx(results.start_psnr[0])
    table = to_markdown(table_rows([results]))
    assert "restorer calls" in table and "1.50" in table


def test_greedy_stops_once_no_repair_pays_for_its_cost():
    greedy = build_strategy("greedy")
    costly = run_episodes(_config(repair={"step_cost": 100.0}), greedy, np.arange(2), batch_size=2)
    assert costly.metrics["repairs"].tolist() == [0, 0]
    free = run_episodes(_config(repair={"step_cost": 0.0}, horizon=3), greedy, np.arange(2), batch_size=2)
    assert free.metrics["repairs"].tolist() == [3, 3]
    even = run_episodes(_config(horizon=3), build_strategy("even"), np.arange(2), batch_size=2)
    assert even.metrics["repairs"].tolist() == [3, 3]  # the fixed strategies never stop


def test_sb3_vector_env_resets_a_face_that_stopped():
    vec = FaceRepairSB3VecEnv(2, _config())
    vec.seed(0)
    vec.reset()
    vec.step_async(np.array([STOP, 7]))
    obs, rewards, dones, infos = vec.step_wait()
    assert dones.tolist() == [True, False] and rewards[0] == 0
    assert infos[0]["terminal_observation"]["image"].shape == (128, 128, 3)
    assert obs["step"][:, 0].tolist() == [0.0, 1 / 16]  # face 0 starts a new episode at once


def test_the_gain_predictor_stops_when_no_predicted_gain_pays():
    from fh_gym.agents.strategies import GainPredictorStrategy
    from fh_gym.restorers.build import build_network

    net = build_network({"type": "BoxPoolingSelector", "width": 4, "hidden": 8}, kind="aux", init_seed=0)
    predictor = GainPredictorStrategy(network=net)
    costly = run_episodes(_config(repair={"step_cost": 100.0}), predictor, np.arange(2), batch_size=2)
    assert costly.metrics["repairs"].tolist() == [0, 0]
