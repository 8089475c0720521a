"""``maskable_ppo``: MaskablePPO (sb3-contrib), which never picks a masked action; needs Discrete /
MultiDiscrete actions (grid and box envs). Hyperparameters in ``envs_configs/agents/maskable_ppo.yaml``."""

from __future__ import annotations

from sb3_contrib import MaskablePPO

from fh_gym.agents.registry import ALGOS
from fh_gym.agents.sb3.train import SB3Algo


@ALGOS.register()
class MaskablePPOAlgo(SB3Algo):
    """MaskablePPO (sb3-contrib): never picks a masked action (grid / box envs)"""

    name = "maskable_ppo"
    algo_class = MaskablePPO
    maskable = True
