"""SB3 / sb3-contrib algorithms: tiny training runs, save / load round trips, hyperparameters, extractor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from sb3_helpers import env_config, tiny_context, tiny_hyperparams

from fh_gym.agents.registry import agent_algo, get_algo, load_agent
from fh_gym.agents.sb3.actor import policy_observation
from fh_gym.agents.sb3.checkpoint import observation_space, policy_observation_space, save_agent
from fh_gym.agents.sb3.features import FaceRepairExtractor
from fh_gym.agents.sb3.train import build_model, make_vec_env
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.config import ConfigError, merge_config

ALGOS = ["ppo", "a2c", "recurrent_ppo", "maskable_ppo"]


@pytest.mark.parametrize("algo", ALGOS)
def test_train_save_load_predicts_the_same(tmp_path, algo):
    ctx = tiny_context(tmp_path, algo)
    spec = get_algo(algo)
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(spec, env, ctx.algo_config, ctx.env_config, seed=0)
    model.learn(64)
    assert model.num_timesteps == 64
    meta = {"algo": algo, "env_id": ctx.env_id, "env_config": ctx.env_config, "hyperparams": ctx.algo_config,
            "seed": 0}
    path = save_agent(model, tmp_path / "agent.zip", meta)
    assert agent_algo(path) == algo

    actor = load_agent(path)
    assert actor.model.num_timesteps == 64
    for (name, mine), (_, theirs) in zip(model.policy.state_dict().items(), actor.model.policy.state_dict().items()):
        assert torch.equal(mine, theirs), name
    assert type(actor.model.policy.optimizer) is type(model.policy.optimizer)  # A2C: RMSprop, not Adam

    engine = RepairEngine(ctx.env_config, 3)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0, 1, 2]})
    obs = policy_observation(engine.observe())
    kwargs = {"action_masks": engine.action_masks()} if algo == "maskable_ppo" else {}
    original, _ = model.predict(obs, deterministic=True, **kwargs)
    loaded, _ = actor.model.predict(obs, deterministic=True, **kwargs)
    assert np.array_equal(original, loaded)
    assert np.array_equal(actor.act(engine, engine.all_slots(), np.random.default_rng(0)), original)


def test_full_training_entry_point_writes_agent_files(tmp_path):
    result = get_algo("a2c").train(tiny_context(tmp_path / "run", "a2c", total=64))
    assert result["num_timesteps"] == 64
    for name in ("final.zip", "checkpoints/last.zip"):
        assert load_agent(tmp_path / "run" / name).model.num_timesteps == 64
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "run").rglob("*"))
    with pytest.raises(ValueError, match="has trained 64 env steps of its total 64 already: resume with --timesteps "
                                         "above 64"):  # resuming a finished run (it used to fail in a callback)
        get_algo("a2c").train(tiny_context(tmp_path / "run", "a2c", total=64, resume=True))
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "run").rglob("*")) == before  # no new TensorBoard file


def test_maskable_ppo_refuses_continuous_actions(tmp_path):
    with pytest.raises(ConfigError, match="Discrete or MultiDiscrete"):
        get_algo("maskable_ppo").train(tiny_context(tmp_path, "maskable_ppo", "fh_gym/FaceRepair-Continuous-v0"))


def test_continuous_actions_train_with_ppo(tmp_path):
    ctx = tiny_context(tmp_path, "ppo", "fh_gym/FaceRepair-Continuous-v0")
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("ppo"), env, ctx.algo_config, ctx.env_config, seed=0)
    model.learn(32)
    assert isinstance(model.action_space, spaces.Box)


def test_unknown_hyperparameter_lists_the_valid_keys():
    defaults = get_algo("ppo").defaults("fh_gym/FaceRepair-Dense-x8-v0")
    with pytest.raises(ConfigError, match=r"n_stepz.*n_steps"):
        merge_config(defaults, {"n_stepz": 8})
    with pytest.raises(ConfigError, match=r"policy_kwargs.lstm_hidden_size.*features_dim"):
        merge_config(defaults, {"policy_kwargs": {"lstm_hidden_size": 8}})


def test_yaml_defaults_are_complete_for_every_env():
    from fh_gym.registration import env_ids

    for algo in ALGOS:
        for env_id in env_ids():
            hp = get_algo(algo).defaults(env_id)
            assert hp["n_envs"] >= 1 and hp["total_timesteps"] > 0, (algo, env_id)
    assert get_algo("ppo").defaults("fh_gym/FaceRepair-AttentionFH-v0")["gamma"] == 1.0
    assert "lstm_hidden_size" in get_algo("recurrent_ppo").defaults("fh_gym/FaceRepair-Dense-x8-v0")["policy_kwargs"]


def test_learning_rate_schedules_from_yaml_strings_survive_saving(tmp_path):
    ctx = tiny_context(tmp_path, "ppo", learning_rate="lin_1e-3", clip_range="lin_0.2")
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("ppo"), env, ctx.algo_config, ctx.env_config)
    assert model.lr_schedule(1.0) == pytest.approx(1e-3) and model.lr_schedule(0.5) == pytest.approx(5e-4)
    meta = {"algo": "ppo", "env_id": ctx.env_id, "env_config": ctx.env_config, "hyperparams": ctx.algo_config,
            "seed": 0}
    loaded = load_agent(save_agent(model, tmp_path / "lin.zip", meta)).model
    assert loaded.lr_schedule(0.5) == pytest.approx(5e-4) and loaded.clip_range(0.5) == pytest.approx(0.1)


@pytest.mark.parametrize("encoder", ["small", "attention_fh"])
def test_features_extractor_output_dim_in_both_layouts(encoder):
    config = env_config()
    obs = {k: torch.from_numpy(v) for k, v in _random_obs(config).items()}
    for space, layout in ((policy_observation_space(config), "chw"), (observation_space(config), "hwc")):
        extractor = FaceRepairExtractor(space, features_dim=24, horizon=16, encoder=encoder)
        batch = {k: (v.permute(0, 3, 1, 2) if layout == "chw" and v.ndim == 4 else v).float() for k, v in obs.items()}
        batch = {k: v / 255.0 if v.ndim == 4 else v for k, v in batch.items()}
        out = extractor(batch)
        assert out.shape == (2, 24) and extractor.features_dim == 24


def test_features_extractor_rejects_other_observations():
    with pytest.raises(ValueError, match="missing keys"):
        FaceRepairExtractor(spaces.Dict({"image": spaces.Box(0, 255, (3, 8, 8), np.uint8)}))
    with pytest.raises(ValueError, match="unknown encoder"):
        FaceRepairExtractor(policy_observation_space(env_config()), encoder="resnet")


def test_observation_space_helper_matches_the_engine():
    config = env_config()
    assert observation_space(config) == RepairEngine(config, 1).single_observation_space


def _random_obs(config: dict) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: (rng.integers(0, 256, (2, *s.shape)) if s.dtype == np.uint8 else rng.random((2, *s.shape)))
            .astype(s.dtype) for k, s in observation_space(config).spaces.items()}


def test_hyperparams_load_from_package_resources():
    from fh_gym.agents.hyperparams import hyperparam_file

    assert "default" in hyperparam_file("ppo") and hyperparam_file("not_an_algo") == {}


def test_tiny_hyperparams_helper_is_valid():
    assert tiny_hyperparams("a2c")["n_steps"] == 16


def test_two_agent_files_with_one_name_stay_two_rows(tmp_path):
    from fh_gym.agents.comparison import build_actors

    ctx = tiny_context(tmp_path, "ppo")
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("ppo"), env, ctx.algo_config, ctx.env_config, seed=0)
    meta = {"algo": "ppo", "env_id": ctx.env_id, "env_config": ctx.env_config, "hyperparams": ctx.algo_config,
            "seed": 0}
    paths = [save_agent(model, tmp_path / run / "final.zip", meta) for run in ("a", "b")]
    names = [a.name for a in build_actors("even,random", paths)]
    assert names == ["even", "random", "ppo-final", "ppo-final-2"]
