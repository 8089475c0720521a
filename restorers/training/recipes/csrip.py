"""``fh-gym train-generator csrip``: C-SRIP's two training stages (Sec. 3.3-3.4).

Stage 1 (``recognizer_steps``): one :class:`~fh_gym.restorers.archs.csrip_arch.SqueezeNetResidualRecognizer`
per cascade scale learns to classify the training identities from high-pass residuals of the HR face
downscaled to that scale (Eq. 1, cross-entropy; random horizontal flips as the paper's augmentation).

Stage 2 (the rest of ``steps``): the recognisers are frozen and the cascade is trained with Eq. 4 at
every scale j (side outputs and the final output): ``ssim_weight * (1 - SSIM)`` (0.5 = Eq. 2) +
``pixel_weight * L1`` + the identity prior ``identity_weight * CE(recogniser_j(SR_j), label)`` (Eq. 4,
alpha = 0.001) + ``identity_feature_weight * (1 - cos(f_j(SR_j), f_j(HR_j)))`` (the recogniser-feature
distance, label free). Intermediate targets are the HR face degraded like the LR input
(``degradation.downsample``; blur + decimation by default, as C-SRIP).

With both identity weights at 0 and ``recognizer_steps: 0`` it is the paper's "C+SSIM+M" ablation.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fh_gym.restorers.build import build_network
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.losses.ssim import multiscale_ssim_loss
from fh_gym.restorers.training.generator_eval import generator_metrics, periodic_eval
from fh_gym.restorers.training.identity_training import random_hflip
from fh_gym.restorers.training.loop import TrainingRun, optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext, ddp, register_recipe
from fh_gym.restorers.training.staged import (
    adam,
    check_reserved,
    degradation_defaults,
    freeze,
    lr_downscale_mode,
    scale_targets,
    stage_at,
    stage_lengths,
)

DEFAULTS: dict[str, Any] = {
    "degradation": degradation_defaults(downsample="blur_decimate"),
    "min_images_per_identity": 2,  # the identity priors need several images per person
    "generator": {"type": "CSRIPGenerator"},
    "recognizer": {"type": "SqueezeNetResidualRecognizer", "width": 0.25, "dropout": 0.5},
    "recognizer_steps": 500,  # stage 1; stage 2 gets steps - recognizer_steps
    "recognizer_lr": 1e-3,  # paper: 1e-4 (days of GPU training)
    "steps": 3000,
    "batch_size": 8,  # paper: 8 for the SR network
    "lr": 5e-4,
    "ssim_weight": 0.5,
    "pixel_weight": 1.0,
    "identity_weight": 1e-3,
    "identity_feature_weight": 1e-2,
    "checkpoint_every": 100,
    "eval_every": 250,
}



@register_recipe("csrip", DEFAULTS, "C-SRIP: residual SqueezeNet recognisers, then the SR cascade with "
                                    "multi-scale SSIM + identity priors")
def train_csrip(ctx: RecipeContext) -> dict[str, Any]:
    """C-SRIP's two stages in one resumable run (see the module docstring).

    Longer than most functions: the stage step functions share the networks, optimisers and targets through
    closures, as every recipe's.
    """
    cfg, scale, device = ctx.config, ctx.scale, ctx.device
    generator = build_network(cfg["generator"], "generator", scale=scale).to(device)
    if not hasattr(generator, "output_keys"):
        raise ConfigError(f"csrip needs a cascade with side outputs (CSRIPGenerator), got {cfg['generator']['type']}")
    keys = list(generator.output_keys)
    mode = lr_downscale_mode(ctx)
    use_identity = float(cfg["identity_weight"]) > 0 or float(cfg["identity_feature_weight"]) > 0
    if use_identity and int(cfg["recognizer_steps"]) <= 0:
        raise ConfigError("identity_weight / identity_feature_weight > 0 need trained recognisers: set "
                          "recognizer_steps > 0 (or both weights to 0 for the C+SSIM+M ablation)")
    stages = stage_lengths(cfg, [("recognizers", cfg["recognizer_steps"] if use_identity else 0)], "sr")

    check_reserved(cfg["recognizer"], ("num_classes", "input_size", "factor"), "recipe key 'recognizer'")
    lr_side = ctx.image_size // scale
    recognizers = {}
    if use_identity:
        for key in keys:
            factor = int(key[1:])
            block = {**cfg["recognizer"], "num_classes": ctx.num_identities, "input_size": lr_side * factor,
                     "factor": factor}
            recognizers[key] = build_network(block, kind="aux").to(device)

    networks = {"generator": generator, **{f"recognizer_{k}": r for k, r in recognizers.items()}}
    optimizers = {"generator": adam(generator.parameters(), cfg["lr"])}
    if recognizers:
        optimizers["recognizers"] = adam([p for r in recognizers.values() for p in r.parameters()],
                                         cfg["recognizer_lr"])
    gen_w = ddp(generator, ctx)
    rec_w = {k: ddp(r, ctx) for k, r in recognizers.items()}
    run = TrainingRun(ctx.out_dir, networks, optimizers, cfg, sum(n for _, n in stages),
                      checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], resume=ctx.resume,
                      progress=ctx.progress, description="csrip")
    state = {"frozen": False}

    def recognizer_step(batch_size: int) -> dict[str, float]:
        batch = ctx.train_batch(batch_size)
        targets = scale_targets(random_hflip(batch.hr), scale, keys, mode)
        losses, total = {}, 0.0
        for key in keys:
            logits = rec_w[key](targets[key])
            ce = F.cross_entropy(logits, batch.identities)
            total = total + ce
            losses[f"recognizer_ce_{key}"] = ce.item()
            losses[f"recognizer_acc_{key}"] = (logits.argmax(1) == batch.identities).float().mean().item()
        optimizer_step(optimizers["recognizers"], total)
        return losses

    def sr_step(batch_size: int) -> dict[str, float]:
        if not state["frozen"]:
            for rec in recognizers.values():
                freeze(rec)
            state["frozen"] = True
        generator.train()
        batch = ctx.train_batch(batch_size)
        outputs = gen_w(batch.lr, side_outputs=True)
        targets = scale_targets(batch.hr, scale, keys, mode)
        ssim_term = multiscale_ssim_loss(outputs, targets, float(cfg["ssim_weight"]))
        pixel = sum(F.l1_loss(outputs[k], targets[k]) for k in keys)
        loss = ssim_term + float(cfg["pixel_weight"]) * pixel
        losses = {"ssim": ssim_term.item(), "l1": pixel.item()}
        if recognizers:
            ce_total, feat_total = 0.0, 0.0
            for key, rec in recognizers.items():
                f_sr = rec.features(outputs[key])
                ce_total = ce_total + F.cross_entropy(rec.classifier(f_sr), batch.identities)
                with torch.no_grad():
                    f_hr = rec.features(targets[key])
                feat_total = feat_total + (1.0 - F.cosine_similarity(f_sr, f_hr, dim=1)).mean()
            loss = loss + float(cfg["identity_weight"]) * ce_total + float(cfg["identity_feature_weight"]) * feat_total
            losses.update(identity_ce=ce_total.item(), identity_feature=feat_total.item())
        optimizer_step(optimizers["generator"], loss)
        return {"loss": loss.item(), **losses}

    def step_fn(step: int) -> dict[str, float]:
        if stage_at(step, stages) == "recognizers":
            return recognizer_step(int(cfg["batch_size"]))
        return sr_step(int(cfg["batch_size"]))

    history = run.run(step_fn, log_fn=periodic_eval(int(cfg["eval_every"]),
                                                    lambda: generator_metrics(generator, ctx.val_batch, scale)),
                      time_budget_s=ctx.time_budget_s)
    run.save_networks()
    metrics = generator_metrics(generator, ctx.val_batch, scale)
    return {
        "generator": str(ctx.out_dir / "generator.pt"),
        **{f"recognizer_{k}": str(ctx.out_dir / f"recognizer_{k}.pt") for k in recognizers},
        "step": run.step,
        "stages": dict(stages),
        "psnr": metrics["eval/psnr"],
        "psnr_bicubic": metrics["eval/psnr_bicubic"],
        "psnr_gain_db": metrics["eval/psnr"] - metrics["eval/psnr_bicubic"],
        "final_losses": next((h for h in reversed(history) if "loss" in h), {}),
    }
