"""``ppo``: PPO (Stable-Baselines3) on the batched env, hyperparameters in ``envs_configs/agents/ppo.yaml``."""

from __future__ import annotations

from stable_baselines3 import PPO

from fh_gym.agents.registry import ALGOS
from fh_gym.agents.sb3.train import SB3Algo


@ALGOS.register()
class PPOAlgo(SB3Algo):
    """PPO (SB3), CNN features extractor on the Dict observation"""

    name = "ppo"
    algo_class = PPO
