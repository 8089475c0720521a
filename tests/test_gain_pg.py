"""``gain_pg``: policy gradient on a policy of predicted gains, started from a trained gain predictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from paper_agent_utils import BATCH, DATA, HORIZON, algo_config, env_config, train_context

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.pg.distributions import ActionSpec
from fh_gym.agents.pg.policy_base import build_policy
from fh_gym.agents.pg.rollout import run_rollout
from fh_gym.agents.registry import get_algo, load_agent
from fh_gym.agents.strategies import GainPredictorStrategy
from fh_gym.engine.core import RepairEngine
from fh_gym.envs.face_repair import make_config
from fh_gym.restorers.build import build_network
from fh_gym.restorers.checkpoint import save_network
from fh_gym.restorers.config import ConfigError


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    net = build_network({"type": "BoxPoolingSelector", "image_size": 64, "width": 4, "hidden": 8}, "aux", init_seed=3)
    with torch.no_grad():  # content only (no box geometry) and spread: the argmax differs between faces
        net.head[0].weight[:, -4:] = 0.0
        net.head[-1].weight.mul_(50.0)
    return save_network(net.eval(), tmp_path_factory.mktemp("gp") / "gain_predictor.pt")


def test_the_first_policy_is_the_gain_predictor_and_an_agent_file_needs_no_init(tmp_path, predictor):
    # lr 1e-12: one Adam update moves each weight by ~1e-12, so the agent acts as the predictor it started from
    ctx = train_context("gain_pg", tmp_path / "run", updates=1, lr=1e-12, policy={"init": str(predictor)})
    result = get_algo("gain_pg").train(ctx)
    assert result["env_steps"] == BATCH * HORIZON
    copy = tmp_path / "moved.pt"
    predictor.rename(copy)  # a loaded agent does not read its init file
    try:
        actor = load_agent(tmp_path / "run" / "agent.pt")
        assert actor.policy.arch_config["type"] == "GainPolicy" and "init" not in actor.policy.arch_config
        faces = np.arange(6)
        agent = run_episodes(env_config("gain_pg"), actor, faces, batch_size=6)
        strategy = run_episodes(env_config("gain_pg"), GainPredictorStrategy(checkpoint=str(copy)), faces,
                                batch_size=6)
    finally:
        copy.rename(predictor)
    np.testing.assert_array_equal(agent.boxes, strategy.boxes)
    assert len({tuple(box) for row in agent.boxes for box in row}) > HORIZON  # not one fixed order
    assert [len({tuple(b) for b in row}) for row in agent.boxes] == [HORIZON] * 6  # within the masks


def test_policy_gradient_moves_the_predictor(tmp_path, predictor):
    ctx = train_context("gain_pg", tmp_path / "run", updates=2, lr=1e-2, policy={"init": str(predictor)})
    get_algo("gain_pg").train(ctx)
    trained = load_agent(tmp_path / "run" / "agent.pt").policy.selector.state_dict()
    start = build_network({"type": "BoxPoolingSelector", "checkpoint": str(predictor)}, "aux").state_dict()
    assert any(not torch.equal(trained[k], start[k]) for k in start)


def test_box_and_stop_actions_and_bad_settings(predictor):
    base = {"image_size": 64, "data": DATA, "horizon": HORIZON}
    for action in ({"type": "box", "positions": 4}, {"stop": True}):
        engine = RepairEngine(make_config({**base, "action": action}, "dense_x8"), 2)
        engine.reset(engine.all_slots(), np.random.default_rng(0))
        spec = ActionSpec.from_space(engine.single_action_space)
        policy = build_policy({"type": "GainPolicy", "sizes": list(spec.sizes), "multi": spec.multi,
                               "image_size": 64, "width": 4, "hidden": 8, "init": str(predictor)})
        prev = torch.zeros(2, len(spec.sizes), dtype=torch.long)
        out = policy(engine, engine.all_slots(), {}, prev, torch.ones(2, dtype=bool))
        assert out.logits.shape == (2, spec.total) and out.value.shape == (2,)
        if action.get("stop"):  # the stop logit starts at 0: stop when no repair is predicted to gain
            assert torch.equal(out.logits[:, -1], torch.zeros(2))
            costly = build_policy({"type": "GainPolicy", "sizes": list(spec.sizes), "multi": spec.multi,
                                   "image_size": 64, "width": 4, "hidden": 8, "init": str(predictor),
                                   "stop_gain": 0.06})
            stop_logit = costly(engine, engine.all_slots(), {}, prev, torch.ones(2, dtype=bool)).logits[:, -1]
            assert torch.allclose(stop_logit, torch.full((2,), 0.06 / 0.03))  # stop_gain / temperature
    with pytest.raises(ConfigError, match="set policy.width=4 policy.hidden=8"):
        build_policy({"type": "GainPolicy", "sizes": [49], "multi": False, "image_size": 64, "width": 8,
                      "hidden": 8, "init": str(predictor)})
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        build_policy({"type": "GainPolicy", "sizes": [49], "multi": False, "temperature": 0.0})


def test_init_by_shipped_name():
    """``policy.init`` also takes shipped BoxPoolingSelector weights by name; anything else is one error line."""
    policy = build_policy({"type": "GainPolicy", "sizes": [49], "multi": False, "width": 32, "hidden": 128,
                           "init": "lfw_x8_t16"})
    shipped = build_network({"type": "BoxPoolingSelector", "weights": "lfw_x8_t16"}, "aux").state_dict()
    assert all(torch.equal(policy.selector.state_dict()[k], v) for k, v in shipped.items())
    with pytest.raises(ConfigError, match=r"policy.init nowhere: no such file, nor shipped BoxPoolingSelector "
                                          r"weights \(shipped: lfw_x8_t4, lfw_x8_t16\)"):
        build_policy({"type": "GainPolicy", "sizes": [49], "multi": False, "init": "nowhere"})


def test_rollouts_with_a_stop_action_count_only_the_steps_taken(predictor):
    config = env_config("gain_pg", action={"stop": True}, repair={"step_cost": 0.03})
    engine = RepairEngine(config, 2)
    engine.reset(engine.all_slots(), np.random.default_rng(0))
    spec = ActionSpec.from_space(engine.single_action_space)
    policy = build_policy({"type": "GainPolicy", "sizes": list(spec.sizes), "multi": spec.multi, "image_size": 64,
                           "width": 4, "hidden": 8, "init": str(predictor)})
    with torch.no_grad():
        policy.stop_score.bias.fill_(1e3)  # every face stops at its first step
    rollout = run_rollout(engine, policy, engine.all_slots(), generator=torch.Generator().manual_seed(0))
    assert rollout.alive.tolist() == [[True, True]] + [[False, False]] * (HORIZON - 1)
    assert rollout.actions[0, :, 0].tolist() == [engine.action_type.stop_action] * 2
    assert engine.info()["repairs"].tolist() == [0, 0] and bool((rollout.rewards == 0).all())
    assert bool((rollout.log_probs[1:] == 0).all()) and bool((rollout.entropies[1:] == 0).all())
    assert rollout.terms["step_cost"].shape == (HORIZON, 2)


def test_policy_gradient_trains_on_an_adaptive_budget(tmp_path, predictor):
    """The trainer's episodes follow faces that stop (it used to step a finished episode and fail)."""
    ctx = train_context("gain_pg", tmp_path / "run", updates=2, lr=1e-2, policy={"init": str(predictor)},
                        env={"action": {"stop": True}, "repair": {"step_cost": 0.5}})
    algo = get_algo("gain_pg")
    engine = RepairEngine(ctx.env_config, 2)
    first = algo.make_policy(algo_config("gain_pg", policy={"init": str(predictor)}), engine)
    assert first.stop_score.bias.item() == pytest.approx(0.5)  # the env's step cost: the strategy's stop rule
    result = algo.train(ctx)
    assert result["updates"] == 2 and (tmp_path / "run" / "agent.pt").exists()
    faces = run_episodes(ctx.env_config, load_agent(tmp_path / "run" / "agent.pt"), np.arange(4), batch_size=4)
    assert faces.metrics["repairs"].max() <= HORIZON
