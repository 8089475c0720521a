"""Trained agents as actors (see :mod:`fh_gym.agents.registry`)."""

from fh_gym.agents.registry import Actor, load_agent

__all__ = ["Actor", "load_agent"]
