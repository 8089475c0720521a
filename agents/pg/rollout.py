"""Batched on-policy episodes: B faces stepped together on one engine, the policy run with gradients.

Used by both paper trainers (Attention-FH Algorithm 1; IPFH's policy-gradient training). The log-
probabilities, entropies and baseline values stay in the autograd graph (through the GRU states for
Attention-FH: back-propagation through time over the whole episode), so the REINFORCE loss can be
formed once the episode's rewards are known. ``on_step(step)`` runs after every repair with the step's
output, restorer inputs included (joint restorer training).

With a stop action (adaptive budgets) a face's episode ends there: later steps leave it out of the repair
(reward 0) and ``Rollout.alive`` marks them, so the losses count only the steps each face took (the stop
included). The policy still runs on every face at every step, which keeps recurrent states aligned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from fh_gym.agents.pg.distributions import FactorisedCategorical
from fh_gym.agents.pg.policy_base import EpisodePolicy
from fh_gym.engine.core import RepairEngine, StepOutput


@dataclass
class Rollout:
    """One batch of episodes (T steps, B faces).

    Attributes:
        log_probs: (T, B) log pi(a_t | s_t), with gradient.
        entropies: (T, B) policy entropies, with gradient.
        values: (T, B) baseline values, with gradient.
        rewards: (T, B) float32 env rewards.
        actions: (T, B, K) long actions taken (where ``alive`` is False: sampled, not taken).
        terms: reward term name -> (T, B) array.
        start_psnr / final_psnr: (B,) PSNR of I_0 and I_T (dB).
        step_stats: what ``on_step`` returned, one entry per step (None where it skipped).
        alive: (T, B) bool, True where the face was still in its episode (False after a stop action).
    """

    log_probs: Tensor
    entropies: Tensor
    values: Tensor
    rewards: Tensor
    actions: Tensor
    terms: dict[str, np.ndarray]
    start_psnr: np.ndarray
    final_psnr: np.ndarray
    step_stats: list[dict[str, float] | None] = field(default_factory=list)
    alive: Tensor | None = None


def run_rollout(engine: RepairEngine, policy: EpisodePolicy, slots: Tensor, *, generator: torch.Generator | None,
                deterministic: bool = False,
                on_step: Callable[[StepOutput], dict[str, float] | None] | None = None) -> Rollout:
    """Run ``engine.horizon`` steps on ``slots`` (already reset) with ``policy``, sampling from ``generator``."""
    spec = policy.spec
    batch = len(slots)
    state = policy.initial_state(engine, slots)
    prev = torch.zeros(batch, len(spec.sizes), dtype=torch.long, device=engine.device)
    first = torch.ones(batch, dtype=torch.bool, device=engine.device)
    start_psnr = engine.psnr(slots)
    log_probs, entropies, values, rewards, actions, stats, alive = [], [], [], [], [], [], []
    step_terms: list[dict[str, np.ndarray]] = []
    for _ in range(engine.horizon):
        going = engine.t[slots] < engine.horizon  # False once a face took the stop action
        out, allowed = policy.step(engine, slots, state, prev, first)
        mask = torch.as_tensor(engine.action_masks(slots), device=out.logits.device)
        dist = FactorisedCategorical(out.logits, spec, mask, allowed)
        action = dist.mode() if deterministic else dist.sample(generator)
        weight = going.to(out.logits.device, out.logits.dtype)
        log_probs.append(dist.log_prob(action) * weight)
        entropies.append(dist.entropy() * weight)
        values.append(out.value)
        reward = torch.zeros(batch, dtype=torch.float32, device=engine.device)
        step_terms.append({})
        if bool(going.any()):
            index = going.nonzero().squeeze(1)
            step = engine.step(spec.to_numpy(action[index]), slots[index], keep_batch=on_step is not None)
            reward[index] = torch.as_tensor(step.reward, device=engine.device)
            rows = index.cpu().numpy()
            for name, value in step.terms.items():
                step_terms[-1][name] = np.zeros(batch, dtype=value.dtype)
                step_terms[-1][name][rows] = value
        if on_step is not None:
            stats.append(on_step(step) if bool(going.any()) else None)
        rewards.append(reward)
        actions.append(action)
        alive.append(going)
        state, prev = out.state, action
        first = torch.zeros_like(first)
    return Rollout(log_probs=torch.stack(log_probs), entropies=torch.stack(entropies), values=torch.stack(values),
                   rewards=torch.stack(rewards), actions=torch.stack(actions),
                   terms=_stack_terms(step_terms, batch), start_psnr=start_psnr,
                   final_psnr=engine.psnr(slots), step_stats=stats, alive=torch.stack(alive))


def _stack_terms(step_terms: list[dict[str, np.ndarray]], batch: int) -> dict[str, np.ndarray]:
    """Reward term name -> (T, B): zero at the steps no face took (every face had stopped)."""
    names = dict.fromkeys(name for terms in step_terms for name in terms)
    return {name: np.stack([terms.get(name, np.zeros(batch, dtype=np.float32)) for terms in step_terms])
            for name in names}
