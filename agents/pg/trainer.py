"""Training driver shared by the paper agents: batched REINFORCE episodes + joint restorer training.

One *update* (Attention-FH Algorithm 1; IPFH Sec. III-C "policy gradient ... batch size 64"):

1. reset B training faces (``batch_size``; a per-update seeded generator, so a resumed run replays the
   same faces, degradations and action draws);
2. run T steps with the policy sampling its actions; after every repair the agent's restorer fine-tuner
   (:class:`~fh_gym.agents.finetune.RestorerFineTuner`, IPFH's subclass) updates the restorer on the
   repaired boxes (the step's inputs, ``keep_batch``);
3. at T, the fine-tuner's end-of-episode loss (IPFH Eq. 17), then one policy step on the
   REINFORCE-with-baseline loss of the env's rewards.

The loop is a :class:`~fh_gym.restorers.training.loop.TrainingRun` whose step is one update: TensorBoard at
env steps (updates x B x T, like the SB3 runs), ``last.pt`` with the moving-average baseline, ``agent.pt``
(the loadable agent, :mod:`fh_gym.agents.pg.checkpoint`) after every checkpoint and ``restorer.pt`` (the
jointly trained restorer, usable with ``--restorer``) at the end. Evaluation every ``ctx.eval_every`` env
steps (0: only at the end): deterministic (argmax) episodes on validation people with
:func:`~fh_gym.agents.evaluate.evaluate_actor` -> ``eval/psnr``, ``eval/ssim``, ``eval/psnr_gain``; the agent
of the best validation PSNR so far is also kept as ``best_agent.pt`` (as the SB3 runs keep ``best.zip``; a
resumed run starts from the score that file records).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fh_gym.agents.evaluate import evaluate_actor
from fh_gym.agents.finetune import RestorerFineTuner
from fh_gym.agents.pg.actor import PolicyActor
from fh_gym.agents.pg.checkpoint import env_record, load_actor, read_agent, save_agent
from fh_gym.agents.pg.distributions import ActionSpec
from fh_gym.agents.pg.policy_base import ENV_ARGS, POLICIES, EpisodePolicy, build_policy, policy_defaults
from fh_gym.agents.pg.reinforce import MovingAverageBaseline, reinforce_losses
from fh_gym.agents.pg.rollout import Rollout, run_rollout
from fh_gym.agents.registry import Algo
from fh_gym.agents.runs import TrainContext, finished_run_error, record_total
from fh_gym.engine.core import RepairEngine
from fh_gym.engine.networks import frontend_signature
from fh_gym.restorers.config import (
    Block,
    Bool,
    Choice,
    ConfigError,
    Field,
    Float,
    Int,
    List,
    Schema,
    Str,
    Typed,
    merge_config,
    signature_fields,
)
from fh_gym.restorers.training.loop import CHECKPOINT, TrainingRun, optimizer_step

#: the hyperparameters every paper agent has, with library defaults (each file's ``default`` sets them) and
#: allowed values; :meth:`PaperAgentAlgo.base_hyperparams` adds ``policy`` (the policy's constructor arguments)
PG_SCHEMA = Schema({
    "total_timesteps": Int(32_000, min=1),  # env steps = updates x batch_size x T
    "minutes": Float(None, min=0, min_open=True, nullable=True),  # wall-clock budget of this session
    "batch_size": Int(16, min=1),  # faces per update
    "lr": Float(1e-3, min=0, min_open=True),  # policy learning rate
    "lr_final": Float(None, min=0, min_open=True, nullable=True),  # null: constant; else exponential decay to it
    "betas": List([0.9, 0.999], item=Float(min=0, max=1, max_open=True), length=2),
    "weight_decay": Float(0.0, min=0),
    "gamma": Float(1.0, min=0, max=1),  # discount of the returns-to-go
    "baseline": Choice("value", ("value", "moving_average", "none")),
    "baseline_momentum": Float(0.9, min=0, max=1),  # moving_average only
    "value_coef": Float(0.5, min=0),
    "entropy_coef": Float(0.01, min=0),
    "normalize_advantages": Bool(True),
    "grad_clip": Float(1.0, min=0, nullable=True),  # 0 or null: no clipping
    "variant": Str("full"),  # a name of the file's ``variants`` (paper ablations)
    "action": Typed(None, nullable=True),  # env action block override (null: the env's)
    "restorer": Block(Schema({  # joint fine-tuning
        "train": Bool(True), "lr": Float(1e-3, min=0, min_open=True),
        "faces_per_step": Int(None, min=1, nullable=True), "grad_clip": Float(1.0, min=0, nullable=True)})),
    "eval_batch_size": Int(32, min=1),
    "checkpoint_every": Int(10, min=1),  # updates between last.pt / agent.pt writes (and after the first update)
    "log_every": Int(1, min=1),  # updates between TensorBoard writes
})
PG_DEFAULTS: dict[str, Any] = PG_SCHEMA.defaults()


class PaperAgentAlgo(Algo):
    """A paper agent: a policy of ``POLICIES`` trained by :func:`train_agent` with a jointly trained restorer.

    Attributes:
        policy: The policy's registry name (its constructor arguments are the ``policy`` hyperparameters).
    """

    policy: str = ""
    checkpoint = CHECKPOINT

    def base_hyperparams(self, env_id: str | None) -> dict[str, Any]:
        return {**PG_SCHEMA.defaults(), "policy": policy_defaults(self.policy)}

    def hyperparam_specs(self, env_id: str | None) -> dict[str, Field]:
        """:data:`PG_SCHEMA` and the policy's constructor arguments (types from its annotations)."""
        policy = {k: f for k, f in signature_fields(POLICIES.get(self.policy)).items() if k not in ENV_ARGS}
        return {**PG_SCHEMA.fields, "policy": Block(Schema(policy, name=f"{self.name}.policy"))}

    def checkpoint_interval(self, env_steps: int, hyperparams: dict[str, Any], env_config: dict[str, Any]) -> int:
        """Updates between checkpoints for one every ``env_steps`` env steps (an update is B x T env steps)."""
        return max(1, math.ceil(int(env_steps) / (int(hyperparams["batch_size"]) * int(env_config["horizon"]))))

    def make_policy(self, cfg: dict[str, Any], engine: RepairEngine) -> EpisodePolicy:
        """The policy for the engine's action space, with the ``policy`` hyperparameters."""
        spec = ActionSpec.from_space(engine.single_action_space)
        return build_policy({"type": self.policy, "sizes": list(spec.sizes), "multi": spec.multi,
                             "image_size": engine.image_size, **cfg["policy"]})

    def make_fine_tuner(self, cfg: dict[str, Any], engine: RepairEngine) -> RestorerFineTuner:
        """The joint restorer training (default: one L2 step per repair, Attention-FH Algorithm 1 line 18)."""
        block = cfg["restorer"]
        return RestorerFineTuner(engine, lr=block["lr"], grad_clip=block["grad_clip"],
                                 faces_per_step=block["faces_per_step"], weight_decay=cfg["weight_decay"])

    def train(self, ctx: TrainContext) -> dict[str, Any]:
        return train_agent(ctx, self)

    def load(self, path: Path, device: str = "cpu") -> PolicyActor:
        """``agent.pt`` of a run: the policy with its jointly trained restorer."""
        return load_actor(path, self.name, device)


