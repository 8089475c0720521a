"""fh-gym: Gymnasium environments for patch-selection face hallucination.

``import fh_gym`` registers the env ids (``fh_gym.ENV_IDS``) with Gymnasium; that reads the variant YAML
files only. The env classes (and torch) load on first use: ``fh_gym.FaceRepairEnv``, ``gymnasium.make``.
"""

from __future__ import annotations

from typing import Any

from fh_gym import _checkout

_checkout.install(__path__[0])

# The imports below need the sub-package finder installed first (in a source checkout).
from fh_gym.registration import ENV_IDS  # noqa: E402

__version__ = "0.1.0"
__all__ = ["ENV_IDS", "FaceRepairEnv", "FaceRepairSB3VecEnv", "FaceRepairVectorEnv", "__version__"]

_ENV_CLASSES = ("FaceRepairEnv", "FaceRepairSB3VecEnv", "FaceRepairVectorEnv")


def __getattr__(name: str) -> Any:
    if name in _ENV_CLASSES:
        # Lazy: the env classes import torch and stable-baselines3, which registering the ids does not need.
        from fh_gym import envs

        return getattr(envs, name)
    raise AttributeError(f"module 'fh_gym' has no attribute {name!r}")
