"""``ipfh``: the IPFH agent (identity-preserving FH via deep RL, Sec. III-B.2 and III-C).

* Policy controller: :class:`~fh_gym.agents.policies.ipfh.IPFHPolicy`, stochastic actions from the softmax
  over patch locations, REINFORCE with a baseline on the env's reward (short-term dual-domain MSE + texture
  after each repair, long-term whole-image terms at T, Eqs. 9-15; the env's ``form`` picks absolute or
  delta), returns-to-go with ``gamma`` (1.0: the paper's undiscounted sum, Eq. 9), Adam with the learning
  rate decayed from 1e-3 to 1e-5.
* Local restoration network, trained together: Eq. 16 after every repair, Eq. 17 at T through a replay of
  the episode (:class:`~fh_gym.agents.ipfh.finetune.IPFHRestorerFineTuner`; hyperparameters ``restorer``
  and ``restorer_loss``).

Deviations (``envs_configs/agents/ipfh.yaml``): batch 16 on CPU (paper 64), a learned value baseline,
normalised advantages, a small entropy bonus, CPU-sized policy widths, ``faces_per_step`` subsampling.
"""

from __future__ import annotations

from typing import Any

from fh_gym.agents.ipfh.finetune import LOSS_DEFAULTS, IPFHRestorerFineTuner
from fh_gym.agents.pg.trainer import PaperAgentAlgo
from fh_gym.agents.registry import ALGOS
from fh_gym.engine.core import RepairEngine


@ALGOS.register()
class IPFH(PaperAgentAlgo):
    """IPFH: policy controller (holistic + context), policy gradient, joint patch/image losses"""

    name = "ipfh"
    policy = "IPFHPolicy"

    def base_hyperparams(self, env_id: str | None) -> dict[str, Any]:
        return {**super().base_hyperparams(env_id), "restorer_loss": LOSS_DEFAULTS}

    def make_fine_tuner(self, cfg: dict[str, Any], engine: RepairEngine) -> IPFHRestorerFineTuner:
        block = cfg["restorer"]
        return IPFHRestorerFineTuner(engine, block["lr"], block["grad_clip"], block["faces_per_step"],
                                     cfg["restorer_loss"])
