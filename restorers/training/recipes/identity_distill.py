"""Recipe ``identity-distill``: a fast torch recogniser that reproduces a teacher's face embeddings (dlib's).

dlib's ResNet descriptor judges identity well (99.38% on LFW by its authors) but costs ~66 ms a face on one CPU
core and has no gradients: too slow for an identity reward at every episode end and useless as a loss. This
recipe distils it into a CNN_R-shaped network on the faces of the training people, so identity terms run
batched inside the engine and on the GPU.

Loss (our choice; the papers train their recognisers from labels, not by distillation), on unit embeddings
``s`` (student) and ``t`` (teacher) of a batch:

* ``1 - cos(s_i, t_i)``: each face's embedding points where the teacher's does;
* ``relation_weight * mean_{i != j} (s_i . s_j - t_i . t_j)^2``: the batch's pairwise cosines match the
  teacher's, i.e. the distances that verification thresholds (relational distillation, Park et al. 2019).

Targets come from the caller (``PairBatch.teacher``): every training face labelled once per view (HR,
mirrored, bicubic of its LR version, optionally ``jitter``: a seeded geometric and photometric change, and
``jitter2`` / ``jitter3``: other draws of it; see :mod:`fh_gym.samplers.teacher_pairs`) and cached in the run
folder;
with ``center`` (default) they are the teacher's unit embeddings minus their mean over the training faces,
renormalised. Measured: with raw dlib targets a 2,500-step student learnt only their common direction
(cosine 0.88 to every target, 54% verification on validation pairs), since any two dlib embeddings of LFW
faces are already at cosine ~0.84.
The final checkpoint records the teacher, the class names of the training people (``fh-gym verify`` leaves
out pairs with them) and the same-person ``threshold`` between unit embeddings chosen on the validation
people, which :class:`fh_gym.identity.NetRecognizer` uses, and ``threshold_flip``, the same for its
flip-averaged embeddings (``NetRecognizer(flip=True)``, ``--recognizer CKPT+flip``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fh_gym.restorers.build import build_network
from fh_gym.restorers.config import Anything, Float, Str
from fh_gym.restorers.training.face_jitter import jitter_parameters, warp_faces
from fh_gym.restorers.training.generator_eval import lr_milestone_factor, periodic_eval
from fh_gym.restorers.training.identity_training import (
    OPTIMIZER_DEFAULTS,
    embed,
    flip_averaged,
    make_optimizer,
    pair_verification,
    recalibrate_batchnorm,
)
from fh_gym.restorers.training.loop import TrainingRun, optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext, ddp, register_recipe
from fh_gym.restorers.training.verification import batch_pairs, best_threshold

#: the views the targets are computed on (fh_gym.samplers.teacher_pairs.TEACHER_VIEWS)
VIEWS = ("hr", "flip", "bicubic", "jitter", "jitter2", "jitter3")


def _views_problem(value: Any) -> str | None:
    if not isinstance(value, list | tuple) or not value or any(v not in VIEWS for v in value):
        return f"expected a non-empty list of {', '.join(VIEWS)}"
    return None


DEFAULTS: dict[str, Any] = {
    # CNN_R (SICNN Table 1) at CPU widths without a classifier head, 128-D like dlib's descriptor.
    "network": {"type": "CNNR", "width": 16, "feature_dim": 128},
    "teacher": Str("dlib"),  # 'dlib' or an identity-network checkpoint (fh_gym.identity.build_recognizer)
    "views": Anything(["hr", "flip", "bicubic"], check=_views_problem),
    "relation_weight": 1.0,
    # online jitter of each training batch, targets kept (0: off; 1: the ``jitter`` view's ranges)
    "augment": Float(0.0, min=0.0, max=1.0),
    "center": True,  # distil the targets minus their mean over the training faces (see TeacherPairSampler.center)
    "steps": 3000,
    "batch_size": 32,
    **OPTIMIZER_DEFAULTS,
    "val_size": 256,
    "min_images_per_identity": 1,  # every training face teaches (the labels are the teacher's, not classes)
    "bn_batches": 8,
}


def distillation_loss(student: Tensor, teacher: Tensor, relation_weight: float) -> dict[str, Tensor]:
    """``{"cosine", "relation", "total"}`` losses of (B, D) student features against (B, D) teacher embeddings."""
    s, t = F.normalize(student, dim=1), F.normalize(teacher, dim=1)
    cosine = (1 - (s * t).sum(1)).mean()
    off = ~torch.eye(len(s), dtype=torch.bool, device=s.device)
    relation = ((s @ s.T - t @ t.T)[off] ** 2).mean() if len(s) > 1 else s.new_zeros(())
    return {"cosine": cosine, "relation": relation, "total": cosine + relation_weight * relation}


def distance_threshold(features: Tensor, labels: Tensor) -> float:
    """The same-person distance between unit embeddings that best separates the pairs of a labelled batch."""
    first, second, same = batch_pairs(labels.cpu().numpy(), max_negatives_per_positive=1)
    if not same.any() or same.all():
        return math.sqrt(2 - 2 * 0.5)
    unit = F.normalize(features, dim=1)
    cosines = (unit[first] * unit[second]).sum(1).cpu().numpy()
    return math.sqrt(max(0.0, 2 - 2 * best_threshold(cosines, same)))


@register_recipe("identity-distill", DEFAULTS,
                 "a torch recogniser distilled from dlib's descriptor (or another teacher); eval: pair verification")
def train_identity_distill(ctx: RecipeContext) -> dict[str, Any]:
    """Train the student on (view, teacher embedding) batches of the training people.

    Validation (people never trained on): verification accuracy of the student and of the teacher on the same
    pairs of the fixed validation batch, and their agreement (mean cosine between the two embeddings).

    Returns:
        ``identity_net`` (checkpoint path), ``last``, ``step``, ``threshold`` and the final ``eval/`` metrics.
    """
    cfg = ctx.config
    if ctx.val_batch is None or ctx.val_batch.teacher is None:
        raise ValueError("recipe 'identity-distill' needs teacher targets: run it with `fh-gym train-generator`")
    torch.manual_seed(int(cfg["seed"]))
    net = build_network({**cfg["network"], "num_classes": 0}, kind="aux").to(ctx.device)
    model = ddp(net, ctx)
    optimizer = make_optimizer(cfg["optimizer"], net.parameters(), float(cfg["lr"]), float(cfg["momentum"]),
                               float(cfg["weight_decay"]))
    total = int(cfg["steps"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_milestone_factor([int(f * total) for f in cfg["lr_milestones"]]))
    run = TrainingRun(ctx.out_dir, {"identity_net": net}, {"identity_net": optimizer}, cfg, total,
                      checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], resume=ctx.resume,
                      progress=ctx.progress, schedulers={"identity_net": scheduler}, description="identity-distill")
    val = ctx.val_batch
    teacher_metrics = {k.replace("eval/", "eval/teacher_"): v
                       for k, v in pair_verification(val.teacher, val.identities).items()}

    strength = float(cfg["augment"])

    def step_fn(step: int) -> dict[str, float]:
        batch = ctx.train_batch(int(cfg["batch_size"]))
        images = batch.hr
        if strength > 0:  # seeded by the step, so a resumed run draws what the uninterrupted one would have
            rng = np.random.default_rng([int(cfg["seed"]), step, 3])
            images = warp_faces(images, [jitter_parameters(rng, strength) for _ in range(len(images))])
        model.train()
        losses = distillation_loss(model(images), batch.teacher, float(cfg["relation_weight"]))
        optimizer_step(optimizer, losses["total"], net.parameters(), cfg["grad_clip"])
        return {name: value.item() for name, value in losses.items()}

    def evaluate() -> dict[str, float]:
        recalibrate_batchnorm(net, (ctx.train_batch(int(cfg["batch_size"])).hr for _ in range(int(cfg["bn_batches"]))))
        features = embed(net, val.hr)
        agreement = float((F.normalize(features, dim=1) * F.normalize(val.teacher, dim=1)).sum(1).mean())
        return {**pair_verification(features, val.identities), **teacher_metrics, "eval/agreement": agreement}

    run.run(step_fn, log_fn=periodic_eval(int(cfg["eval_every"]), evaluate), time_budget_s=ctx.time_budget_s)
    final = evaluate()
    features = embed(net, val.hr)
    threshold = distance_threshold(features, val.identities)
    # the flip-averaged embeddings (NetRecognizer flip) have distances of their own: threshold and metrics
    flipped = flip_averaged(features, embed(net, val.hr.flip(-1)))
    final.update({k.replace("eval/", "eval/flip_"): v for k, v in pair_verification(flipped, val.identities).items()})
    threshold_flip = distance_threshold(flipped, val.identities)
    paths = run.save_networks(meta={"class_names": list(ctx.extras.get("class_names") or []), "eval": final,
                                    "threshold": threshold, "threshold_flip": threshold_flip,
                                    "teacher": str(cfg["teacher"]),
                                    "views": list(cfg["views"]), "teacher_mean": ctx.extras.get("teacher_mean")})
    return {"identity_net": str(paths.get("identity_net", ctx.out_dir / "identity_net.pt")),
            "last": str(run.checkpoint_path), "step": run.step, "threshold": threshold,
            "threshold_flip": threshold_flip, **final}
