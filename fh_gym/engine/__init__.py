"""The batched repair engine (state, dynamics) shared by the single and vector envs, with its rewards and
action types (one registry each: :data:`REWARDS`, :data:`ACTIONS`)."""

from fh_gym.engine.actions.base import ACTIONS, ActionType, build_action_type
from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.engine.rewards.base import REWARDS, Reward, StepRecord, build_reward
from fh_gym.engine.view import EpisodeView

__all__ = [
    "ACTIONS",
    "REWARDS",
    "ActionType",
    "EpisodeView",
    "RepairEngine",
    "Reward",
    "StepOutput",
    "StepRecord",
    "build_action_type",
    "build_reward",
]
