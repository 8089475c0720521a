"""TorchRL: ``GymEnv(id, num_envs=4)``, ``GymWrapper`` on the VectorEnv and the native device-resident env
pass ``check_env_specs`` and roll out; the native env never leaves torch; the PPO example trains."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

pytest.importorskip("torchrl", reason="TorchRL is optional: pip install 'fh-gym[torchrl]'")

from torchrl.envs import GymEnv, GymWrapper
from torchrl.envs.utils import check_env_specs

import fh_gym  # noqa: F401  (registers the ids)
from fh_gym.envs.torchrl_env import FaceRepairTorchRLEnv

SMALL = {"data": {"type": "synthetic", "identities": 12, "images_per_identity": 2}, "horizon": 3}
ID = "fh_gym/FaceRepair-Dense-x8-v0"


@pytest.mark.slow
def test_gymenv_with_four_envs_passes_the_spec_check_and_rolls_out(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the four worker processes inherit it
    # TorchRL's worker processes start fresh (spawn): the "fh_gym:" prefix makes Gymnasium import fh_gym there.
    env = GymEnv(f"fh_gym:{ID}", num_envs=4, config=SMALL)
    try:
        check_env_specs(env)
        rollout = env.rollout(3)
        assert rollout.batch_size == (4, 3)
        assert rollout["next", "done"][:, -1].all() and rollout["next", "reward_psnr_gain"].dtype == torch.float32
    finally:
        env.close()


@pytest.mark.parametrize("mode", [AutoresetMode.DISABLED, AutoresetMode.SAME_STEP])
def test_gymwrapper_on_the_vector_env(mode):
    env = GymWrapper(gym.make_vec(ID, num_envs=3, vectorization_mode="vector_entry_point", config=SMALL,
                                  autoreset_mode=mode))
    check_env_specs(env)
    rollout = env.rollout(7, break_when_any_done=False)
    assert rollout.batch_size == (3, 7) and int(rollout["next", "done"].sum()) == 6  # two episodes each


@pytest.mark.parametrize("env_id", ["fh_gym/FaceRepair-Dense-x8-v0", "fh_gym/FaceRepair-AttentionFH-v0",
                                    "fh_gym/FaceRepair-Continuous-v0", "fh_gym/FaceRepair-IPFH-v0"])
def test_native_env_passes_the_spec_check_and_rolls_out(env_id):
    env = FaceRepairTorchRLEnv(env_id, 3, SMALL)
    check_env_specs(env)
    env.set_seed(0)
    rollout = env.rollout(7, break_when_any_done=False)
    assert rollout.batch_size == (3, 7) and int(rollout["next", "done"].sum()) == 6
    terms = [f"reward_{name}" for name in env.engine.term_names]
    torch.testing.assert_close(rollout["next", "reward"], sum(rollout["next", key] for key in terms))
    assert ("action_mask" in rollout) == (env_id != "fh_gym/FaceRepair-Continuous-v0" and
                                                 env_id != "fh_gym/FaceRepair-AttentionFH-v0")


def test_native_env_matches_the_vector_env_and_never_leaves_torch(monkeypatch):
    native = FaceRepairTorchRLEnv(ID, 2, SMALL)
    vector = gym.make_vec(ID, num_envs=2, vectorization_mode="vector_entry_point", config=SMALL,
                          restorer=native.engine.restorer).unwrapped
    native.set_seed(4)
    td = native.reset()
    obs, _ = vector.reset(seed=4)
    np.testing.assert_array_equal(td["image"].numpy(), obs["image"])

    def no_host_copy(*args, **kwargs):
        raise AssertionError("the native env converted a tensor to NumPy / Python during a step")

    for action in ([3, 7], [10, 40]):
        td["action"] = torch.tensor(action)
        with monkeypatch.context() as patch:
            for name in ("numpy", "tolist", "item", "cpu"):
                patch.setattr(torch.Tensor, name, no_host_copy)
            out = native.step(td)["next"]
        obs, reward, *_ = vector.step(np.array(action))
        np.testing.assert_array_equal(out["image"].numpy(), obs["image"])
        np.testing.assert_allclose(out["reward"].numpy()[:, 0], reward, rtol=1e-6, atol=1e-7)
        assert out["image"].device == native.engine.device and out["action_mask"].dtype == torch.bool
        td = out


def test_partial_reset_resets_only_the_masked_faces():
    env = FaceRepairTorchRLEnv(ID, 3, SMALL)
    td = env.reset()
    td["action"] = torch.tensor([0, 1, 2])
    td = env.step(td)["next"]
    td["_reset"] = torch.tensor([[True], [False], [False]])
    after = env.reset(td)
    assert after["step"][:, 0].tolist() == [0.0, pytest.approx(1 / 3), pytest.approx(1 / 3)]


@pytest.mark.slow
def test_the_ppo_example_trains():
    from examples.torchrl_ppo import main

    history = main(["--num-envs", "4", "--iterations", "2", "--horizon", "3"])
    assert len(history) == 2 and all(np.isfinite(h["loss"]) and np.isfinite(h["final_psnr"]) for h in history)
