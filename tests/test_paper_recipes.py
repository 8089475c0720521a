"""The csrip, ofhnet, landmark-net and srgan recipes: they learn, log, checkpoint, resume and plug into the env."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from subprocess_env import ONE_THREAD_ENV

from fh_gym.agents.recipes import run_recipe
from fh_gym.envs.face_repair import FaceRepairEnv
from fh_gym.restorers import build_network, load_network
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.training.recipes import recipe_config

DATA = {"type": "synthetic", "identities": 4, "images_per_identity": 3, "image_size": 64}
COMMON = {"data": DATA, "batch_size": 6, "val_size": 6, "log_every": 1, "eval_every": 4, "checkpoint_every": 4}
TINY = {
    "csrip": {"generator": {"type": "CSRIPGenerator", "base_width": 16, "num_blocks": 1, "tail_width": 8,
                            "side_width": 8},
              "recognizer": {"width": 0.125, "dropout": 0.0}, "recognizer_steps": 10, "steps": 22, "lr": 3e-3,
              "recognizer_lr": 3e-3},
    "ofhnet": {"generator": {"type": "OFHNetGenerator", "base_width": 16}, "discriminator": {"base_width": 8},
               "landmark_steps": 8, "inpaint_steps": 10, "steps": 38, "lr": 1e-3, "landmark_lr": 3e-3},
    "srgan": {"generator": {"type": "SRGANGenerator", "num_features": 8, "num_blocks": 1},
              "discriminator": {"base_width": 4, "fc_width": 16}, "pretrain_steps": 10, "steps": 16, "lr": 3e-3},
    "landmark-net": {"steps": 12, "lr": 3e-3},
}


def train_tiny(name: str, out: Path, **overrides) -> dict:
    config = recipe_config(name, {**COMMON, **TINY[name], **overrides})
    return run_recipe(name, config, out, progress=False)


def scalars(out: Path, tag: str) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    return [e.value for e in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []


def decreased(values: list[float], k: int = 3) -> bool:
    return len(values) >= 2 * k and np.mean(values[-k:]) < np.mean(values[:k])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each recipe trained once with tiny widths on tiny synthetic faces (x8, 64x64 -> 8x8 LR)."""
    root = tmp_path_factory.mktemp("recipes")
    return {name: (root / name, train_tiny(name, root / name)) for name in TINY}


def test_csrip_trains_recognisers_then_the_cascade(runs):
    out, summary = runs["csrip"]
    assert summary["stages"] == {"recognizers": 10, "sr": 12} and summary["step"] == 22
    assert decreased(scalars(out, "losses/recognizer_ce_x8"))
    assert decreased(scalars(out, "losses/loss"))
    for tag in ("losses/ssim", "losses/l1", "losses/identity_ce", "losses/identity_feature", "eval/psnr",
                "eval/psnr_bicubic"):
        assert scalars(out, tag), tag
    generator = load_network(summary["generator"], kind="generator")
    assert type(generator).__name__ == "CSRIPGenerator" and generator.checkpoint_meta["recipe"] == "csrip"
    recognizer = load_network(summary["recognizer_x2"], kind="aux")
    assert recognizer.input_size == 16 and recognizer.factor == 2


def test_ofhnet_curriculum_with_landmarks(runs):
    out, summary = runs["ofhnet"]
    assert summary["stages"] == {"landmark": 8, "inpaint": 10, "upsample": 20}
    assert summary["structure_loss"].startswith("used")
    assert decreased(scalars(out, "losses/landmark_loss"))
    assert decreased(scalars(out, "losses/inpaint_mse"))
    assert decreased(scalars(out, "losses/mse"))
    for tag in ("losses/mask_bce", "losses/d_loss", "losses/g_adv", "losses/structure",
                "eval/psnr_inpainted_bicubic"):
        assert scalars(out, tag), tag
    assert load_network(summary["landmark_net"]).num_points == 5


