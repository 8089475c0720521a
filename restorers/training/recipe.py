"""Registry of supervised training recipes (``fh-gym train-generator NAME``) and what they receive.

A recipe is a function ``fn(ctx: RecipeContext) -> dict`` registered with :func:`register_recipe` under
a name, with its own defaults (merged over :data:`COMMON_DEFAULTS`; unknown keys in a user's YAML are
errors listing the valid ones). The recipe builds its networks and optimisers, drives a
:class:`~fh_gym.restorers.training.loop.TrainingRun` (progress, TensorBoard, checkpoints, resume) and returns a
summary dict (final checkpoint paths, validation metrics).

Data comes from the caller as :class:`PairBatch` providers, so this package stays free of any data or
env code: ``ctx.train_batch(batch_size)`` draws random LR/HR pairs of training people,
``ctx.val_batch`` is a fixed validation batch.

Data parallelism: under ``torchrun`` (``WORLD_SIZE`` > 1) the caller initialises the process group;
each rank draws different batches, recipes wrap their networks with :func:`ddp` and only rank 0
writes files (``TrainingRun`` handles that).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from fh_gym.restorers.config import ConfigError, merge_config

COMMON_DEFAULTS: dict[str, Any] = {
    "recipe": "",
    "data": {"type": "synthetic"},  # typed data block (the caller's data sources)
    "degradation": {"scale": 8},  # overrides of the degradation config (the caller's)
    "min_images_per_identity": 1,  # identity recipes need several images per person
    "steps": 2000,
    "minutes": None,  # wall-clock budget of this session; the run stops and can resume
    "batch_size": 16,
    "lr": 1e-3,
    "seed": 0,
    "checkpoint_every": 200,
    "log_every": 20,
    "eval_every": 500,
    "val_size": 64,
    "device": "cpu",
}


@dataclass
class PairBatch:
    """LR/HR training pairs, NCHW float in [0, 1] on the recipe's device.

    Attributes:
        hr: (B, 3, H, W) ground-truth faces.
        lr: (B, 3, H/s, W/s) degraded inputs.
        identities: (B,) int64 class labels in ``[0, ctx.num_identities)`` of the training people.
        landmarks: (B, K, 2) (x, y) HR pixel coordinates, or None when the data has none.
        occlusion: (B, 1, H/s, W/s) 1 where the LR input was occluded, or None.
    """

    hr: Tensor
    lr: Tensor
    identities: Tensor
    landmarks: Tensor | None = None
    occlusion: Tensor | None = None


@dataclass
class RecipeContext:
    """Everything a recipe receives."""

    config: dict[str, Any]
    out_dir: Path
    train_batch: Callable[[int], PairBatch]
    val_batch: PairBatch
    num_identities: int
    scale: int
    image_size: int
    device: torch.device
    resume: bool = True
    progress: bool = True
    rank: int = 0
    world_size: int = 1
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def time_budget_s(self) -> float | None:
        minutes = self.config.get("minutes")
        return None if minutes is None else 60.0 * float(minutes)


RecipeFn = Callable[[RecipeContext], dict[str, Any]]


@dataclass
class Recipe:
    name: str
    fn: RecipeFn
    defaults: dict[str, Any]
    description: str


RECIPES: dict[str, Recipe] = {}


def register_recipe(name: str, defaults: Mapping[str, Any], description: str) -> Callable[[RecipeFn], RecipeFn]:
    """Decorator: register ``fn`` as recipe ``name`` with its own config ``defaults``."""

    def deco(fn: RecipeFn) -> RecipeFn:
        if name in RECIPES:
            raise KeyError(f"recipe '{name}' is registered twice")
        merged = {**COMMON_DEFAULTS, **dict(defaults), "recipe": name}
        RECIPES[name] = Recipe(name, fn, merged, description)
        return fn

    return deco


def _load_all_recipes() -> None:
    import fh_gym.restorers.training.generator_recipes  # noqa: F401


def get_recipe(name: str) -> Recipe:
    _load_all_recipes()
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe '{name}'; available: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def recipe_config(name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The recipe's defaults updated by ``overrides`` (unknown keys raise ``ConfigError``)."""
    return merge_config(get_recipe(name).defaults, overrides, name)


def ddp(model: nn.Module, ctx: RecipeContext) -> nn.Module:
    """Wrap ``model`` in DistributedDataParallel when running under ``torchrun`` (else return it)."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)
