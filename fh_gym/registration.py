"""Registration of the env ids with Gymnasium, one per variant YAML file (:mod:`fh_gym.variants`).

Every id is in the ``fh_gym`` namespace: ``gymnasium.make("fh_gym/FaceRepair-Dense-x8-v0")``. The ids of
fh-gym 0.1 without the namespace (``FaceRepair-Dense-x8-v0``) are registered too, for one release, as
deprecated aliases: they make the same env and emit a ``FutureWarning`` naming the new id.

Registration passes only the variant name to the env, so ``gymnasium.make(id, config={...})`` merges the
user's keys *on top of* the variant's. It imports neither the env classes nor torch (entry points are
strings), so ``import fh_gym`` registers the ids cheaply.
"""

from __future__ import annotations

import gymnasium as gym

from fh_gym.variants import canonical_env_id, deprecated_env_ids, env_ids

__all__ = ["ENV_IDS", "canonical_env_id", "deprecated_env_ids", "env_ids", "register_envs"]


def register_envs() -> list[str]:
    """Register every variant (and its deprecated alias) with Gymnasium (idempotent); returns the ids."""
    ids = []
    for env_id, name in env_ids().items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="fh_gym.envs:FaceRepairEnv",
                         vector_entry_point="fh_gym.envs:FaceRepairVectorEnv", kwargs={"variant": name})
        ids.append(env_id)
    for alias, env_id in deprecated_env_ids().items():
        if alias not in gym.registry:
            gym.register(id=alias, entry_point="fh_gym.envs.deprecated:deprecated_env",
                         vector_entry_point="fh_gym.envs.deprecated:deprecated_vector_env",
                         kwargs={"variant": env_ids()[env_id], "alias": alias})
    return ids


ENV_IDS: list[str] = register_envs()
