"""The trained IPFH agent as an actor, and its hyperparameters.

At test time the controller selects "the location with the highest probability" (Sec. III-B.2) and
repairs with the local restoration network trained together with it (the actor's ``restorer``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fh_gym.agents.ipfh import policy as _policy  # noqa: F401  (registers IPFHPolicy for loading)
from fh_gym.agents.pg.actor import PolicyActor
from fh_gym.agents.pg.checkpoint import load_actor
from fh_gym.agents.pg.config import agent_defaults

ALGO = "ipfh"


def load(path: str | Path, device: str = "cpu") -> PolicyActor:
    """Load ``agent.pt`` of an IPFH run (policy controller + jointly trained restorer)."""
    return load_actor(path, ALGO, device)


def defaults(env_id: str) -> dict[str, Any]:
    """Hyperparameters for ``env_id`` from ``envs_configs/agents/ipfh.yaml``."""
    return agent_defaults(ALGO, env_id)
