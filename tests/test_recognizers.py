"""The recogniser interface on dlib's ResNet descriptor and on a torch identity net (fh_gym.identity)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch

from fh_gym.data import build_dataset
from fh_gym.identity import DlibRecognizer, NetRecognizer, build_recognizer, identity_distance
from fh_gym.restorers.build import build_network
from fh_gym.restorers.config import ConfigError

HAS_DLIB = importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models")
needs_dlib = pytest.mark.skipif(not HAS_DLIB, reason='dlib not installed: pip install "fh-gym[identity]"')


@pytest.fixture(scope="module")
def three_faces(lfw_dir):
    """Two images of one person and one image of another (LFW test people)."""
    data = build_dataset({"type": "lfw", "split": "test"})
    people, counts = np.unique(data.identities, return_counts=True)
    person = people[counts >= 2][0]
    same = np.flatnonzero(data.identities == person)[:2]
    other = np.flatnonzero(data.identities != person)[0]
    return data.hr_float(np.array([same[0], same[1], other]))


def check_interface(recognizer, faces):
    emb = recognizer.embed(faces)
    assert emb.shape[0] == 3 and emb.ndim == 2
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    again = recognizer.embed(faces[:1])
    assert float(identity_distance(again, emb[:1])[0]) == pytest.approx(0.0, abs=1e-5)
    flipped = recognizer.embed(faces[:1].flip(-1))
    assert float(identity_distance(flipped, emb[:1])[0]) < float(identity_distance(emb[2:3], emb[:1])[0])


@needs_dlib
def test_dlib_recognizer_interface(three_faces):
    judge = DlibRecognizer()
    check_interface(judge, three_faces)
    emb = judge.embed(three_faces)
    same, other = identity_distance(emb[0:1], emb[1:2]), identity_distance(emb[0:1], emb[2:3])
    assert float(same) < judge.threshold < float(other)  # dlib tells these two people apart at its threshold
    assert not judge.differentiable


def test_net_recognizer_interface_and_gradients(three_faces):
    net = build_network({"type": "CNNR", "width": 4, "feature_dim": 32}, kind="aux", init_seed=0)
    judge = NetRecognizer(net)
    emb = judge.embed(three_faces)
    assert emb.shape == (3, 32)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    faces = three_faces.clone().requires_grad_(True)
    identity_distance(judge.embed(faces[:1]), judge.embed(faces[1:2])).sum().backward()
    assert faces.grad is not None and float(faces.grad.abs().sum()) > 0


def test_input_validation():
    judge = NetRecognizer(build_network({"type": "CNNR", "width": 4, "feature_dim": 8}, kind="aux", init_seed=0))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        judge.embed(torch.zeros(3, 128, 128))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        judge.embed(torch.full((1, 3, 128, 128), 255.0))


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib -> ImportError
    with pytest.raises(ConfigError, match=r'pip install "fh-gym\[identity\]"'):
        DlibRecognizer()
    with pytest.raises(ConfigError, match="must be dlib, an identity-network checkpoint file or shipped weights"):
        build_recognizer("no_such_file.pt")


DATA = ["--data", "synthetic", "--set", "data.identities=24", "--set", "data.images_per_identity=3"]


def _identity_columns(tmp_path, recognizer: str) -> dict[str, dict[str, str]]:
    import csv

    from fh_gym.agents.cli.main import main

    out = tmp_path / "cmp"
    assert main(["compare", *DATA, "--strategies", "even", "--faces", "4", "--set", "horizon=2",
                 "--recognizer", recognizer, "--out", str(out)]) == 0
    with open(out / "compare.csv") as f:
        return {row["strategy"]: row for row in csv.DictReader(f)}


def test_compare_recognizer_columns_with_an_identity_net(tmp_path):
    from fh_gym.restorers.checkpoint import save_network

    net = build_network({"type": "CNNR", "width": 4, "feature_dim": 16}, "aux", init_seed=0)
    path = save_network(net, tmp_path / "id.pt", {"threshold": 2.0})  # every distance is under 2: rate 1
    rows = _identity_columns(tmp_path, str(path))
    for name in ("bicubic", "even"):  # the baseline row is judged too
        assert 0.0 <= float(rows[name]["id_distance_mean"]) <= 2.0
        assert float(rows[name]["id_same_mean"]) == 1.0


@needs_dlib
def test_compare_recognizer_columns_with_dlib(tmp_path):
    rows = _identity_columns(tmp_path, "dlib")
    assert 0.0 < float(rows["bicubic"]["id_distance_mean"]) < 1.0
    assert 0.0 <= float(rows["even"]["id_same_mean"]) <= 1.0


def test_compare_refuses_an_unknown_recognizer(tmp_path, capsys):
    from fh_gym.agents.cli.main import main

    assert main(["compare", *DATA, "--strategies", "even", "--faces", "2", "--recognizer", "nope.pt",
                 "--out", str(tmp_path / "x")]) == 2
    assert ("--recognizer must be dlib, an identity-network checkpoint file or shipped weights TYPE:NAME "
            "(e.g. CNNR:lfw_dlib); nope.pt not found") in capsys.readouterr().err
    assert main(["compare", *DATA, "--strategies", "even", "--faces", "2", "--recognizer", "CNNR:nope",
                 "--out", str(tmp_path / "y")]) == 2
    available = "default, none, syn, lfw, lfw_dlib, lfw_dlib_aug"
    assert f"unknown weights 'nope' for CNNR; available: {available}" in capsys.readouterr().err


def test_the_shipped_distilled_recogniser_by_name(tmp_path, three_faces):
    judge = build_recognizer("CNNR:lfw_dlib")
    assert judge.name == "CNNR:lfw_dlib" and judge.threshold == pytest.approx(1.1602, abs=1e-3)
    embedded = judge.embed(three_faces)
    assert embedded.shape == (3, 128)
    torch.testing.assert_close(embedded.norm(dim=1), torch.ones(3))
    rows = _identity_columns(tmp_path, "CNNR:lfw_dlib")
    assert 0.0 < float(rows["bicubic"]["id_distance_mean"]) < 2.0
    # flip averaging has its own threshold in the shipped files, calibrated on the validation people
    assert build_recognizer("CNNR:lfw_dlib+flip").threshold == pytest.approx(1.1674, abs=1e-3)
    augmented = build_recognizer("CNNR:lfw_dlib_aug+flip")
    assert augmented.name == "CNNR:lfw_dlib_aug+flip" and augmented.threshold == pytest.approx(1.1438, abs=1e-3)
    assert build_recognizer("CNNR:lfw_dlib_aug").threshold == pytest.approx(1.1358, abs=1e-3)
    torch.testing.assert_close(augmented.embed(three_faces.flip(-1)), augmented.embed(three_faces), atol=1e-4, rtol=0)


@needs_dlib
def test_verify_with_dlib_keeps_every_pair_and_verifies_hr(lfw_dir, capsys):
    from fh_gym.agents.cli.main import main

    assert main(["verify", "--recognizer", "dlib", "--max-pairs", "40"]) == 0
    printed = capsys.readouterr().out
    assert "| HR | 40 (20) |" in printed and "| bicubic x8 | 40 (20) |" in printed
    hr_accuracy = float(printed.split("| HR | 40 (20) | ")[1].split("%")[0])
    assert hr_accuracy >= 90.0  # dlib on HR LFW faces (99.38% reported by its authors)


@needs_dlib
def test_verify_judges_with_several_recognizers_on_the_same_pairs(lfw_dir, capsys):
    """dlib beside a trained identity net: both on the pairs of people the net never saw."""
    from fh_gym.agents.cli.main import main
    from fh_gym.restorers.weights import verified_path

    net = verified_path("CNNR", "lfw")
    assert main(["verify", "--recognizer", "dlib", "--recognizer", str(net), "--max-pairs", "40"]) == 0
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| HR, judged by")]
    assert [r.split(" | ")[0] for r in rows] == ["| HR, judged by dlib", f"| HR, judged by {net}"]
    assert len({r.split(" | ")[1] for r in rows}) == 1  # the same pairs (count and same-person count)
    assert "with a person the identity net was trained on" in printed


def test_verify_paired_sets_every_judge_against_the_first_on_the_same_faces(lfw_dir, capsys):
    from fh_gym.agents.cli.main import main

    judges = ["CNNR:lfw_dlib", "CNNR:lfw_dlib+flip", "CNNR:lfw_dlib_aug"]
    assert main(["verify", *[f"--recognizer={j}" for j in judges], "--max-pairs", "20", "--paired"]) == 0
    paired = capsys.readouterr().out.split("Paired differences")[1]
    rows = [line.split(" | ")[:2] for line in paired.splitlines() if line.startswith("| ") and "judged by" in line]
    assert rows == [[f"| {source}, judged by {judge}", f"{source}, judged by {judges[0]}"]
                    for source in ("HR", "bicubic x8") for judge in judges[1:]]
    assert main(["verify", "--recognizer", judges[0], "--max-pairs", "20", "--paired"]) == 0
    assert "--paired: nothing to compare" in capsys.readouterr().out


def test_verify_adds_rows_of_faces_repaired_in_an_env(lfw_dir, capsys, tmp_path):
    """The env's repair (front-end, restorer, T) on the pairs' LR faces is judged beside HR and bicubic."""
    from fh_gym.agents.cli.main import main
    from fh_gym.restorers.weights import verified_path

    net = str(verified_path("CNNR", "lfw"))
    assert main(["verify", "--recognizer", net, "--repair", "even", "--repair", "centre_out",
                 "--env", "fh_gym/FaceRepair-Dense-x8-T4-v0", "--max-pairs", "20"]) == 0
    rows = [line.split(" | ")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["| HR", "| bicubic x8", "| even repair (fh_gym/FaceRepair-Dense-x8-T4-v0)",
                        "| centre_out repair (fh_gym/FaceRepair-Dense-x8-T4-v0)"]
    first = verified_path("AttentionFHEnhancer", "lfw_x8")
    second = tmp_path / "copy.pt"
    second.write_bytes(first.read_bytes())
    assert main(["verify", "--recognizer", net, "--repair", "even", "--restorer", str(first), "--restorer",
                 str(second), "--env", "fh_gym/FaceRepair-Dense-x8-T4-v0", "--max-pairs", "20"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| even repair")]
    env = "fh_gym/FaceRepair-Dense-x8-T4-v0"
    # rows named by the paths' shortest distinct tails (the file names here)
    names = [line.split(" | ")[0] for line in lines]
    assert names == [f"| even repair ({env}, {path.name})" for path in (first, second)]
    assert lines[0].split(" | ")[1:] == lines[1].split(" | ")[1:]  # the same weights: the same faces and figures
    assert main(["verify", "--recognizer", net, "--repair", "greedy", "--max-pairs", "4"]) == 2
    assert "needs the ground truth" in capsys.readouterr().err


def test_flip_averaged_recognizer_is_mirror_invariant_with_its_own_threshold(tmp_path, three_faces):
    from fh_gym.restorers.checkpoint import save_network

    net = build_network({"type": "CNNR", "width": 4, "feature_dim": 16}, "aux", init_seed=0)
    path = save_network(net, tmp_path / "id.pt", {"threshold": 1.0, "threshold_flip": 0.8})
    judge = build_recognizer(f"{path}+flip")
    assert judge.flip and judge.threshold == pytest.approx(0.8) and judge.name == "CNNR+flip"
    assert build_recognizer(path).threshold == pytest.approx(1.0)
    emb = judge.embed(three_faces)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    # a face and its mirror image get one embedding; the plain net tells them apart
    torch.testing.assert_close(judge.embed(three_faces.flip(-1)), emb, atol=1e-5, rtol=0)
    plain = NetRecognizer(judge.net)
    assert float(identity_distance(plain.embed(three_faces[:1]), plain.embed(three_faces[:1].flip(-1)))) > 1e-4
    faces = three_faces.clone().requires_grad_(True)
    judge.embed(faces[:1]).sum().backward()
    assert float(faces.grad.abs().sum()) > 0
    old = NetRecognizer(build_network({"type": "CNNR", "width": 4, "feature_dim": 16}, "aux", init_seed=1), flip=True)
    assert old.embed(three_faces).shape == (3, 16)  # a net without threshold_flip embeds, but has no threshold
    with pytest.raises(ConfigError, match="no stored flip-averaged threshold \\(threshold_flip"):
        _ = old.threshold
    with pytest.raises(ConfigError, match="flip averaging is for identity networks, not dlib"):
        build_recognizer("dlib+flip")
