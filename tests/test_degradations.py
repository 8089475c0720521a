"""Degradations: shapes, determinism, each stage against a hand computation, occlusion geometry, config."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fh_gym.degradations import (
    Degradation,
    decimation_sigma,
    downsample_bicubic,
    gaussian_blur,
    upsample_bicubic,
)
from fh_gym.metrics import psnr_per_image
from fh_gym.restorers.config import ConfigError

ALL_ON = {"blur_sigma": [0.0, 1.0], "noise_sigma": [2.0, 8.0], "jpeg_quality": [40, 90],
          "occlusion": {"fill": "noise"}}


def _smooth_faces(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Smooth synthetic images in [0.2, 0.8] (JPEG and bicubic behave as on natural images)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g)
    return 0.2 + 0.6 * F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def _blur_decimate_by_hand(img: np.ndarray, sigma: float, scale: int) -> np.ndarray:
    """Reflect-padded separable Gaussian blur with explicit loops, then every scale-th pixel."""
    c, h, w = img.shape
    r = math.ceil(3 * sigma)
    k = np.array([math.exp(-(t * t) / (2 * sigma * sigma)) for t in range(-r, r + 1)])
    k /= k.sum()
    pad = np.pad(img, ((0, 0), (r, r), (r, r)), mode="reflect")
    rows = np.zeros((c, h, w + 2 * r))
    for i in range(h):
        for t in range(2 * r + 1):
            rows[:, i] += k[t] * pad[:, i + t]
    out = np.zeros((c, h, w))
    for j in range(w):
        for t in range(2 * r + 1):
            out[:, :, j] += k[t] * rows[:, :, j + t]
    return out[:, scale // 2::scale, scale // 2::scale]


# ----------------------------------------------------------------------------- shapes and determinism

@pytest.mark.parametrize("scale", [4, 8, 16])
@pytest.mark.parametrize("mode", ["bicubic", "blur_decimate"])
def test_shapes(scale, mode):
    hr = _smooth_faces(2, 128)
    out = Degradation.from_config({"scale": scale, "downsample": mode, **ALL_ON})(hr, np.random.default_rng(0))
    s = 128 // scale
    assert out.lr.shape == (2, 3, s, s) and out.lr.dtype == hr.dtype
    assert out.occlusion_mask.shape == (2, 1, s, s)
    assert float(out.lr.min()) >= 0.0 and float(out.lr.max()) <= 1.0
    for key in ("blur_sigma", "noise_sigma", "jpeg_quality", "occlusion_area"):
        assert out.params[key].shape == (2,)
    assert out.params["occlusion_box"].shape == (2, 4)


def test_same_seed_same_output_different_seed_different():
    hr = _smooth_faces(3)
    deg = Degradation.from_config({"scale": 4, **ALL_ON})
    a, b = deg(hr, np.random.default_rng(7)), deg(hr, np.random.default_rng(7))
    c = deg(hr, np.random.default_rng(8))
    assert torch.equal(a.lr, b.lr) and torch.equal(a.occlusion_mask, b.occlusion_mask)
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])
    assert not torch.equal(a.lr, c.lr)
    assert not np.array_equal(a.params["noise_sigma"], c.params["noise_sigma"])
    # A config round trip builds the same pipeline.
    again = Degradation.from_config(deg.config)(hr, np.random.default_rng(7))
    assert torch.equal(a.lr, again.lr)


def test_switching_a_stage_off_keeps_the_other_draws():
    hr = _smooth_faces(4)
    on = Degradation.from_config({"scale": 4, **ALL_ON})(hr, np.random.default_rng(3))
    off = Degradation.from_config({"scale": 4, "occlusion": {"fill": "noise"}})(hr, np.random.default_rng(3))
    np.testing.assert_array_equal(on.params["occlusion_box"], off.params["occlusion_box"])
    assert off.params["jpeg_quality"].tolist() == [0, 0, 0, 0]
    assert off.params["noise_sigma"].tolist() == [0, 0, 0, 0]


# ----------------------------------------------------------------------------- each stage

def test_bicubic_equals_interpolate_antialias():
    hr = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    ref = F.interpolate(hr, size=(8, 6), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    out = Degradation(scale=8)(hr, np.random.default_rng(0))
    assert torch.equal(out.lr, ref)
    assert torch.equal(downsample_bicubic(hr, 8), ref)
    assert out.occlusion_mask is None
    up = F.interpolate(ref, size=(64, 48), mode="bicubic", align_corners=False).clamp(0, 1)
    assert torch.equal(upsample_bicubic(ref, 8), up)


@pytest.mark.parametrize("scale,blur,sigma", [(2, 0.0, 0.5), (4, 1.0, 1.0), (4, 0.0, 1.5)])
def test_blur_decimate_equals_hand_computation(scale, blur, sigma):
    img = np.random.default_rng(5).random((1, 3, 16, 16))
    deg = Degradation(scale=scale, downsample="blur_decimate", blur_sigma=blur)
    out = deg(torch.from_numpy(img), np.random.default_rng(0))
    assert out.params["blur_sigma"].tolist() == [sigma]  # 0 means the (scale - 1) / 2 rule
    expected = np.clip(_blur_decimate_by_hand(img[0], sigma, scale), 0, 1)
    np.testing.assert_allclose(out.lr[0].numpy(), expected, atol=1e-12)


def test_decimation_sigma_rule():
    assert [decimation_sigma(s) for s in (4, 8, 16)] == [1.5, 3.5, 7.5]
    out = Degradation(scale=8, downsample="blur_decimate")(_smooth_faces(1, 64), np.random.default_rng(0))
    assert out.params["blur_sigma"].tolist() == [3.5]


def test_gaussian_blur_per_image_sigma_is_batched_correctly():
    x = torch.rand(3, 3, 20, 20, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    sig = np.array([0.0, 0.8, 2.0])
    out = gaussian_blur(x, sig)
    assert torch.equal(gaussian_blur(x[:1], 0.0), x[:1])
    for i in range(3):
        alone = gaussian_blur(x[i:i + 1], sig[i:i + 1])
        torch.testing.assert_close(out[i:i + 1], alone if sig[i] > 0 else x[i:i + 1], atol=1e-12, rtol=0)
    # Same kernel as OpenCV with BORDER_REFLECT_101 for sigma 2 (radius 6, kernel 13).
    ref = cv2.GaussianBlur(x[2].permute(1, 2, 0).numpy(), (13, 13), 2.0, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(out[2].permute(1, 2, 0).numpy(), ref, atol=1e-9)


def test_bicubic_with_blur_blurs_first():
    hr = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    out = Degradation(scale=4, blur_sigma=1.2)(hr, np.random.default_rng(0))
    assert torch.allclose(out.lr, downsample_bicubic(gaussian_blur(hr, [1.2]), 4), atol=1e-6)


def test_noise_std_matches_sigma():
    hr = torch.full((8, 3, 128, 128), 0.5)
    clean = downsample_bicubic(hr, 4)
    out = Degradation(scale=4, noise_sigma=10.0)(hr, np.random.default_rng(0))
    resid = (out.lr - clean) * 255.0
    assert abs(float(resid.std()) - 10.0) < 0.3  # 98k samples: std error ~0.02
    assert abs(float(resid.mean())) < 0.1
    ranged = Degradation(scale=4, noise_sigma=[1.0, 20.0])(hr, np.random.default_rng(1))
    sig = ranged.params["noise_sigma"]
    assert ((sig >= 1.0) & (sig <= 20.0)).all() and len(set(sig.tolist())) == 8
    per_image = ((ranged.lr - clean) * 255.0).flatten(1).std(dim=1).numpy()
    np.testing.assert_allclose(per_image, sig, rtol=0.05)


def test_jpeg_matches_opencv_and_keeps_quality_95_close():
    hr = _smooth_faces(3, 128)
    clean = downsample_bicubic(hr, 4)
    out = Degradation(scale=4, jpeg_quality=95)(hr, np.random.default_rng(0))
    assert out.params["jpeg_quality"].tolist() == [95, 95, 95]
    assert not torch.equal(out.lr, clean)
    assert (psnr_per_image(out.lr, clean) > 38.0).all()
    u8 = np.round(clean[1].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8[:, :, ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    ref = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    np.testing.assert_array_equal(np.round(out.lr[1].permute(1, 2, 0).numpy() * 255).astype(np.uint8), ref)
    low = Degradation(scale=4, jpeg_quality=10)(hr, np.random.default_rng(0))
    assert (psnr_per_image(low.lr, clean) < psnr_per_image(out.lr, clean)).all()
    ranged = Degradation(scale=4, jpeg_quality=[20, 30])(hr, np.random.default_rng(0)).params["jpeg_quality"]
    assert ranged.dtype.kind == "i" and ((ranged >= 20) & (ranged <= 30)).all()


# ----------------------------------------------------------------------------- occlusion

def test_occlusion_area_aspect_and_mask_match_changed_pixels():
    hr = _smooth_faces(50, 64)
    occluded = Degradation(scale=4, occlusion={"fill": "black"})
    plain = Degradation(scale=4)
    areas, tops, lefts = [], [], []
    for seed in range(10):
        out = occluded(hr, np.random.default_rng(seed))
        ref = plain(hr, np.random.default_rng(seed))
        mask = out.occlusion_mask
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        frac = mask.flatten(1).mean(dim=1).numpy()
        np.testing.assert_allclose(frac, out.params["occlusion_area"], atol=1e-12)
        changed = (out.lr != ref.lr).any(dim=1, keepdim=True).float()
        assert torch.equal(changed, mask)  # the LR is > 0 everywhere, so black changes every masked pixel
        assert (out.lr[mask.expand_as(out.lr) > 0] == 0).all()
        top, left, bh, bw = out.params["occlusion_box"].T
        assert ((top >= 0) & (left >= 0) & (top + bh <= 16) & (left + bw <= 16)).all()
        assert ((bw / bh >= 1 / 3) & (bw / bh <= 3)).all()
        np.testing.assert_array_equal(mask[np.arange(50), 0, top, left].numpy(), np.ones(50))
        areas.append(frac)
        tops.append(top)
        lefts.append(left)
    areas = np.concatenate(areas)
    assert areas.min() >= 1 / 16 and areas.max() <= 1 / 4
    assert areas.min() < 0.09 and areas.max() > 0.22  # the whole range is used
    assert np.concatenate(tops).min() == 0 and np.concatenate(lefts).max() >= 12  # boxes reach the edges


@pytest.mark.parametrize("fill", ["gray", "noise"])
def test_occlusion_fills(fill):
    hr = _smooth_faces(4, 64)
    out = Degradation(scale=4, occlusion={"fill": fill, "area": 0.25})(hr, np.random.default_rng(0))
    inside = out.lr[out.occlusion_mask.expand_as(out.lr) > 0]
    assert inside.numel() == 4 * 3 * 64
    if fill == "gray":
        assert (inside == 0.5).all()
    else:
        assert 0.2 < float(inside.std()) < 0.35 and (inside >= 0).all() and (inside <= 1).all()


def test_occlusion_impossible_size():
    deg = Degradation(scale=8, occlusion={"area": [0.3, 0.4]})
    with pytest.raises(ValueError, match="2x2 LR"):
        deg(torch.rand(1, 3, 16, 16), np.random.default_rng(0))  # 2x2 LR: fractions 1/4, 1/2, 1 only


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("cfg,match", [
    ({"scal": 8}, r"unknown config key 'degradation.scal'.*blur_sigma, downsample, jpeg_quality"),
    ({"scale": 6}, r"degradation.scale.*6"),
    ({"scale": 1}, r"degradation.scale.*1"),
    ({"scale": True}, r"degradation.scale"),
    ({"downsample": "nearest"}, r"degradation.downsample.*'nearest'"),
    ({"blur_sigma": -1.0}, r"degradation.blur_sigma.*-1"),
    ({"noise_sigma": [5, 1]}, r"degradation.noise_sigma.*lo > hi"),
    ({"noise_sigma": [1, 2, 3]}, r"degradation.noise_sigma.*\[1, 2, 3\]"),
    ({"noise_sigma": "high"}, r"degradation.noise_sigma.*'high'"),
    ({"jpeg_quality": 0}, r"degradation.jpeg_quality.*0"),
    ({"jpeg_quality": 101}, r"degradation.jpeg_quality.*101"),
    ({"jpeg_quality": 50.5}, r"degradation.jpeg_quality.*integer"),
    ({"occlusion": {"area": [0.0, 0.5]}}, r"degradation.occlusion.area.*\(0, 1\)"),
    ({"occlusion": {"area": 1.0}}, r"degradation.occlusion.area.*1.0"),
    ({"occlusion": {"fill": "white"}}, r"degradation.occlusion.fill.*'white'"),
    ({"occlusion": {"size": 3}}, r"unknown config key 'degradation.occlusion.size'.*area, fill"),
    ({"occlusion": True}, r"degradation.occlusion"),
])
def test_config_errors(cfg, match):
    with pytest.raises(ConfigError, match=match):
        Degradation.from_config(cfg)


def test_default_config_and_call_errors():
    assert Degradation.default_config() == {"scale": 8, "downsample": "bicubic", "blur_sigma": 0.0,
                                            "noise_sigma": 0.0, "jpeg_quality": None, "occlusion": None}
    deg = Degradation.from_config(None)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"100x128.*scale 8"):
        deg(torch.rand(1, 3, 100, 128), rng)
    with pytest.raises(ValueError, match="Nx3xHxW"):
        deg(torch.rand(3, 128, 128), rng)
    with pytest.raises(ValueError, match="dtype"):
        deg(torch.zeros(1, 3, 128, 128, dtype=torch.uint8), rng)
    with pytest.raises(TypeError, match="Generator"):
        deg(torch.rand(1, 3, 128, 128), 0)
