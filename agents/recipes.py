"""Running a training recipe with fh-gym's data: ``fh-gym train-generator`` and ``fh-gym pretrain-restorer``.

The recipes themselves (:mod:`fh_gym.restorers.training.recipes`) know nothing of datasets or envs; this
module gives each the data its kind asks for (:attr:`~fh_gym.restorers.training.recipe.Recipe.data`):

* ``"pairs"``: LR/HR batches of the recipe's ``data`` block degraded by its ``degradation`` block
  (:class:`~fh_gym.samplers.image_pairs.PairSampler`, training people; a fixed validation batch of validation
  people), under ``torchrun`` one process per device (gloo on CPU, NCCL on GPUs), each rank its own batches;
* ``"patches"``: restorer inputs and HR windows from random-policy repair episodes on the env's training
  people (:class:`~fh_gym.samplers.patch_pairs.PatchPairSampler`), and an even-grid validation: the PSNR
  gain of :class:`~fh_gym.agents.strategies.EvenGridStrategy` episodes repaired by the restorer being
  trained, on ``eval_faces`` faces of the validation people.

Example:
    >>> from fh_gym.restorers.training.recipes import recipe_config
    >>> config = recipe_config("pretrain-restorer", {"steps": 200})  # doctest: +SKIP
    >>> run_recipe("pretrain-restorer", config, Path("runs/restorer"), env_config=env_config)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.strategies import EvenGridStrategy, GainPredictorStrategy
from fh_gym.data import build_dataset
from fh_gym.engine.core import resolve_device
from fh_gym.engine.networks import env_network, frontend_signature
from fh_gym.identity import build_recognizer
from fh_gym.restorers.config import ConfigError, merge_config
from fh_gym.restorers.training.recipe import RecipeContext, get_recipe
from fh_gym.samplers.gain_labels import GainLabelSampler
from fh_gym.samplers.image_pairs import PairSampler
from fh_gym.samplers.patch_pairs import PatchPairSampler
from fh_gym.samplers.teacher_pairs import TEACHER_CACHE, TeacherPairSampler


def run_recipe(name: str, config: dict[str, Any], out_dir: Path, *, env_config: dict[str, Any] | None = None,
               resume: bool = True, progress: bool = True) -> dict[str, Any]:
    """Run recipe ``name`` with a full ``config`` (:func:`~fh_gym.restorers.training.recipe.recipe_config`).

    Args:
        name: A registered recipe.
        config: Its full config.
        out_dir: The run folder (rerunning with the same folder resumes from ``last.pt``).
        env_config: The env whose episodes, restorer block and validation people a ``"patches"`` recipe
            uses (required for those, ignored by the others).
        resume: Continue from ``<out_dir>/last.pt`` when it exists.
        progress: Show a progress bar (rank 0 only).

    Returns:
        The recipe's summary (checkpoint paths, step count, final validation metrics).
    """
    recipe = get_recipe(name)
    if recipe.data == "selection":
        if env_config is None:
            raise ConfigError(f"recipe '{name}' learns from the env's episodes: run it with `fh-gym "
                              f"train-gain-predictor` (env flags) or pass env_config")
        return recipe.fn(selection_context(config, env_config, Path(out_dir), resume, progress))
    if recipe.data == "patches":
        if env_config is None:
            raise ConfigError(f"recipe '{name}' trains a patch restorer inside the env: run it with "
                              f"`fh-gym {name}` (env flags) or pass env_config")
        return recipe.fn(patch_context(config, env_config, Path(out_dir), resume, progress))
    rank, world, device = init_distributed(config["device"])
    try:
        return recipe.fn(pair_context(config, Path(out_dir), rank, world, device, resume, progress))
    finally:
        if world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def init_distributed(device: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device) of this process; initialises the process group under ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = resolve_device(device)
    if world <= 1:
        return 0, 1, dev
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    torch.distributed.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return torch.distributed.get_rank(), world, dev


def pair_context(config: dict[str, Any], out_dir: Path, rank: int, world: int, device: torch.device,
                 resume: bool, progress: bool) -> RecipeContext:
    """The context of an image-pair recipe: training batches, a fixed validation batch, the people's names."""
    seed = int(config["seed"])
    torch.manual_seed(seed + rank)
    people = int(config["min_images_per_identity"])
    sampler = PairSampler({**config["data"], "split": "train"}, config["degradation"], seed=(seed << 8) + rank,
                          device=device, min_images_per_identity=people)
    # Same people filter as training, so identity recipes get same-person validation pairs.
    val = PairSampler({**config["data"], "split": "val"}, config["degradation"], seed=seed, device=device,
                      min_images_per_identity=people)
    val_batch = val.fixed(config["val_size"])
    if "teacher" in config:  # distillation: every face labelled by the teacher recogniser, cached in the run
        sampler, val_batch = teacher_samplers(config, out_dir, sampler, val, rank, progress)
    return RecipeContext(config=config, out_dir=out_dir, scale=sampler.scale, image_size=sampler.dataset.image_size,
                         device=device, train_batch=sampler, val_batch=val_batch,
                         num_identities=sampler.num_identities, resume=resume, progress=progress and rank == 0,
                         rank=rank, world_size=world, extras={"class_names": sampler.class_names,
                                                              "teacher_mean": teacher_mean(sampler)})


def teacher_mean(sampler: PairSampler) -> list[float] | None:
    """The mean a distillation sampler subtracted from its targets (None: raw targets, or not a distillation)."""
    mean = getattr(sampler, "target_mean", None)
    return None if mean is None else [float(v) for v in mean]


