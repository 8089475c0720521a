"""``gain_pg``: the paper agents' trainer with ``GainPolicy``, policy gradient started from the gain predictor.

REINFORCE with a learned baseline (and optional joint L2 restorer training, Attention-FH Algorithm 1) as
``attention_fh`` / ``spatial_pg``, on a policy whose logits are a
:class:`~fh_gym.restorers.archs.selection_arch.BoxPoolingSelector`'s predicted gains over a temperature
(:class:`~fh_gym.agents.policies.gain.GainPolicy`); ``policy.init`` starts it from a ``gain-predictor`` run, so
the first deterministic policy is the ``gain_predictor`` strategy and RL trains on from there. Not a paper's
agent; ``envs_configs/agents/gain_pg.yaml`` holds its defaults.
"""

from __future__ import annotations

from typing import Any

from fh_gym.agents.pg.policy_base import EpisodePolicy
from fh_gym.agents.pg.trainer import PaperAgentAlgo
from fh_gym.agents.registry import ALGOS
from fh_gym.engine.core import RepairEngine


@ALGOS.register()
class GainPG(PaperAgentAlgo):
    """REINFORCE + baseline on a policy of predicted gains, started from a trained gain predictor"""

    name = "gain_pg"
    policy = "GainPolicy"

    def make_policy(self, cfg: dict[str, Any], engine: RepairEngine) -> EpisodePolicy:
        """The policy; on an adaptive budget its stop logit starts at the env's step cost (``policy.stop_gain``
        unset), so the first policy stops where the ``gain_predictor`` strategy does."""
        if cfg["policy"].get("stop_gain") is None:
            cfg = {**cfg, "policy": {**cfg["policy"], "stop_gain": engine.step_cost}}
        return super().make_policy(cfg, engine)
