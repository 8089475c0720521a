"""Every registered env id: Gymnasium and SB3 env checkers, determinism, rendering, pickling, errors."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import fh_gym
from fh_gym.envs.slots import reward_terms
from fh_gym.render import frame_shape
from fh_gym.restorers.config import ConfigError

SMALL_DATA = {"type": "synthetic", "identities": 24, "images_per_identity": 3}


def activate(restorer: torch.nn.Module) -> torch.nn.Module:
    """Perturb an (identity-initialised) restorer so repairs change images and rewards are non-zero."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in restorer.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=generator))
    return restorer


def make(env_id: str, render_mode: str | None = None, **config):
    env = gym.make(env_id, config={"data": SMALL_DATA, **config}, render_mode=render_mode)
    activate(env.unwrapped.engine.restorer)
    return env


def rollout(env: gym.Env, seed: int, steps: int) -> tuple[list[np.ndarray], list[float]]:
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    images, rewards = [obs["image"]], []
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        images.append(obs["image"])
        rewards.append(reward)
        if terminated or truncated:
            break
    return images, rewards


def test_registered_ids_are_the_documented_variants():
    assert set(fh_gym.ENV_IDS) == {
        "fh_gym/FaceRepair-Dense-x4-v0", "fh_gym/FaceRepair-Dense-x8-v0", "fh_gym/FaceRepair-Dense-x16-v0",
        "fh_gym/FaceRepair-AttentionFH-v0", "fh_gym/FaceRepair-IPFH-v0", "fh_gym/FaceRepair-IPFH-Delta-v0",
        "fh_gym/FaceRepair-Occluded-v0", "fh_gym/FaceRepair-Continuous-v0",
        "fh_gym/FaceRepair-IPFH-Pipeline-v0", "fh_gym/FaceRepair-CSRIP-Pipeline-v0",
        "fh_gym/FaceRepair-Dense-x8-T4-v0", "fh_gym/FaceRepair-Dense-x8-T8-v0", "fh_gym/FaceRepair-Occluded-T4-v0",
        "fh_gym/FaceRepair-AttentionFH-T6-v0", "fh_gym/FaceRepair-Adaptive-x8-v0", "fh_gym/FaceRepair-Identity-x8-v0",
    }


@pytest.mark.parametrize("env_id", fh_gym.ENV_IDS)
def test_gymnasium_check_env(env_id):
    env = make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Gymnasium warns about image-like Dict entries; the checks still run
        gym_check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", fh_gym.ENV_IDS)
def test_sb3_check_env(env_id):
    sb3_check_env(make(env_id).unwrapped, warn=False)


@pytest.mark.parametrize("env_id", fh_gym.ENV_IDS)
def test_same_seed_same_rollout_and_episode_length(env_id):
    env_a, env_b = make(env_id), make(env_id)
    images_a, rewards_a = rollout(env_a, 7, 100)
    images_b, rewards_b = rollout(env_b, 7, 100)
    horizon = env_a.unwrapped.engine.horizon
    assert len(rewards_a) == horizon
    assert rewards_a == rewards_b
    assert any(r != 0 for r in rewards_a) or (env_id == "fh_gym/FaceRepair-AttentionFH-v0" and rewards_a[-1] != 0)
    assert all(np.array_equal(a, b) for a, b in zip(images_a, images_b, strict=True))
    other, _ = rollout(env_b, 8, 1)
    assert not np.array_equal(other[0], images_a[0])


@pytest.mark.parametrize("weights", ["none", "default"])
def test_env_restorer_does_not_depend_on_the_global_torch_rng(weights):
    config = {"data": SMALL_DATA, "restorer": {"type": "AttentionFHEnhancer", "weights": weights}}
    torch.manual_seed(1)
    env_a = gym.make("fh_gym/FaceRepair-Dense-x8-v0", config=config)
    state_after_a = torch.random.get_rng_state()
    torch.manual_seed(2)
    env_b = gym.make("fh_gym/FaceRepair-Dense-x8-v0", config=config)
    weights_a = env_a.unwrapped.engine.restorer.state_dict()
    weights_b = env_b.unwrapped.engine.restorer.state_dict()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert any(w.abs().sum() > 0 for w in weights_a.values())
    torch.manual_seed(1)
    assert torch.equal(torch.random.get_rng_state(), state_after_a)  # building the env drew nothing from it


@pytest.mark.parametrize("env_id", fh_gym.ENV_IDS)
def test_render_frame_has_documented_shape(env_id):
    env = make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    frame = env.render()
    assert frame.dtype == np.uint8
    assert frame.shape == frame_shape(128, 2, with_truth=True) == (284, 768, 3)


