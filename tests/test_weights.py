"""The shipped weights: every file loads with ``weights_only=True``, matches its sha256 and reproduces its check
figure; sizes within the limits; ``weights: default`` choices; registered ids repair on ``gym.make``."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import fh_gym
from fh_gym.agents.weights_card import check_value, model_cards, weights_table
from fh_gym.envs.config import make_config
from fh_gym.restorers.build import build_network
from fh_gym.restorers.checkpoint import NETWORK_FORMAT
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.registry import get_arch
from fh_gym.restorers.weights import find, names_for, resolve_default, shipped

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = [pytest.param(w, id=f"{w.network}-{w.name}") for w in shipped()]
SMALL = {"type": "synthetic", "split": "test", "max_images": 4}


def test_there_are_shipped_files_within_the_size_limits():
    assert len(shipped()) >= 3
    assert all(w.size_bytes <= 5_000_000 for w in shipped())
    # Each file <= 5 MB is the project's rule; the total keeps the wheel small (30 MB: 29 files, 29.7 MB today).
    assert sum(w.size_bytes for w in shipped()) <= 30_000_000
    files = {p.name for p in (ROOT / "restorers" / "weights").glob("*.pt")}
    assert files == {w.file for w in shipped()}  # no stray file, none missing


@pytest.mark.parametrize("weights", ENTRIES)
def test_file_loads_weights_only_with_its_hash_and_network(weights):
    assert hashlib.sha256(weights.path.read_bytes()).hexdigest() == weights.sha256
    payload = torch.load(weights.path, map_location="cpu", weights_only=True)
    assert payload["format"] == NETWORK_FORMAT and payload["arch"]["type"] == weights.network
    assert all(t.dtype == torch.float16 for t in payload["state_dict"].values() if t.is_floating_point())
    kind = get_arch(weights.network).kind
    net = build_network({"type": weights.network, "weights": weights.name}, kind, scale=weights.scale)
    assert net.weights_source == f"weights:{weights.name}"
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert set(net.state_dict()) == set(payload["state_dict"])


@pytest.mark.parametrize("weights", ENTRIES)
def test_file_reproduces_its_check_figure(weights, request):
    if weights.data == "lfw":
        request.getfixturevalue("lfw_dir")  # skips without the development data
    value = check_value(weights)
    assert value == pytest.approx(weights.check["value"], abs=weights.check.get("tolerance", 0.01))


def test_every_manifest_entry_is_complete():
    for w in shipped():
        assert w.command.startswith(("fh-gym ", "python ")) and w.output and w.budget, w.name
        assert w.description and w.figures and "metric" in w.check and "value" in w.check, w.name
        if w.command.startswith("fh-gym"):
            assert "--seed" in w.command and w.output.startswith("runs/weights/"), w.name


def test_default_prefers_the_data_kind_and_the_most_specific_match():
    synthetic = resolve_default("AttentionFHEnhancer", 8, {"data": "synthetic", "windows": "grid", "occluded": False})
    real = resolve_default("AttentionFHEnhancer", 8, {"data": "folder", "windows": "box", "occluded": False})
    assert (synthetic.name, synthetic.data) == ("syn_x8", "synthetic")
    assert (real.name, real.data) == ("lfw_x8", "lfw")
    assert resolve_default("AttentionFHEnhancer", 8, None).data == "lfw"  # no context: real faces
    assert resolve_default("AttentionFHEnhancer", 3, {"data": "synthetic"}) is None  # no file at that scale
    if "syn_occluded" in names_for("AttentionFHEnhancer"):
        occluded = resolve_default("AttentionFHEnhancer", 8, {"data": "synthetic", "windows": "grid",
                                                              "occluded": True})
        assert occluded.name == "syn_occluded"


def test_unknown_names_and_both_sources_are_refused():
    with pytest.raises(ConfigError, match=r"unknown weights 'lfw_x9' for AttentionFHEnhancer; available: default, "
                                          r"none, syn_x8"):
        build_network({"type": "AttentionFHEnhancer", "weights": "lfw_x9"}, "patch", scale=8)
    with pytest.raises(ConfigError, match="give either checkpoint"):
        build_network({"type": "AttentionFHEnhancer", "weights": "syn_x8", "checkpoint": "x.pt"}, "patch", scale=8)
    with pytest.raises(ConfigError, match="weights must be a name"):
        build_network({"type": "AttentionFHEnhancer", "weights": 3}, "patch", scale=8)


@pytest.mark.parametrize("env_id", fh_gym.ENV_IDS)
def test_registered_ids_repair_faces_on_make(env_id):
    """Every id builds its restorer from shipped weights without a warning and a repair changes the face."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        env = gym.make(env_id, config={"data": SMALL})
    source = env.unwrapped.engine.restorer.weights_source
    assert source is not None and source.startswith("weights:syn"), source
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)  # the same action every run
    stop = env.unwrapped.engine.action_type.stop_action
    mask = None
    if stop is not None:  # adaptive budgets: the stop action repairs nothing
        mask = np.ones(env.action_space.n, dtype=np.int8)
        mask[stop] = 0
    before = np.asarray(obs["image"], dtype=np.int64)
    after = np.asarray(env.step(env.action_space.sample(mask=mask))[0]["image"], dtype=np.int64)
    assert np.abs(after - before).sum() > 0


