"""fh-gym: Gymnasium environments for patch-selection face hallucination.

``import fh_gym`` registers the env ids (``fh_gym.ENV_IDS``) with Gymnasium.
"""

from fh_gym import _checkout

_checkout.install(__path__[0])

# The imports below need the sub-package finder installed first (in a source checkout).
from fh_gym.envs import FaceRepairEnv, FaceRepairSB3VecEnv, FaceRepairVectorEnv  # noqa: E402
from fh_gym.registration import ENV_IDS  # noqa: E402

__version__ = "0.1.0"
__all__ = ["ENV_IDS", "FaceRepairEnv", "FaceRepairSB3VecEnv", "FaceRepairVectorEnv", "__version__"]
