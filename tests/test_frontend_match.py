"""A restorer records the front-end whose start images it was trained on; an env with another front-end warns."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest

from fh_gym.agents.cli.main import main
from fh_gym.engine.networks import frontend_signature, trained_frontend
from fh_gym.restorers.build import build_network
from fh_gym.restorers.checkpoint import load_network, save_network

SMALL = {"type": "synthetic", "split": "test", "max_images": 4}


def _restorer_file(tmp_path, frontend: str | None):
    restorer = build_network({"type": "FSRCNN"}, "patch", scale=8, init_seed=0)
    return save_network(restorer, tmp_path / "restorer.pt", None if frontend is None else {"frontend": frontend})


def _make(restorer_path, frontend: dict):
    return gym.make("fh_gym/FaceRepair-Dense-x8-v0", config={
        "data": SMALL, "frontend": frontend, "restorer": {"type": "FSRCNN", "checkpoint": str(restorer_path)}})


def test_signatures_name_the_front_end_and_its_weights(tmp_path):
    assert frontend_signature(build_network({"type": "Bicubic"}, "generator", scale=8)) == "Bicubic"
    untrained = build_network({"type": "SRGANGenerator", "weights": "none"}, "generator", scale=8, init_seed=0)
    assert frontend_signature(untrained) == "SRGANGenerator untrained"
    path = save_network(untrained, tmp_path / "g.pt")
    mine = build_network({"type": "SRGANGenerator", "checkpoint": str(path)}, "generator", scale=8)
    assert frontend_signature(mine).startswith("SRGANGenerator checkpoint:") and len(frontend_signature(mine)) == 38


def test_a_matched_pair_is_quiet_and_a_mismatch_warns(tmp_path):
    path = _restorer_file(tmp_path, "Bicubic")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _make(path, {"type": "Bicubic"})
    with pytest.warns(UserWarning, match=r"trained on start images of Bicubic, but the env's front-end is "
                                         r"SRGANGenerator untrained"):
        _make(path, {"type": "SRGANGenerator", "weights": "none"})


def test_a_restorer_without_a_record_is_not_judged(tmp_path):
    path = _restorer_file(tmp_path, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        env = _make(path, {"type": "Bicubic"})
    assert trained_frontend(env.unwrapped.engine.restorer) is None


def test_shipped_restorers_record_bicubic_starts():
    env = gym.make("fh_gym/FaceRepair-Dense-x8-v0", config={"data": SMALL})
    assert trained_frontend(env.unwrapped.engine.restorer) == "Bicubic"


def test_pretrain_restorer_records_the_env_front_end(tmp_path):
    out = tmp_path / "restorer"
    assert main(["pretrain-restorer", "--data", "synthetic", "--set", "data.identities=24", "--arch", "FSRCNN",
                 "--batch-size", "4", "--eval-every", "1000", "--steps", "2", "--set", "horizon=2", "--quiet",
                 "--out", str(out)]) == 0
    assert load_network(out / "restorer.pt", kind="patch").checkpoint_meta["frontend"] == "Bicubic"


def test_compare_reports_the_gain_over_the_front_end(tmp_path):
    import csv

    out = tmp_path / "cmp"
    assert main(["compare", "--env", "fh_gym/FaceRepair-CSRIP-Pipeline-v0", "--data", "synthetic", "--set",
                 "data.identities=24", "--strategies", "even", "--faces", "4", "--set", "horizon=2",
                 "--out", str(out)]) == 0
    with open(out / "compare.csv") as f:
        rows = {row["strategy"]: row for row in csv.DictReader(f)}
    start, even = rows["start (front-end)"], rows["even"]
    assert float(start["gain_mean"]) > 0.5  # the shipped C-SRIP beats bicubic
    assert float(even["gain_start_mean"]) == pytest.approx(float(even["psnr_mean"]) - float(start["psnr_mean"]),
                                                           abs=1e-6)
    assert start["gain_start_mean"] == "" and rows["bicubic"]["gain_start_mean"] == ""


def test_joint_fine_tuning_records_the_env_front_end(tmp_path):
    """A restorer fine-tuned during RL learned on the env's own start images: its checkpoint says which."""
    from fh_gym.agents.finetune import RestorerFineTuner

    env = gym.make("fh_gym/FaceRepair-CSRIP-Pipeline-v0", config={"data": SMALL})
    tuner = RestorerFineTuner(env.unwrapped.engine)
    saved = load_network(tuner.save_restorer(tmp_path / "restorer.pt"), kind="patch")
    assert trained_frontend(saved) == "CSRIPGenerator weights:syn_x8"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        gym.make("fh_gym/FaceRepair-CSRIP-Pipeline-v0",
                 config={"data": SMALL, "restorer": {"type": "AttentionFHEnhancer", "checkpoint":
                                                     str(tmp_path / "restorer.pt")}})
