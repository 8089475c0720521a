"""Training infrastructure: the train CLI, resume, TensorBoard tags, checkpoints, restorer fine-tuning."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from sb3_helpers import env_config
from subprocess_env import ONE_THREAD_ENV

from fh_gym.agents.cli.main import main
from fh_gym.agents.finetune import RestorerFineTuner, finetune_settings
from fh_gym.agents.registry import load_agent
from fh_gym.agents.sb3.checkpoint import load_finetune_state, read_metadata
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.config import ConfigError

DATA_FLAGS = ["--set", "data.identities=24", "--set", "data.images_per_identity=3", "--set", "horizon=4"]
TINY_FLAGS = ["--set-algo", "n_envs=4", "--set-algo", "n_steps=16", "--set-algo", "batch_size=32",
              "--set-algo", "n_epochs=1", "--set-algo", "policy_kwargs.features_dim=16",
              "--set-algo", "policy_kwargs.width=4", "--set-algo", "checkpoint_every=32"]


def _tags(run_dir) -> dict[str, list]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: dict[str, list] = {"scalars": [], "images": []}
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0, "images": 0})
        acc.Reload()
        tags["scalars"] += acc.Tags()["scalars"]
        tags["images"] += acc.Tags()["images"]
        for tag in acc.Tags()["scalars"]:
            tags.setdefault(tag + ":steps", []).extend(e.step for e in acc.Scalars(tag))
    return tags


def test_train_then_resume_continues_the_same_run(tmp_path):
    out = tmp_path / "runs"
    rc = main(["train", "--algo", "ppo", *DATA_FLAGS, *TINY_FLAGS, "--set-algo", "image_every=1",
               "--timesteps", "64", "--eval-every", "64", "--eval-faces", "2", "--out", str(out), "--quiet"])
    assert rc == 0
    (run_dir,) = out.iterdir()
    assert read_metadata(run_dir / "checkpoints" / "last.zip")["num_timesteps"] == 64

    rc = main(["train", "--resume", str(run_dir), "--timesteps", "128", "--quiet"])
    assert rc == 0
    assert list(out.iterdir()) == [run_dir]  # no new run folder
    meta = read_metadata(run_dir / "final.zip")
    assert meta["num_timesteps"] == 128 and meta["algo"] == "ppo" and meta["env_id"] == "fh_gym/FaceRepair-Dense-x8-v0"
    assert load_agent(run_dir / "checkpoints" / "last.zip").model.num_timesteps == 128

    tags = _tags(run_dir)
    for tag in ("charts/episodic_return", "charts/episode_psnr", "charts/episode_psnr_gain", "charts/episode_ssim",
                "charts/reward_terms/psnr_gain", "eval/psnr", "eval/ssim", "eval/psnr_gain",
                # SB3's own tags, unrenamed: the same as in plain SB3 and RL Zoo runs
                "train/value_loss", "train/policy_gradient_loss", "train/learning_rate", "rollout/ep_rew_mean",
                "time/fps"):
        assert tag in tags["scalars"], tag
    assert not any(t.startswith("losses/") for t in tags["scalars"])  # no CleanRL renames of SB3's statistics
    assert "eval/episodes" in tags["images"]
    assert max(tags["train/value_loss:steps"]) == 128  # the resumed half logs at the continued step count
    assert min(tags["train/value_loss:steps"]) <= 64


def test_resume_needs_a_run_folder(tmp_path):
    assert main(["train", "--resume", str(tmp_path), "--quiet"]) == 2


def test_unknown_hyperparameter_is_a_clear_cli_error(tmp_path, capsys):
    rc = main(["train", "--algo", "a2c", "--set-algo", "n_stepz=3", "--out", str(tmp_path), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "n_stepz" in err and "n_steps" in err


def test_finetuning_during_training_saves_the_restorer(tmp_path):
    from fh_gym.restorers.checkpoint import load_network

    out = tmp_path / "runs"
    rc = main(["train", "--algo", "a2c", *DATA_FLAGS, "--set-algo", "n_envs=2", "--set-algo", "n_steps=4",
               "--set-algo", "policy_kwargs.features_dim=8", "--set-algo", "policy_kwargs.width=4",
               "--set-algo", "finetune_restorer={lr: 0.01, every: 1}", "--timesteps", "16", "--eval-every", "0",
               "--out", str(out), "--quiet"])
    assert rc == 0
    (run_dir,) = out.iterdir()
    state = load_finetune_state(run_dir / "final.zip")
    assert state["updates"] == 8 and state["optimizer"]["state"]  # one update per env step, Adam moments kept
    saved = load_network(run_dir / "restorer.pt")
    for name, value in saved.state_dict().items():
        assert torch.equal(value, state["network"]["state_dict"][name]), name
    actor = load_agent(run_dir / "final.zip")
    assert actor.restorer is not None  # compare / record / hallucinate repair with the fine-tuned one
    with zipfile.ZipFile(run_dir / "final.zip") as archive:
        assert json.loads(archive.read("fh_gym.json"))["hyperparams"]["finetune_restorer"]["lr"] == 0.01


def test_finetuner_changes_the_shared_restorer_and_resumes():
    config = env_config(horizon=4)
    engine = RepairEngine(config, 2)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0, 1]})
    before = {k: v.clone() for k, v in engine.restorer.state_dict().items()}
    tuner = RestorerFineTuner(engine, lr=0.01)
    assert tuner.after_step(engine.step(np.array([3, 3]))) is None  # no inputs kept: nothing to train on
    for action in (0, 24):
        stats = tuner.after_step(engine.step(np.array([action, action]), keep_batch=True))
        assert stats is not None and np.isfinite(stats["losses/restorer_mse"])
    changed = [k for k, v in engine.restorer.state_dict().items() if not torch.equal(v, before[k])]
    assert changed
    assert not engine.restorer.training  # the env keeps repairing in eval mode

    other = RepairEngine(config, 2)
    twin = RestorerFineTuner(other, lr=0.01)
    twin.load_state_dict(tuner.state_dict())
    assert twin.updates == 2
    for k, v in other.restorer.state_dict().items():
        assert torch.equal(v, engine.restorer.state_dict()[k])


def test_finetune_settings_validation():
    assert finetune_settings(None) is None and finetune_settings(True)["lr"] == 1e-4
    with pytest.raises(ConfigError, match="valid: lr, every, grad_clip"):
        finetune_settings({"learning_rate": 1e-3})


def test_resume_keeps_optimiser_and_reward_normalisation(tmp_path):
    from sb3_helpers import tiny_context

    from fh_gym.agents.registry import get_algo
    from fh_gym.agents.sb3.checkpoint import read_member

    def ret_count() -> float:
        return json.loads(read_member(tmp_path / "checkpoints" / "last.zip", "vecnormalize.json"))["ret_rms"]["count"]

    algo = get_algo("a2c")  # its RMSprop optimiser state must come back as RMSprop
    assert algo.train(tiny_context(tmp_path, "a2c", "fh_gym/FaceRepair-IPFH-v0", total=64))["num_timesteps"] == 64
    assert ret_count() == pytest.approx(64, abs=1e-3)  # IPFH normalises returns (normalize: true)
    result = algo.train(tiny_context(tmp_path, "a2c", "fh_gym/FaceRepair-IPFH-v0", total=128, resume=True))
    assert result["num_timesteps"] == 128 and ret_count() == pytest.approx(128, abs=1e-3)


def test_a_resumed_run_draws_new_faces(tmp_path, monkeypatch):
    """SB3's load re-seeds with the original seed; the resumed run must not replay the first faces."""
    from sb3_helpers import tiny_context

    from fh_gym.agents.registry import get_algo

    first_resets: list[np.ndarray] = []
    original = RepairEngine.reset

    def recording_reset(self, slots, rng, options=None):
        original(self, slots, rng, options)
        if self.num_envs > 1 and len(slots) == self.num_envs:  # the training env's full resets
            first_resets.append(self.face_index.copy())

    monkeypatch.setattr(RepairEngine, "reset", recording_reset)
    algo = get_algo("a2c")
    algo.train(tiny_context(tmp_path, "a2c", total=64))
    fresh_first = first_resets[0]
    first_resets.clear()
    algo.train(tiny_context(tmp_path, "a2c", total=128, resume=True))
    assert not np.array_equal(first_resets[0], fresh_first)


