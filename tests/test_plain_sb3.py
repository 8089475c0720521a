"""Agent files saved by plain SB3 / sb3-contrib (no fh-gym metadata) run in every fh-gym command given --env."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
from sb3_contrib import MaskablePPO, RecurrentPPO
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.vec_env import VecFrameStack

from fh_gym import FaceRepairSB3VecEnv
from fh_gym.agents.cli.common import build_env_config
from fh_gym.agents.cli.main import main
from fh_gym.agents.registry import agent_algo, load_agent
from fh_gym.agents.sb3.features import FaceRepairExtractor
from fh_gym.agents.sb3.policies import FaceRepairLstmPolicy, FaceRepairPolicy
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.config import ConfigError

ID = "fh_gym/FaceRepair-Dense-x8-v0"
SETS = ["--set", "data.identities=8", "--set", "data.images_per_identity=2", "--set", "horizon=3"]
SMALL = {"data": {"type": "synthetic", "identities": 8, "images_per_identity": 2}, "horizon": 3}
TINY = {"n_steps": 8, "batch_size": 8, "n_epochs": 1}


def _save(tmp_path, algo, policy, name, env_id=ID, **kwargs):
    model = algo(policy, FaceRepairSB3VecEnv(2, SMALL, env_id=env_id), seed=0, **kwargs)
    model.learn(16)
    model.save(tmp_path / name)
    return tmp_path / f"{name}.zip"


@pytest.fixture(scope="module")
def plain_ppo(tmp_path_factory):
    return _save(tmp_path_factory.mktemp("plain"), PPO, FaceRepairPolicy, "plain", **TINY)


def test_a_plain_sb3_zip_runs_in_compare_and_record_with_env(plain_ppo, tmp_path, capsys):
    assert agent_algo(plain_ppo) == "ppo" and os.path.getsize(plain_ppo) < 8e6
    assert main(["compare", "--env", ID, *SETS, "--agent", str(plain_ppo), "--strategies", "even", "--faces", "3",
                 "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    assert "| ppo-plain | 3 |" in printed, printed[:600]
    assert main(["record", "--env", ID, *SETS, "--agent", str(plain_ppo), "--episodes", "1",
                 "--out", str(tmp_path / "rec")]) == 0
    assert [p.name for p in (tmp_path / "rec").iterdir()] == ["ppo-plain_000.mp4"]


def test_a_plain_zip_in_hallucinate(plain_ppo, tmp_path):
    import cv2

    (tmp_path / "lr").mkdir()
    cv2.imwrite(str(tmp_path / "lr" / "f.png"), np.full((16, 16, 3), 90, np.uint8))
    assert main(["hallucinate", str(tmp_path / "lr"), "--agent", str(plain_ppo), "--env", ID, "--set", "horizon=3",
                 "--out", str(tmp_path / "sr")]) == 0
    assert (tmp_path / "sr" / "f.png").is_file()


def test_a_plain_zip_needs_the_env_it_was_trained_on(plain_ppo):
    with pytest.raises(ConfigError, match="without fh-gym metadata: say which env"):
        load_agent(plain_ppo)
    with pytest.raises(ConfigError, match="does not fit"):
        load_agent(plain_ppo, env_config=build_env_config("fh_gym/FaceRepair-AttentionFH-v0"))


@pytest.mark.parametrize(("algo", "policy", "name", "kwargs"), [
    (A2C, FaceRepairPolicy, "a2c", {"n_steps": 4}),
    (RecurrentPPO, FaceRepairLstmPolicy, "recurrent_ppo", {**TINY, "policy_kwargs": {"lstm_hidden_size": 8}}),
    # SB3's own alias with the extractor passed as a class: policy_kwargs is pickled (read restricted)
    (MaskablePPO, "MultiInputPolicy", "maskable_ppo",
     {**TINY, "policy_kwargs": {"features_extractor_class": FaceRepairExtractor,
                                "features_extractor_kwargs": {"features_dim": 32, "horizon": 3}}}),
])
def test_every_sb3_algorithm_loads_from_a_plain_zip_and_acts(tmp_path, algo, policy, name, kwargs):
    path = _save(tmp_path, algo, policy, name, **kwargs)
    assert agent_algo(path) == name
    config = build_env_config(ID, overrides=["horizon=3"])
    actor = load_agent(path, env_config=config)
    engine = RepairEngine(config, 2)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0))
    actor.start_episodes(engine, slots)
    for _ in range(3):
        actions = actor.act(engine, slots, np.random.default_rng(0))
        assert actions.shape == (2,) and actions.dtype == np.int64
        if name == "maskable_ppo":  # never a cell already repaired
            assert engine.action_masks()[np.arange(2), actions].all()
        engine.step(actions)


def test_a_frame_stacked_model_is_refused_with_the_reason(tmp_path):
    env = VecFrameStack(FaceRepairSB3VecEnv(2, SMALL, env_id=ID), 2)
    model = PPO(FaceRepairPolicy, env, policy_kwargs={"features_extractor_kwargs": {"horizon": 3}}, **TINY)
    model.save(tmp_path / "stacked")
    with pytest.raises(ConfigError, match="frame-stacked"):
        load_agent(tmp_path / "stacked.zip", env_config=build_env_config(ID))


def test_pickles_of_other_globals_are_refused(plain_ppo, tmp_path):
    with zipfile.ZipFile(plain_ppo) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    data = json.loads(members["data"])
    data["policy_kwargs"] = {":type:": "<class 'dict'>",
                             ":serialized:": base64.b64encode(pickle.dumps({"x": os.system})).decode()}
    members["data"] = json.dumps(data).encode()
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        for n, blob in members.items():
            archive.writestr(n, blob)
    with pytest.raises(ConfigError, match=r"pickles posix.system, which fh-gym does not load"):
        load_agent(evil, env_config=build_env_config(ID))