def teacher_samplers(config: dict[str, Any], out_dir: Path, train: PairSampler, val: PairSampler, rank: int,
                     progress: bool) -> tuple[TeacherPairSampler, Any]:
    """The training sampler and fixed validation batch of a distillation recipe, with the teacher's targets.

    Every training face is labelled in each of ``config["views"]`` (cached in ``out_dir/teacher_targets.pt``
    by rank 0, so a killed run resumes the labelling); the validation batch is made of the faces
    :meth:`PairSampler.fixed` would pick, labelled in the HR view only (a few hundred teacher calls).
    """
    teacher = build_recognizer(config["teacher"], device=train.device)
    seed = int(config["seed"])
    out_dir.mkdir(parents=True, exist_ok=True)
    labelled = TeacherPairSampler(teacher, config["views"], cache=out_dir / TEACHER_CACHE if rank == 0 else None,
                                  progress=progress and rank == 0, data={}, degradation=config["degradation"],
                                  seed=(seed << 8) + rank, device=train.device, dataset=train.dataset)
    chosen = val.fixed_indices(int(config["val_size"]), np.random.default_rng(12345))
    val_labelled = TeacherPairSampler(teacher, ("hr",), data={}, degradation=config["degradation"], seed=seed,
                                      device=train.device, dataset=val.dataset.subset(chosen))
    if config.get("center", False):
        labelled.center(val_labelled)
    return labelled, val_labelled.fixed(len(chosen))


def patch_context(config: dict[str, Any], env_config: dict[str, Any], out_dir: Path, resume: bool,
                  progress: bool) -> RecipeContext:
    """The context of a patch-restorer recipe on ``env_config`` (its training split)."""
    seed = int(config["seed"])

    def patch_pairs(restorer: nn.Module, first_step: int) -> Callable[[], Any]:
        # Seeding by the resume step keeps a resumed run reproducible from that point.
        env = merge_config(env_config, {"restorer": restorer.arch_config})
        return PatchPairSampler(env, int(config["batch_size"]), restorer, seed=(seed << 20) + first_step).sample

    return RecipeContext(config=config, out_dir=out_dir, scale=int(env_config["degradation"]["scale"]),
                         image_size=int(env_config["image_size"]), device=resolve_device(env_config["device"]),
                         patch_pairs=patch_pairs, evaluate=even_grid_validation(env_config, config["eval_faces"], seed),
                         default_network=dict(env_config["restorer"]), resume=resume, progress=progress,
                         extras={"meta": {"data": env_config["data"],
                                          "frontend": frontend_signature(env_network(env_config, "frontend",
                                                                                     "generator"))}})


def selection_context(config: dict[str, Any], env_config: dict[str, Any], out_dir: Path, resume: bool,
                      progress: bool) -> RecipeContext:
    """The context of a patch-selection recipe: the oracle's gains of every candidate on states of training
    episodes repaired by the env's (frozen) restorer; validation: the learned strategy's episodes."""
    seed = int(config["seed"])
    restorer = env_network(env_config).eval()

    def gain_labels(first_step: int) -> Callable[[], Any]:
        sampler = GainLabelSampler(env_config, int(config["batch_size"]), restorer, seed=(seed << 20) + first_step,
                                   greedy_prob=float(config["greedy_prob"]), labels=str(config["labels"]))
        return sampler.sample

    val_config = merge_config(env_config, {"data": {**env_config["data"], "split": "val"}})
    val_data = build_dataset(val_config["data"])
    faces = np.random.default_rng(seed).choice(len(val_data), min(int(config["eval_faces"]), len(val_data)),
                                               replace=False)

    def evaluate(network: nn.Module) -> dict[str, float]:
        result = run_episodes(val_config, GainPredictorStrategy(network=network), np.sort(faces), restorer=restorer,
                              dataset=val_data, seed=seed)
        return {"eval/psnr_gain": float(np.mean(result.metrics["psnr"] - result.bicubic_metrics["psnr"]))}

    return RecipeContext(config=config, out_dir=out_dir, scale=int(env_config["degradation"]["scale"]),
                         image_size=int(env_config["image_size"]), device=resolve_device(env_config["device"]),
                         gain_labels=gain_labels, evaluate=evaluate, resume=resume, progress=progress,
                         extras={"meta": {"data": env_config["data"], "env_horizon": env_config["horizon"]}})


def even_grid_validation(env_config: dict[str, Any], num_faces: int,
                         seed: int) -> Callable[[nn.Module], dict[str, float]]:
    """``fn(restorer) -> {"eval/even_psnr_gain": dB}``: mean PSNR gain of even-grid episodes repaired by
    ``restorer`` on ``num_faces`` random validation faces (the same faces and LR inputs at every call)."""
    val_config = merge_config(env_config, {"data": {**env_config["data"], "split": "val"}})
    dataset = build_dataset(val_config["data"])
    indices = np.random.default_rng(seed).choice(len(dataset), min(int(num_faces), len(dataset)), replace=False)

    def evaluate(restorer: nn.Module) -> dict[str, float]:
        config = merge_config(val_config, {"restorer": restorer.arch_config})
        result = run_episodes(config, EvenGridStrategy(), indices, restorer=restorer, dataset=dataset,
                              batch_size=len(indices), seed=seed)
        return {"eval/even_psnr_gain": float(np.mean(result.final_psnr - result.start_psnr))}

    return evaluate
