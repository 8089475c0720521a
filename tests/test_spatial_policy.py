"""The spatial SB3 policy head: one logit per candidate patch, masks obeyed, every discrete action type."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sb3_helpers import tiny_context

from fh_gym.agents.registry import get_algo, load_agent
from fh_gym.agents.sb3.actor import policy_observation
from fh_gym.agents.sb3.checkpoint import policy_observation_space, save_agent
from fh_gym.agents.sb3.spatial import (
    FaceRepairSpatialMaskablePolicy,
    FaceRepairSpatialPolicy,
    SpatialExtractor,
    candidate_boxes,
)
from fh_gym.agents.sb3.train import build_model, make_vec_env
from fh_gym.engine.actions import build_action_type
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.config import ConfigError

SPATIAL = {"policy_kwargs": {"head": "spatial", "features_dim": 8, "width": 4, "net_arch": {"pi": [], "vf": [8]}}}
GRID = {"type": "grid", "patch_size": 32, "stride": 16}


def test_grid_candidates_are_the_action_types_boxes():
    boxes, dims, stop = candidate_boxes(GRID, 128)
    assert dims == [49] and not stop
    assert torch.equal(boxes.long(), build_action_type(GRID, 128).to_boxes(np.arange(49)))
    assert boxes[8].tolist() == [16.0, 16.0, 32.0, 32.0]  # cell (1, 1)


def test_box_means_equal_the_direct_mean_over_each_box():
    ctx = tiny_context(None, "maskable_ppo", horizon=4)
    extractor = SpatialExtractor(policy_observation_space(ctx.env_config), GRID, horizon=4, width=4)
    maps = torch.randn(2, 8, 16, 16)
    means = extractor.box_means(maps)
    assert means.shape == (2, 49, 8)
    # cell 8 = rows 16..48, cols 16..48 in pixels = map cells 2..6
    assert torch.allclose(means[:, 8], maps[:, :, 2:6, 2:6].mean((2, 3)), atol=1e-5)
    assert torch.allclose(means[:, 48], maps[:, :, 12:16, 12:16].mean((2, 3)), atol=1e-5)


def test_box_action_logits_are_the_joint_marginals():
    action = {"type": "box", "positions": 4, "ratios": [1.0, 0.5], "scales": [0.25, 0.5, 0.75]}
    boxes, dims, _ = candidate_boxes(action, 128)
    assert dims == [4, 4, 2, 3] and boxes.shape == (96, 4)
    ctx = tiny_context(None, "maskable_ppo", horizon=4)
    extractor = SpatialExtractor(policy_observation_space(ctx.env_config), action, horizon=4, width=4)
    joint = torch.randn(3, 96)
    logits = extractor.factor_logits(joint)
    assert logits.shape == (3, 13)
    table = joint.view(3, 4, 4, 2, 3)
    assert torch.allclose(logits[:, :4], table.logsumexp((2, 3, 4)), atol=1e-5)  # x
    assert torch.allclose(logits[:, 10:], table.logsumexp((1, 2, 3)), atol=1e-5)  # scale


def test_a_translated_face_moves_the_best_cell_with_it():
    """The same weights score every location: the logits do not depend on a cell's index, only on its content
    and its coordinates (with the coordinate weights zeroed, equal content gives equal logits)."""
    ctx = tiny_context(None, "maskable_ppo", horizon=4)
    extractor = SpatialExtractor(policy_observation_space(ctx.env_config), GRID, horizon=4, width=4)
    with torch.no_grad():
        extractor.score.weight[:, -4:] = 0
        extractor.trunk[1].weight[:, -2:] = 0  # coordinate channels
    flat = {"image": torch.full((1, 3, 128, 128), 0.5), "start": torch.full((1, 3, 128, 128), 0.5),
            "coverage": torch.zeros(1, 1, 128, 128), "last_action": torch.zeros(1, 4), "step": torch.zeros(1, 1)}
    logits = extractor(flat)[0, :49].view(7, 7)
    assert torch.allclose(logits[2:5, 2:5], logits[3, 3].expand(3, 3), atol=1e-5)  # interior cells alike


@pytest.mark.parametrize(("algo", "env_id", "policy"), [
    ("maskable_ppo", "fh_gym/FaceRepair-Dense-x8-v0", FaceRepairSpatialMaskablePolicy),
    ("ppo", "fh_gym/FaceRepair-Dense-x8-v0", FaceRepairSpatialPolicy),
    ("maskable_ppo", "fh_gym/FaceRepair-AttentionFH-v0", FaceRepairSpatialMaskablePolicy),
    ("a2c", "fh_gym/FaceRepair-AttentionFH-v0", FaceRepairSpatialPolicy),
])
def test_spatial_policies_train_save_and_load(tmp_path, algo, env_id, policy):
    ctx = tiny_context(tmp_path, algo, env_id, **SPATIAL)
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo(algo), env, ctx.algo_config, ctx.env_config, seed=0)
    assert type(model.policy) is policy and isinstance(model.policy.features_extractor, SpatialExtractor)
    model.learn(64)
    meta = {"algo": algo, "env_id": env_id, "env_config": ctx.env_config, "hyperparams": ctx.algo_config, "seed": 0}
    actor = load_agent(save_agent(model, tmp_path / "agent.zip", meta))
    assert type(actor.model.policy) is policy
    for (name, mine), (_, theirs) in zip(model.policy.state_dict().items(), actor.model.policy.state_dict().items()):
        assert torch.equal(mine, theirs), name
    engine = RepairEngine(ctx.env_config, 3)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0, 1, 2]})
    kwargs = {"action_masks": engine.action_masks()} if algo == "maskable_ppo" else {}
    obs = policy_observation(engine.observe())
    assert np.array_equal(model.predict(obs, deterministic=True, **kwargs)[0],
                          actor.model.predict(obs, deterministic=True, **kwargs)[0])


def test_the_masked_spatial_policy_never_picks_a_masked_cell(tmp_path):
    ctx = tiny_context(tmp_path, "maskable_ppo", **SPATIAL)
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("maskable_ppo"), env, ctx.algo_config, ctx.env_config, seed=0)
    engine = RepairEngine(ctx.env_config, 4)
    engine.reset(engine.all_slots(), np.random.default_rng(1), {"index": [0, 1, 2, 3]})
    obs = policy_observation(engine.observe())
    masks = np.zeros((4, 49), dtype=bool)
    allowed = np.array([3, 17, 30, 48])
    masks[np.arange(4), allowed] = True
    masks[0, 5] = True
    for _ in range(20):
        actions, _ = model.predict(obs, deterministic=False, action_masks=masks)
        assert masks[np.arange(4), actions].all()
        assert np.array_equal(actions[1:], allowed[1:])
    # a whole episode with the env's own masks (mask_repeats): every cell at most once
    seen = [set() for _ in range(4)]
    for _ in range(ctx.env_config["horizon"]):
        actions, _ = model.predict(policy_observation(engine.observe()), action_masks=engine.action_masks())
        for k, a in enumerate(actions):
            assert int(a) not in seen[k]
            seen[k].add(int(a))
        engine.step(actions)


def test_first_policy_is_near_uniform(tmp_path):
    ctx = tiny_context(tmp_path, "maskable_ppo", **SPATIAL)
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("maskable_ppo"), env, ctx.algo_config, ctx.env_config, seed=0)
    engine = RepairEngine(ctx.env_config, 2)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0, 1]})
    obs, _ = model.policy.obs_to_tensor(policy_observation(engine.observe()))
    with torch.no_grad():
        logits = model.policy.extract_features(obs, model.policy.features_extractor)[:, :49]
    probs = logits.softmax(1)
    assert float(probs.max()) < 2.0 / 49


def test_spatial_head_on_continuous_actions_is_a_clear_error(tmp_path):
    ctx = tiny_context(tmp_path, "ppo", "fh_gym/FaceRepair-Continuous-v0", **SPATIAL)
    with pytest.raises(ConfigError, match="head: spatial needs grid or box actions"):
        get_algo("ppo").train(ctx)


def test_recurrent_ppo_has_no_spatial_head(tmp_path):
    ctx = tiny_context(tmp_path, "recurrent_ppo", **SPATIAL)
    with pytest.raises(ConfigError, match="recurrent_ppo has no spatial head"):
        get_algo("recurrent_ppo").train(ctx)


def test_agent_files_from_before_the_head_key_still_load(tmp_path):
    """Agents saved before ``policy_kwargs.head`` existed hold the flatten head and must keep loading."""
    ctx = tiny_context(tmp_path, "maskable_ppo")
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("maskable_ppo"), env, ctx.algo_config, ctx.env_config, seed=0)
    old = {**ctx.algo_config, "policy_kwargs": {k: v for k, v in ctx.algo_config["policy_kwargs"].items()
                                                if k != "head"}}
    meta = {"algo": "maskable_ppo", "env_id": ctx.env_id, "env_config": ctx.env_config, "hyperparams": old, "seed": 0}
    actor = load_agent(save_agent(model, tmp_path / "old.zip", meta))
    assert not isinstance(actor.model.policy, FaceRepairSpatialMaskablePolicy)


def test_the_stop_action_gets_its_own_logit_after_the_cells(tmp_path):
    ctx = tiny_context(tmp_path, "maskable_ppo", "fh_gym/FaceRepair-Adaptive-x8-v0", **SPATIAL)
    boxes, dims, stop = candidate_boxes(ctx.env_config["action"], 128)
    assert dims == [49] and stop and len(boxes) == 49
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("maskable_ppo"), env, ctx.algo_config, ctx.env_config, seed=0)
    extractor = model.policy.features_extractor
    assert extractor.logit_size == 50 and model.action_space.n == 50
    model.learn(64)
    engine = RepairEngine(ctx.env_config, 2)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0, 1]})
    only_stop = np.zeros((2, 50), dtype=bool)
    only_stop[:, 49] = True
    actions, _ = model.predict(policy_observation(engine.observe()), action_masks=only_stop)
    assert actions.tolist() == [49, 49]
