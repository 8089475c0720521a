"""Recipe ``sicnn``: SICNN domain-integrated training (SICNN Sec. 3.6, Algorithm 1) of CNN_H with CNN_R."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from fh_gym.restorers.build import build_network
from fh_gym.restorers.checkpoint import load_network
from fh_gym.restorers.losses.identity import super_identity_loss
from fh_gym.restorers.training.generator_eval import (
    generator_metrics,
    lr_milestone_factor,
    periodic_eval,
    psnr_db,
)
from fh_gym.restorers.training.identity_training import (
    RecognitionLoss,
    class_label_map,
    make_optimizer,
    random_hflip,
    recalibrate_batchnorm,
)
from fh_gym.restorers.training.loop import TrainingRun, optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext, ddp, register_recipe
from fh_gym.restorers.training.recipes.identity_net import build_identity_net, identity_step

DEFAULTS: dict[str, Any] = {
    "generator": {"type": "SICNNGenerator"},
    # CNN_R trained from scratch when identity_checkpoint is null (paper widths: width 64, feature_dim 512).
    "identity_net": {"type": "CNNR", "width": 16, "feature_dim": 256, "margin": 4.0},
    "identity_checkpoint": None,  # an ``identity-net`` checkpoint (CNN_R trained on HR faces)
    "identity_pretrain_steps": 300,  # CNN_R on HR faces first, only without identity_checkpoint
    "sr_pretrain_steps": 300,  # CNN_H with L_SR only
    "steps": 1500,  # all phases together
    "min_images_per_identity": 2,
    "batch_size": 16,  # LR/HR pairs per iteration (paper 128); CNN_R sees the SR and HR halves (paper 256)
    "identity_batch_size": 32,  # HR faces per CNN_R pre-training step
    "lr": 1e-3,  # CNN_H, Adam (paper: SGD 0.02 for L_SR, 0.01 for domain-integrated training)
    # CNN_R: identity_lr while pre-training it here, identity_lr * identity_finetune_factor during
    # domain-integrated training (paper: SGD 0.1 for the recogniser, 0.01 for domain-integrated training).
    "identity_optimizer": "adam",
    "identity_lr": 1e-3,
    "identity_finetune_factor": 0.1,
    "momentum": 0.9,  # SGD only
    "weight_decay": 0.0,
    "lr_decay_at": 0.67,  # of the domain-integrated phase: both rates / 10 (paper: 6K of 9K iterations)
    "alpha": 8.0,  # weight of L_SI (SICNN Table 2 settles on 8)
    "grad_clip": 10.0,
    "flip": True,
    "val_size": 128,
    "bn_batches": 8,  # batches re-estimating CNN_R's feature normalisation when domain-integrated training starts
}


def euclidean_sr_loss(sr: Tensor, hr: Tensor) -> Tensor:
    """SICNN Eq. 1 as Caffe's EuclideanLoss: ``1/2 ||CNN_H(x) - y||_2^2`` summed over each image's pixels
    ([0, 1] values), averaged over the batch. A per-image sum (not a per-pixel mean) keeps L_SR large next
    to ``alpha * L_SI`` (at most ``4 alpha``), as in the paper's formulation."""
    return 0.5 * (sr - hr).pow(2).flatten(1).sum(dim=1).mean()


def _phases(cfg: dict[str, Any], pretrained_identity: bool) -> tuple[int, int, int]:
    """Global step where CNN_H pre-training, domain-integrated training and the run end (phases are cut
    in order when ``steps`` is smaller than their sum)."""
    total = int(cfg["steps"])
    identity_end = 0 if pretrained_identity else min(total, int(cfg["identity_pretrain_steps"]))
    sr_end = min(total, identity_end + int(cfg["sr_pretrain_steps"]))
    return identity_end, sr_end, total


@register_recipe("sicnn", DEFAULTS,
                 "SICNN: CNN_H + CNN_R, L_SR pre-training then domain-integrated training (Algorithm 1)")
