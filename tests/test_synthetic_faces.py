"""The procedural synthetic face dataset: determinism, landmarks, identities, texture and speed."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import torch

from fh_gym.data.synthetic import synthetic_faces
from fh_gym.data.synthetic_render import FaceRenderer
from fh_gym.data.synthetic_traits import ImageJitter, identity_rng, sample_identity
from fh_gym.restorers.config import ConfigError


@pytest.fixture(scope="module")
def faces():
    return synthetic_faces(identities=16, images_per_identity=4, image_size=128, seed=3)


def _renderer(identity: int, size: int = 128, seed: int = 0) -> FaceRenderer:
    rng = identity_rng(seed, identity)
    return FaceRenderer(sample_identity(rng), size, rng)


def test_shapes_names_and_dtypes(faces):
    assert faces.images.shape == (64, 3, 128, 128)
    assert faces.images.dtype == torch.uint8
    assert faces.landmarks.shape == (64, 5, 2) and faces.landmarks.dtype == np.float32
    assert faces.identities.dtype == np.int64
    np.testing.assert_array_equal(faces.identities, np.repeat(np.arange(16), 4))
    assert faces.identity_names[7] == "synthetic_0007"
    assert faces.names[7 * 4 + 3] == "synthetic_0007_0003"
    assert faces.num_identities == 16


def test_same_seed_same_bytes_different_seed_different_faces(faces):
    again = synthetic_faces(identities=16, images_per_identity=4, image_size=128, seed=3)
    assert torch.equal(again.images, faces.images)
    assert again.landmarks.tobytes() == faces.landmarks.tobytes()
    other = synthetic_faces(identities=16, images_per_identity=4, image_size=128, seed=4)
    difference = (other.images.float() - faces.images.float()).abs().mean().item()
    assert difference > 20.0


def test_a_person_does_not_depend_on_the_dataset_size(faces):
    small = synthetic_faces(identities=3, images_per_identity=2, image_size=128, seed=3)
    assert torch.equal(small.images[0:2], faces.images[0:2])
    assert torch.equal(small.images[4:6], faces.images[8:10])


def test_landmarks_inside_and_in_face_order(faces):
    lm = faces.landmarks
    assert lm.min() > 8 and lm.max() < 120
    left_eye, right_eye, nose, mouth_left, mouth_right = (lm[:, i] for i in range(5))
    assert (left_eye[:, 0] < right_eye[:, 0]).all()
    assert (mouth_left[:, 0] < mouth_right[:, 0]).all()
    eye_y = (left_eye[:, 1] + right_eye[:, 1]) / 2
    mouth_y = (mouth_left[:, 1] + mouth_right[:, 1]) / 2
    assert ((eye_y < nose[:, 1]) & (nose[:, 1] < mouth_y)).all()
    interocular = np.linalg.norm(right_eye - left_eye, axis=1)
    assert interocular.min() > 25 and interocular.max() < 60


def test_eye_landmarks_sit_on_the_dark_pupils(faces):
    luminance = faces.images.numpy().astype(np.float32).mean(axis=1)
    for i in range(len(faces)):
        lm = faces.landmarks[i]
        for eye in (0, 1):
            x, y = np.round(lm[eye]).astype(int)
            pupil = luminance[i, y - 1:y + 2, x - 1:x + 2].min()
            cheek_y = round(lm[eye, 1] + 0.4 * (lm[2, 1] - lm[eye, 1]))  # below the eye, above the nose tip
            cheek = np.median(luminance[i, cheek_y - 2:cheek_y + 3, x - 2:x + 3])
            assert cheek - pupil > 15, (i, eye, cheek, pupil)


@pytest.mark.parametrize("identity", [0, 5])
def test_landmarks_follow_a_known_rotation_exactly(identity):
    renderer = _renderer(identity)
    upright, lm0 = renderer.render(ImageJitter())
    rotated, lm1 = renderer.render(ImageJitter(rotation=9.0, shift=(2.0, -1.5), scale=1.05))
    eyes0, eyes1 = lm0[1] - lm0[0], lm1[1] - lm1[0]
    turn = np.degrees(np.arctan2(eyes1[1], eyes1[0]) - np.arctan2(eyes0[1], eyes0[0]))
    assert turn == pytest.approx(-9.0, abs=1e-3)  # counter-clockwise on screen, y pointing down
    assert np.linalg.norm(lm1[3] - lm1[4]) / np.linalg.norm(lm0[3] - lm0[4]) == pytest.approx(1.05, abs=1e-4)
    # The picture moved with its landmarks: warping the upright face by the landmark similarity matches.
    matrix, _ = cv2.estimateAffinePartial2D(lm0, lm1)
    assert np.abs(np.c_[lm0, np.ones(5)] @ matrix.T - lm1).max() < 1e-3
    aligned = cv2.warpAffine(upright, matrix, (128, 128), flags=cv2.INTER_LINEAR)
    (x0, y0), (x1, y1) = lm1.min(0).astype(int) - 4, lm1.max(0).astype(int) + 4
    face = (slice(y0, y1), slice(x0, x1))
    aligned_error = np.abs(aligned[face].astype(float) - rotated[face]).mean()
    upright_error = np.abs(upright[face].astype(float) - rotated[face]).mean()
    assert aligned_error < 5.0
    assert aligned_error < 0.4 * upright_error


def test_yaw_shifts_the_nose_more_than_the_eyes():
    renderer = _renderer(2)
    _, front = renderer.render(ImageJitter())
    _, turned = renderer.render(ImageJitter(yaw=1.0))
    eye_shift = (turned[:2, 0] - front[:2, 0]).mean()
    nose_shift = turned[2, 0] - front[2, 0]
    assert 0.5 < eye_shift < nose_shift


def test_expression_moves_the_mouth_corners():
    renderer = _renderer(1)
    _, neutral = renderer.render(ImageJitter())
    _, smiling = renderer.render(ImageJitter(smile=1.0))
    assert (smiling[3:, 1] < neutral[3:, 1] - 1.0).all()  # corners go up
    assert smiling[4, 0] - smiling[3, 0] > neutral[4, 0] - neutral[3, 0]  # and apart
    np.testing.assert_allclose(smiling[:3], neutral[:3])


def test_images_of_a_person_are_closer_than_images_of_others(faces):
    flat = faces.images.numpy().reshape(len(faces), -1).astype(np.float32)
    distance = np.abs(flat[:, None] - flat[None]).mean(-1)
    same = faces.identities[:, None] == faces.identities[None]
    off_diagonal = ~np.eye(len(faces), dtype=bool)
    assert distance[same & off_diagonal].mean() < 0.6 * distance[~same].mean()
    # Even at 16x16 (an x8 LR face) the nearest other image is nearly always the same person.
    small = np.stack([cv2.resize(im.transpose(1, 2, 0), (16, 16), interpolation=cv2.INTER_AREA)
                      for im in faces.images.numpy()]).reshape(len(faces), -1).astype(np.float32)
    d16 = ((small[:, None] - small[None]) ** 2).sum(-1)
    np.fill_diagonal(d16, np.inf)
    assert (faces.identities[d16.argmin(1)] == faces.identities).mean() >= 0.9


def test_images_have_fine_texture(faces):
    images = faces.images.numpy().transpose(0, 2, 3, 1).astype(np.float32)
    blurred = np.stack([cv2.GaussianBlur(im, (0, 0), 1.0) for im in images])
    detail = np.abs(images - blurred).mean()
    assert detail > 2.5  # pores, strands, lashes: real content for x8 super-resolution to restore


def test_other_image_sizes_scale_the_landmarks():
    small = synthetic_faces(identities=2, images_per_identity=2, image_size=64, seed=1)
    large = synthetic_faces(identities=2, images_per_identity=2, image_size=128, seed=1)
    assert small.images.shape == (4, 3, 64, 64)
    # Same design, half the pixels: (x + 0.5) scales by 1/2 (pixel centres at integers).
    np.testing.assert_allclose(small.landmarks + 0.5, (large.landmarks + 0.5) / 2, atol=1e-3)


def test_generation_speed():
    synthetic_faces(identities=1, images_per_identity=1)  # warm up imports
    start = time.perf_counter()
    synthetic_faces(identities=12, images_per_identity=8, image_size=128, seed=9)
    rate = 96 / (time.perf_counter() - start)
    assert rate > 60, f"{rate:.0f} images/s (about 400/s expected on one core)"


@pytest.mark.parametrize("kwargs", [{"identities": 0}, {"images_per_identity": 0}, {"seed": -1},
                                    {"image_size": 16}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ConfigError, match="synthetic"):
        synthetic_faces(**kwargs)


def test_bright_backgrounds_do_not_wrap_around():
    # Regression: a lighting factor > 1 on a light background once overflowed uint8 into dark stripes.
    faces = synthetic_faces(identities=64, images_per_identity=1, image_size=64, seed=7)
    corner = faces.images[:, :, :10, :3].float()
    assert (corner[:, :, 1:] - corner[:, :, :-1]).abs().max() < 40
