"""FaceRepairExtractor on stacked frames (VecFrameStack, RL Zoo's frame_stack) and its errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecFrameStack

from fh_gym import FaceRepairSB3VecEnv
from fh_gym.agents.sb3.features import FaceRepairExtractor
from fh_gym.agents.sb3.policies import FaceRepairPolicy
from fh_gym.engine.core import observation_space

SMALL = {"data": {"type": "synthetic", "identities": 8, "images_per_identity": 2}, "horizon": 3}


@pytest.mark.parametrize("frames", [1, 3])
def test_ppo_learns_on_stacked_frames(frames):
    env = FaceRepairSB3VecEnv(2, SMALL, env_id="fh_gym/FaceRepair-Dense-x8-v0")
    env = VecFrameStack(env, frames) if frames > 1 else env
    model = PPO(FaceRepairPolicy, env, n_steps=4, batch_size=8, n_epochs=1, seed=0,
                policy_kwargs={"features_extractor_kwargs": {"features_dim": 16, "horizon": 3}})
    extractor = model.policy.features_extractor
    assert extractor.frames == frames and extractor.cnn[1].in_channels == 10 * frames
    model.learn(8)


def _space(**changes):
    spaces = dict(observation_space(128).spaces)
    for key, shape in changes.items():
        spaces[key] = gym.spaces.Box(0, 255, shape, np.uint8 if len(shape) == 3 else np.float32)
    return gym.spaces.Dict(spaces)


@pytest.mark.parametrize(("changes", "message"), [
    ({"image": (128, 128, 4)}, "'image' has 4 channels; expected 3 per stacked frame"),
    ({"image": (128, 128, 6)}, "'start' has 3 channels of 128px; with 2 stacked frame"),
    ({"coverage": (128, 128, 2)}, "'coverage' has 2 channels of 128px; with 1 stacked frame"),
    ({"last_action": (8,)}, r"'last_action' has shape \(8,\); with 1 stacked frame\(s\) it needs \(4,\)"),
    ({"image": (64, 128, 3)}, r"'image' has shape \(64, 128, 3\); expected a square image"),
])
def test_shapes_no_frame_count_explains_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        FaceRepairExtractor(_space(**changes))


def test_channels_first_stacks_equal_channels_last_ones():
    last = _space(image=(128, 128, 6), start=(128, 128, 6), coverage=(128, 128, 2), last_action=(8,), step=(2,))
    first = gym.spaces.Dict({k: gym.spaces.Box(0, 255, (v.shape[2], 128, 128), np.uint8) if len(v.shape) == 3 else v
                             for k, v in last.spaces.items()})
    a, b = FaceRepairExtractor(last, 16, 3), FaceRepairExtractor(first, 16, 3)
    b.load_state_dict(a.state_dict())
    obs = {k: torch.rand(2, *v.shape) for k, v in last.spaces.items()}
    transposed = {k: v.permute(0, 3, 1, 2) if v.ndim == 4 else v for k, v in obs.items()}
    torch.testing.assert_close(a(obs), b(transposed))
