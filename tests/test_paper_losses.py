"""Losses of the paper networks: SSIM (C-SRIP), Gram texture after its move, adversarial, landmark (OFHNet)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fh_gym.degradations import Degradation
from fh_gym.metrics.batched import ssim_per_image
from fh_gym.restorers.archs.filters import downscale, highpass_residual, residual_sigma
from fh_gym.restorers.archs.texture_arch import GaborTextureFeatures
from fh_gym.restorers.losses import (
    GramTexture,
    SSIMLoss,
    discriminator_loss,
    generator_adversarial_loss,
    landmark_regression_loss,
    multiscale_ssim_loss,
    semantic_structure_loss,
    ssim_loss,
)
from fh_gym.restorers.losses.landmark import denormalize_landmarks, normalize_landmarks


def _pair(shape=(3, 3, 48, 48), seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=gen, dtype=dtype)
    y = (x + 0.15 * torch.randn(shape, generator=gen, dtype=dtype)).clamp(0, 1)
    return x, y


@pytest.mark.parametrize("size", [16, 32, 128])
def test_ssim_loss_is_one_minus_the_metric(size):
    x, y = _pair((4, 3, size, size))
    assert torch.allclose(ssim_loss(x, y), 1 - ssim_per_image(x, y).mean(), atol=1e-10)
    assert torch.allclose(SSIMLoss()(x.float(), y.float()), 1 - ssim_per_image(x.float(), y.float()).mean(),
                          atol=1e-5)
    assert float(ssim_loss(x, x)) == pytest.approx(0.0, abs=1e-12)


def test_ssim_loss_has_gradients_and_handles_tiny_images():
    x, y = _pair((2, 3, 8, 8), dtype=torch.float32)
    x.requires_grad_(True)
    loss = ssim_loss(x, y)  # window shrinks to 7x7
    loss.backward()
    assert torch.isfinite(loss) and x.grad.abs().sum() > 0


def test_multiscale_ssim_loss_sums_half_losses_per_scale():
    a, b = _pair((2, 3, 32, 32))
    c, d = _pair((2, 3, 64, 64), seed=1)
    total = multiscale_ssim_loss({"x2": a, "x4": c}, {"x2": b, "x4": d})
    assert torch.allclose(total, 0.5 * ssim_loss(a, b) + 0.5 * ssim_loss(c, d))
    with pytest.raises(KeyError, match="x8"):
        multiscale_ssim_loss({"x8": a}, {"x2": b})


def _old_gram_distance(features, x, y, weights):
    """The formula of fh_gym/engine/texture.py before the move (frozen copy)."""
    def gram(feats, w):
        c = feats.shape[1]
        if w is None:
            flat = feats.flatten(2)
            return flat @ flat.transpose(1, 2) / (c * flat.shape[-1])
        if w.shape[-2:] != feats.shape[-2:]:
            w = F.interpolate(w, size=feats.shape[-2:], mode="area")
        area = w.sum(dim=(1, 2, 3)).clamp(min=1e-6)
        flat = feats.flatten(2)
        return (feats * w).flatten(2) @ flat.transpose(1, 2) / (c * area[:, None, None])

    fx, fy = features(torch.cat([x, y], dim=0)).chunk(2, dim=0)
    return ((gram(fx, weights) - gram(fy, weights)) ** 2).mean(dim=(1, 2))


def test_texture_distance_unchanged_after_the_move():
    from fh_gym.engine.dual_domain import GramTexture as EngineGram  # the rewards use the one implementation

    assert EngineGram is GramTexture
    phi = GaborTextureFeatures()
    x, y = _pair((3, 3, 40, 40), dtype=torch.float32)
    weights = (torch.rand(3, 1, 40, 40) > 0.5).float()
    texture = GramTexture(phi)
    for w in (None, weights, weights[..., ::2, ::2]):
        assert torch.equal(texture.distance(x, y, w), _old_gram_distance(phi, x, y, w))


def test_adversarial_losses_match_the_log_formulas():
    real, fake = torch.tensor([[2.0], [-1.0]]), torch.tensor([[0.5], [-3.0]])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    assert torch.allclose(discriminator_loss(real, fake), expected_d)
    assert torch.allclose(generator_adversarial_loss(fake), -torch.log(d_fake).mean())


def test_landmark_losses_on_a_known_example():
    pred = torch.tensor([[[0.5, 0.5], [0.2, 0.3]]])
    target = torch.tensor([[[0.5, 0.6], [0.5, 0.7]]])
    # point errors: 0.1^2 = 0.01 and 0.3^2 + 0.4^2 = 0.25 -> mean 0.13
    assert float(landmark_regression_loss(pred, target)) == pytest.approx(0.13)
    pixels = torch.tensor([[[63.5, 31.5]]])
    assert torch.allclose(normalize_landmarks(pixels, 128, 128), torch.tensor([[[0.5, 0.25]]]))
    assert torch.allclose(denormalize_landmarks(normalize_landmarks(pixels, 64, 128), 64, 128), pixels)
    with pytest.raises(ValueError, match="shapes differ"):
        landmark_regression_loss(pred, target[:, :1])


def test_semantic_structure_loss_uses_the_fixed_net_on_both_faces():
    class Centroid(torch.nn.Module):
        """Toy 'landmark net': the intensity centroid of the image, one point."""

        def forward(self, img):
            h, w = img.shape[-2:]
            m = img.mean(1)
            ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
            total = m.sum((1, 2))
            return torch.stack([(m * xs / w).sum((1, 2)) / total, (m * ys / h).sum((1, 2)) / total], -1)[:, None]

    real = torch.zeros(1, 3, 8, 8)
    real[..., 2, 2] = 1.0  # centroid (2.5/8, 2.5/8)
    fake = torch.zeros(1, 3, 8, 8, requires_grad=True)
    with torch.no_grad():
        fake[..., 6, 2] = 1.0  # centroid (2.5/8, 6.5/8)
    loss = semantic_structure_loss(Centroid(), fake, real)
    assert loss.item() == pytest.approx((4 / 8) ** 2)
    loss.backward()
    assert fake.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", ["bicubic", "blur_decimate"])
@pytest.mark.parametrize("scale", [4, 8, 16])
def test_downscale_reproduces_the_degradation(mode, scale):
    hr = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(scale))
    lr = Degradation.from_config({"scale": scale, "downsample": mode})(hr, np.random.default_rng(0)).lr
    assert torch.equal(downscale(hr, scale, mode), lr)


def test_highpass_residual_removes_the_low_frequencies():
    assert residual_sigma(2) == pytest.approx(1 / 3) and residual_sigma(8) == pytest.approx(7 / 3)
    flat = torch.full((1, 3, 32, 32), 0.4)
    assert torch.allclose(highpass_residual(flat, residual_sigma(4)), torch.zeros_like(flat), atol=1e-6)
    noise = torch.rand(1, 3, 32, 32)
    assert highpass_residual(noise, 1.0).abs().mean() > 0.05


def test_frozen_discriminator_loss_gives_the_discriminator_no_gradient():
    from fh_gym.restorers.losses.adversarial import frozen_discriminator_loss

    discriminator = torch.nn.Linear(4, 1)
    fake = torch.randn(3, 4, requires_grad=True)
    frozen_discriminator_loss(discriminator, fake).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None and p.requires_grad for p in discriminator.parameters())
