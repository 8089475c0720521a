"""Env ids live in Gymnasium's ``fh_gym`` namespace; fh-gym 0.1's names still work, with a warning."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest

import fh_gym
from fh_gym.agents.cli.common import DEFAULT_ENV, build_env_config
from fh_gym.agents.registry import get_algo
from fh_gym.agents.runs import run_name
from fh_gym.registration import canonical_env_id, deprecated_env_ids
from fh_gym.restorers.config import ConfigError

SMALL = {"data": {"type": "synthetic", "identities": 8, "images_per_identity": 2}, "horizon": 2}


def test_every_id_is_namespaced_and_makes_its_env():
    assert fh_gym.ENV_IDS and all(i.startswith("fh_gym/FaceRepair-") for i in fh_gym.ENV_IDS)
    env = gym.make("fh_gym/FaceRepair-Dense-x8-v0", config=SMALL)
    assert env.spec.namespace == "fh_gym" and env.spec.name == "FaceRepair-Dense-x8" and env.spec.version == 0
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (128, 128, 3)
    assert DEFAULT_ENV == "fh_gym/FaceRepair-Dense-x8-v0"


def test_old_names_are_deprecated_aliases_that_warn():
    assert deprecated_env_ids()["FaceRepair-IPFH-v0"] == "fh_gym/FaceRepair-IPFH-v0"
    with pytest.warns(FutureWarning, match="'FaceRepair-Dense-x8-v0' is deprecated.*'fh_gym/FaceRepair-Dense-x8-v0'"):
        env = gym.make("FaceRepair-Dense-x8-v0", config=SMALL)
    assert type(env.unwrapped).__name__ == "FaceRepairEnv" and env.unwrapped.config["horizon"] == 2
    with pytest.warns(FutureWarning, match="deprecated"):
        vec = gym.make_vec("FaceRepair-IPFH-v0", num_envs=2, vectorization_mode="vector_entry_point", config=SMALL)
    assert vec.unwrapped.config["reward"]["type"] == "ipfh"
    with pytest.warns(FutureWarning):
        assert canonical_env_id("FaceRepair-Occluded-v0") == "fh_gym/FaceRepair-Occluded-v0"


def test_the_command_line_and_hyperparameters_accept_the_aliases():
    with pytest.warns(FutureWarning):
        config = build_env_config("FaceRepair-AttentionFH-v0")
    assert config["reward"]["type"] == "attention_fh"
    with pytest.warns(FutureWarning):
        assert get_algo("ppo").defaults("FaceRepair-AttentionFH-v0")["gamma"] == 1.0  # the id's own section
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_algo("ppo").defaults("fh_gym/FaceRepair-AttentionFH-v0")["gamma"] == 1.0
    with pytest.raises(ConfigError, match="unknown env id 'FaceRepair-Nope-v0'; registered: fh_gym/"):
        build_env_config("FaceRepair-Nope-v0")


def test_run_folders_replace_the_namespace_slash():
    assert run_name("fh_gym/FaceRepair-Dense-x8-v0", "ppo", 3, when=7) == "fh_gym-FaceRepair-Dense-x8-v0__ppo__3__7"
