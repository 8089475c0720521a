"""The identity-net, sicnn and ipfh-coarse recipes: learning, checkpoints, resume after a kill, torchrun."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from subprocess_env import ONE_THREAD_ENV
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fh_gym.agents.cli.main import main
from fh_gym.restorers import load_network
from fh_gym.restorers.checkpoint import safe_load
from fh_gym.restorers.training.recipes import PairBatch, RecipeContext, get_recipe, recipe_config
from fh_gym.samplers.image_pairs import PairSampler

ROOT = Path(__file__).resolve().parents[1]
SMALL_DATA = {"type": "synthetic", "identities": 40, "images_per_identity": 4}
TINY_CNNR = {"type": "CNNR", "width": 2, "feature_dim": 16, "blocks": [1, 1, 1, 1]}
TINY_HOURGLASS = {"type": "IPFHCoarseHallucinator", "width": 2, "max_width": 8}
TINY_SICNN = {"type": "SICNNGenerator", "channels": 4, "growth_rate": 4, "dense_layers": 1, "deconv_channels": 4}


@pytest.fixture(scope="module")
def sampler() -> PairSampler:
    return PairSampler({**SMALL_DATA, "split": "train"}, {"scale": 8}, seed=0, min_images_per_identity=2)


def fixed_batch_context(sampler: PairSampler, recipe: str, out_dir: Path, overrides: dict, batch: int = 6,
                        tone_shift: bool = False) -> RecipeContext:
    """A recipe context whose training and validation batches are one fixed batch, so learning shows in a
    few steps as over-fitting. ``tone_shift`` makes the HR targets a contrast/brightness change of the true
    faces: beating bicubic on real detail takes hundreds of steps, a tone map a few dozen."""
    # The synthetic faces are stored person by person: 12 consecutive faces are 3 people x 4 images, which
    # gives the identity recipes same-person validation pairs.
    pairs = sampler.fixed(batch, seed=3) if batch != 12 else sampler.batch(np.arange(12), np.random.default_rng(0))
    if tone_shift:
        pairs = PairBatch(hr=0.6 * pairs.hr + 0.3, lr=pairs.lr, identities=pairs.identities)
    config = recipe_config(recipe, {"data": SMALL_DATA, "log_every": 1, "checkpoint_every": 1000, **overrides})
    return RecipeContext(config=config, out_dir=out_dir, train_batch=lambda n: pairs, val_batch=pairs,
                         num_identities=sampler.num_identities, scale=8, image_size=128, device=torch.device("cpu"),
                         progress=False, extras={"class_names": sampler.class_names})


def scalars(run_dir: Path, tag: str) -> list[float]:
    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    return [e.value for e in events.Scalars(tag)]


def test_recipes_are_registered_and_yaml_configs_only_override_known_keys():
    for name, stem in (("identity-net", "identity_net"), ("sicnn", "sicnn"), ("ipfh-coarse", "ipfh_coarse")):
        overrides = yaml.safe_load((ROOT / "envs_configs" / "recipes" / f"{stem}.yaml").read_text())
        config = recipe_config(name, overrides)
        assert config["recipe"] == name and config["data"]["type"] == "lfw"
    assert get_recipe("identity-net").defaults["min_images_per_identity"] >= 2


def test_ipfh_coarse_learns_and_saves_its_config(sampler, tmp_path):
    ctx = fixed_batch_context(sampler, "ipfh-coarse", tmp_path / "run", {
        "generator": TINY_HOURGLASS, "steps": 25, "lr": 3e-3, "eval_every": 5}, tone_shift=True)
    summary = get_recipe("ipfh-coarse").fn(ctx)
    # An untrained hallucinator is exactly bicubic; after training it must beat it on that batch.
    assert summary["eval/psnr"] > summary["eval/psnr_bicubic"] + 1.0
    mse = scalars(tmp_path / "run", "losses/mse")
    assert mse[-1] < 0.5 * mse[0]
    assert len(scalars(tmp_path / "run", "eval/psnr")) == 5
    generator = load_network(summary["generator"], kind="generator")
    assert generator.arch_config == {**TINY_HOURGLASS, "scale": 8}
    assert generator.checkpoint_meta["step"] == 25 and "eval/psnr" in generator.checkpoint_meta["eval"]


@pytest.fixture(scope="module")
def identity_checkpoint(sampler, tmp_path_factory) -> tuple[Path, dict]:
    """A tiny identity net over-fitted on one batch (shared by the sicnn and reward tests)."""
    out = tmp_path_factory.mktemp("identity")
    ctx = fixed_batch_context(sampler, "identity-net", out, {
        "network": {**TINY_CNNR, "margin": 1.5}, "steps": 20, "lr": 1e-2, "eval_every": 10}, batch=12)
    summary = get_recipe("identity-net").fn(ctx)
    return Path(summary["identity_net"]), summary


def test_identity_net_learns_and_stores_class_names(identity_checkpoint, sampler):
    path, summary = identity_checkpoint
    losses = scalars(path.parent, "losses/a_softmax")
    assert sum(losses[-5:]) < 0.7 * sum(losses[:5])
    assert {"eval/verification_acc", "eval/roc_auc", "eval/cos_same", "eval/cos_different"} <= set(summary)
    net = load_network(path, kind="aux")
    assert net.checkpoint_meta["class_names"] == sampler.class_names
    assert net.head.num_classes == sampler.num_identities and net.head.margin == 1.5
    assert int(net.head.iteration) == 20  # the annealing schedule is part of the checkpoint


def test_sicnn_runs_its_three_phases(sampler, tmp_path):
    ctx = fixed_batch_context(sampler, "sicnn", tmp_path / "run", {
        "generator": TINY_SICNN, "identity_net": TINY_CNNR, "steps": 9, "identity_pretrain_steps": 3,
        "sr_pretrain_steps": 3, "batch_size": 4, "identity_batch_size": 4, "eval_every": 3, "lr": 3e-3},
        tone_shift=True)
    summary = get_recipe("sicnn").fn(ctx)
    assert summary["step"] == 9
    l_sr = scalars(tmp_path / "run", "losses/l_sr")
    assert l_sr[-1] < 0.8 * l_sr[0]
    assert {"eval/psnr", "eval/psnr_bicubic", "eval/identity_cosine", "eval/identity_cosine_bicubic"} <= set(summary)
    run = tmp_path / "run"
    assert len(scalars(run, "losses/l_fr")) == 6  # phase 1 and phase 3 update CNN_R
    assert len(scalars(run, "losses/l_si")) == 3  # only phase 3 uses the super-identity loss
    assert len(scalars(run, "losses/l_sr")) == 6
    generator = load_network(summary["generator"], kind="generator")
    assert generator.arch_config["type"] == "SICNNGenerator"
    identity = load_network(summary["identity_net"], kind="aux")
    assert identity.checkpoint_meta["class_names"] == sampler.class_names


def test_sicnn_from_an_identity_checkpoint_skips_pretraining(sampler, identity_checkpoint, tmp_path):
    path, _ = identity_checkpoint
    ctx = fixed_batch_context(sampler, "sicnn", tmp_path / "run", {
        "generator": TINY_SICNN, "identity_checkpoint": str(path), "steps": 4, "sr_pretrain_steps": 2,
        "batch_size": 4, "eval_every": 100})
    summary = get_recipe("sicnn").fn(ctx)
    assert len(scalars(tmp_path / "run", "losses/l_fr")) == 2  # domain-integrated steps only
    fine_tuned = load_network(summary["identity_net"], kind="aux")
    assert fine_tuned.arch_config == load_network(path).arch_config
    ctx.extras["class_names"] = ["somebody else"] * sampler.num_identities
    with pytest.raises(ValueError, match="none of the"):
        get_recipe("sicnn").fn(ctx)


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def adam_steps(checkpoint: dict) -> set[float]:
    return {float(state["step"]) for state in checkpoint["optimizers"]["generator"]["state"].values()}


def test_resume_after_sigterm_continues_steps_and_optimizer(tmp_path):
    config = write_config(tmp_path / "tiny.yaml", {
        "data": SMALL_DATA, "generator": TINY_HOURGLASS, "batch_size": 2, "val_size": 8, "checkpoint_every": 2,
        "log_every": 1, "eval_every": 1000})
    out = tmp_path / "run"
    command = [sys.executable, "-m", "fh_gym.agents.cli.main", "train-generator", "ipfh-coarse",
               "--config", str(config), "--steps", "100000", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(command, env=ONE_THREAD_ENV, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not (out / "last.pt").exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=120)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, output  # SIGTERM (128 + 15): checkpoint written, exit code says so
    assert "rerun to resume" in output
    first = safe_load(out / "last.pt")
    stopped = first["step"]
    assert 1 <= stopped < 100000  # the first checkpoint comes after step 1
    assert adam_steps(first) == {float(stopped)}

    assert main(["train-generator", "ipfh-coarse", "--config", str(config), "--steps", str(stopped + 3),
                 "--out", str(out), "--quiet"]) == 0
    second = safe_load(out / "last.pt")
    assert second["step"] == stopped + 3
    assert adam_steps(second) == {float(stopped + 3)}  # the optimizer state was restored, not reset
    assert second["extra"]["schedulers"]["generator"]["last_epoch"] == stopped + 3
    assert load_network(out / "generator.pt").checkpoint_meta["step"] == stopped + 3


def test_torchrun_two_ranks_gloo(tmp_path):
    runner = [shutil.which("torchrun")] if shutil.which("torchrun") else [sys.executable, "-m", "torch.distributed.run"]
    config = write_config(tmp_path / "tiny.yaml", {
        "generator": TINY_HOURGLASS, "batch_size": 2, "val_size": 8, "log_every": 1, "eval_every": 1000})
    out, logs = tmp_path / "run", tmp_path / "logs"
    command = [*runner, "--standalone", "--nproc_per_node=2", "--log-dir", str(logs), "--tee", "3",
               "-m", "fh_gym.agents.cli.main", "train-generator", "ipfh-coarse", "--data", "synthetic", "--steps", "4",
               "--config", str(config), "--out", str(out), "--quiet"]
    result = subprocess.run(command, env=ONE_THREAD_ENV, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rank_logs = sorted(logs.rglob("stdout.log"))
    assert [p.parent.name for p in rank_logs] == ["0", "1"], rank_logs  # both workers ran (and exited 0)
    assert "step: 4" in rank_logs[0].read_text() and rank_logs[1].read_text() == ""  # only rank 0 reports
    checkpoint = safe_load(out / "last.pt")
    assert checkpoint["step"] == 4
    assert adam_steps(checkpoint) == {4.0}
    generator = load_network(out / "generator.pt", kind="generator")
    assert all(not k.startswith("module.") for k in generator.state_dict())  # unwrapped weights


def test_batchnorm_recalibration_replaces_stale_statistics():
    from fh_gym.restorers.training.identity_training import recalibrate_batchnorm

    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).eval()
    net[1].running_mean.fill_(100.0)
    batches = [torch.randn(8, 3) for _ in range(3)]
    recalibrate_batchnorm(net, batches)
    with torch.no_grad():
        features = net[0](torch.cat(batches))
    torch.testing.assert_close(net[1].running_mean, features.mean(dim=0), atol=1e-5, rtol=1e-5)
    assert not net.training and net[1].momentum == 0.1
