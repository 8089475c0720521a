"""``gain-predictor``: a supervised one-step lookahead without the truth -- predict every candidate's gain.

The network (:class:`~fh_gym.restorers.archs.selection_arch.BoxPoolingSelector`, one output per box) sees the
selection input of a state (I_t, I_0, coverage) and predicts, for each candidate action, the PSNR gain in dB the
repair would bring; the labels are the greedy oracle's true gains on training people (the caller's
``ctx.gain_labels``: in fh-gym :class:`~fh_gym.samplers.gain_labels.GainLabelSampler`), or with ``labels:
self_lookahead`` the restorer's own expected gains (its squared change, in dB: the sampler's docstring). The
loss is the MSE of the gains over the allowed candidates plus ``rank_weight`` x the cross-entropy of a softmax
over the allowed candidates towards the best-labelled one (acting takes the argmax, so the order matters more than
the values).
``ctx.evaluate`` (fh-gym: the ``gain_predictor`` strategy's episodes on validation people) runs every
``eval_every`` steps.

With ``replay_states`` > 0 every fresh label batch also enters a replay buffer
(:mod:`fh_gym.restorers.training.label_replay`) and each step makes ``replay_updates`` more updates on random
states of it (``mirror``: half of them mirrored left-right): labels cost ~30x an update, so reusing them is
how a CPU run learns more per label. A step is still one fresh label batch (``steps`` counts labels); the logged
losses are those of the fresh batch, before the network has trained on it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fh_gym.restorers.build import build_network
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.training.generator_eval import cosine_factor, periodic_eval
from fh_gym.restorers.training.label_replay import LabelReplay
from fh_gym.restorers.training.loop import TrainingRun, optimizer_step
from fh_gym.restorers.training.recipe import RecipeContext, register_recipe

#: ``labels`` choices: the greedy oracle's true gains, or the restorer's expected gains (its squared change)
LABELS = ("oracle", "self_lookahead")

DEFAULTS: dict[str, Any] = {
    "network": {"type": "BoxPoolingSelector"},
    "steps": 3000,
    "batch_size": 32,
    "lr": 1e-3,
    "lr_final": 1e-4,
    "grad_clip": 1.0,
    "rank_weight": 0.1,  # weight of the cross-entropy towards the best-labelled candidate
    "labels": "oracle",  # oracle: true gains; self_lookahead: the restorer's expected gains (fh-gym's sampler)
    "greedy_prob": 0.5,  # behaviour policy of the labelled episodes: oracle with this probability, else random
    "replay_states": 0,  # states kept for reuse (0: every label trains once)
    "replay_updates": 0,  # extra updates on replayed states per fresh label batch
    "mirror": False,  # mirror half of the replayed states left-right (grid-like candidate sets only)
    "checkpoint_every": 250,
    "log_every": 25,
    "eval_every": 1000,
    "eval_faces": 32,
}


def gain_losses(predicted: torch.Tensor, gains: torch.Tensor, allowed: torch.Tensor,
                rank_weight: float) -> dict[str, torch.Tensor]:
    """MSE over the allowed candidates, cross-entropy towards the best allowed one, and their weighted sum."""
    mask = allowed.to(predicted.dtype)
    mse = ((predicted - gains) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)
    logits = predicted.masked_fill(~allowed, -1e9)
    best = gains.masked_fill(~allowed, float("-inf")).argmax(dim=1)
    rank = F.cross_entropy(logits, best)
    return {"mse": mse, "rank": rank, "loss": mse + rank_weight * rank}


@register_recipe("gain-predictor", DEFAULTS, "one-step gain predictor (box-pooled CNN) on the greedy oracle's gains "
                                             "of training people; eval: its episodes' PSNR gain", data="selection")
def train_gain_predictor(ctx: RecipeContext) -> dict[str, Any]:
    """Train ``network`` on ``ctx.gain_labels``; returns ``checkpoint`` (``gain_predictor.pt``), ``steps`` and
    the last validation metrics."""
    cfg = ctx.config
    if ctx.gain_labels is None:
        raise ConfigError("gain-predictor needs a gain-label source from its caller: run it with "
                          "`fh-gym train-gain-predictor --env ID ...`")
    if cfg["labels"] not in LABELS:
        raise ConfigError(f"labels must be one of {', '.join(LABELS)}, got {cfg['labels']!r}")
    if int(cfg["replay_updates"]) > 0 and int(cfg["replay_states"]) < 1:
        raise ConfigError(f"replay_updates={cfg['replay_updates']} needs replay_states >= 1 (the buffer's size)")
    if cfg["mirror"] and int(cfg["replay_updates"]) < 1:  # (replay_updates >= 1 needs replay_states >= 1 above)
        raise ConfigError("mirror applies to replayed states: set replay_states >= 1 and replay_updates >= 1")
    torch.manual_seed(int(cfg["seed"]))
    net = build_network({**cfg["network"], "image_size": ctx.image_size}, kind="aux").to(ctx.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=float(cfg["lr"]))
    steps = int(cfg["steps"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_factor(float(cfg["lr_final"]) / float(cfg["lr"]),
                                                                           steps))
    run = TrainingRun(ctx.out_dir, {"gain_predictor": net}, {"gain_predictor": optimizer},
                      {**cfg, "network": dict(net.arch_config)}, steps, checkpoint_every=cfg["checkpoint_every"],
                      log_every=cfg["log_every"], resume=ctx.resume, progress=ctx.progress,
                      schedulers={"lr": scheduler}, description="gain-predictor")
    draw = ctx.gain_labels(run.step)  # seeded by the resume step
    replay: LabelReplay | None = None
    last: dict[str, Any] = {"metrics": {}, "step": None}

    def evaluate() -> dict[str, float]:
        if ctx.evaluate is not None:
            net.eval()
            last.update(metrics=dict(ctx.evaluate(net)), step=run.step)
            net.train()
        return last["metrics"]

    def update(batch: Any) -> dict[str, torch.Tensor]:
        predicted = net(batch.stack.to(ctx.device), batch.boxes.to(ctx.device))[..., 0]
        losses = gain_losses(predicted, batch.gains.to(ctx.device), batch.allowed.to(ctx.device),
                             float(cfg["rank_weight"]))
        optimizer_step(optimizer, losses["loss"], net.parameters(), cfg["grad_clip"])
        return losses

    def step_fn(step: int) -> dict[str, float]:
        nonlocal replay
        batch = draw()
        net.train()
        if int(cfg["replay_states"]) > 0:
            if replay is None:
                try:
                    replay = LabelReplay(int(cfg["replay_states"]), batch.boxes, ctx.image_size,
                                         mirror=bool(cfg["mirror"]), seed=(int(cfg["seed"]) << 20) + step)
                except ValueError as error:
                    raise ConfigError(str(error)) from None
            replay.add(batch)
        losses = update(batch)
        for _ in range(int(cfg["replay_updates"])):
            update(replay.sample(int(cfg["batch_size"]), ctx.device))
        return {k: float(v.detach()) for k, v in losses.items()}

    log_fn = periodic_eval(int(cfg["eval_every"]), evaluate) if int(cfg["eval_every"]) > 0 else None
    run.run(step_fn, log_fn=log_fn, time_budget_s=ctx.time_budget_s)
    net.eval()
    if ctx.evaluate is not None and last["step"] != run.step:
        run.log(evaluate())
    paths = run.save_networks({"eval": last["metrics"], **ctx.extras.get("meta", {})})
    return {"checkpoint": paths.get("gain_predictor"), "steps": run.step, "eval_step": last["step"],
            **last["metrics"]}
