"""``fh-gym train-generator srgan``: SRGAN-style generator, MSE pre-training then adversarial fine-tuning.

Stage ``mse`` (``pretrain_steps``): SRResNet, pixel MSE only (Ledig et al. Sec. 3: the generator is
initialised from the MSE-trained SRResNet). Stage ``adversarial`` (the rest of ``steps``): alternating
discriminator steps (BCE with logits) and generator steps on ``MSE + adversarial_weight * (-log D(G(x)))``.
SRGAN's content loss is a VGG feature distance; fh-gym has no pretrained VGG (no downloads), so the
content loss is pixel MSE (the paper's "SRGAN-MSE" variant), optionally plus a Gram texture term on a
fixed Gabor bank (``texture_weight``). The default ``adversarial_weight`` (1e-3) is SRGAN's.

The generator checkpoint (``<out>/generator.pt``) is the Attention-FH reward reference:
``reward: {type: attention_fh, reference: {type: SRGANGenerator, checkpoint: <out>/generator.pt}}``.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from fh_gym.restorers.archs.texture_arch import GaborTextureFeatures
from fh_gym.restorers.build import build_network
from fh_gym.restorers.losses.adversarial import frozen_discriminator_loss
from fh_gym.restorers.losses.texture import GramTexture
from fh_gym.restorers.training.generator_eval import generator_metrics, periodic_eval
from fh_gym.restorers.training.loop import TrainingRun, optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext, ddp, register_recipe
from fh_gym.restorers.training.staged import adam, degradation_defaults, discriminator_step, stage_at, stage_lengths

DEFAULTS: dict[str, Any] = {
    "degradation": degradation_defaults(),  # the env's default x8 bicubic, so it fits the default env
    "generator": {"type": "SRGANGenerator"},
    "discriminator": {"type": "SRGANDiscriminator"},
    "pretrain_steps": 2000,  # MSE stage; the adversarial stage gets steps - pretrain_steps
    "steps": 3000,
    "batch_size": 8,
    "lr": 5e-4,
    "d_lr": 1e-4,  # SRGAN: 1e-4
    "adversarial_weight": 1e-3,
    "texture_weight": 0.0,
    "checkpoint_every": 100,
    "eval_every": 250,
}


@register_recipe("srgan", DEFAULTS, "SRGAN-style generator (Attention-FH reward reference): MSE pre-training, "
                                    "then adversarial fine-tuning")
def train_srgan(ctx: RecipeContext) -> dict[str, Any]:
    cfg, scale, device = ctx.config, ctx.scale, ctx.device
    generator = build_network(cfg["generator"], "generator", scale=scale).to(device)
    discriminator = build_network(cfg["discriminator"], kind="aux").to(device)
    stages = stage_lengths(cfg, [("mse", cfg["pretrain_steps"])], "adversarial")
    optimizers = {"generator": adam(generator.parameters(), cfg["lr"]),
                  "discriminator": adam(discriminator.parameters(), cfg["d_lr"])}
    gen_w, disc_w = ddp(generator, ctx), ddp(discriminator, ctx)
    texture = GramTexture(GaborTextureFeatures().to(device)) if float(cfg["texture_weight"]) > 0 else None
    run = TrainingRun(ctx.out_dir, {"generator": generator, "discriminator": discriminator}, optimizers, cfg,
                      sum(n for _, n in stages), checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"],
                      resume=ctx.resume, progress=ctx.progress, description="srgan")
    alpha = float(cfg["adversarial_weight"])

    def step_fn(step: int) -> dict[str, float]:
        adversarial = stage_at(step, stages) == "adversarial" and alpha > 0
        generator.train()
        batch = ctx.train_batch(int(cfg["batch_size"]))
        sr = gen_w(batch.lr)
        losses: dict[str, float] = {}
        if adversarial:
            discriminator.train()
            losses["d_loss"] = discriminator_step(disc_w, optimizers["discriminator"], batch.hr, sr)
        mse = F.mse_loss(sr, batch.hr)
        loss = mse
        losses["mse"] = mse.item()
        if texture is not None:
            tex = texture.distance(sr, batch.hr).mean()
            loss = loss + float(cfg["texture_weight"]) * tex
            losses["texture"] = tex.item()
        if adversarial:
            adv = frozen_discriminator_loss(discriminator, sr)  # the bare module
            loss = loss + alpha * adv
            losses["g_adv"] = adv.item()
        optimizer_step(optimizers["generator"], loss)
        return {"loss": loss.item(), **losses}

    history = run.run(step_fn, log_fn=periodic_eval(int(cfg["eval_every"]),
                                                    lambda: generator_metrics(generator, ctx.val_batch, scale)),
                      time_budget_s=ctx.time_budget_s)
    run.save_networks()
    metrics = generator_metrics(generator, ctx.val_batch, scale)
    return {"generator": str(ctx.out_dir / "generator.pt"), "discriminator": str(ctx.out_dir / "discriminator.pt"),
            "step": run.step, "stages": dict(stages), "psnr": metrics["eval/psnr"],
            "psnr_bicubic": metrics["eval/psnr_bicubic"],
            "psnr_gain_db": metrics["eval/psnr"] - metrics["eval/psnr_bicubic"],
            "final_losses": next((h for h in reversed(history) if "loss" in h), {})}
