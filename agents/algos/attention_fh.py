"""``attention_fh``: the Attention-FH agent (Shi et al., TPAMI 2020, Algorithm 1, Sec. 3.4 and 4.2).

* Policy: :class:`~fh_gym.agents.policies.attention_fh.AttentionFHPolicy`, REINFORCE with a baseline on the
  env's delayed ``attention_fh`` reward (Eq. 6: 0 before T, at T the MSE gain over the reference + coverage),
  batches of ``batch_size`` episodes (paper: 16), Adam with lr 3e-4, weight decay 1e-7 and "a momentum
  term of 0.5" (beta1 = 0.5).
* Local enhancement network: trained jointly, one L2 step per repair between the restored box and its HR
  truth (Algorithm 1 line 18; :class:`~fh_gym.agents.finetune.RestorerFineTuner`).

Deviations (all in ``envs_configs/agents/attention_fh.yaml``): a learned value baseline (the paper's b is
unspecified), normalised advantages and a small entropy bonus (0.01) for stability on few updates;
``restorer.faces_per_step`` can train the restorer on a subset of the B faces per step (CPU budgets).
The restorer keeps computing its own global state (``AttentionFHEnhancer(state_dim=0)``) instead of
receiving the policy's s_t: it then stays a standalone patch restorer that baselines, ``compare``,
``record`` and the greedy oracle can run without the policy, and the policy's features are not shaped
by the restorer's L2 loss (the paper does not say whether they are). Ablations of Table 9:
``--set-algo variant=fixed_box | i0_agent``.
"""

from __future__ import annotations

from typing import Any

from fh_gym.agents.finetune import RestorerFineTuner
from fh_gym.agents.pg.trainer import PaperAgentAlgo
from fh_gym.agents.registry import ALGOS
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.config import ConfigError


@ALGOS.register()
class AttentionFH(PaperAgentAlgo):
    """Attention-FH: GRU policy over size-free boxes, REINFORCE + baseline, joint L2 restorer"""

    name = "attention_fh"
    policy = "AttentionFHPolicy"

    def make_fine_tuner(self, cfg: dict[str, Any], engine: RepairEngine) -> RestorerFineTuner:
        if getattr(engine.restorer, "state_dim", 0):
            raise ConfigError("the Attention-FH agent trains a standalone restorer: use AttentionFHEnhancer "
                              "with state_dim 0 (it computes its own global state)")
        return super().make_fine_tuner(cfg, engine)
