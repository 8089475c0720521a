"""The training-recipe registry (``fh-gym train-generator NAME``, ``fh-gym pretrain-restorer``) and what a
recipe receives.

A recipe is a function ``fn(ctx: RecipeContext) -> dict`` in its own module of
``fh_gym.restorers.training.recipes`` (one file per recipe, found by the registry's package scan), registered
with :func:`register_recipe` under a name with its own defaults (merged over :data:`COMMON_SCHEMA`, and over
:data:`PAIR_SCHEMA` for recipes that train on LR/HR image pairs; :func:`recipe_schema`). Unknown keys in a
user's YAML are errors listing the valid ones, and every value is checked (``steps: -3`` is
``invalid pretrain-restorer.steps: -3 (expected an integer >= 1)``). The recipe builds its networks and
optimisers, drives a :class:`~fh_gym.restorers.training.loop.TrainingRun` (progress, TensorBoard, checkpoints,
resume) and returns a summary dict (final checkpoint paths, validation metrics).

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
from fh_gym.restorers.config import (
    Anything,
    ConfigError,
    Float,
    Int,
    Schema,
    Str,
    Typed,
    device_problem,
    merge_config,
    schema_from_defaults,
)
from fh_gym.restorers.registry import Registry

#: keys of every recipe, with their defaults and the values they allow
COMMON_SCHEMA = Schema({
    "recipe": Str(""),
    "steps": Int(2000, min=1),
    "minutes": Float(None, min=0, min_open=True, nullable=True),  # wall-clock budget of this session
    "batch_size": Int(16, min=1),
    "lr": Float(1e-3, min=0, min_open=True),
    "seed": Int(0, min=0),
    "checkpoint_every": Int(200, min=1),  # steps between last.pt writes (and one after the first step)
    "log_every": Int(20, min=1),
    "eval_every": Int(500, min=0),  # 0: only at the end
})

#: keys of the recipes that train on LR/HR image pairs (the data is theirs; patch recipes use the env's)
PAIR_SCHEMA = Schema({
    "data": Typed({"type": "synthetic"}),  # typed data block (the caller's data sources check it)
    "degradation": Anything({"scale": 8}, check=lambda v: None if isinstance(v, Mapping) else "expected a mapping"),
    "min_images_per_identity": Int(1, min=1),  # identity recipes need several images per person
    "val_size": Int(64, min=1),
    "device": Str("cpu", check=device_problem),
})

COMMON_DEFAULTS: dict[str, Any] = COMMON_SCHEMA.defaults()
PAIR_DEFAULTS: dict[str, Any] = PAIR_SCHEMA.defaults()

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
        teacher: (B, D) a teacher recogniser's unit embeddings of ``hr`` (recipes with a ``teacher`` key), or None.
    """

    hr: Tensor
    lr: Tensor
    identities: Tensor
    landmarks: Tensor | None = None
    occlusion: Tensor | None = None
    teacher: Tensor | None = None


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
    """A registered recipe: its function, config schema, one-line description and data kind."""

    name: str
    fn: RecipeFn
    schema: Schema
    description: str
    data: str = "pairs"

    @property
    def defaults(self) -> dict[str, Any]:
        """The recipe's full default config."""
        return self.schema.defaults()


def recipe_schema(name: str, defaults: Mapping[str, Any], data: str) -> Schema:
    """The schema of a recipe's config: the shared keys' fields (a recipe's value there changes only the
    default), then the recipe's own keys (a :class:`~fh_gym.restorers.config.Field`, or a plain default whose
    type it then follows: :func:`~fh_gym.restorers.config.infer_field`)."""
    shared = {**COMMON_SCHEMA.fields, **(PAIR_SCHEMA.fields if data == "pairs" else {})}
    defaults = {**{k: f.default for k, f in shared.items()}, **dict(defaults), "recipe": name}
    return schema_from_defaults(defaults, {**shared, "recipe": Str(choices=(name,))}, name)


#: every recipe by name, filled by the modules of ``restorers/training/recipes/``
RECIPES: Registry[Recipe] = Registry("recipe", "fh_gym.restorers.training.recipes")


def register_recipe(name: str, defaults: Mapping[str, Any], description: str,
                    data: str = "pairs") -> Callable[[RecipeFn], RecipeFn]:
    """Decorator: register ``fn`` as recipe ``name`` with its own config ``defaults`` and data kind."""
    if data not in DATA_KINDS:
        raise ValueError(f"recipe '{name}': data must be one of {DATA_KINDS}, got {data!r}")

    def deco(fn: RecipeFn) -> RecipeFn:
        RECIPES.add(name, Recipe(name, fn, recipe_schema(name, defaults, data), description, data))
        return fn

    return deco


def get_recipe(name: str) -> Recipe:
    """The recipe ``name`` (``unknown recipe 'x'; available: ...`` otherwise)."""
    return RECIPES.get(name)


def recipe_config(name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The recipe's defaults updated by ``overrides``, every value checked (unknown keys and bad values raise
    ``ConfigError`` naming the key, the value and what is allowed)."""
    overrides = dict(overrides or {})
    if overrides.get("recipe", name) != name:
        raise ConfigError(f"this config is for recipe '{overrides['recipe']}', not '{name}'")
    overrides.pop("recipe", None)
    recipe = get_recipe(name)
    return recipe.schema.validate(merge_config(recipe.defaults, overrides, name))


def ddp(model: nn.Module, ctx: RecipeContext) -> nn.Module:
    """Wrap ``model`` in DistributedDataParallel when running under ``torchrun`` (else return it)."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel  # lazy: only under torchrun

    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)
