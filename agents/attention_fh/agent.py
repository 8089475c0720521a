"""The trained Attention-FH agent as an actor, and its hyperparameters.

At test time the policy takes the most probable action of each factor (deterministic, as the paper's
evaluation) and repairs with the local enhancement network trained jointly with it (the actor's
``restorer``, which ``agents.evaluate.run_episodes`` and ``fh-gym record`` use in place of the env's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fh_gym.agents.attention_fh import policy as _policy  # noqa: F401  (registers AttentionFHPolicy for loading)
from fh_gym.agents.pg.actor import PolicyActor
from fh_gym.agents.pg.checkpoint import load_actor
from fh_gym.agents.pg.config import agent_defaults

ALGO = "attention_fh"


def load(path: str | Path, device: str = "cpu") -> PolicyActor:
    """Load ``agent.pt`` of an Attention-FH run (policy + jointly trained restorer)."""
    return load_actor(path, ALGO, device)


def defaults(env_id: str) -> dict[str, Any]:
    """Hyperparameters for ``env_id`` from ``envs_configs/agents/attention_fh.yaml``."""
    return agent_defaults(ALGO, env_id)
