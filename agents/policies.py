"""Trained agents as actors (see :mod:`agents.registry`)."""

from agents.registry import Actor, load_agent

__all__ = ["Actor", "load_agent"]
