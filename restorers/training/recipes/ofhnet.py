"""``fh-gym train-generator ofhnet``: OFHNet's curriculum (Sec. 3.3) on occluded LR faces.

Stage 0 ``landmark`` (``landmark_steps``): the landmark net regresses the data's landmarks from HR faces
(Euclidean objective), then is frozen. It runs only when the data has landmarks (synthetic, CelebA) and
no ``landmark_checkpoint`` is given; with a checkpoint (e.g. from ``landmark-net`` on synthetic data) the
structure loss works on any data, since Eq. 5 compares A(h') with A(h) and needs no labels.
Without either (LFW) the semantic structure term is skipped, which is logged and reported in the summary.

Stage 1 ``inpaint`` (``inpaint_steps``): Eq. 1, L2 between the inpainter's output and the clean LR face
(the occluded LR with the hole filled from the HR face), plus ``mask_weight`` x BCE of the predicted
occlusion mask (our addition, see :class:`~fh_gym.restorers.archs.ofhnet_arch.OFHNetInpainter`).

Stage 2 ``upsample`` (the rest of ``steps``): the inpainter is frozen (``finetune_inpainter: false``) and
the upsampler, fed the inpainter's output as at test time, minimises Eq. 6 with the paper's terms:
``MSE(h', h) + adversarial_weight * (-log D(h')) + structure_weight * ||A(h') - A(h)||^2``, alternating
with discriminator steps on Eq. 3 (BCE with logits, :mod:`fh_gym.restorers.losses.adversarial`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fh_gym.restorers.archs.filters import downscale
from fh_gym.restorers.archs.ofhnet_arch import occlusion_bce
from fh_gym.restorers.build import build_network
from fh_gym.restorers.checkpoint import load_network
from fh_gym.restorers.losses.adversarial import frozen_discriminator_loss
from fh_gym.restorers.losses.landmark import semantic_structure_loss
from fh_gym.restorers.training.generator_eval import (
    generator_metrics,
    periodic_eval,
    psnr_db,
    run_generator,
)
from fh_gym.restorers.training.loop import TrainingRun, optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext, ddp, register_recipe
from fh_gym.restorers.training.recipes.landmark_net import landmark_step
from fh_gym.restorers.training.staged import (
    adam,
    degradation_defaults,
    discriminator_step,
    freeze,
    log,
    lr_downscale_mode,
    stage_at,
    stage_lengths,
)

DEFAULTS: dict[str, Any] = {
    "degradation": degradation_defaults(occlusion={"area": [0.0625, 0.25], "fill": "noise"}),
    "generator": {"type": "OFHNetGenerator"},
    "discriminator": {"type": "FaceDiscriminator"},
    "landmark_net": {"type": "OFHNetLandmarkNet", "num_points": 5},
    "landmark_checkpoint": None,  # a trained landmark net (skips stage 0)
    "landmark_steps": 300,
    "inpaint_steps": 500,
    "steps": 3000,  # total over the stages; the upsampling stage gets the rest
    "batch_size": 16,
    "lr": 1e-3,
    "landmark_lr": 1e-3,
    "d_lr": 2e-4,
    "mask_weight": 0.1,
    "adversarial_weight": 1e-3,  # alpha of Eq. 6 (not given; SRGAN's value)
    "structure_weight": 1.0,  # beta of Eq. 6 (not given); landmarks are in [0, 1] image units
    "finetune_inpainter": False,
    "checkpoint_every": 100,
    "eval_every": 250,
}

@register_recipe("ofhnet", DEFAULTS, "OFHNet: landmark net, LR inpainting, then upsampling with MSE + adversarial "
                                     "+ semantic structure losses, on occluded LR faces")
def train_ofhnet(ctx: RecipeContext) -> dict[str, Any]:
    """OFHNet's curriculum in one resumable run (see the module docstring).

    Longer than most functions: the stage step functions share the networks, optimisers and the optional
    landmark net through closures, as every recipe's.
    """
    cfg, scale, device = ctx.config, ctx.scale, ctx.device
    generator = build_network(cfg["generator"], "generator", scale=scale).to(device)
    if not (hasattr(generator, "inpainter") and hasattr(generator, "upsampler")):
        raise ValueError(f"ofhnet needs an inpainter + upsampler generator (OFHNetGenerator), got "
                         f"{cfg['generator']['type']}")
    discriminator = build_network(cfg["discriminator"], kind="aux").to(device)
    mode = lr_downscale_mode(ctx)

    has_labels = ctx.val_batch.landmarks is not None
    landmark_net, train_landmarks, structure_note = None, False, "used"
    if cfg["landmark_checkpoint"]:
        landmark_net = freeze(load_network(cfg["landmark_checkpoint"], kind="aux").to(device))
        structure_note = f"used (landmark net from {cfg['landmark_checkpoint']})"
    elif has_labels and float(cfg["structure_weight"]) > 0:
        landmark_net, train_landmarks = build_network(cfg["landmark_net"], kind="aux").to(device), True
        structure_note = "used (landmark net trained in stage 0 on the data's landmarks)"
    else:
        structure_note = ("skipped: structure_weight is 0" if float(cfg["structure_weight"]) <= 0 else
                          "skipped: the data has no landmarks and no landmark_checkpoint is given")
    if landmark_net is None and ctx.rank == 0:
        log.warning("ofhnet: semantic structure loss %s", structure_note.removeprefix("skipped: "))

    stages = stage_lengths(cfg, [("landmark", cfg["landmark_steps"] if train_landmarks else 0),
                                 ("inpaint", cfg["inpaint_steps"])], "upsample")
    networks = {"generator": generator, "discriminator": discriminator}
    upsampler_params = list(generator.upsampler.parameters())
    if cfg["finetune_inpainter"]:
        upsampler_params += list(generator.inpainter.parameters())
    optimizers = {"inpainter": adam(generator.inpainter.parameters(), cfg["lr"]),
                  "upsampler": adam(upsampler_params, cfg["lr"]),
                  "discriminator": adam(discriminator.parameters(), cfg["d_lr"])}
    if train_landmarks:
        networks["landmark_net"] = landmark_net
        optimizers["landmark_net"] = adam(landmark_net.parameters(), cfg["landmark_lr"])
    inpainter_w, upsampler_w, disc_w = ddp(generator.inpainter, ctx), ddp(generator.upsampler, ctx), ddp(
        discriminator, ctx)
    landmark_w = ddp(landmark_net, ctx) if train_landmarks else None
    run = TrainingRun(ctx.out_dir, networks, optimizers, cfg, sum(n for _, n in stages),
                      checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], resume=ctx.resume,
                      progress=ctx.progress, description="ofhnet")
    state = {"stage": None}
    bs = int(cfg["batch_size"])

    def clean_lr(batch: Any) -> torch.Tensor:
        # The LR label l-hat: the input with its hole filled by the true LR pixels (noise/JPEG outside kept).
        if batch.occlusion is None:
            return batch.lr
        return torch.where(batch.occlusion > 0.5, downscale(batch.hr, scale, mode), batch.lr)

    def enter(stage: str) -> None:
        if state["stage"] == stage:
            return
        state["stage"] = stage
        if stage != "landmark" and landmark_net is not None:
            freeze(landmark_net)
        if stage == "upsample" and not cfg["finetune_inpainter"]:
            freeze(generator.inpainter)

    def inpaint_step() -> dict[str, float]:
        generator.inpainter.train()
        batch = ctx.train_batch(bs)
        out = inpainter_w(batch.lr, return_all=True)
        target = clean_lr(batch)
        mse = F.mse_loss(out["raw"], target)
        loss = mse
        losses = {"inpaint_mse": mse.item()}
        if out["mask_logits"] is not None:
            bce = occlusion_bce(out["mask_logits"], batch.occlusion)
            loss = loss + float(cfg["mask_weight"]) * bce
            losses["mask_bce"] = bce.item()
        optimizer_step(optimizers["inpainter"], loss)
        return losses

    def upsample_step() -> dict[str, float]:
        generator.upsampler.train()
        batch = ctx.train_batch(bs)
        if cfg["finetune_inpainter"]:
            generator.inpainter.train()
            completed = inpainter_w(batch.lr)
        else:
            generator.inpainter.eval()  # frozen: evaluation toggles the whole generator back to train mode
            with torch.no_grad():
                completed = generator.inpainter(batch.lr)  # predicted mask, as at test time
        sr = upsampler_w(completed)
        losses: dict[str, float] = {}
        alpha, beta = float(cfg["adversarial_weight"]), float(cfg["structure_weight"])
        if alpha > 0:
            # Discriminator step (Eq. 3).
            losses["d_loss"] = discriminator_step(disc_w, optimizers["discriminator"], batch.hr, sr)
        mse = F.mse_loss(sr, batch.hr)
        loss = mse
        losses["mse"] = mse.item()
        if alpha > 0:
            adv = frozen_discriminator_loss(discriminator, sr)  # the bare module
            loss = loss + alpha * adv
            losses["g_adv"] = adv.item()
        if landmark_net is not None and beta > 0:
            structure = semantic_structure_loss(landmark_net, sr, batch.hr)
            loss = loss + beta * structure
            losses["structure"] = structure.item()
        optimizer_step(optimizers["upsampler"], loss)
        return {"loss": loss.item(), **losses}

    def step_fn(step: int) -> dict[str, float]:
        stage = stage_at(step, stages)
        enter(stage)
        if stage == "landmark":
            landmark_net.train()
            return landmark_step(landmark_w, optimizers["landmark_net"], ctx.train_batch(bs))
        return inpaint_step() if stage == "inpaint" else upsample_step()

    def evaluate() -> dict[str, float]:
        metrics = generator_metrics(generator, ctx.val_batch, scale)
        with torch.no_grad():
            inpainted = run_generator(generator.inpainter, ctx.val_batch.lr)
            up = F.interpolate(inpainted, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)
            metrics["eval/psnr_inpainted_bicubic"] = float(psnr_db(up, ctx.val_batch.hr, scale).mean())
        return metrics

    history = run.run(step_fn, log_fn=periodic_eval(int(cfg["eval_every"]), evaluate), time_budget_s=ctx.time_budget_s)
    run.save_networks()
    metrics = evaluate()
    summary = {"generator": str(ctx.out_dir / "generator.pt"), "discriminator": str(ctx.out_dir / "discriminator.pt"),
               "step": run.step, "stages": dict(stages), "structure_loss": structure_note,
               "psnr": metrics["eval/psnr"], "psnr_bicubic": metrics["eval/psnr_bicubic"],
               "psnr_inpainted_bicubic": metrics["eval/psnr_inpainted_bicubic"],
               "psnr_gain_db": metrics["eval/psnr"] - metrics["eval/psnr_bicubic"],
               "final_losses": next((h for h in reversed(history) if "loss" in h or "mse" in h), {})}
    if train_landmarks:
        summary["landmark_net"] = str(ctx.out_dir / "landmark_net.pt")
    return summary