def test_srgan_pretrains_then_fine_tunes_adversarially(runs):
    out, summary = runs["srgan"]
    assert summary["stages"] == {"mse": 10, "adversarial": 6}
    assert decreased(scalars(out, "losses/mse"))
    assert len(scalars(out, "losses/d_loss")) == 6 and len(scalars(out, "losses/g_adv")) == 6


def test_landmark_net_recipe_learns(runs):
    out, _ = runs["landmark-net"]
    assert decreased(scalars(out, "losses/landmark_loss"))


def test_resume_keeps_step_count_and_optimizer_state(tmp_path):
    first = train_tiny("csrip", tmp_path, steps=12)
    assert first["step"] == 12
    state = torch.load(tmp_path / "last.pt", map_location="cpu", weights_only=True)
    assert state["optimizers"]["generator"]["state"][0]["step"] == 2  # 12 - 10 recogniser steps
    weights = state["networks"]["generator"]["state_dict"]
    second = train_tiny("csrip", tmp_path, steps=15)  # same folder: resumes at step 12
    assert second["step"] == 15
    state = torch.load(tmp_path / "last.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 15 and state["optimizers"]["generator"]["state"][0]["step"] == 5
    assert state["optimizers"]["recognizers"]["state"][0]["step"] == 10  # stage 1 was not redone
    changed = state["networks"]["generator"]["state_dict"]
    assert any(not torch.equal(weights[k], changed[k]) for k in weights)


def _write_faces(root: Path, people: int = 4, per_person: int = 3) -> None:
    gen = np.random.default_rng(0)
    for p in range(people):
        (root / f"person_{p}").mkdir(parents=True)
        for i in range(per_person):
            img = (gen.random((64, 64, 3)) * 60 + 100 + 20 * p).astype(np.uint8)
            cv2.imwrite(str(root / f"person_{p}" / f"{i}.png"), img)


def test_ofhnet_without_landmarks_skips_the_structure_loss_or_uses_a_given_net(runs, tmp_path):
    faces = tmp_path / "faces"
    _write_faces(faces)
    data = {"type": "folder", "root": str(faces), "image_size": 64}
    short = {"data": data, "inpaint_steps": 2, "steps": 4}
    skipped = train_tiny("ofhnet", tmp_path / "skip", **short)
    assert skipped["structure_loss"].startswith("skipped") and "no landmarks" in skipped["structure_loss"]
    assert skipped["stages"] == {"inpaint": 2, "upsample": 2} and "landmark_net" not in skipped
    assert not scalars(tmp_path / "skip", "losses/structure")
    landmark_net = runs["landmark-net"][1]["landmark_net"]
    given = train_tiny("ofhnet", tmp_path / "given", landmark_checkpoint=landmark_net, **short)
    assert given["structure_loss"].startswith("used (landmark net from")
    assert len(scalars(tmp_path / "given", "losses/structure")) == 2


def test_recipe_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="steps=5 leaves no step"):
        run_recipe("csrip", recipe_config("csrip", {**COMMON, **TINY["csrip"], "steps": 5}), tmp_path)
    with pytest.raises(ConfigError, match="num_classes"):
        recipe = {**TINY["csrip"], "recognizer": {"num_classes": 3}}
        run_recipe("csrip", recipe_config("csrip", {**COMMON, **recipe}), tmp_path)
    with pytest.raises(ConfigError, match="unknown config key"):
        recipe_config("ofhnet", {"degradation": {"occlusion_area": 0.1}})
    assert recipe_config("ofhnet")["degradation"]["occlusion"]["area"] == [0.0625, 0.25]


ENV = {"data": {"type": "synthetic", "identities": 4, "images_per_identity": 2}, "horizon": 2}


def _step_once(config: dict) -> dict:
    env = FaceRepairEnv(config={**ENV, **config})
    try:
        env.reset(seed=0)
        _, reward, _, _, info = env.step(env.action_space.sample())
        return {"reward": reward, "info": info, "env": env}
    finally:
        env.close()