def test_real_faces_pick_the_lfw_file_and_the_block_overrides(lfw_dir):
    config = {"data": {"type": "lfw", "split": "test", "max_images": 4}}
    env = gym.make("fh_gym/FaceRepair-Dense-x8-v0", config=config)
    assert env.unwrapped.engine.restorer.weights_source == "weights:lfw_x8"
    env = gym.make("fh_gym/FaceRepair-Dense-x8-v0",
                   config={**config, "restorer": {"type": "AttentionFHEnhancer", "weights": "syn_x8"}})
    assert env.unwrapped.engine.restorer.weights_source == "weights:syn_x8"


def test_untrained_on_request_warns_once():
    config = {"data": SMALL, "restorer": {"type": "AttentionFHEnhancer", "weights": "none"}}
    with pytest.warns(UserWarning, match="untrained") as caught:
        env = gym.make("fh_gym/FaceRepair-Dense-x8-v0", config=config)
        env.reset(seed=0)
        env.step(0)
    assert sum("untrained" in str(w.message) for w in caught) == 1
    assert env.unwrapped.engine.restorer.weights_source is None


def test_make_config_keeps_the_weights_key():
    config = make_config({"restorer": {"type": "AttentionFHEnhancer", "weights": "lfw_x8"}}, "dense_x8")
    assert config["restorer"] == {"type": "AttentionFHEnhancer", "weights": "lfw_x8"}


def test_model_cards_and_table_are_current():
    page = (ROOT / "docs" / "weights.md").read_text()
    assert page == model_cards()
    assert all(f"`{w.name}`" in weights_table() for w in shipped())
    assert find("AttentionFHEnhancer", "syn_x8").file in page


def test_hallucinate_defaults_to_the_real_face_weights(tmp_path, capsys):
    import cv2

    from fh_gym.agents.cli.main import main
    from fh_gym.data import build_dataset
    from fh_gym.degradations import Degradation, upsample_bicubic

    hr = build_dataset(SMALL).hr_float(np.arange(2))
    lr = Degradation.from_config({"scale": 8})(hr, np.random.default_rng(0)).lr
    for i, face in enumerate(lr):
        pixels = (face.permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round().astype("uint8")
        cv2.imwrite(str(tmp_path / f"{i}.png"), pixels)
    assert main(["hallucinate", str(tmp_path / "0.png"), "--strategy", "even", "--out", str(tmp_path / "sr")]) == 0
    assert "repairing with AttentionFHEnhancer weights:lfw_x8" in capsys.readouterr().out
    sr = cv2.imread(str(tmp_path / "sr" / "0.png"))[:, :, ::-1].astype(np.int64)
    lr0 = torch.from_numpy(cv2.imread(str(tmp_path / "0.png"))[:, :, ::-1].copy()).permute(2, 0, 1)[None] / 255.0
    bicubic = (upsample_bicubic(lr0, 8).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.int64)
    assert np.abs(sr - bicubic).mean() > 0.5  # repaired, not bicubic


def test_hallucinate_beats_bicubic_on_lfw_test_faces(tmp_path, lfw_dir, capsys):
    import cv2

    from fh_gym.agents.cli.main import main
    from fh_gym.agents.evaluate import sample_faces
    from fh_gym.data import build_dataset
    from fh_gym.degradations import Degradation, upsample_bicubic
    from fh_gym.restorers.pixels import psnr_from_mse

    data = build_dataset({"type": "lfw", "split": "test"})
    hr = data.hr_float(sample_faces(data.identities, 8, seed=0))
    lr = (Degradation.from_config({"scale": 8})(hr, np.random.default_rng(0)).lr * 255).round() / 255
    (tmp_path / "lr").mkdir()
    for i, face in enumerate(lr):
        pixels = (face.permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round().astype("uint8")
        cv2.imwrite(str(tmp_path / "lr" / f"{i}.png"), pixels)
    assert main(["hallucinate", str(tmp_path / "lr"), "--strategy", "even", "--out", str(tmp_path / "sr")]) == 0
    sr = torch.stack([torch.from_numpy(cv2.imread(str(tmp_path / "sr" / f"{i}.png"))[:, :, ::-1].copy())
                      for i in range(len(lr))]).permute(0, 3, 1, 2) / 255.0
    bicubic = (upsample_bicubic(lr, 8).clamp(0, 1) * 255).round() / 255

    def psnr(x):
        return psnr_from_mse(((x - hr) ** 2).mean(dim=(1, 2, 3))).mean().item()

    assert psnr(sr) > psnr(bicubic) + 1.0  # the shipped lfw_x8 restorer: about +2.3 dB on even cells


def test_default_skips_files_of_another_architecture():
    custom = build_network({"type": "CNNR", "width": 4, "feature_dim": 8, "weights": "default"}, "aux", init_seed=0)
    assert custom.weights_source is None  # no shipped CNNR has these widths: untrained, not an error
    shipped_widths = build_network({"type": "CNNR", "width": 16, "weights": "default"}, "aux")
    assert shipped_widths.weights_source.startswith("weights:")
    with pytest.raises(Exception, match="does not match the requested"):
        build_network({"type": "CNNR", "width": 4, "weights": "syn"}, "aux")  # a named file must fit
