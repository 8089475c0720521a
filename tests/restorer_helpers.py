"""A restorer for tests that compare two code paths on the same repairs."""

from __future__ import annotations

import torch
from torch import nn

from fh_gym.engine.core import build_scaled


def perturbed_restorer(std: float, scale: int = 8) -> nn.Module:
    """The env's default ``AttentionFHEnhancer`` (shipped weights) with seeded Gaussian noise of ``std`` on every
    parameter, so repairs are large and differ from any other network the tests build."""
    net = build_scaled({"type": "AttentionFHEnhancer"}, "patch", scale)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(std * torch.randn(p.shape, generator=generator))
    return net.eval()
