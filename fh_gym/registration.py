"""Registration of the env ids with Gymnasium, one per variant YAML file (:mod:`fh_gym.variants`).

Registration passes only the variant name to the env, so ``gymnasium.make(id, config={...})`` merges the
user's keys *on top of* the variant's. It imports neither the env classes nor torch (entry points are
strings), so ``import fh_gym`` registers the ids cheaply.
"""

from __future__ import annotations

import gymnasium as gym

from fh_gym.variants import env_ids

__all__ = ["ENV_IDS", "env_ids", "register_envs"]


def register_envs() -> list[str]:
    """Register every variant with Gymnasium (idempotent); returns the ids."""
    ids = []
    for env_id, name in env_ids().items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="fh_gym.envs:FaceRepairEnv",
                         vector_entry_point="fh_gym.envs:FaceRepairVectorEnv", kwargs={"variant": name})
        ids.append(env_id)
    return ids


ENV_IDS: list[str] = register_envs()
