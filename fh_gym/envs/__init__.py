"""Gymnasium environments: the single-face env and the batched vector views."""

from fh_gym.envs.config import default_config, make_config
from fh_gym.envs.face_repair import FaceRepairEnv
from fh_gym.envs.vector import FaceRepairSB3VecEnv, FaceRepairVectorEnv

__all__ = ["FaceRepairEnv", "FaceRepairSB3VecEnv", "FaceRepairVectorEnv", "default_config", "make_config"]