def train_sicnn(ctx: RecipeContext) -> dict[str, Any]:
    """SICNN training in three phases of one resumable run (the step count says where a resumed run is):

    1. CNN_R on HR faces with A-softmax, ``identity_pretrain_steps`` steps, *only when no*
       ``identity_checkpoint`` *is given* (a brief stand-in for the paper's recogniser trained on Set A; the
       ``identity-net`` recipe trains a better one). A checkpoint's classes are matched to the training
       people by name; people it does not know are left out of ``L_FR``.
    2. CNN_H with ``L_SR`` only, ``sr_pretrain_steps`` steps.
    3. Domain-integrated training (Algorithm 1), for the rest: each iteration hallucinates a batch, updates
       CNN_R with ``L_FR`` on {SR, HR} (both labelled with the person), then CNN_H with
       ``L_SR + alpha L_SI``, ``L_SI`` computed by the *updated* CNN_R (its weights frozen for that step).

    Longer than most functions: the phase step functions share the two networks, their optimisers and the
    label map through closures.

    Returns:
        ``generator`` and ``identity_net`` (fine-tuned CNN_R, with class names) checkpoint paths, ``last``,
        ``step`` and the final validation metrics (PSNR, identity cosine of SR and bicubic vs HR).
    """
    cfg = ctx.config
    torch.manual_seed(int(cfg["seed"]))
    generator = build_network(cfg["generator"], "generator", scale=ctx.scale).to(ctx.device)
    recipe_classes = ctx.extras.get("class_names")
    if cfg["identity_checkpoint"]:
        identity_net = load_network(cfg["identity_checkpoint"], kind="aux").to(ctx.device)
        if getattr(identity_net, "head", None) is None:
            raise ValueError(f"{cfg['identity_checkpoint']} holds an identity network without an A-softmax head; "
                             "use a checkpoint of the identity-net recipe")
        head_classes = identity_net.checkpoint_meta.get("class_names") or None
        label_map = class_label_map(recipe_classes, head_classes, ctx.num_identities)
        class_names = list(head_classes or recipe_classes or [])
    else:
        identity_net = build_identity_net(cfg["identity_net"], ctx.num_identities, ctx.device)
        label_map, class_names = None, list(recipe_classes or [])
    if label_map is not None:
        label_map = label_map.to(ctx.device)

    g_model = ddp(generator, ctx)
    r_model = ddp(RecognitionLoss(identity_net), ctx)
    g_opt = torch.optim.Adam(generator.parameters(), lr=float(cfg["lr"]))
    r_opt = make_optimizer(cfg["identity_optimizer"], identity_net.parameters(), float(cfg["identity_lr"]),
                           float(cfg["momentum"]), float(cfg["weight_decay"]))
    identity_end, sr_end, total = _phases(cfg, bool(cfg["identity_checkpoint"]))
    # The rates depend on the global step only (set each step, so a resumed run needs no scheduler state);
    # a scheduler would be stepped in phases where its optimiser is idle.
    decay = lr_milestone_factor([sr_end + int(float(cfg["lr_decay_at"]) * (total - sr_end))])
    finetune = float(cfg["identity_finetune_factor"])
    rates = {g_opt: lambda step: float(cfg["lr"]) * decay(step),
             r_opt: lambda step: float(cfg["identity_lr"]) * decay(step) * (finetune if step >= sr_end else 1.0)}
    run = TrainingRun(ctx.out_dir, {"generator": generator, "identity_net": identity_net},
                      {"generator": g_opt, "identity_net": r_opt}, cfg, total,
                      checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], resume=ctx.resume,
                      progress=ctx.progress, description="sicnn")
    flips = torch.Generator().manual_seed(int(cfg["seed"]) * 1000 + ctx.rank)
    clip = cfg["grad_clip"]

    def labels_of(identities: Tensor) -> Tensor:
        return identities if label_map is None else label_map[identities]

    def generator_step(batch: Any, alpha: float) -> dict[str, float]:
        g_model.train()
        sr = g_model(batch.lr)
        loss_sr = euclidean_sr_loss(sr, batch.hr)
        out = {"l_sr": loss_sr.item(), "psnr": float(psnr_db(sr.detach(), batch.hr).mean())}
        loss = loss_sr
        if alpha > 0:
            # Algorithm 1 line 4: CNN_R first, on the hallucinated and the HR faces of this mini-batch.
            images = torch.cat([sr.detach().clamp(0, 1), batch.hr])
            labels = labels_of(batch.identities).repeat(2)
            if cfg["flip"]:
                images = random_hflip(images, flips)
            out["l_fr"] = identity_step(r_model, r_opt, identity_net.parameters(), images, labels, clip)
            # Line 5: CNN_H with L_SR + alpha L_SI through the updated (now frozen) CNN_R, in eval mode so
            # its feature normalisation uses running statistics, not the SR batch's own (that would hide
            # exactly the SR-vs-HR domain shift L_SI measures).
            identity_net.requires_grad_(False)
            identity_net.eval()
            try:
                with torch.no_grad():
                    f_hr = identity_net(batch.hr)
                loss_si = super_identity_loss(identity_net(sr), f_hr)
            finally:
                identity_net.requires_grad_(True)
                identity_net.train()
            loss = loss_sr + alpha * loss_si
            out["l_si"] = loss_si.item()
        optimizer_step(g_opt, loss, generator.parameters(), clip)
        return out

    def step_fn(step: int) -> dict[str, float]:
        for optimizer, rate in rates.items():
            for group in optimizer.param_groups:
                group["lr"] = rate(step)
        if step < identity_end:
            batch = ctx.train_batch(int(cfg["identity_batch_size"]))
            images = random_hflip(batch.hr, flips) if cfg["flip"] else batch.hr
            return {"l_fr": identity_step(r_model, r_opt, identity_net.parameters(), images,
                                          labels_of(batch.identities), clip)}
        if step == sr_end:
            # L_SI reads CNN_R in eval mode: start domain-integrated training with fresh statistics.
            recalibrate_batchnorm(identity_net, (ctx.train_batch(int(cfg["identity_batch_size"])).hr
                                                 for _ in range(int(cfg["bn_batches"]))))
        batch = ctx.train_batch(int(cfg["batch_size"]))
        return generator_step(batch, 0.0 if step < sr_end else float(cfg["alpha"]))

    def evaluate() -> dict[str, float]:
        return generator_metrics(generator, ctx.val_batch, ctx.scale, identity_net)

    run.run(step_fn, log_fn=periodic_eval(int(cfg["eval_every"]), evaluate), time_budget_s=ctx.time_budget_s)
    final = evaluate()
    paths = run.save_networks(meta={"class_names": class_names, "eval": final,
                                    "phases": {"identity_end": identity_end, "sr_end": sr_end}})
    return {"generator": str(paths.get("generator", ctx.out_dir / "generator.pt")),
            "identity_net": str(paths.get("identity_net", ctx.out_dir / "identity_net.pt")),
            "last": str(run.checkpoint_path), "step": run.step, **final}
