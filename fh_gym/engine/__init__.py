"""The batched repair engine (state, dynamics, rewards) shared by the single and vector envs."""

from fh_gym.engine.actions import ACTION_TYPES, ActionType, build_action_type
from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.engine.rewards import REWARD_TYPES, StepRecord, build_reward

__all__ = [
    "ACTION_TYPES",
    "REWARD_TYPES",
    "ActionType",
    "RepairEngine",
    "StepOutput",
    "StepRecord",
    "build_action_type",
    "build_reward",
]
