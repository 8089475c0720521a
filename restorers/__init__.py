"""Torch networks for face hallucination: patch restorers, full-image generators, auxiliary nets, losses.

Knows nothing of RL. Networks are registered by name (``restorers.registry``) and built from typed
blocks: ``build_restorer({"type": "FSRCNN", "scale": 8})``.
"""

from fh_gym.restorers.base import Generator, PatchRestorer, RepairContext
from fh_gym.restorers.build import build_generator, build_network, build_restorer
from fh_gym.restorers.checkpoint import CheckpointError, load_network, save_network
from fh_gym.restorers.registry import ARCHS, Registry, get_arch, list_archs, register_arch

__all__ = [
    "ARCHS",
    "CheckpointError",
    "Generator",
    "PatchRestorer",
    "Registry",
    "RepairContext",
    "build_generator",
    "build_network",
    "build_restorer",
    "get_arch",
    "list_archs",
    "load_network",
    "register_arch",
    "save_network",
]
