"""The training-recipe registry (``fh-gym train-generator NAME``, ``fh-gym pretrain-restorer``) and what a
recipe receives.

A recipe is a function ``fn(ctx: RecipeContext) -> dict`` in its own module of
``fh_gym.restorers.training.recipes`` (one file per recipe, found by the registry's package scan), registered
with :func:`register_recipe` under a name with its own defaults (merged over :data:`COMMON_DEFAULTS`, and over
:data:`PAIR_DEFAULTS` for recipes that train on LR/HR image pairs). Unknown keys in a user's YAML are errors
listing the valid ones. The recipe builds its networks and optimisers, drives a
:class:`~fh_gym.restorers.training.loop.TrainingRun` (progress, TensorBoard, checkpoints, resume) and returns a
summary dict (final checkpoint paths, validation metrics).

Data comes from the caller, so this package stays free of any data or env code. A recipe states which
kind it needs (:attr:`Recipe.data`):

* ``"pairs"`` (generators, identity and landmark nets): ``ctx.train_batch(batch_size)`` draws random LR/HR
  :class:`PairBatch` es of training people, ``ctx.val_batch`` is a fixed validation batch;
* ``"patches"`` (patch restorers): ``ctx.patch_pairs(restorer, first_step)`` returns a function drawing the
  next batch of ``(RepairContext, HR window)`` pairs made with the restorer being trained, and
  ``ctx.evaluate(network)`` (optional) measures it;
* ``"selection"`` (patch-selection networks): ``ctx.gain_labels(first_step)`` returns a function drawing the
  next batch of states with the oracle's gain of every candidate action (a ``GainBatch`` of
  ``fh_gym.samplers.gain_labels``).

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

from fh_gym.restorers.base import RepairContext
from fh_gym.restorers.config import ConfigError, merge_config
from fh_gym.restorers.registry import Registry

#: keys of every recipe
COMMON_DEFAULTS: dict[str, Any] = {
    "recipe": "",
    "steps": 2000,
    "minutes": None,  # wall-clock budget of this session; the run stops and can resume
    "batch_size": 16,
    "lr": 1e-3,
    "seed": 0,
    "checkpoint_every": 200,
    "log_every": 20,
    "eval_every": 500,
}

#: keys of the recipes that train on LR/HR image pairs (the data is theirs; patch recipes use the env's)
PAIR_DEFAULTS: dict[str, Any] = {
    "data": {"type": "synthetic"},  # typed data block (the caller's data sources)
    "degradation": {"scale": 8},  # overrides of the degradation config (the caller's)
    "min_images_per_identity": 1,  # identity recipes need several images per person
    "val_size": 64,
    "device": "cpu",
}

#: what a recipe can train on
DATA_KINDS = ("pairs", "patches", "selection")


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


#: ``fn(restorer, first_step) -> draw``: ``draw()`` returns the next ``(RepairContext, HR window)`` batch
PatchPairSource = Callable[[nn.Module, int], Callable[[], tuple[RepairContext, Tensor]]]


@dataclass
class RecipeContext:
    """Everything a recipe receives (the data fields of its :attr:`Recipe.data` kind are set).

    Attributes:
        config: The full recipe config (:func:`recipe_config`).
        out_dir: The run folder.
        scale: Super-resolution factor of the data.
        image_size: Side of the HR faces.
        device: Where the networks go.
        train_batch / val_batch / num_identities: Image pairs (``"pairs"`` recipes).
        patch_pairs: Patch-pair source (``"patches"`` recipes).
        gain_labels: Gain-label source (``"selection"`` recipes).
        evaluate: Optional ``fn(network) -> {"eval/...": value}``, the caller's validation of a trained network.
        default_network: The caller's network block when the config names none (the env's restorer).
        resume / progress: Continue from ``last.pt``; show a progress bar.
        rank / world_size: ``torchrun`` process index and count.
        extras: What else the caller knows (``class_names`` of the training people, ``meta`` for checkpoints).
    """

    config: dict[str, Any]
    out_dir: Path
    scale: int
    image_size: int
    device: torch.device
    train_batch: Callable[[int], PairBatch] | None = None
    val_batch: PairBatch | None = None
    num_identities: int = 0
    patch_pairs: PatchPairSource | None = None
    gain_labels: Callable[[int], Callable[[], Any]] | None = None
    evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None
    default_network: dict[str, Any] | None = None
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


@dataclass(frozen=True)
class Recipe:
    """A registered recipe: its function, full defaults, one-line description and data kind."""

    name: str
    fn: RecipeFn
    defaults: dict[str, Any]
    description: str
    data: str = "pairs"


#: every recipe by name, filled by the modules of ``restorers/training/recipes/``
RECIPES: Registry[Recipe] = Registry("recipe", "fh_gym.restorers.training.recipes")


def register_recipe(name: str, defaults: Mapping[str, Any], description: str,
                    data: str = "pairs") -> Callable[[RecipeFn], RecipeFn]:
    """Decorator: register ``fn`` as recipe ``name`` with its own config ``defaults`` and data kind."""
    if data not in DATA_KINDS:
        raise ValueError(f"recipe '{name}': data must be one of {DATA_KINDS}, got {data!r}")

    def deco(fn: RecipeFn) -> RecipeFn:
        base = {**COMMON_DEFAULTS, **(PAIR_DEFAULTS if data == "pairs" else {})}
        RECIPES.add(name, Recipe(name, fn, {**base, **dict(defaults), "recipe": name}, description, data))
        return fn

    return deco


def get_recipe(name: str) -> Recipe:
    """The recipe ``name`` (``unknown recipe 'x'; available: ...`` otherwise)."""
    return RECIPES.get(name)


def recipe_config(name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The recipe's defaults updated by ``overrides`` (unknown keys raise ``ConfigError``)."""
    overrides = dict(overrides or {})
    if overrides.get("recipe", name) != name:
        raise ConfigError(f"this config is for recipe '{overrides['recipe']}', not '{name}'")
    overrides.pop("recipe", None)
    return merge_config(get_recipe(name).defaults, overrides, name)


def ddp(model: nn.Module, ctx: RecipeContext) -> nn.Module:
    """Wrap ``model`` in DistributedDataParallel when running under ``torchrun`` (else return it)."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel  # lazy: only under torchrun

    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)
