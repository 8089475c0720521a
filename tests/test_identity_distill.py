"""The identity-distill recipe: teacher targets cached per view, the distillation loss, the student's checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fh_gym.agents.recipes import run_recipe
from fh_gym.identity import NetRecognizer, Recognizer
from fh_gym.restorers import load_network
from fh_gym.restorers.build import build_network
from fh_gym.restorers.checkpoint import safe_load, save_network
from fh_gym.restorers.config import ConfigError, load_yaml
from fh_gym.restorers.training.face_jitter import jitter_parameters, warp_faces
from fh_gym.restorers.training.recipes import recipe_config
from fh_gym.restorers.training.recipes.identity_distill import distillation_loss
from fh_gym.samplers.teacher_pairs import TEACHER_CACHE, TeacherPairSampler

DATA = {"type": "synthetic", "identities": 8, "images_per_identity": 3}
TINY_CNNR = {"type": "CNNR", "width": 2, "feature_dim": 16, "blocks": [1, 1, 1, 1]}


class ColourTeacher(Recognizer):
    """A deterministic stand-in teacher that counts its calls: the unit vector of per-quadrant mean colours."""

    name = "colour"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += len(images)
        quads = F.adaptive_avg_pool2d(images, 2).flatten(1) - 0.5
        return F.normalize(quads, dim=1)


def _sampler(teacher, cache=None, views=("hr", "flip", "bicubic")) -> TeacherPairSampler:
    return TeacherPairSampler(teacher, views, cache=cache, data={**DATA, "split": "train"},
                              degradation={"scale": 8, "noise_sigma": [0, 5]}, seed=0)


def test_distillation_loss_values():
    t = F.normalize(torch.randn(4, 8), dim=1)
    same = distillation_loss(3 * t, t, 1.0)
    assert float(same["cosine"]) == pytest.approx(0.0, abs=1e-6)
    assert float(same["relation"]) == pytest.approx(0.0, abs=1e-6)
    eye = torch.eye(4)
    orthogonal = distillation_loss(eye, torch.roll(eye, 1, 1), 2.0)
    assert float(orthogonal["cosine"]) == pytest.approx(1.0)
    assert float(orthogonal["relation"]) == pytest.approx(0.0)  # both batches are orthonormal
    s, u = torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = distillation_loss(s, u, 0.5)
    assert float(loss["cosine"]) == pytest.approx(0.5) and float(loss["relation"]) == pytest.approx(1.0)
    assert float(loss["total"]) == pytest.approx(1.0)


def test_every_batch_image_carries_the_teachers_embedding_of_that_very_image(tmp_path):
    teacher = ColourTeacher()
    sampler = _sampler(teacher, tmp_path / TEACHER_CACHE)
    n = len(sampler.dataset)
    assert teacher.calls == 3 * n and sampler.targets.shape == (n, 3, 12)
    batch = sampler(32)
    torch.testing.assert_close(batch.teacher, ColourTeacher().embed(batch.hr), atol=1e-6, rtol=0)
    # the three views differ (the noise of the bicubic view is seeded per face, so it is reproducible)
    for view in ("flip", "bicubic"):
        assert not torch.allclose(sampler.view_images(np.arange(4), view), sampler.view_images(np.arange(4), "hr"))
    four = np.arange(4)
    torch.testing.assert_close(sampler.view_images(four, "bicubic"), sampler.view_images(four, "bicubic"))


def test_the_cache_is_reused_and_refuses_another_teacher(tmp_path):
    cache = tmp_path / TEACHER_CACHE
    first = _sampler(ColourTeacher(), cache)
    again_teacher = ColourTeacher()
    again = _sampler(again_teacher, cache)
    assert again_teacher.calls == 0 and torch.equal(again.targets, first.targets)
    other = ColourTeacher()
    other.name = "other"
    with pytest.raises(ValueError, match="another teacher or face list"):
        _sampler(other, cache)


def test_a_new_view_labels_only_that_view_and_a_v1_cache_is_read(tmp_path):
    cache = tmp_path / TEACHER_CACHE
    first = _sampler(ColourTeacher(), cache, views=("hr", "bicubic"))
    n = len(first.dataset)
    more_teacher = ColourTeacher()
    more = _sampler(more_teacher, cache, views=("bicubic", "jitter", "hr"))
    assert more_teacher.calls == n  # only the jitter view was labelled
    assert torch.equal(more.targets[:, 0], first.targets[:, 1]) and torch.equal(more.targets[:, 2], first.targets[:, 0])
    batch = more(24)
    torch.testing.assert_close(batch.teacher, ColourTeacher().embed(batch.hr), atol=1e-6, rtol=0)
    # the first format: one (N, V, D) tensor of a view list
    old = safe_load(cache)
    v1 = {"format": "fh-gym/teacher-targets-v1", "teacher": old["teacher"], "names": old["names"],
          "views": ["hr", "bicubic"], "targets": torch.stack([old["views"]["hr"], old["views"]["bicubic"]], 1)}
    torch.save(v1, cache)
    read_teacher = ColourTeacher()
    read = _sampler(read_teacher, cache, views=("hr", "bicubic"))
    assert read_teacher.calls == 0 and torch.equal(read.targets, first.targets)


def test_the_jitter_view_is_reproducible_and_moves_the_face():
    sampler = _sampler(ColourTeacher(), views=("jitter",))
    four = np.arange(4)
    jitter = sampler.view_images(four, "jitter")
    torch.testing.assert_close(jitter, sampler.view_images(four, "jitter"))
    hr = sampler.view_images(four, "hr")
    assert jitter.shape == hr.shape and float(jitter.min()) >= 0.0 and float(jitter.max()) <= 1.0
    moved = (jitter - hr).abs().mean(dim=(1, 2, 3))
    assert bool((moved > 0.01).all())  # every face is transformed ...
    assert len({round(float(m), 4) for m in moved}) == 4  # ... each its own way (seeded by its index)
    torch.testing.assert_close(sampler.view_images(four[1:2], "jitter"), jitter[1:2])  # ... not by its batch


def test_further_jitter_views_are_other_draws_of_the_same_change():
    sampler = _sampler(ColourTeacher(), views=("jitter", "jitter2", "jitter3"))
    four = np.arange(4)
    draws = [sampler.view_images(four, view) for view in ("jitter", "jitter2", "jitter3")]
    torch.testing.assert_close(draws[1], sampler.view_images(four, "jitter2"))
    hr = sampler.view_images(four, "hr")
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert bool(((draws[a] - draws[b]).abs().mean(dim=(1, 2, 3)) > 0.005).all())
    # the same ranges: each draw stays within what one jitter draw moves a face
    for draw in draws:
        assert float((draw - hr).abs().mean()) < 0.2
    assert sampler.targets.shape[:2] == (len(sampler.dataset), 3)


def test_bad_views_are_a_clear_error():
    allowed = "hr, flip, bicubic, jitter, jitter2, jitter3"
    with pytest.raises(ValueError, match=f"teacher views must be some of {allowed}, got"):
        _sampler(ColourTeacher(), views=("hr", "rotate"))
    with pytest.raises(Exception, match="views"):
        recipe_config("identity-distill", {"views": ["sideways"]})


def test_the_recipe_writes_a_student_with_its_teacher_threshold_and_people(tmp_path):
    teacher_net = build_network(TINY_CNNR, kind="aux", init_seed=0)
    teacher_path = save_network(teacher_net.eval(), tmp_path / "teacher.pt")
    config = recipe_config("identity-distill", {
        "data": {**DATA, "identities": 80}, "network": TINY_CNNR, "teacher": str(teacher_path), "steps": 3,
        "batch_size": 8,
        "val_size": 24, "bn_batches": 1, "checkpoint_every": 1000, "log_every": 1})
    out = tmp_path / "run"
    summary = run_recipe("identity-distill", config, out, progress=False)
    assert summary["step"] == 3 and 0 < summary["threshold"] < 2 and 0 <= summary["threshold_flip"] < 2
    for key in ("eval/agreement", "eval/teacher_cos_same", "eval/flip_verification_acc"):
        assert key in summary
    student = load_network(summary["identity_net"], kind="aux")
    meta = student.checkpoint_meta
    assert meta["teacher"] == str(teacher_path) and meta["views"] == ["hr", "flip", "bicubic"]
    assert meta["threshold"] == pytest.approx(summary["threshold"]) and len(meta["class_names"]) > 0
    assert len(meta["teacher_mean"]) == 16  # centred targets (the default): the mean is recorded
    assert NetRecognizer(student).threshold == pytest.approx(summary["threshold"])
    assert NetRecognizer(student, flip=True).threshold == pytest.approx(meta["threshold_flip"])
    targets = safe_load(out / TEACHER_CACHE)
    assert targets["teacher"] == NetRecognizer(teacher_net).name
    assert sorted(targets["views"]) == ["bicubic", "flip", "hr"]
    assert all(t.shape[1:] == (16,) for t in targets["views"].values())
    assert math.isclose(float(targets["views"]["hr"][0].norm()), 1.0, rel_tol=1e-5)


def test_centring_removes_the_common_direction_of_the_targets():
    teacher = ColourTeacher()
    train, val = _sampler(teacher), _sampler(ColourTeacher(), views=("hr",))
    raw_val = val.targets.clone()
    mean = train.center(val)
    torch.testing.assert_close(train.target_mean, mean)
    torch.testing.assert_close(train.targets.norm(dim=-1), torch.ones(train.targets.shape[:2]), atol=1e-5, rtol=0)
    # the same mean moved the validation targets: they are the raw ones minus it, renormalised
    torch.testing.assert_close(val.targets, F.normalize(raw_val - mean, dim=-1))
    assert float(train.targets.mean(dim=(0, 1)).norm()) < 0.5 * float(mean.norm())  # the common part is gone
    batch = train(16)  # batches carry the centred targets
    assert torch.equal(batch.teacher.norm(dim=1).round(decimals=4), torch.ones(16))


def test_jitter_strength_scales_every_range_and_zero_leaves_the_face():
    faces = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    still = warp_faces(faces, [jitter_parameters(np.random.default_rng(k), 0.0) for k in range(2)])
    torch.testing.assert_close(still, faces, atol=1e-5, rtol=0)
    for strength in (0.5, 1.0):
        rng = np.random.default_rng(1)
        draws = [jitter_parameters(rng, strength) for _ in range(400)]
        theta = np.array([d[0] for d in draws])
        angles = np.degrees(np.arctan2(theta[:, 1, 0], theta[:, 0, 0]))
        scales = 1 / np.hypot(theta[:, 0, 0], theta[:, 1, 0])
        gains, offsets = np.array([d[1] for d in draws]), np.array([d[2] for d in draws])
        assert np.abs(angles).max() <= 10 * strength and np.abs(angles).max() > 9 * strength
        assert np.abs(scales - 1).max() <= 0.1 * strength + 1e-9 and np.abs(theta[:, :, 2]).max() <= 0.12 * strength
        assert np.abs(gains - 1).max() <= 0.15 * strength + 1e-12 and np.abs(offsets).max() <= 0.08 * strength


def test_online_augmentation_changes_the_training_and_is_checked(tmp_path):
    teacher = save_network(build_network(TINY_CNNR, kind="aux", init_seed=0).eval(), tmp_path / "teacher.pt")
    students = []
    for augment in (0.0, 0.5):
        config = recipe_config("identity-distill", {
            "data": {**DATA, "identities": 40}, "network": TINY_CNNR, "teacher": str(teacher), "steps": 2,
            "batch_size": 8, "val_size": 16, "bn_batches": 1, "checkpoint_every": 1000, "augment": augment})
        summary = run_recipe("identity-distill", config, tmp_path / f"run{augment}", progress=False)
        students.append(load_network(summary["identity_net"], kind="aux").state_dict())
    assert any(not torch.equal(a, b) for a, b in zip(students[0].values(), students[1].values(), strict=True))
    with pytest.raises(ConfigError, match="identity-distill.augment: 1.5 \\(expected a number >= 0 and <= 1\\)"):
        recipe_config("identity-distill", {"augment": 1.5})


@pytest.mark.parametrize("stage", ["identity_distill_lfw", "identity_distill_lfw_jitter", "identity_distill_lfw_aug"])
def test_the_shipped_students_recipe_stages_are_valid_configs(stage):
    path = Path(__file__).resolve().parents[1] / "envs_configs" / "recipes" / "weights" / f"{stage}.yaml"
    config = recipe_config("identity-distill", load_yaml(path))
    assert config["teacher"] == "dlib" and config["network"]["type"] == "CNNR"
    # each later stage starts from the previous stage's output folder
    previous = {"identity_distill_lfw_jitter": "CNNR-lfw_dlib/", "identity_distill_lfw_aug": "CNNR-lfw_dlib_jitter/"}
    if stage in previous:
        assert previous[stage] in config["network"]["checkpoint"] and "jitter" in config["views"]
    assert config["augment"] == (0.5 if stage.endswith("aug") else 0.0)
