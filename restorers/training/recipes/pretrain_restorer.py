"""``fh-gym pretrain-restorer``: supervised pre-training of a patch restorer on random patch pairs.

IPFH pre-trains its local restoration network "on randomly selected patch pairs". The pairs come from the
caller (``ctx.patch_pairs``: in fh-gym, random-policy repair episodes on the *training people* of the env,
made with the restorer being trained, so it sees the states it will meet in the env); each step is one L2
update on the repaired box (:func:`~fh_gym.restorers.training.patch_pretrain.restorer_step`), with a cosine
learning-rate decay from ``lr`` to ``lr_final``. ``ctx.evaluate`` (the even-grid validation in fh-gym) runs
every ``eval_every`` steps (0: only at the end).
"""

from __future__ import annotations

from typing import Any

import torch

from fh_gym.restorers.build import build_network
from fh_gym.restorers.config import ConfigError, Int
from fh_gym.restorers.training.generator_eval import cosine_factor, periodic_eval
from fh_gym.restorers.training.loop import TrainingRun
from fh_gym.restorers.training.patch_pretrain import restorer_step
from fh_gym.restorers.training.recipe import RecipeContext, register_recipe

DEFAULTS: dict[str, Any] = {
    "arch": None,  # restorer block; None = the caller's (the env's restorer); a checkpoint key starts from it
    "steps": 4000,
    "batch_size": 32,
    "lr": 1e-3,
    "lr_final": 1e-4,  # cosine decay from lr to lr_final over `steps`
    "grad_clip": 1.0,
    "checkpoint_every": 250,
    "log_every": 25,
    "eval_every": 500,
    "eval_faces": Int(32, min=1),  # validation faces of the caller's evaluation
}


@register_recipe("pretrain-restorer", DEFAULTS, "patch restorer on random patch pairs from random-policy repair "
                                                "episodes (IPFH's pre-training); eval: even-grid PSNR gain",
                 data="patches")
def pretrain_restorer(ctx: RecipeContext) -> dict[str, Any]:
    """Train the patch restorer ``arch`` (or ``ctx.default_network``) on ``ctx.patch_pairs``.

    Returns:
        ``checkpoint`` (``restorer.pt``, the final weights; None on other ranks), ``steps`` and the last
        validation metrics (``eval/...``) with the step they were measured at (``eval_step``).
    """
    cfg = ctx.config
    block = cfg["arch"] or ctx.default_network
    if block is None or ctx.patch_pairs is None:
        raise ConfigError("pretrain-restorer needs a restorer block (arch) and a patch-pair source from its caller")
    torch.manual_seed(int(cfg["seed"]))  # initial weights drawn from the run's seed
    restorer = build_network(block, kind="patch", scale=ctx.scale).to(ctx.device)
    optimizer = torch.optim.Adam(restorer.parameters(), lr=cfg["lr"])
    steps = int(cfg["steps"])
    floor = float(cfg["lr_final"]) / float(cfg["lr"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_factor(floor, steps))
    config = {**cfg, "arch": dict(restorer.arch_config)}
    run = TrainingRun(ctx.out_dir, {"restorer": restorer}, {"restorer": optimizer}, config, steps,
                      checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], resume=ctx.resume,
                      progress=ctx.progress, schedulers={"lr": scheduler}, description="pretrain-restorer")
    draw = ctx.patch_pairs(restorer, run.step)  # seeded by the resume step: a resumed run is reproducible
    last: dict[str, Any] = {"metrics": {}, "step": None}  # the latest validation and its step

    def evaluate() -> dict[str, float]:
        if ctx.evaluate is not None:
            last.update(metrics=dict(ctx.evaluate(restorer)), step=run.step)
        return last["metrics"]

    def step_fn(_: int) -> dict[str, float]:
        windows, target = draw()
        return restorer_step(restorer, optimizer, windows, target, grad_clip=cfg["grad_clip"])

    log_fn = periodic_eval(int(cfg["eval_every"]), evaluate) if int(cfg["eval_every"]) > 0 else None
    run.run(step_fn, log_fn=log_fn, time_budget_s=ctx.time_budget_s)
    restorer.eval()
    if ctx.evaluate is not None and last["step"] != run.step:
        run.log(evaluate())
    paths = run.save_networks({"eval": last["metrics"], **ctx.extras.get("meta", {})})
    return {"checkpoint": paths.get("restorer"), "steps": run.step, "eval_step": last["step"], **last["metrics"]}