def test_env_with_a_csrip_front_end(runs):
    path = runs["csrip"][1]["generator"]
    result = _step_once({"frontend": {"type": "CSRIPGenerator", "checkpoint": path}})
    assert np.isfinite(result["reward"])
    engine = result["env"].engine
    assert type(engine.frontend).__name__ == "CSRIPGenerator" and not engine.frontend.training


def test_env_with_an_ofhnet_front_end_on_occluded_faces(runs):
    path = runs["ofhnet"][1]["generator"]
    result = _step_once({"frontend": {"type": "OFHNetGenerator", "checkpoint": path},
                         "degradation": {"occlusion": {"area": [0.0625, 0.25]}}})
    assert np.isfinite(result["reward"])


def test_env_with_the_srgan_reward_reference(runs):
    path = runs["srgan"][1]["generator"]
    reference = {"type": "SRGANGenerator", "checkpoint": path}
    env = FaceRepairEnv(config={**ENV, "reward": {"type": "attention_fh", "reference": reference}})
    try:
        env.reset(seed=0)
        generator = env.engine.reward_fn._generator
        assert type(generator).__name__ == "SRGANGenerator"
        lr, hr = env.engine.lr, env.engine.hr
        with torch.no_grad():
            expected = ((generator(lr).clamp(0, 1).double() - hr.double()) ** 2).mean(dim=(1, 2, 3))
        assert torch.allclose(env.engine.reward_fn._reference_mse, expected)
        for _ in range(2):
            _, reward, terminated, _, info = env.step(env.action_space.sample())
        assert terminated and np.isfinite(reward) and "reward_mse_gain" in info
    finally:
        env.close()


def test_a_generator_of_another_scale_is_refused(runs):
    path = runs["srgan"][1]["generator"]
    with pytest.raises(ValueError, match="scale"):
        FaceRepairEnv(config={**ENV, "degradation": {"scale": 4},
                              "frontend": {"type": "SRGANGenerator", "checkpoint": path}})
    assert build_network({"type": "SRGANGenerator", "checkpoint": path}).scale == 8


@pytest.mark.parametrize(("name", "file"), [("csrip", "csrip"), ("ofhnet", "ofhnet"), ("srgan", "srgan"),
                                            ("landmark-net", "landmark_net")])
def test_recipe_yaml_files_only_override_known_keys(name, file):
    from fh_gym.restorers.config import load_yaml

    root = Path(__file__).resolve().parents[1] / "envs_configs" / "recipes"
    config = recipe_config(name, load_yaml(root / f"{file}.yaml"))
    for key in ("generator", "discriminator", "landmark_net"):
        if key in config:
            build_network(config[key])


@pytest.mark.parametrize("name", ["ofhnet", pytest.param("csrip", marks=pytest.mark.slow),
                                  pytest.param("srgan", marks=pytest.mark.slow)])
def test_torchrun_two_ranks_gloo(name, tmp_path):
    """DDP-wrapped stages (side outputs, inpainter/upsampler, D/G alternation) run on two gloo ranks."""
    import shutil
    import subprocess
    import sys

    import yaml

    from fh_gym.restorers.checkpoint import safe_load

    runner = [shutil.which("torchrun")] if shutil.which("torchrun") else [sys.executable, "-m", "torch.distributed.run"]
    steps = {"ofhnet": {"landmark_steps": 2, "inpaint_steps": 2, "steps": 6},
             "csrip": {"recognizer_steps": 2, "steps": 5}, "srgan": {"pretrain_steps": 2, "steps": 5}}[name]
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**COMMON, **TINY[name], **steps, "batch_size": 2, "eval_every": 1000}))
    out = tmp_path / "run"
    command = [*runner, "--standalone", "--nproc_per_node=2", "-m", "fh_gym.agents.cli.main", "train-generator", name,
               "--config", str(config), "--out", str(out), "--quiet"]
    result = subprocess.run(command, env=ONE_THREAD_ENV, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    checkpoint = safe_load(out / "last.pt")
    assert checkpoint["step"] == steps["steps"]
    generator = load_network(out / "generator.pt", kind="generator")
    assert all(not k.startswith("module.") for k in generator.state_dict())