def seed_for(seed: int, update: int) -> int:
    return int(np.random.SeedSequence([seed, update]).generate_state(1)[0])


def agent_name(cfg: dict[str, Any], algo: str) -> str:
    variant = cfg.get("variant")
    return algo if variant in (None, "full") else f"{algo}[{variant}]"


def evaluate(eval_config: dict[str, Any], actor: PolicyActor, num_faces: int, batch_size: int,
             seed: int) -> dict[str, float]:
    """Deterministic episodes on the first ``num_faces`` validation faces -> ``eval/*`` scalars (the same
    measurement as the SB3 agents' validation)."""
    if int(num_faces) < 1:
        return {}
    scores = evaluate_actor(eval_config, actor, num_faces=num_faces, batch_size=batch_size, seed=seed)
    return {f"eval/{name}": scores[name] for name in ("psnr", "ssim", "psnr_gain")}


def best_psnr(path: Path, algo: str) -> float:
    """Validation PSNR recorded in an existing ``best_agent.pt`` (-inf when there is none)."""
    if not path.is_file():
        return -math.inf
    return float(read_agent(path, algo)["meta"].get("eval", {}).get("eval/psnr", -math.inf))


def update_stats(rollout: Rollout, losses: dict[str, torch.Tensor]) -> dict[str, float]:
    """TensorBoard scalars of one update: episode metrics, reward terms, losses, mean per-step restorer stats."""
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
    return stats


