"""Reward terms checked against hand computations on the engine's state."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fh_gym.degradations import downsample_bicubic
from fh_gym.engine.core import RepairEngine, build_scaled
from fh_gym.envs.config import make_config
from fh_gym.restorers.losses.texture import GramTexture
from fh_gym.restorers.registry import ARCHS

SMALL = {"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}}


class TinyTextureNet(nn.Module):
    """A fixed 2-layer conv net standing in for a trained identity net's feature maps."""

    kind = "aux"

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, channels, 3,
                                                                                               padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@pytest.fixture(autouse=True)
def tiny_texture_net_registered(monkeypatch):
    """Register the test network only while a test of this module runs (the registry is global)."""
    ARCHS.add("TinyTextureNet", TinyTextureNet)
    yield
    ARCHS.remove("TinyTextureNet")


@pytest.fixture(scope="module")
def restorer():
    torch.manual_seed(0)
    net = build_scaled({"type": "FSRCNN"}, "patch", 8)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return net.eval()


def run(engine: RepairEngine, actions: list[int]):
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(5))
    outs = [engine.step(np.full(engine.num_envs, a), slots) for a in actions]
    return slots, outs


def test_attention_fh_reward_is_zero_until_t_and_matches_eq6(restorer):
    config = make_config({**SMALL, "horizon": 3, "action": {"type": "grid"},
                          "reward": {"type": "attention_fh", "mse_scale": 1000.0, "coverage_weight": 0.5,
                                     "reference": {"type": "Bicubic"}}}, "attention_fh")
    engine = RepairEngine(config, 2, restorer=restorer)
    _faces, outs = run(engine, [0, 5, 30])
    assert np.all(outs[0].reward == 0) and np.all(outs[1].reward == 0)
    bicubic = F.interpolate(engine.lr, scale_factor=8, mode="bicubic", align_corners=False).clamp(0, 1)
    mse_ref = ((bicubic.double() - engine.hr.double()) ** 2).mean(dim=(1, 2, 3))
    mse_final = ((engine.current.double() - engine.hr.double()) ** 2).mean(dim=(1, 2, 3))
    covered = (engine.coverage > 0).double().mean(dim=(1, 2))
    expected = 1000.0 * (mse_ref - mse_final) + 0.5 * covered
    np.testing.assert_allclose(outs[2].reward, expected.numpy(), rtol=1e-4, atol=1e-5)
    assert covered[0].item() == pytest.approx(3 * 32 * 32 / 128**2)


def test_ipfh_reward_terms_match_manual_dual_domain_losses(restorer):
    config = make_config({**SMALL, "horizon": 2, "reward": {"type": "ipfh", "scale": 10.0,
                                                             "texture_features": {"type": "TinyTextureNet"}}},
                         "ipfh")
    engine = RepairEngine(config, 2, restorer=restorer)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(1))
    out = engine.step(np.array([0, 24]), slots)
    rec = out.record
    mask = rec.box_mask
    area = mask.sum(dim=(1, 2, 3))
    mse = ((rec.after - rec.hr) ** 2 * mask).sum(dim=(1, 2, 3)) / (3 * area)
    np.testing.assert_allclose(out.terms["mse"], (-10.0 * mse).numpy(), rtol=1e-5)
    lr_after = downsample_bicubic(rec.after, 8)
    lr_mask = F.avg_pool2d(mask, 8)
    lr_mse = ((lr_after - rec.lr) ** 2 * lr_mask).sum(dim=(1, 2, 3)) / (3 * lr_mask.sum(dim=(1, 2, 3)))
    np.testing.assert_allclose(out.terms["lr_mse"], (-10.0 * lr_mse).numpy(), rtol=1e-4)
    with torch.no_grad():
        texture = GramTexture(TinyTextureNet()).distance(rec.after, rec.hr, mask)
    np.testing.assert_allclose(out.terms["texture"], (-10.0 * texture).numpy(), rtol=1e-4)
    assert np.all(out.terms["visual_mse"] == 0)  # long-term only at T
    final = engine.step(np.array([3, 3]), slots)
    assert np.all(final.terms["mse"] == 0)
    whole = ((engine.current - engine.hr) ** 2).mean(dim=(1, 2, 3))
    np.testing.assert_allclose(final.terms["visual_mse"], (-10.0 * whole).numpy(), rtol=1e-4)


def test_ipfh_delta_form_rewards_improvement_not_easy_patches(restorer):
    absolute = RepairEngine(make_config({**SMALL, "horizon": 2, "reward": {"form": "absolute"}}, "ipfh"), 2,
                            restorer=restorer)
    delta = RepairEngine(make_config({**SMALL, "horizon": 2, "reward": {"form": "delta"}}, "ipfh"), 2,
                         restorer=restorer)
    _, out_a = run(absolute, [7, 9])
    _, out_d = run(delta, [7, 9])
    assert np.all(out_a[0].terms["mse"] < 0)
    rec = out_d[-1].record
    assert np.all(np.isfinite(out_d[0].terms["mse"]))
    # delta at T: whole-image visual loss of I_0 minus that of I_T
    whole_start = ((delta.start - delta.hr) ** 2).mean(dim=(1, 2, 3))
    whole_final = ((delta.current - delta.hr) ** 2).mean(dim=(1, 2, 3))
    np.testing.assert_allclose(out_d[1].terms["visual_mse"], (100.0 * (whole_start - whole_final)).numpy(),
                               rtol=1e-3, atol=1e-6)
    assert rec.done.all()


def test_texture_distance_is_zero_for_identical_images_and_grows_with_noise():
    gram = GramTexture(TinyTextureNet())
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(gram.distance(x, x), torch.zeros(2))
    small = gram.distance(x, (x + 0.02 * torch.randn_like(x)).clamp(0, 1))
    large = gram.distance(x, (x + 0.2 * torch.randn_like(x)).clamp(0, 1))
    assert torch.all(large > small) and torch.all(small > 0)
