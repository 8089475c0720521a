"""RL Baselines3 Zoo: the shipped hyperparameter files are current and in the Zoo's format; the Zoo trains a
registered id with them (a restorer passed through --env-kwargs), enjoys and records the agent, and fh-gym
compares the Zoo's zip."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from subprocess_env import ONE_THREAD_ENV, ROOT

from fh_gym.agents.cli.main import main
from fh_gym.agents.sb3.policies import FaceRepairPolicy
from fh_gym.agents.zoo import ZOO_ALGOS, zoo_arguments, zoo_file, zoo_hyperparams, zoo_text
from fh_gym.engine.core import build_scaled
from fh_gym.envs.config import make_config
from fh_gym.registration import env_ids
from fh_gym.restorers.checkpoint import save_network
from fh_gym.variants import variant_of
from fh_gym.video import video_info

ID = "fh_gym/FaceRepair-Dense-x8-v0"


@pytest.mark.parametrize("algo", list(ZOO_ALGOS))
def test_shipped_zoo_files_are_generated_from_fh_gyms_hyperparameters(algo):
    assert zoo_file(algo).read_text() == zoo_text(algo), "run `python -m fh_gym.agents.zoo write`"
    data = yaml.safe_load(zoo_file(algo).read_text())
    assert list(data) == list(env_ids())  # every registered id, namespaced
    for env_id, entry in data.items():
        assert {"n_timesteps", "policy", "n_envs", "policy_kwargs"} <= set(entry)
        assert not {"total_timesteps", "finetune_restorer", "checkpoint_every", "image_every"} & set(entry)
        module, name = entry["policy"].rsplit(".", 1)
        assert getattr(__import__(module, fromlist=[name]), name).__name__ == name  # importable by name
        horizon = entry["policy_kwargs"]["features_extractor_kwargs"]["horizon"]
        assert horizon == make_config(None, variant_of(env_id))["horizon"]
    assert data["fh_gym/FaceRepair-AttentionFH-v0"]["policy_kwargs"]["features_extractor_kwargs"]["horizon"] == 18
    assert data["fh_gym/FaceRepair-IPFH-v0"].get("normalize") == {"norm_obs": False, "norm_reward": True}


def test_zoo_entries_keep_fh_gyms_values():
    ppo = zoo_hyperparams("ppo")["fh_gym/FaceRepair-AttentionFH-v0"]
    assert ppo["gamma"] == 1.0 and ppo["n_steps"] == 72 and ppo["policy"].endswith("FaceRepairPolicy")
    lstm = zoo_hyperparams("ppo_lstm")[ID]
    assert lstm["policy_kwargs"]["lstm_hidden_size"] == 64  # fh-gym's, not RecurrentPPO's 256
    assert FaceRepairPolicy.__module__ + ".FaceRepairPolicy" == ppo["policy"]


def test_the_wrapper_adds_fh_gym_and_the_shipped_file():
    args = zoo_arguments("train", ["--algo", "a2c", "--env", ID])
    assert args[-4:] == ["--gym-packages", "fh_gym", "--conf-file", str(zoo_file("a2c"))]
    assert zoo_arguments("enjoy", ["--algo", "ppo"]) == ["--algo", "ppo", "--gym-packages", "fh_gym"]
    assert zoo_arguments("record_video", ["--algo", "ppo"]) == ["--algo", "ppo"]
    assert "--conf-file" not in zoo_arguments("train", ["--algo", "ppo", "--conf-file", "mine.yml"])[4:]


def _zoo(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=ONE_THREAD_ENV, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
def test_rl_zoo_trains_enjoys_and_records_a_registered_id_with_a_restorer(tmp_path, capsys):
    pytest.importorskip("rl_zoo3", reason="RL Baselines3 Zoo is optional: pip install 'fh-gym[zoo]'")
    restorer = build_scaled({"type": "AttentionFHEnhancer"}, "patch", 8)
    with torch.no_grad():  # a restorer that changes the image, so the rewards show it was used
        for p in restorer.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(0)))
    checkpoint = save_network(restorer, tmp_path / "restorer.pt")
    logs = tmp_path / "logs"
    kwargs = f"config:{{'restorer': {{'checkpoint': '{checkpoint}'}}}}"
    _zoo("rl_zoo3.train", "--algo", "ppo", "--env", ID, "--gym-packages", "fh_gym", "-n", "256", "-f", str(logs),
         "--conf-file", str(zoo_file("ppo")), "--seed", "0", "--env-kwargs", kwargs)
    (run,) = (logs / "ppo").iterdir()
    zip_path = run / "fh_gym-FaceRepair-Dense-x8-v0.zip"
    assert zip_path.stat().st_size < 8e6  # FaceRepairPolicy: a few MB (MultiInputPolicy's would be ~90 MB)
    assert str(checkpoint) in (run / "fh_gym-FaceRepair-Dense-x8-v0" / "args.yml").read_text()
    with open(run / "0.monitor.csv") as fh:
        rewards = [float(row["r"]) for row in csv.DictReader(line for line in fh if not line.startswith("#"))]
    assert rewards and any(r != 0 for r in rewards)  # the untrained default restorer would give exactly 0

    enjoyed = _zoo("rl_zoo3.enjoy", "--algo", "ppo", "--env", ID, "--gym-packages", "fh_gym", "-f", str(logs),
                   "-n", "40", "--no-render")
    assert "Episode Length 16" in enjoyed
    _zoo("fh_gym.agents.zoo", "record_video", "--algo", "ppo", "--env", ID, "-f", str(logs), "-n", "20",
         "-o", str(tmp_path / "videos"))
    (video,) = (tmp_path / "videos").glob("*.mp4")
    assert video_info(video)["codec"] == "h264"

    assert main(["compare", "--env", ID, "--restorer", str(checkpoint), "--set", "data.identities=8",
                 "--agent", str(zip_path), "--strategies", "even", "--faces", "2",
                 "--out", str(tmp_path / "cmp")]) == 0
    assert "| ppo-fh_gym-FaceRepair-Dense-x8-v0 | 16 |" in capsys.readouterr().out


def test_readme_documents_the_zoo_commands():
    readme = (Path(ROOT) / "README.md").read_text()
    for command in ("python -m rl_zoo3.train --algo ppo --env fh_gym/FaceRepair-Dense-x8-v0 --gym-packages fh_gym",
                    "python -m rl_zoo3.enjoy", "python -m fh_gym.agents.zoo record_video", "--env-kwargs"):
        assert command in readme, command