def train_agent(ctx: TrainContext, algo: PaperAgentAlgo) -> dict[str, Any]:
    """Train ``algo``'s agent as ``fh-gym train --algo`` asks (see the module docstring).

    Longer than most functions: it wires the engine, policy, fine-tuner, optimisers and schedules into one
    :class:`TrainingRun` whose step function and hooks share them.
    """
    cfg = algo.check_hyperparams(ctx.env_id, algo.resolve(ctx.env_id, ctx.algo_config))
    env_config, eval_config = ctx.env_config, ctx.eval_config
    if cfg["action"] is not None:  # ablations on the action space (Attention-FH "w/o size-free")
        env_config = merge_config(env_config, {"action": cfg["action"]})
        eval_config = merge_config(eval_config, {"action": cfg["action"]})
    torch.manual_seed(ctx.seed)
    engine = RepairEngine(env_config, int(cfg["batch_size"]))
    slots = engine.all_slots()
    policy = algo.make_policy(cfg, engine).to(engine.device)
    restorer: nn.Module = engine.restorer
    if cfg["restorer"]["train"] and not any(p.requires_grad for p in restorer.parameters()):
        raise ConfigError(f"restorer {type(restorer).__name__} has no trainable parameters: set restorer.train: false")
    tuner = algo.make_fine_tuner(cfg, engine) if cfg["restorer"]["train"] else None
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]),
                                 weight_decay=cfg["weight_decay"])
    steps_per_update = int(cfg["batch_size"]) * engine.horizon
    updates = max(1, math.ceil(int(ctx.total_timesteps) / steps_per_update))
    optimizers = {"policy": optimizer} | ({"restorer": tuner.optimizer} if tuner else {})
    schedulers = {}
    if cfg["lr_final"] is not None:  # IPFH: "learning rate from 1e-3 to 1e-5": exponential decay per update
        decay = (float(cfg["lr_final"]) / float(cfg["lr"])) ** (1.0 / updates)
        schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, lambda step, d=decay: d**step)
                      for name, opt in optimizers.items()}
    moving = MovingAverageBaseline(engine.horizon, cfg["baseline_momentum"])
    name, record = agent_name(cfg, algo.name), env_record(engine, ctx.env_id)
    run_config = {"algo": algo.name, **cfg}
    scores: dict[str, Any] = {"eval": {}, "at": None, "best": best_psnr(ctx.run_dir / "best_agent.pt", algo.name)
                              if ctx.resume else -math.inf}

    def write_agent(run: TrainingRun, file: str = "agent.pt") -> Path:
        meta = {"name": name, "updates": run.step, "env_steps": run.log_step, "eval": dict(scores["eval"]),
                "eval_at": scores["at"]}
        return save_agent(ctx.run_dir / file, algo=algo.name, policy=policy, restorer=restorer, env=record,
                          config=run_config, meta=meta)

    run = TrainingRun(ctx.run_dir, {"restorer": restorer, "policy": policy}, optimizers, run_config, updates,
                      checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], resume=ctx.resume,
                      progress=ctx.progress, schedulers=schedulers, description=name,
                      state={"moving_average": moving}, on_checkpoint=write_agent,
                      log_units_per_step=steps_per_update)
    if ctx.resume:
        if run.resumed and run.step >= updates:
            run.close()
            raise finished_run_error(ctx.run_dir, run.log_step, int(ctx.total_timesteps))
        record_total(ctx.run_dir, ctx.total_timesteps)
    # In updates; 0 (eval_every 0): only the final evaluation.
    eval_every = max(1, math.ceil(int(ctx.eval_every) / steps_per_update)) if ctx.eval_every > 0 else 0

    def run_eval(env_steps: int) -> None:
        actor = PolicyActor(policy, restorer, record["action"], name)
        scores["eval"] = evaluate(eval_config, actor, ctx.eval_faces, cfg["eval_batch_size"], ctx.seed)
        scores["at"] = env_steps
        run.log(scores["eval"], step=env_steps)
        if scores["eval"]["eval/psnr"] > scores["best"]:
            scores["best"] = scores["eval"]["eval/psnr"]
            write_agent(run, "best_agent.pt")

    def step_fn(update: int) -> dict[str, float]:
        generator = torch.Generator().manual_seed(seed_for(ctx.seed, update))
        engine.reset(slots, np.random.default_rng([ctx.seed, update]))
        policy.train()
        if tuner is not None:
            tuner.generator = generator
            tuner.start_episode(slots)
        rollout = run_rollout(engine, policy, slots, generator=generator,
                              on_step=tuner.after_step if tuner else None)
        end_stats = tuner.end_episode(slots) if tuner else {}
        losses = reinforce_losses(rollout.log_probs, rollout.entropies, rollout.values, rollout.rewards,
                                  gamma=cfg["gamma"], baseline=cfg["baseline"], moving_average=moving,
                                  normalize_advantages=cfg["normalize_advantages"],
                                  entropy_coef=cfg["entropy_coef"], value_coef=cfg["value_coef"],
                                  alive=rollout.alive)
        optimizer_step(optimizer, losses["loss"], policy.parameters(), cfg["grad_clip"])
        if (eval_every and (update + 1) % eval_every == 0) or update + 1 == updates:
            run_eval((update + 1) * steps_per_update)
        return {**update_stats(rollout, losses), **end_stats}

    budget = None if cfg["minutes"] is None else 60.0 * float(cfg["minutes"])
    run.run(step_fn, time_budget_s=budget)
    if scores["at"] != run.log_step:
        run_eval(run.log_step)
        write_agent(run)
    run.save_networks({"env_steps": run.log_step, "recipe": algo.name, "frontend": frontend_signature(engine.frontend)},
                      names=["restorer"])
    return {"agent": str(ctx.run_dir / "agent.pt"), "restorer": str(ctx.run_dir / "restorer.pt"),
            "updates": run.step, "env_steps": run.log_step, **{k: round(v, 4) for k, v in scores["eval"].items()}}
