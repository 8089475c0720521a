"""Attention-FH training (Shi et al., TPAMI 2020, Algorithm 1, Sec. 3.4 and 4.2).

* Policy: REINFORCE with a baseline on the env's delayed ``attention_fh`` reward (Eq. 6: 0 before T,
  at T the MSE gain over the reference + coverage), batches of ``batch_size`` episodes (paper: 16),
  Adam with lr 3e-4, weight decay 1e-7 and "a momentum term of 0.5" (beta1 = 0.5).
* Local enhancement network: trained jointly, one step per repair with the L2 loss between the restored
  box and its HR truth (Algorithm 1 line 18), through ``restorers.training.patch_pretrain.restorer_step``.

Deviations (all in ``envs_configs/agents/attention_fh.yaml``): a learned value baseline (the paper's b is
unspecified), normalised advantages and a small entropy bonus (0.01) for stability on few updates;
``restorer.faces_per_step`` can train the restorer on a subset of the B faces per step (CPU budgets).
The restorer keeps computing its own global state (``AttentionFHEnhancer(state_dim=0)``) instead of
receiving the policy's s_t: it then stays a standalone patch restorer that baselines, ``compare``,
``record`` and the greedy oracle can run without the policy, and the policy's features are not shaped
by the restorer's L2 loss (the paper does not say whether they are).
"""

from __future__ import annotations

from typing import Any

import torch

from fh_gym.agents.attention_fh.policy import AttentionFHPolicy
from fh_gym.agents.pg.distributions import ActionSpec
from fh_gym.agents.pg.restorer_training import training_batch
from fh_gym.agents.pg.trainer import AgentSpec, RestorerTrainer, train_agent
from fh_gym.agents.registry import TrainContext
from fh_gym.config import ConfigError
from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.restorers.training.patch_pretrain import restorer_step

ALGO = "attention_fh"


def make_policy(cfg: dict[str, Any], engine: RepairEngine) -> AttentionFHPolicy:
    spec = ActionSpec.from_space(engine.single_action_space)
    return AttentionFHPolicy(list(spec.sizes), spec.multi, engine.image_size, **cfg["policy"])


class L2RestorerTrainer(RestorerTrainer):
    """Algorithm 1 line 18: after every repair, one Adam step on the L2 loss over the repaired boxes."""

    def __init__(self, engine: RepairEngine, lr: float, faces_per_step: int | None, grad_clip: float | None,
                 weight_decay: float = 0.0) -> None:
        if getattr(engine.restorer, "state_dim", 0):
            raise ConfigError("the Attention-FH agent trains a standalone restorer: use AttentionFHEnhancer "
                              "with state_dim 0 (it computes its own global state)")
        self.restorer = engine.restorer
        self.optimizer = torch.optim.Adam(self.restorer.parameters(), lr=lr, weight_decay=weight_decay)
        self.faces_per_step = faces_per_step
        self.grad_clip = grad_clip

    def after_step(self, engine: RepairEngine, step: StepOutput) -> dict[str, float]:
        ctx, rec, _ = training_batch(step, self.faces_per_step, self.generator)
        out = restorer_step(self.restorer, self.optimizer, ctx, rec.hr, grad_clip=self.grad_clip)
        self.restorer.eval()
        return {"losses/restorer": out["loss"], "charts/restorer_psnr_box": out["psnr_box"]}


def make_restorer_trainer(cfg: dict[str, Any], engine: RepairEngine) -> L2RestorerTrainer:
    block = cfg["restorer"]
    return L2RestorerTrainer(engine, block["lr"], block["faces_per_step"], block["grad_clip"], cfg["weight_decay"])


SPEC = AgentSpec(algo=ALGO, make_policy=make_policy, make_restorer_trainer=make_restorer_trainer)


def train(ctx: TrainContext) -> dict[str, Any]:
    """``fh-gym train --algo attention_fh``: see the module docstring."""
    return train_agent(ctx, SPEC)
