"""``lookahead_pg``: policy gradient on the restorer's own expected gains plus a learned correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from paper_agent_utils import BATCH, DATA, HORIZON, env_config, train_context

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.pg.distributions import ActionSpec
from fh_gym.agents.pg.policy_base import build_policy
from fh_gym.agents.registry import get_algo, load_agent
from fh_gym.agents.strategies.base import build_strategy
from fh_gym.engine.core import RepairEngine
from fh_gym.envs.face_repair import make_config
from fh_gym.restorers.config import ConfigError

ALGO = "lookahead_pg"


def policy_for(engine: RepairEngine, **kwargs):
    spec = ActionSpec.from_space(engine.single_action_space)
    return build_policy({"type": "LookaheadPolicy", "sizes": list(spec.sizes), "multi": spec.multi,
                         "image_size": engine.image_size, "width": 4, "hidden": 8, **kwargs}), spec


def test_the_first_policy_is_self_lookahead(tmp_path):
    # lr 1e-12: one Adam update moves each weight by ~1e-12, so the agent acts as the policy it started as
    ctx = train_context(ALGO, tmp_path / "run", updates=1, lr=1e-12)
    result = get_algo(ALGO).train(ctx)
    assert result["env_steps"] == BATCH * HORIZON
    actor = load_agent(tmp_path / "run" / "agent.pt")
    assert actor.policy.arch_config["type"] == "LookaheadPolicy"
    faces = np.arange(6)
    agent = run_episodes(env_config(ALGO), actor, faces, batch_size=6)
    strategy = run_episodes(env_config(ALGO), build_strategy("self_lookahead"), faces, batch_size=6)
    np.testing.assert_array_equal(agent.boxes, strategy.boxes)
    np.testing.assert_allclose(agent.metrics["psnr"], strategy.metrics["psnr"], atol=1e-9)
    assert len({tuple(box) for row in agent.boxes for box in row}) > HORIZON  # content-aware, not one order


def test_logits_are_log_changes_over_the_temperature():
    engine = RepairEngine(env_config(ALGO), 2)
    engine.reset(engine.all_slots(), np.random.default_rng(0))
    policy, _ = policy_for(engine, temperature=0.1)
    out = policy(engine, engine.all_slots(), {}, torch.zeros(2, 1, dtype=torch.long), torch.ones(2, dtype=bool))
    changes = engine.candidate_changes(engine.all_slots(), engine.action_type.candidate_actions())
    np.testing.assert_allclose(out.logits.detach().numpy(), np.log(changes + 1e-8) / 0.1, rtol=1e-5)
    assert out.value.shape == (2,)


def test_policy_gradient_trains_the_correction(tmp_path):
    ctx = train_context(ALGO, tmp_path / "run", updates=2, lr=1e-2)
    get_algo(ALGO).train(ctx)
    head = load_agent(tmp_path / "run" / "agent.pt").policy.selector.head[-1]
    assert float(head.weight.detach().abs().sum()) > 0  # started at zero


def test_box_and_stop_actions_and_bad_settings(tmp_path):
    base = {"image_size": 64, "data": DATA, "horizon": HORIZON}
    for action in ({"type": "box", "positions": 4}, {"stop": True}):
        engine = RepairEngine(make_config({**base, "action": action}, "dense_x8"), 2)
        engine.reset(engine.all_slots(), np.random.default_rng(0))
        policy, spec = policy_for(engine)
        prev = torch.zeros(2, len(spec.sizes), dtype=torch.long)
        out = policy(engine, engine.all_slots(), {}, prev, torch.ones(2, dtype=bool))
        assert out.logits.shape == (2, spec.total) and torch.isfinite(out.logits).all()
        if action.get("stop"):  # the stop logit starts at log(floor): stop only when no repair changes anything
            assert torch.allclose(out.logits[:, -1], torch.full((2,), math.log(1e-8) / 0.05))
    # training on an adaptive budget follows the faces that stop
    ctx = train_context(ALGO, tmp_path / "run", updates=1, lr=1e-3, env={"action": {"stop": True}})
    assert get_algo(ALGO).train(ctx)["updates"] == 1
    with pytest.raises(ConfigError, match="floor must be > 0"):
        build_policy({"type": "LookaheadPolicy", "sizes": [49], "multi": False, "floor": 0.0})
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        build_policy({"type": "LookaheadPolicy", "sizes": [49], "multi": False, "temperature": -1.0})
