"""``fh-gym train-generator landmark-net``: OFHNet's landmark net alone (coordinate regression on HR faces).

Its ``landmark_net.pt`` is the ``landmark_checkpoint`` of the ``ofhnet`` recipe on data without landmarks
(LFW): the semantic structure loss (OFHNet Eq. 5) compares A(h') with A(h) and needs no labels.
"""

from __future__ import annotations

from typing import Any

import torch

from fh_gym.restorers.build import build_network
from fh_gym.restorers.losses.landmark import landmark_regression_loss, normalize_landmarks
from fh_gym.restorers.training.loop import TrainingRun, optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext, ddp, register_recipe
from fh_gym.restorers.training.staged import adam

DEFAULTS: dict[str, Any] = {
    "landmark_net": {"type": "OFHNetLandmarkNet", "num_points": 5},
    "steps": 1000,
    "batch_size": 32,
    "checkpoint_every": 200,
}


def landmark_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Any) -> dict[str, float]:
    """One Euclidean regression step of the landmark net on ``batch.hr`` (also OFHNet's stage 0)."""
    if batch.landmarks is None:
        raise ValueError("landmark training needs data with landmarks (synthetic or celeba); this data has none")
    h, w = batch.hr.shape[-2:]
    loss = landmark_regression_loss(net(batch.hr), normalize_landmarks(batch.landmarks, h, w))
    optimizer_step(optimizer, loss)
    # RMS point error in HR pixels, easier to read than the normalised squared error
    return {"landmark_loss": loss.item(), "landmark_rmse_px": float(loss.detach().sqrt() * w)}


@register_recipe("landmark-net", DEFAULTS, "OFHNet landmark net: coordinate regression on faces with "
                                           "landmarks (synthetic / CelebA)")
def train_landmark_net(ctx: RecipeContext) -> dict[str, Any]:
    cfg = ctx.config
    net = build_network(cfg["landmark_net"], kind="aux").to(ctx.device)
    optimizer = adam(net.parameters(), cfg["lr"])
    net_w = ddp(net, ctx)
    run = TrainingRun(ctx.out_dir, {"landmark_net": net}, {"landmark_net": optimizer}, cfg, cfg["steps"],
                      checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], resume=ctx.resume,
                      progress=ctx.progress, description="landmark-net")
    history = run.run(lambda step: landmark_step(net_w, optimizer, ctx.train_batch(int(cfg["batch_size"]))),
                      time_budget_s=ctx.time_budget_s)
    run.save_networks()
    return {"landmark_net": str(ctx.out_dir / "landmark_net.pt"), "step": run.step,
            "final_losses": history[-1] if history else {}}
