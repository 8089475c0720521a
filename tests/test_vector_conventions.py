"""The batched envs follow Gymnasium's and SB3's vector conventions: ids, autoreset modes, stable NumPy
info keys, per-face attribute and method calls."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecMonitor

import fh_gym  # noqa: F401  (registers the ids)
from fh_gym import FaceRepairEnv, FaceRepairSB3VecEnv, FaceRepairVectorEnv
from fh_gym.restorers.config import ConfigError

SMALL = {"data": {"type": "synthetic", "identities": 12, "images_per_identity": 2}, "horizon": 3}
ID = "fh_gym/FaceRepair-Dense-x8-v0"


def _scalar_types(info):
    return {k: type(v) for k, v in info.items()}


def test_single_env_info_has_the_same_numpy_keys_after_reset_and_step():
    env = FaceRepairEnv(SMALL)
    _, reset_info = env.reset(seed=0)
    _, _, _, _, step_info = env.step(3)
    assert _scalar_types(reset_info) == _scalar_types(step_info)
    assert set(step_info) == {"psnr", "t", "repairs", "face_index", "reward_psnr_gain", "box"}
    assert isinstance(step_info["psnr"], np.float32) and isinstance(step_info["reward_psnr_gain"], np.float32)
    assert isinstance(step_info["t"], np.int64) and step_info["box"].dtype == np.int64
    assert reset_info["reward_psnr_gain"] == 0 and np.all(reset_info["box"] == 0)


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_vector_env_exposes_its_autoreset_mode_and_stable_info(mode):
    env = gym.make_vec(ID, num_envs=2, vectorization_mode="vector_entry_point", config=SMALL, autoreset_mode=mode)
    assert env.autoreset_mode is mode and env.metadata["autoreset_mode"] is mode
    _, info = env.reset(seed=0)
    keys = set(info)
    assert {"reward_psnr_gain", "_reward_psnr_gain", "psnr", "_psnr"} <= keys
    for _ in range(3):
        _, _, terminated, _, info = env.step(np.array([1, 2]))
        assert {k for k in info if "final" not in k} == keys
        assert all(isinstance(v, np.ndarray) for k, v in info.items() if k != "final_info")
    assert terminated.all()
    if mode is AutoresetMode.DISABLED:
        with pytest.raises(RuntimeError, match="episode has ended"):
            env.step(np.array([1, 2]))
        obs, info = env.reset(options={"reset_mask": np.array([True, False])})
        assert obs["step"][0, 0] == 0 and obs["step"][1, 0] == 1.0
    if mode is AutoresetMode.SAME_STEP:
        assert info["_final_obs"].all() and "reward_psnr_gain" in info["final_info"]


def test_vector_env_per_face_calls():
    env = FaceRepairVectorEnv(3, SMALL)
    env.reset(seed=0)
    assert len(env.call("action_masks")) == 3 and env.call("action_masks")[0].shape == (49,)
    assert env.get_attr("render_mode") == (None, None, None)
    env.set_attr("tag", ["a", "b", "c"])
    assert env.get_attr("tag") == ("a", "b", "c")
    env.set_attr("tag", "z")
    assert env.get_attr("tag") == ("z",) * 3
    with pytest.raises(ValueError, match="one per face"):
        env.set_attr("tag", [1, 2])


def test_sb3_adapter_takes_an_id_and_follows_vecenv_conventions():
    with pytest.raises(ConfigError, match="not both"):
        FaceRepairSB3VecEnv(2, SMALL, env_id=ID, variant="dense_x8")
    vec = FaceRepairSB3VecEnv(3, SMALL, env_id="fh_gym/FaceRepair-IPFH-v0")
    assert vec.config["reward"]["type"] == "ipfh" and vec.config["horizon"] == 3
    assert [s.id for s in vec.get_attr("spec")] == ["fh_gym/FaceRepair-IPFH-v0"] * 3
    assert vec.get_attr("render_mode", indices=[1]) == [None]
    vec.set_attr("tag", 7, indices=[0, 2])
    assert vec.get_attr("tag", indices=[0, 2]) == [7, 7]
    with pytest.raises(AttributeError):
        vec.get_attr("tag", indices=1)  # set on faces 0 and 2 only
    vec.seed(5)
    obs = vec.reset()
    assert set(vec.reset_infos[0]) == {"psnr", "t", "repairs", "face_index",
                                       *(f"reward_{n}" for n in vec.engine.term_names)}
    masks = vec.env_method("action_masks", indices=[1, 2])
    assert len(masks) == 2 and masks[0].shape == (49,)
    frames = vec.env_method("render", indices=0)
    assert frames[0].ndim == 3 and frames[0].dtype == np.uint8
    face_obs, face_info = vec.env_method("reset", seed=1, indices=[2])[0]
    assert face_obs["image"].shape == obs["image"].shape[1:] and face_info["t"] == 0
    assert vec.env_method("get_wrapper_attr", "tag", indices=[0]) == [7]
    with pytest.raises(AttributeError, match="per-face methods: action_masks"):
        vec.env_method("step_async", np.zeros(3))


def test_sb3_adapter_same_step_reset_fills_reset_infos_and_terminal_observations():
    vec = VecMonitor(FaceRepairSB3VecEnv(2, SMALL, env_id=ID))
    vec.reset()
    for _ in range(3):
        _, _, dones, infos = vec.step(np.array([4, 5]))
    assert dones.all() and all("terminal_observation" in i and "episode" in i for i in infos)
    assert infos[0]["reward_psnr_gain"].dtype == np.float32
    assert vec.venv.reset_infos[1]["t"] == 0
