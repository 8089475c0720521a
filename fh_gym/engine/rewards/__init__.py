"""Reward types, one file each (see ``docs/environment.md``, "Rewards"); :data:`REWARDS` finds them by name."""

from fh_gym.engine.rewards.base import REWARDS, Reward, StepRecord, build_reward

__all__ = ["REWARDS", "Reward", "StepRecord", "build_reward"]
