"""Training driver shared by the paper agents: batched REINFORCE episodes + joint restorer training.

One *update* (Attention-FH Algorithm 1; IPFH Sec. III-C "policy gradient ... batch size 64"):

1. reset B training faces (``batch_size``; a per-update seeded generator, so a resumed run replays the
   same faces, degradations and action draws);
2. run T steps with the policy sampling its actions; after every repair the agent's
   :class:`RestorerTrainer` updates the restorer on the repaired boxes (the step's inputs, ``keep_batch``);
3. at T, the trainer's end-of-episode restorer loss (IPFH Eq. 17), then one policy step on the
   REINFORCE-with-baseline loss of the env's rewards.

Evaluation every ``ctx.eval_every`` env steps (0: only at the end): deterministic (argmax) episodes on
validation people with ``agents.evaluate.run_episodes`` -> ``eval/psnr``, ``eval/ssim``, ``eval/psnr_gain``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from fh_gym.agents.pg.actor import PolicyActor
from fh_gym.agents.pg.checkpoint import env_record, save_agent
from fh_gym.agents.pg.config import resolve_config
from fh_gym.agents.pg.policy_base import EpisodePolicy
from fh_gym.agents.pg.reinforce import MovingAverageBaseline, reinforce_losses
from fh_gym.agents.pg.rollout import run_rollout
from fh_gym.agents.pg.run import AgentRun
from fh_gym.agents.registry import TrainContext
from fh_gym.config import ConfigError, merge_config
from fh_gym.engine.core import RepairEngine, StepOutput


class RestorerTrainer:
    """Base class of the joint restorer training (subclasses: Attention-FH L2, IPFH Eqs. 16-17).

    Attributes:
        optimizer: The restorer's optimiser (saved and resumed with the run).
        generator: Set by the driver each update (draws the faces trained on when ``faces_per_step`` is set).
    """

    optimizer: torch.optim.Optimizer
    generator: torch.Generator | None = None

    def start_episode(self, engine: RepairEngine, faces: torch.Tensor) -> None:
        """Called after the faces are reset."""

    def after_step(self, engine: RepairEngine, step: StepOutput) -> dict[str, float]:
        raise NotImplementedError

    def end_episode(self, engine: RepairEngine, faces: torch.Tensor) -> dict[str, float]:
        return {}


@dataclass
class AgentSpec:
    """What differs between the paper agents."""

    algo: str
    make_policy: Callable[[dict[str, Any], RepairEngine], EpisodePolicy]
    make_restorer_trainer: Callable[[dict[str, Any], RepairEngine], RestorerTrainer]


def seed_for(seed: int, update: int) -> int:
    return int(np.random.SeedSequence([seed, update]).generate_state(1)[0])


def agent_name(cfg: dict[str, Any], algo: str) -> str:
    variant = cfg.get("variant")
    return algo if variant in (None, "full") else f"{algo}[{variant}]"


def evaluate(eval_config: dict[str, Any], actor: PolicyActor, faces: int, batch_size: int,
             seed: int) -> dict[str, float]:
    """Deterministic episodes on the first ``faces`` validation faces -> ``eval/*`` scalars (the same
    measurement as the SB3 agents' validation, :func:`fh_gym.agents.training.evaluation.evaluate_actor`)."""
    from fh_gym.agents.training.evaluation import evaluate_actor

    if int(faces) < 1:
        return {}
    scores = evaluate_actor(eval_config, actor, faces=faces, batch_size=batch_size, seed=seed)
    return {f"eval/{name}": scores[name] for name in ("psnr", "ssim", "psnr_gain")}


def train_agent(ctx: TrainContext, spec: AgentSpec) -> dict[str, Any]:
    """Train ``spec``'s agent as ``fh-gym train --algo`` asks (see the module docstring)."""
    cfg = resolve_config(spec.algo, ctx.env_id, ctx.algo_config)
    env_config, eval_config = ctx.env_config, ctx.eval_config
    if cfg["action"] is not None:  # ablations on the action space (Attention-FH "w/o size-free")
        env_config = merge_config(env_config, {"action": cfg["action"]})
        eval_config = merge_config(eval_config, {"action": cfg["action"]})
    torch.manual_seed(ctx.seed)
    batch = int(cfg["batch_size"])
    engine = RepairEngine(env_config, batch)
    faces = engine.all_faces()
    policy = spec.make_policy(cfg, engine).to(engine.device)
    restorer: nn.Module = engine.restorer
    trainer = spec.make_restorer_trainer(cfg, engine) if cfg["restorer"]["train"] else None
    if trainer is not None and not any(p.requires_grad for p in restorer.parameters()):
        raise ConfigError(f"restorer {type(restorer).__name__} has no trainable parameters: set restorer.train: false")
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]),
                                 weight_decay=cfg["weight_decay"])
    steps_per_update = batch * engine.horizon
    updates = max(1, math.ceil(int(ctx.total_timesteps) / steps_per_update))
    optimizers = {"policy": optimizer} | ({"restorer": trainer.optimizer} if trainer else {})
    schedulers = {}
    if cfg["lr_final"] is not None:  # IPFH: "learning rate from 1e-3 to 1e-5": exponential decay per update
        decay = (float(cfg["lr_final"]) / float(cfg["lr"])) ** (1.0 / updates)
        schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, lambda step, d=decay: d**step)
                      for name, opt in optimizers.items()}
    moving = MovingAverageBaseline(engine.horizon, cfg["baseline_momentum"])
    name = agent_name(cfg, spec.algo)
    record = env_record(engine, ctx.env_id)
    run_config = {"algo": spec.algo, **cfg}
    holder: dict[str, Any] = {"eval": {}}

    def write_agent():
        return save_agent(ctx.run_dir / "agent.pt", algo=spec.algo, policy=policy, restorer=restorer, env=record,
                          config=run_config, meta={"name": name, "updates": run.step, "env_steps": run.env_steps,
                                                   "eval": dict(holder["eval"])})

    run = AgentRun(out_dir=ctx.run_dir, networks={"restorer": restorer, "policy": policy}, optimizers=optimizers,
                   config=run_config, total_steps=updates, checkpoint_every=cfg["checkpoint_every"],
                   log_every=cfg["log_every"], resume=ctx.resume, progress=ctx.progress, schedulers=schedulers,
                   description=name, steps_per_update=steps_per_update,
                   get_state=lambda: {"moving_average": moving.state_dict()},
                   set_state=lambda s: s and moving.load_state_dict(s["moving_average"]), write_agent=write_agent)
    # In updates; 0 (eval_every 0): only the final evaluation.
    eval_every = max(1, math.ceil(int(ctx.eval_every) / steps_per_update)) if ctx.eval_every > 0 else 0

    def run_eval(env_steps: int) -> None:
        actor = PolicyActor(policy, restorer, record["action"], name)
        holder["eval"] = evaluate(eval_config, actor, ctx.eval_faces, cfg["eval_batch_size"], ctx.seed)
        holder["eval_update"] = env_steps
        run.log_scalars(holder["eval"], env_steps)

    def step_fn(update: int) -> dict[str, float]:
        generator = torch.Generator().manual_seed(seed_for(ctx.seed, update))
        engine.reset(faces, np.random.default_rng([ctx.seed, update]))
        policy.train()
        if trainer is not None:
            trainer.generator = generator
            trainer.start_episode(engine, faces)
        rollout = run_rollout(engine, policy, faces, generator=generator,
                              on_step=trainer.after_step if trainer else None)
        end_stats = trainer.end_episode(engine, faces) if trainer else {}
        losses = reinforce_losses(rollout.log_probs, rollout.entropies, rollout.values, rollout.rewards,
                                  gamma=cfg["gamma"], baseline=cfg["baseline"], moving_average=moving,
                                  normalize_advantages=cfg["normalize_advantages"],
                                  entropy_coef=cfg["entropy_coef"], value_coef=cfg["value_coef"])
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        if cfg["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg["grad_clip"])
        optimizer.step()
        stats = {"charts/episode_psnr": float(rollout.final_psnr.mean()),
                 "charts/episodic_return": float(rollout.rewards.sum(dim=0).mean()),
                 "losses/policy": float(losses["policy"]),
                 "charts/episode_psnr_gain": float((rollout.final_psnr - rollout.start_psnr).mean()),
                 "losses/baseline": float(losses["baseline"]), "charts/entropy": float(losses["entropy"])}
        for term, values in rollout.terms.items():
            stats[f"rewards/{term}"] = float(values.sum(axis=0).mean())
        per_step = [s for s in rollout.step_stats if s]
        for key in per_step[0] if per_step else ():
            stats[key] = float(np.mean([s[key] for s in per_step]))
        stats.update(end_stats)
        if (eval_every and (update + 1) % eval_every == 0) or update + 1 == updates:
            run_eval((update + 1) * steps_per_update)
        return stats

    budget = None if cfg["minutes"] is None else 60.0 * float(cfg["minutes"])
    run.run(step_fn, time_budget_s=budget)
    if holder.get("eval_update") != run.env_steps:
        run_eval(run.env_steps)
        write_agent()
    return {"agent": str(ctx.run_dir / "agent.pt"), "restorer": str(ctx.run_dir / "restorer.pt"),
            "updates": run.step, "env_steps": run.env_steps, **{k: round(v, 4) for k, v in holder["eval"].items()}}
