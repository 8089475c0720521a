"""Action types, one file each (see ``docs/environment.md``, "Actions"); :data:`ACTIONS` finds them by name."""

from fh_gym.engine.actions.base import ACTIONS, ActionType, build_action_type

__all__ = ["ACTIONS", "ActionType", "build_action_type"]
