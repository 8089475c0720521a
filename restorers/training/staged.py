"""Helpers of the multi-stage generator recipes (C-SRIP, OFHNet, SRGAN): stage schedule, freezing, configs.

A multi-stage recipe runs *one* :class:`~fh_gym.restorers.training.loop.TrainingRun` over the sum of its stages
and picks the stage from the global step, so a killed run resumes in the right stage with its step count,
every optimiser's state and the RNG states (all networks and optimisers are in the one checkpoint).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from fh_gym.restorers.archs.filters import DOWNSCALE_MODES, downscale
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.losses.adversarial import discriminator_loss
from fh_gym.restorers.training.loop import optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext

log = logging.getLogger("fh_gym.restorers.training")


def degradation_defaults(**overrides: Any) -> dict[str, Any]:
    """Every key of ``fh_gym.degradations.Degradation.default_config()`` with ``overrides`` applied.

    Recipe defaults list all of them so a recipe YAML may override any degradation key (the config merge
    only accepts keys present in the defaults).
    """
    base = {"scale": 8, "downsample": "bicubic", "blur_sigma": 0.0, "noise_sigma": 0.0, "jpeg_quality": None,
            "occlusion": None}
    unknown = sorted(set(overrides) - set(base))
    if unknown:
        raise KeyError(f"unknown degradation key(s) {unknown}; valid: {sorted(base)}")
    return {**base, **overrides}


def stage_lengths(config: Mapping[str, Any], first: Sequence[tuple[str, int]], last: str) -> list[tuple[str, int]]:
    """Stage schedule: the ``first`` stages with their step counts, then ``last`` until ``config["steps"]``.

    Raises:
        ConfigError: If the first stages already use all ``steps``.
    """
    stages = [(name, int(n)) for name, n in first if int(n) > 0]
    used = sum(n for _, n in stages)
    total = int(config["steps"])
    if total <= used:
        detail = ", ".join(f"{name}={n}" for name, n in stages)
        raise ConfigError(f"steps={total} leaves no step for the '{last}' stage after {detail}; "
                          f"steps is the total over all stages, so raise it above {used}")
    return [*stages, (last, total - used)]


def stage_at(step: int, stages: Sequence[tuple[str, int]]) -> str:
    """The name of the stage that global ``step`` (0-based) belongs to."""
    for name, length in stages:
        if step < length:
            return name
        step -= length
    return stages[-1][0]


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode and no gradients: a fixed prior (recognisers, landmark net) or a finished stage."""
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
    return module


def lr_downscale_mode(ctx: RecipeContext) -> str:
    """How the data's LR images were made (``degradation.downsample``), for intermediate/clean targets."""
    mode = ctx.config["degradation"].get("downsample", "bicubic")
    if mode not in DOWNSCALE_MODES:
        raise ConfigError(f"degradation.downsample must be one of {list(DOWNSCALE_MODES)}, got {mode!r}")
    return mode


def scale_targets(hr: Tensor, scale: int, keys: Sequence[str], mode: str) -> dict[str, Tensor]:
    """Targets of a cascade's outputs: ``{"x2": hr downscaled by scale/2, ..., f"x{scale}": hr}``."""
    return {key: downscale(hr, scale // int(key[1:]), mode) for key in keys}


def adam(params: Any, lr: float) -> torch.optim.Adam:
    """Adam as the papers (C-SRIP, SRGAN), betas (0.9, 0.999)."""
    return torch.optim.Adam([p for p in params if p.requires_grad], lr=float(lr))


def check_reserved(block: Mapping[str, Any], reserved: Sequence[str], what: str) -> None:
    """Refuse keys of a network block that the recipe sets itself (from the data)."""
    clash = sorted(set(block) & set(reserved))
    if clash:
        raise ConfigError(f"{what} must not set {clash}: the recipe derives them from the data")


def discriminator_step(discriminator: nn.Module, optimizer: torch.optim.Optimizer, real: Tensor,
                       fake: Tensor) -> float:
    """One GAN discriminator update (BCE on logits) on ``real`` and detached ``fake`` images; its loss.

    Real and fake go through one forward call so a DDP-wrapped discriminator reduces its gradients once.
    """
    logits = discriminator(torch.cat([real, fake.detach()]))
    loss = discriminator_loss(*logits.chunk(2))
    optimizer_step(optimizer, loss)
    return loss.item()
