"""Restorer fine-tuning with an identity term on whole repaired faces (``fh-gym finetune-restorer``).

A patch restorer trained on PSNR alone sharpens each window towards its truth, but nothing asks the *whole*
face to stay the same person. This driver fine-tunes an env's restorer on episodes of a fixed strategy (the even
grid by default) on the env's training people, with IPFH's two losses (:class:`~fh_gym.agents.ipfh.finetune.
IPFHRestorerFineTuner`): after every repair the patch MSE (Eq. 16, MSE term only), and at T the image loss
(Eq. 17) on the final face replayed differentiably through every repair:

    L_im = MSE(y_hat, y) + identity_weight * L_id(y_hat, y)

with ``phi`` the ``identity_net`` and IPFH's ``L_id`` (Eq. 14, :class:`fh_gym.engine.identity.IdentityTerms`):
``1 - cos(phi(y_hat), phi(y))`` for a network without a classifier head (e.g. the network distilled from dlib by
``identity-distill``: batched, differentiable), but the A-softmax *classification* loss for people an identity
net's head was trained on (the shipped ``CNNR`` files): on training people that is a loss of ~15 nats, not a
distance in [0, 2], so its weight must be far smaller. ``identity_weight: 0`` is the PSNR-only fine-tuning of
the same restorer with the same budget, the fair baseline of an identity-aware one. The output ``restorer.pt``
records its front-end and identity set-up, for ``--restorer`` in ``compare``, ``verify`` and the envs; it is
rewritten at every checkpoint with its ``step`` and ``total_steps`` in the meta (``step < total_steps``: the run
is unfinished), so it never lags ``last.pt``.

Choices (the papers train their restorers jointly with RL; this is the supervised part alone): the episodes
follow a fixed strategy so the restorer sees the windows it will repair in the comparisons; the cosine form of
``L_id`` (IPFH Eq. 14 for a network without a classifier head) is bounded, where Eq. 13's feature distance
scales with the network's feature norms: use a head-less identity net.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fh_gym.agents.ipfh.finetune import IPFHRestorerFineTuner
from fh_gym.agents.strategies import build_strategy
from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.engine.networks import frontend_signature
from fh_gym.episodes import EpisodeHook, play_episodes
from fh_gym.identity import identity_block
from fh_gym.restorers.config import Choice, Float, Int, Schema, Str
from fh_gym.restorers.training.loop import TrainingRun

#: the ``finetune-restorer`` settings, their defaults and allowed values
SCHEMA = Schema({
    "steps": Int(300, min=1, doc="batches of episodes (one image-loss update each)"),
    "batch_size": Int(8, min=1, doc="faces per batch"),
    "lr": Float(5e-5, min=0, min_open=True),
    "grad_clip": Float(1.0, min=0),
    "identity_net": Str(None, nullable=True, doc="identity network for the identity term: a checkpoint or shipped "
                                                 "weights TYPE:NAME (CNNR:lfw_dlib)"),
    "identity_weight": Float(0.02, min=0, doc="weight of the identity term L_id in the image loss (1 - cosine "
                             "for a head-less identity net)"),
    "strategy": Choice("even", ("even", "centre_out", "random", "sequential")),
    "seed": Int(0, min=0),
    "checkpoint_every": Int(50, min=1),
    "log_every": Int(10, min=1),
}, name="finetune-restorer")


class _TunerHook(EpisodeHook):
    """Feeds every step of the episodes to the fine-tuner and keeps the last update's scalars."""

    def __init__(self, tuner: IPFHRestorerFineTuner) -> None:
        self.tuner = tuner
        self.stats: dict[str, float] = {}

    def on_start(self, engine: RepairEngine, slots: Tensor) -> None:
        self.tuner.start_episode(slots)

    def on_step(self, engine: RepairEngine, slots: Tensor, step: StepOutput) -> None:
        self.stats.update(self.tuner.after_step(step) or {})

    def on_end(self, engine: RepairEngine, slots: Tensor) -> None:
        self.stats.update(self.tuner.end_episode(slots))


def loss_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The IPFH fine-tuner's ``restorer_loss`` block of these settings (MSE terms, the cosine identity term)."""
    identity = float(cfg["identity_weight"]) if cfg["identity_net"] else 0.0
    return {"patch": {"mse": 1.0, "texture": 0.0, "lr_mse": 0.0, "lr_texture": 0.0},
            "image": {"mse": 1.0, "texture": 0.0, "lr_mse": 0.0, "feature": 0.0, "identity": identity},
            "image_loss": True, "texture_features": {"type": "GaborTextureFeatures"}, "lr_domain": "resize",
            "identity_net": identity_block(cfg["identity_net"]) if cfg["identity_net"] else None}


def finetune_restorer(env_config: dict[str, Any], settings: dict[str, Any], out_dir: Path, *, resume: bool = True,
                      progress: bool = True) -> dict[str, Any]:
    """Fine-tune ``env_config``'s restorer (see the module docstring); rerunning into ``out_dir`` resumes.

    Returns:
        ``restorer`` (the checkpoint path), ``steps`` and the last update's losses.
    """
    cfg = SCHEMA.validate(settings, "finetune-restorer")
    torch.manual_seed(int(cfg["seed"]))
    engine = RepairEngine(env_config, int(cfg["batch_size"]))
    tuner = IPFHRestorerFineTuner(engine, lr=float(cfg["lr"]), grad_clip=float(cfg["grad_clip"]) or None,
                                  faces_per_step=None, loss_cfg=loss_config(cfg))
    actor = build_strategy(cfg["strategy"])
    hook = _TunerHook(tuner)
    meta = {"frontend": frontend_signature(engine.frontend), "identity_net": cfg["identity_net"],
            "identity_weight": float(cfg["identity_weight"]), "strategy": cfg["strategy"],
            "data": env_config["data"], "finetuned_from": getattr(engine.restorer, "weights_source", None),
            "total_steps": int(cfg["steps"])}
    # restorer.pt follows every checkpoint, so it never lags last.pt (a copied or resumed run folder's file is
    # replaced at the first checkpoint); its step against total_steps says how far the run had come.
    run = TrainingRun(out_dir, {"restorer": engine.restorer}, {"restorer": tuner.optimizer}, cfg, int(cfg["steps"]),
                      checkpoint_every=int(cfg["checkpoint_every"]), log_every=int(cfg["log_every"]), resume=resume,
                      progress=progress, description="finetune-restorer",
                      on_checkpoint=lambda run: run.write_networks(meta))
    slots = engine.all_slots()

    def step_fn(step: int) -> dict[str, float]:
        # Seeded by the step: a resumed run draws the faces the uninterrupted one would have.
        play_episodes(engine, actor, slots, np.random.default_rng([int(cfg["seed"]), step]), hooks=[hook],
                      keep_batch=True)
        return dict(hook.stats)

    run.run(step_fn)
    paths = run.save_networks(meta=meta)
    return {"restorer": str(paths.get("restorer", out_dir / "restorer.pt")), "steps": run.step, **hook.stats}
