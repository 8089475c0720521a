"""The ``spatial_pg`` paper agent: the policy-gradient trainer with the fully convolutional SpatialPolicy."""

from __future__ import annotations

import numpy as np
import torch
from paper_agent_utils import BATCH, DATA, HORIZON, env_config, train_context

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.pg.distributions import ActionSpec
from fh_gym.agents.pg.policy_base import build_policy
from fh_gym.agents.registry import get_algo, load_agent
from fh_gym.engine.core import RepairEngine
from fh_gym.envs.face_repair import make_config


def test_spatial_pg_trains_saves_and_acts_within_the_masks(tmp_path):
    result = get_algo("spatial_pg").train(train_context("spatial_pg", tmp_path / "run", updates=2))
    assert result["env_steps"] == 2 * BATCH * HORIZON
    actor = load_agent(tmp_path / "run" / "agent.pt")
    assert actor.policy.arch_config["type"] == "SpatialPolicy"
    faces = np.arange(6)
    results = run_episodes(env_config("spatial_pg"), actor, faces, batch_size=6)
    cells = {tuple(box) for row in results.boxes for box in row}
    per_face = [len({tuple(b) for b in row}) for row in results.boxes]
    assert per_face == [HORIZON] * 6  # mask_repeats: never the same cell twice in an episode
    assert len(cells) > 1


def test_the_policy_scores_box_actions_by_their_marginals_and_a_stop_action_apart():
    base = {"image_size": 64, "data": DATA, "horizon": HORIZON}
    for action, cells in (({"type": "box", "positions": 4}, lambda sizes: int(np.prod(sizes))),
                          ({"stop": True}, lambda sizes: sizes[0] - 1)):
        engine = RepairEngine(make_config({**base, "action": action}, "dense_x8"), 2)
        engine.reset(engine.all_slots(), np.random.default_rng(0))
        spec = ActionSpec.from_space(engine.single_action_space)
        policy = build_policy({"type": "SpatialPolicy", "sizes": list(spec.sizes), "multi": spec.multi,
                               "image_size": 64, "width": 4})
        prev = torch.zeros(2, len(spec.sizes), dtype=torch.long)
        out = policy(engine, engine.all_slots(), {}, prev, torch.ones(2, dtype=bool))
        assert out.logits.shape == (2, spec.total) and len(policy.box_cells) == cells(spec.sizes)
