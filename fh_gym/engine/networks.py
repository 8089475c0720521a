"""Building the engine's networks with its scale and device (restorer, front-end, reward networks).

A leaf module: rewards and losses get a :class:`NetworkBuilder` instead of the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fh_gym.restorers.build import build_network

#: torch seed of the networks an engine builds without a checkpoint (reproducible untrained restorers)
NETWORK_INIT_SEED = 0


def build_scaled(block: Mapping[str, Any], kind: str, scale: int, device: torch.device | str = "cpu",
                 init_seed: int | None = NETWORK_INIT_SEED) -> nn.Module:
    """Build a network block, filling in ``scale`` when the network takes one (and refusing another).

    ``init_seed`` initialises the weights from a fixed torch seed in a forked RNG: every env, comparison and
    hallucination of the same config gets the same untrained network whatever the global torch RNG state,
    and building leaves that state untouched. ``None`` draws from the global RNG (seeded training runs).
    """
    return build_network(block, kind=kind, scale=scale, init_seed=init_seed).to(device)


@dataclass(frozen=True)
class NetworkBuilder:
    """Builds network blocks for one engine: its scale factor and device, the fixed init seed.

    Attributes:
        scale: The degradation's scale factor (filled into blocks whose network takes one).
        device: Where the networks go.
    """

    scale: int
    device: torch.device

    def __call__(self, block: Mapping[str, Any], kind: str) -> nn.Module:
        """The network of ``block`` (``kind``: ``patch``, ``generator`` or ``aux``), see :func:`build_scaled`."""
        return build_scaled(block, kind, self.scale, self.device)


def frozen(module: nn.Module) -> nn.Module:
    """``module`` in eval mode with its parameters fixed (networks that score, never learn: reward and loss
    networks); gradients still flow to their inputs."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module.eval()
