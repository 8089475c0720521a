"""Recipe ``ipfh-coarse``: the IPFH coarse hallucinator trained with pixel MSE (IPFH Eq. 2)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fh_gym.restorers.build import build_network
from fh_gym.restorers.training.generator_eval import (
    cosine_factor,
    generator_metrics,
    periodic_eval,
    psnr_db,
)
from fh_gym.restorers.training.loop import TrainingRun, optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext, ddp, register_recipe

DEFAULTS: dict[str, Any] = {
    "generator": {"type": "IPFHCoarseHallucinator"},
    "steps": 3000,
    "batch_size": 16,
    "lr": 1e-3,
    # Cosine decay from lr to lr * final_lr_fraction (IPFH: "learning rate from 0.1 to 1e-5", batch 128).
    "final_lr_fraction": 0.01,
    "grad_clip": 1.0,
}


@register_recipe("ipfh-coarse", DEFAULTS,
                 "IPFH coarse hallucinator (two stacked hourglasses) with pixel MSE (IPFH Eq. 2)")
def train_ipfh_coarse(ctx: RecipeContext) -> dict[str, Any]:
    """Train :class:`~fh_gym.restorers.archs.hourglass_arch.IPFHCoarseHallucinator` on LR/HR pairs with Adam.

    IPFH Eq. 2: ``L_Fc = 1/N sum ||F_c(x_i) - y_i||_2^2`` (here the per-pixel mean). Adam instead of the
    paper's unnamed optimiser, cosine learning-rate decay to ``lr * final_lr_fraction``.

    Returns:
        ``generator`` (final network checkpoint), ``last`` (training checkpoint), ``step`` and the final
        validation metrics (``eval/psnr``, ``eval/psnr_bicubic``).
    """
    cfg = ctx.config
    torch.manual_seed(int(cfg["seed"]))  # same initial weights on every rank
    generator = build_network(cfg["generator"], "generator", scale=ctx.scale).to(ctx.device)
    model = ddp(generator, ctx)
    optimizer = torch.optim.Adam(generator.parameters(), lr=float(cfg["lr"]))
    total = int(cfg["steps"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_factor(float(cfg["final_lr_fraction"]), total))
    run = TrainingRun(ctx.out_dir, {"generator": generator}, {"generator": optimizer}, cfg, total,
                      checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], resume=ctx.resume,
                      progress=ctx.progress, schedulers={"generator": scheduler}, description="ipfh-coarse")

    def step_fn(step: int) -> dict[str, float]:
        batch = ctx.train_batch(int(cfg["batch_size"]))
        model.train()
        sr = model(batch.lr)
        loss = F.mse_loss(sr, batch.hr)
        optimizer_step(optimizer, loss, generator.parameters(), cfg["grad_clip"])
        return {"mse": loss.item(), "psnr": float(psnr_db(sr.detach(), batch.hr).mean())}

    def evaluate() -> dict[str, float]:
        return generator_metrics(generator, ctx.val_batch, ctx.scale)

    run.run(step_fn, log_fn=periodic_eval(int(cfg["eval_every"]), evaluate), time_budget_s=ctx.time_budget_s)
    final = evaluate()
    paths = run.save_networks(meta={"eval": final})
    return {"generator": str(paths.get("generator", ctx.out_dir / "generator.pt")),
            "last": str(run.checkpoint_path), "step": run.step, **final}
