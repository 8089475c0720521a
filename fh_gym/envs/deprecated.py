"""Entry points of the deprecated env ids (fh-gym 0.1's names without the ``fh_gym/`` namespace).

Registered by :mod:`fh_gym.registration` for one release: each warns (``FutureWarning`` naming the new id)
and builds the env of the namespaced id.
"""

from __future__ import annotations

import warnings
from typing import Any

from fh_gym.envs.face_repair import FaceRepairEnv
from fh_gym.envs.vector import FaceRepairVectorEnv
from fh_gym.variants import deprecation_message


def deprecated_env(*, alias: str, **kwargs: Any) -> FaceRepairEnv:
    """``gymnasium.make(alias)``: warns, then builds the env of the namespaced id."""
    warnings.warn(deprecation_message(alias), FutureWarning, stacklevel=3)
    return FaceRepairEnv(**kwargs)


def deprecated_vector_env(*, alias: str, **kwargs: Any) -> FaceRepairVectorEnv:
    """``gymnasium.make_vec(alias, vectorization_mode="vector_entry_point")``: warns, then builds the vector env."""
    warnings.warn(deprecation_message(alias), FutureWarning, stacklevel=3)
    return FaceRepairVectorEnv(**kwargs)
