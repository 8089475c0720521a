"""``a2c``: A2C (Stable-Baselines3) on the batched env, hyperparameters in ``envs_configs/agents/a2c.yaml``."""

from __future__ import annotations

from stable_baselines3 import A2C

from fh_gym.agents.registry import ALGOS
from fh_gym.agents.sb3.train import SB3Algo


@ALGOS.register()
class A2CAlgo(SB3Algo):
    """A2C (SB3), CNN features extractor on the Dict observation"""

    name = "a2c"
    algo_class = A2C