@pytest.mark.parametrize("env_id", fh_gym.ENV_IDS)
def test_env_pickles_and_continues_identically(env_id):
    env = make(env_id).unwrapped
    env.reset(seed=3)
    env.action_space.seed(3)
    first = env.action_space.sample()
    env.step(first)
    clone = pickle.loads(pickle.dumps(env))
    action = env.action_space.sample()
    obs_a, r_a, *_ = env.step(action)
    obs_b, r_b, *_ = clone.step(action)
    assert r_a == r_b
    assert all(np.array_equal(obs_a[k], obs_b[k]) for k in obs_a)


def test_info_reward_terms_sum_to_reward():
    for env_id in ("fh_gym/FaceRepair-IPFH-v0", "fh_gym/FaceRepair-AttentionFH-v0", "fh_gym/FaceRepair-Dense-x8-v0"):
        env = make(env_id)
        env.reset(seed=1)
        terminated = False
        while not terminated:
            _, reward, terminated, _, info = env.step(env.action_space.sample())
            assert reward == pytest.approx(sum(reward_terms(info).values()), abs=1e-5)


def test_psnr_gain_telescopes_to_the_episode_gain():
    env = make("fh_gym/FaceRepair-Dense-x8-v0")
    _, info = env.reset(seed=2)
    start = info["psnr"]
    total, terminated = 0.0, False
    cells = iter(r * 7 + c for r in (0, 2, 4, 6) for c in (0, 2, 4, 6))  # the 16 cells that tile the face
    while not terminated:
        _, reward, terminated, _, info = env.step(next(cells))
        total += reward
    assert total == pytest.approx(info["psnr"] - start, abs=1e-3)
    assert total > 0.3  # the shipped restorer's repairs really improve this face (+0.69 dB; +1.8 on average)


def test_bad_actions_and_config_give_clear_errors():
    env = make("fh_gym/FaceRepair-Dense-x8-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the action space"):
        env.unwrapped.step(10_000)
    cont = make("fh_gym/FaceRepair-Continuous-v0")
    cont.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        cont.unwrapped.step(np.array([0.0, np.nan, 0.0, 0.0], dtype=np.float32))
    with pytest.raises(ConfigError, match="unknown config key 'horizn'; valid keys here: .*horizon"):
        gym.make("fh_gym/FaceRepair-Dense-x8-v0", config={"horizn": 3})
    with pytest.raises(ConfigError, match="unknown config key 'repair.margn'"):
        gym.make("fh_gym/FaceRepair-Dense-x8-v0", config={"repair": {"margn": 3}})


def test_step_after_the_end_requires_reset():
    env = make("fh_gym/FaceRepair-Dense-x8-v0", horizon=2).unwrapped
    env.reset(seed=0)
    env.step(0)
    env.step(1)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(2)


def test_user_faces_are_validated():
    env = make("fh_gym/FaceRepair-Dense-x8-v0").unwrapped
    with pytest.raises(ValueError, match="uint8"):
        env.reset(options={"hr": np.zeros((128, 128, 3), dtype=np.float32)})
    with pytest.raises(ValueError, match="HxWx3"):
        env.reset(options={"hr": np.zeros((128, 128, 4), dtype=np.uint8)})
    with pytest.raises(ValueError, match="16x16x3"):
        env.reset(options={"lr": np.zeros((32, 32, 3), dtype=np.uint8)})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"face": 1})


def test_inference_mode_repairs_without_ground_truth():
    env = make("fh_gym/FaceRepair-Dense-x8-v0", mode="inference").unwrapped
    lr = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    _obs, info = env.reset(seed=0, options={"lr": lr})
    assert np.isnan(info["psnr"])
    _, reward, _, _, info = env.step(0)
    assert reward == 0.0 and reward_terms(info) == {"psnr_gain": 0.0}  # the key stays, every term 0
    frame = env.render_frame()
    assert frame.shape == frame_shape(128, 2, with_truth=False)
    with pytest.raises(ValueError, match="no ground truth"):
        env.reset(seed=0)


def test_grid_action_masks_forbid_repeats_until_all_cells_used():
    env = make("fh_gym/FaceRepair-Dense-x8-v0", horizon=60).unwrapped
    env.reset(seed=0)
    assert env.action_masks().all() and env.action_masks().shape == (49,)
    env.step(5)
    mask = env.action_masks()
    assert not mask[5] and mask.sum() == 48
    for cell in range(49):
        if cell != 5:
            env.step(cell)
    assert env.action_masks().all()
