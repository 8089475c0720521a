"""REINFORCE with a baseline (Williams 1992), as Attention-FH Algorithm 1 line 21 and IPFH's policy gradient.

``grad = a * (G_t - b_t) * grad log pi(a_t | s_t)`` with ``G_t`` the (discounted) return-to-go. Attention-FH's
reward is delayed (0 before T), so ``G_t = r_T`` for every step; IPFH's short-term rewards make ``G_t``
vary along the episode. Baselines:

* ``value`` — a learned state-dependent baseline (the policies' value head, trained by MSE to ``G_t``);
  face difficulty dominates the return's variance and ``v_0`` / the holistic feature can predict it;
* ``moving_average`` — an exponential moving average of the batch-mean return per time step;
* ``none``.
"""

from __future__ import annotations

import torch
from torch import Tensor

BASELINES = ("value", "moving_average", "none")


def returns_to_go(rewards: Tensor, gamma: float) -> Tensor:
    """(T, B) ``G_t = sum_{k >= t} gamma^(k - t) r_k``."""
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


class MovingAverageBaseline:
    """Per-time-step EMA of the batch-mean return (state kept as plain tensors for checkpoints)."""

    def __init__(self, horizon: int, momentum: float = 0.9) -> None:
        self.momentum = float(momentum)
        self.mean = torch.zeros(horizon, dtype=torch.float64)
        self.count = 0  # batches seen
        self.seen = torch.zeros(horizon, dtype=torch.long)  # batches in which some face took each step

    def __call__(self, returns: Tensor, taken: Tensor | None = None) -> Tensor:
        """The baseline for ``returns`` (T, B) *before* this batch, then update with it.

        ``taken`` (T, B) bool: the steps the faces took. A step's batch mean is over those faces only; a step
        no face took leaves its running mean as it was (adaptive budgets: the steps after every face stopped),
        and a step with no running mean yet gets this batch's own mean as its baseline.
        """
        taken = torch.ones_like(returns, dtype=torch.bool) if taken is None else taken.to(returns.device, torch.bool)
        counts = taken.sum(dim=1).cpu()
        sums = torch.where(taken, returns.detach(), 0).sum(dim=1).double().cpu()
        now = counts > 0
        batch_mean = sums / counts.clamp(min=1)
        fresh = self.seen == 0
        base = torch.where(fresh, batch_mean, self.mean)
        updated = torch.where(fresh, batch_mean, self.momentum * self.mean + (1 - self.momentum) * batch_mean)
        self.mean = torch.where(now, updated, self.mean)
        self.seen = self.seen + now.long()
        self.count += 1
        return base.to(returns)[:, None].expand_as(returns)

    def state_dict(self) -> dict:
        return {"mean": self.mean.clone(), "count": int(self.count), "seen": self.seen.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.count = state["mean"].to(torch.float64), int(state["count"])
        # checkpoints before ``seen``: every step was counted in every batch
        seen = state.get("seen")
        self.seen = seen.long() if seen is not None else torch.full_like(self.mean, self.count, dtype=torch.long)


def reinforce_losses(log_probs: Tensor, entropies: Tensor, values: Tensor, rewards: Tensor, *, gamma: float,
                     baseline: str, moving_average: MovingAverageBaseline | None = None,
                     normalize_advantages: bool = True, entropy_coef: float = 0.0,
                     value_coef: float = 0.5, alive: Tensor | None = None) -> dict[str, Tensor]:
    """The policy, baseline and entropy losses of one batch of episodes (all inputs (T, B)).

    ``alive`` (T, B) bool marks the steps the faces took (adaptive budgets: none after a stop action); the
    others count in no loss, no mean, no advantage statistics and no running mean of the ``moving_average``
    baseline. None: every step.

    Returns:
        ``{"loss", "policy", "baseline", "entropy", "advantage_std"}`` (``loss`` to minimise; the rest
        detached for logging). The policy loss is averaged over the steps taken.
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    returns = returns_to_go(rewards.to(log_probs.dtype), gamma)
    taken = torch.ones_like(returns, dtype=torch.bool) if alive is None else alive.to(returns.device, torch.bool)

    def mean(x: Tensor) -> Tensor:
        return x[taken].mean()

    zero = torch.zeros((), dtype=log_probs.dtype, device=log_probs.device)
    if baseline == "value":
        base = values.detach()
        value_loss = mean((values - returns) ** 2)
    elif baseline == "moving_average":
        if moving_average is None:
            raise ValueError("baseline 'moving_average' needs a MovingAverageBaseline")
        base, value_loss = moving_average(returns, taken), zero
    else:
        base, value_loss = torch.zeros_like(returns), zero
    advantages = returns - base
    count = int(taken.sum())
    std = advantages[taken].std() if count > 1 else torch.ones((), device=advantages.device)
    if normalize_advantages and count > 1:
        advantages = (advantages - advantages[taken].mean()) / (std + 1e-8)
    policy_loss = mean(-(log_probs * advantages.detach()))
    entropy = mean(entropies)
    loss = policy_loss - entropy_coef * entropy + (value_coef * value_loss if baseline == "value" else 0.0)
    return {"loss": loss, "policy": policy_loss.detach(), "baseline": value_loss.detach(),
            "entropy": entropy.detach(), "advantage_std": std.detach()}
