"""Recipe ``identity-net``: the SICNN CNN_R recogniser trained with A-softmax on HR faces of training people."""

from __future__ import annotations

from typing import Any

import torch

from fh_gym.restorers.build import build_network
from fh_gym.restorers.training.generator_eval import lr_milestone_factor, periodic_eval
from fh_gym.restorers.training.identity_training import (
    OPTIMIZER_DEFAULTS,
    RecognitionLoss,
    make_optimizer,
    random_hflip,
    recalibrate_batchnorm,
    verification_metrics,
)
from fh_gym.restorers.training.loop import TrainingRun, optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext, ddp, register_recipe

DEFAULTS: dict[str, Any] = {
    # CNN_R (SICNN Table 1) at CPU widths; num_classes is set from the data. Paper: width 64, feature_dim 512.
    "network": {"type": "CNNR", "width": 16, "feature_dim": 256, "margin": 4.0},
    "min_images_per_identity": 2,
    "steps": 3000,
    "batch_size": 32,
    # SICNN: SGD (momentum 0.9, weight decay 5e-4), lr 0.1 divided by 10 at 20K and 30K of 35K iterations,
    # batch 512. Adam learns much faster in short CPU runs (see the CNNR docstring).
    **OPTIMIZER_DEFAULTS,
    "flip": True,  # random horizontal flips
    "val_size": 256,
    "bn_batches": 8,  # training batches that re-estimate the feature normalisation before eval / saving
}


def build_identity_net(block: dict[str, Any], num_classes: int, device: torch.device) -> torch.nn.Module:
    """CNN_R with an A-softmax head of ``num_classes`` classes (the block's ``num_classes`` is overridden)."""
    return build_network({**block, "num_classes": int(num_classes)}, kind="aux").to(device)


def identity_step(loss_module: torch.nn.Module, optimizer: torch.optim.Optimizer, params: Any, images: torch.Tensor,
                  labels: torch.Tensor, grad_clip: float | None) -> float:
    """One A-softmax step of ``loss_module`` (a possibly DDP-wrapped :class:`RecognitionLoss`)."""
    loss_module.train()
    loss = loss_module(images, labels)
    optimizer_step(optimizer, loss, params, grad_clip)
    return loss.item()


@register_recipe("identity-net", DEFAULTS,
                 "SICNN CNN_R recogniser (Table 1) with A-softmax on HR faces; eval: pair verification")
def train_identity_net(ctx: RecipeContext) -> dict[str, Any]:
    """Train CNN_R + A-softmax head on the HR faces of the training people (labels from the pair sampler).

    Validation: verification on the fixed validation batch (people never trained on): every same-person pair
    and as many different-person pairs, scored by feature cosine; accuracy with the 10-fold threshold
    protocol and ROC AUC. The final checkpoint ``identity_net.pt`` holds the network *with* its head and
    the class names (``meta["class_names"]``), which the env's identity reward and ``fh-gym verify`` use.

    Returns:
        ``identity_net`` (checkpoint path), ``last``, ``step``, ``classes`` and the final ``eval/`` metrics.
    """
    cfg = ctx.config
    torch.manual_seed(int(cfg["seed"]))
    net = build_identity_net(cfg["network"], ctx.num_identities, ctx.device)
    loss_module = ddp(RecognitionLoss(net), ctx)
    optimizer = make_optimizer(cfg["optimizer"], net.parameters(), float(cfg["lr"]), float(cfg["momentum"]),
                               float(cfg["weight_decay"]))
    total = int(cfg["steps"])
    milestones = [int(f * total) for f in cfg["lr_milestones"]]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_milestone_factor(milestones))
    run = TrainingRun(ctx.out_dir, {"identity_net": net}, {"identity_net": optimizer}, cfg, total,
                      checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], resume=ctx.resume,
                      progress=ctx.progress, schedulers={"identity_net": scheduler}, description="identity-net")
    flips = torch.Generator().manual_seed(int(cfg["seed"]) * 1000 + ctx.rank)

    def step_fn(step: int) -> dict[str, float]:
        batch = ctx.train_batch(int(cfg["batch_size"]))
        images = random_hflip(batch.hr, flips) if cfg["flip"] else batch.hr
        loss = identity_step(loss_module, optimizer, net.parameters(), images, batch.identities, cfg["grad_clip"])
        return {"a_softmax": loss, "lambda": net.head.current_lambda()}

    def evaluate() -> dict[str, float]:
        recalibrate_batchnorm(net, (ctx.train_batch(int(cfg["batch_size"])).hr for _ in range(int(cfg["bn_batches"]))))
        return verification_metrics(net, ctx.val_batch.hr, ctx.val_batch.identities)

    run.run(step_fn, log_fn=periodic_eval(int(cfg["eval_every"]), evaluate), time_budget_s=ctx.time_budget_s)
    final = evaluate()
    class_names = list(ctx.extras.get("class_names") or [])
    paths = run.save_networks(meta={"class_names": class_names, "eval": final})
    return {"identity_net": str(paths.get("identity_net", ctx.out_dir / "identity_net.pt")),
            "last": str(run.checkpoint_path), "step": run.step, "classes": net.head.num_classes, **final}
