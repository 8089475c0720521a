"""``recurrent_ppo``: RecurrentPPO (sb3-contrib), an LSTM on the CNN features (like Attention-FH's GRU over its
image features); hyperparameters in ``envs_configs/agents/recurrent_ppo.yaml``."""

from __future__ import annotations

from sb3_contrib import RecurrentPPO

from fh_gym.agents.registry import ALGOS
from fh_gym.agents.sb3.train import SB3Algo


@ALGOS.register()
class RecurrentPPOAlgo(SB3Algo):
    """RecurrentPPO (sb3-contrib): LSTM policy over the CNN features"""

    name = "recurrent_ppo"
    algo_class = RecurrentPPO
    policy = "MultiInputLstmPolicy"
    recurrent = True