@pytest.mark.slow
def test_sigterm_checkpoints_an_sb3_run_that_then_resumes(tmp_path):
    import subprocess
    import sys
    import time

    out = tmp_path / "runs"
    command = [sys.executable, "-m", "fh_gym.agents.cli.main", "train", "--algo", "ppo", *DATA_FLAGS, *TINY_FLAGS,
               "--set-algo", "checkpoint_every=1000000", "--timesteps", "1000000", "--eval-every", "0",
               "--out", str(out), "--quiet"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=ONE_THREAD_ENV)
    try:
        deadline = time.monotonic() + 240
        # SB3 dumps its logger after each rollout: a non-trivial events file means training is under way.
        while not any(f.stat().st_size > 1000 for f in out.rglob("events.out.tfevents.*")):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "training did not start within 240 s"
            time.sleep(0.2)
        proc.terminate()
        output = proc.communicate(timeout=120)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, output  # SIGTERM: 128 + 15, after the checkpoint
    assert "resume with" in output
    (run_dir,) = out.iterdir()
    stopped = read_metadata(run_dir / "checkpoints" / "last.zip")["num_timesteps"]
    assert 64 <= stopped < 1000000
    assert main(["train", "--resume", str(run_dir), "--timesteps", str(stopped + 64), "--quiet"]) == 0
    assert read_metadata(run_dir / "final.zip")["num_timesteps"] == stopped + 64


def test_seeded_fresh_runs_are_reproducible(tmp_path):
    """The model's constructor seeds the RNGs and the env: same seed, same faces and weights."""
    from sb3_helpers import tiny_context

    from fh_gym.agents.registry import get_algo

    def weights(run_dir) -> list[torch.Tensor]:
        return list(load_agent(run_dir / "final.zip").model.policy.state_dict().values())

    for name in ("first", "second"):
        get_algo("a2c").train(tiny_context(tmp_path / name, "a2c", total=32))
    first, second = weights(tmp_path / "first"), weights(tmp_path / "second")
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_evaluation_logs_identity_scalars_of_a_recognizer(tmp_path):
    """``eval_recognizer``: the recogniser's distance to HR and same-person rate of the validation faces."""
    from fh_gym.restorers.build import build_network
    from fh_gym.restorers.checkpoint import save_network

    judge = save_network(build_network({"type": "CNNR", "width": 2, "feature_dim": 8, "blocks": [1, 1, 1, 1]},
                                       kind="aux", init_seed=0).eval(), tmp_path / "judge.pt")
    out = tmp_path / "runs"
    assert main(["train", "--algo", "ppo", *DATA_FLAGS, *TINY_FLAGS, "--set-algo", f"eval_recognizer={judge}",
                 "--set-algo", "image_every=0", "--timesteps", "64", "--eval-every", "64", "--eval-faces", "2",
                 "--out", str(out), "--quiet"]) == 0
    (run_dir,) = out.iterdir()
    tags = _tags(run_dir)
    assert {"eval/id_distance", "eval/id_same"} <= set(tags["scalars"])
    assert read_metadata(run_dir / "final.zip")["eval"]["id_distance"] >= 0
