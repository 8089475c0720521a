"""The batched views agree with the single env and follow Gymnasium's and SB3's autoreset conventions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from restorer_helpers import perturbed_restorer
from stable_baselines3.common.vec_env import VecMonitor

import fh_gym  # noqa: F401  (registers the ids)
from fh_gym import FaceRepairEnv, FaceRepairSB3VecEnv, FaceRepairVectorEnv

SMALL = {"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}, "horizon": 4}


@pytest.fixture(scope="module")
def restorer():
    """A perturbed restorer, shared by every env of a test."""
    return perturbed_restorer(0.01)


def test_vector_env_with_one_face_matches_the_single_env(restorer):
    single = FaceRepairEnv(SMALL, restorer=restorer)
    vector = FaceRepairVectorEnv(1, SMALL, restorer=restorer)
    obs_s, _ = single.reset(seed=11)
    obs_v, _ = vector.reset(seed=11)
    assert np.array_equal(obs_s["image"], obs_v["image"][0])
    for action in (3, 17, 40, 3):
        obs_s, r_s, *_ = single.step(action)
        obs_v, r_v, *_ = vector.step(np.array([action]))
        assert np.array_equal(obs_s["image"], obs_v["image"][0])
        assert r_s == pytest.approx(float(r_v[0]), abs=1e-6)
        assert r_s != 0


def test_batched_faces_do_not_leak_into_each_other(restorer):
    vector = FaceRepairVectorEnv(3, SMALL, restorer=restorer)
    vector.reset(seed=0, options={"index": [5, 9, 2]})
    actions = [np.array([0, 24, 48]), np.array([24, 24, 1])]
    for a in actions:
        batched, rewards, *_ = vector.step(a)
    for slot, face in enumerate([5, 9, 2]):
        single = FaceRepairEnv(SMALL, restorer=restorer)
        single.reset(seed=0, options={"index": face})
        for a in actions:
            obs, reward, *_ = single.step(a[slot])
        assert np.array_equal(obs["image"], batched["image"][slot])
        assert reward == pytest.approx(float(rewards[slot]), abs=1e-5) and reward != 0


def test_next_step_autoreset():
    vector = FaceRepairVectorEnv(2, SMALL)
    vector.reset(seed=0)
    for _ in range(4):
        _, _, terminated, truncated, info = vector.step(np.array([1, 2]))
    assert terminated.all() and not truncated.any()
    obs, rewards, terminated, _, info = vector.step(np.array([1, 2]))
    assert not terminated.any() and np.all(rewards == 0)
    assert np.all(obs["step"] == 0) and np.all(obs["coverage"] == 0)
    assert not info["_reward_psnr_gain"].any()  # nobody stepped: the step was the reset (the key stays, masked)
    assert np.all(info["reward_psnr_gain"] == 0) and info["reward_psnr_gain"].dtype == np.float32


def test_same_step_autoreset_reports_final_observation():
    vector = FaceRepairVectorEnv(2, SMALL, autoreset_mode=AutoresetMode.SAME_STEP)
    vector.reset(seed=0)
    for _ in range(4):
        obs, _, terminated, _, info = vector.step(np.array([1, 2]))
    assert terminated.all()
    assert info["_final_obs"].all()
    assert info["final_obs"][0]["step"][0] == 1.0
    assert np.all(obs["step"] == 0)


def test_make_vec_uses_the_batched_entry_point():
    envs = gym.make_vec("fh_gym/FaceRepair-Dense-x8-v0", num_envs=4, vectorization_mode="vector_entry_point",
                        config=SMALL)
    assert isinstance(envs.unwrapped, FaceRepairVectorEnv)
    obs, _ = envs.reset(seed=1)
    assert obs["image"].shape == (4, 128, 128, 3)
    assert envs.action_masks().shape == (4, 49)


def test_sb3_vec_env_resets_in_the_same_step():
    vec = VecMonitor(FaceRepairSB3VecEnv(3, SMALL))
    vec.seed(5)
    obs = vec.reset()
    assert obs["image"].shape == (3, 128, 128, 3)
    for step in range(4):
        obs, _rewards, dones, infos = vec.step(np.array([step, step + 1, step + 2]))
    assert dones.all()
    assert all(info["terminal_observation"]["step"][0] == 1.0 for info in infos)
    assert all("episode" in info for info in infos)
    assert np.all(obs["step"] == 0)
    masks = vec.env_method("action_masks")
    assert len(masks) == 3 and masks[0].shape == (49,)


def test_vector_env_input_errors_name_the_problem(restorer):
    vector = FaceRepairVectorEnv(3, SMALL, restorer=restorer)
    with pytest.raises(ValueError, match="one entry per face"):
        vector.reset(seed=0, options={"index": [1, 2]})
    with pytest.raises(ValueError, match="integers"):
        vector.reset(seed=0, options={"index": [1.5, 2.0, 3.0]})
    with pytest.raises(ValueError, match="reset_mask"):
        vector.reset(seed=0, options={"reset_mask": np.array([True, False])})
    vector.reset(seed=0)
    with pytest.raises(ValueError, match="one action per env"):
        vector.step(np.array([1, 2]))
