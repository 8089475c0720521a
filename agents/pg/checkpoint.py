"""Paper-agent checkpoints: one ``.pt`` dict with the policy, the jointly trained restorer and the env record.

::

    {"format": "fh-gym/agent-v1", "algo": "attention_fh", "name": ..., "policy": {"arch", "state_dict"},
     "restorer": <restorers network checkpoint dict>, "env": {"env_id", "image_size", "scale", "horizon",
     "action", "config"}, "config": {...hyperparameters...}, "meta": {"updates", "env_steps", ...}}

Only tensors, dicts, lists, str, int, float, bool and None: it loads with ``torch.load(weights_only=True)``
(``restorers.checkpoint.safe_load``). ``agents.registry.load_agent`` dispatches on ``algo``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from fh_gym.agents.pg.actor import PolicyActor
from fh_gym.agents.pg.policy_base import EpisodePolicy, build_policy
from fh_gym.restorers.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    network_from_payload,
    network_payload,
    safe_load,
)

AGENT_FORMAT = "fh-gym/agent-v1"


def env_record(engine: Any, env_id: str) -> dict[str, Any]:
    """What a loaded actor checks against the env it is run on, and the full training env config
    (``fh-gym hallucinate --agent`` runs on it; a JSON round trip keeps it ``weights_only``-loadable)."""
    return {"env_id": env_id, "image_size": int(engine.image_size), "scale": int(engine.scale),
            "horizon": int(engine.horizon), "action": dict(engine.config["action"]),
            "config": json.loads(json.dumps(engine.config))}


def save_agent(path: str | os.PathLike, *, algo: str, policy: EpisodePolicy, restorer: nn.Module,
               env: Mapping[str, Any], config: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Path:
    """Atomically write an agent checkpoint (see the module docstring)."""
    payload = {
        "format": AGENT_FORMAT,
        "algo": algo,
        "policy": {"arch": dict(policy.arch_config), "state_dict": policy.state_dict()},
        "restorer": network_payload(restorer),
        "env": dict(env),
        "config": dict(config),
        "meta": dict(meta or {}),
    }
    return atomic_torch_save(payload, path)


def read_agent(path: str | os.PathLike, algo: str) -> dict[str, Any]:
    """The payload of an agent checkpoint written by :func:`save_agent` for ``algo``."""
    data = safe_load(path)
    if data.get("format") != AGENT_FORMAT:
        raise CheckpointError(f"{path} is not a paper-agent checkpoint (format {data.get('format')!r}; the "
                              f"training state is <run>/last.pt, the agent <run>/agent.pt)")
    if data.get("algo") != algo:
        raise CheckpointError(f"{path} holds a '{data.get('algo')}' agent, not '{algo}'")
    return data


def load_policy(data: Mapping[str, Any], device: str = "cpu") -> EpisodePolicy:
    policy = build_policy(dict(data["policy"]["arch"]))
    try:
        policy.load_state_dict(data["policy"]["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"policy weights do not fit {data['policy']['arch']}: {exc}") from exc
    return policy.to(device).eval()


def load_restorer(data: Mapping[str, Any], device: str = "cpu") -> nn.Module:
    """The jointly trained restorer stored in an agent payload (a network checkpoint dict)."""
    return network_from_payload(data["restorer"], "patch", where="agent restorer").to(device).eval()


def load_actor(path: str | os.PathLike, algo: str, device: str = "cpu", deterministic: bool = True) -> PolicyActor:
    """A :class:`~fh_gym.agents.pg.actor.PolicyActor` carrying the checkpoint's policy and restorer."""
    data = read_agent(path, algo)
    actor = PolicyActor(load_policy(data, device), load_restorer(data, device), data["env"]["action"],
                        name=str(data["meta"].get("name", algo)), deterministic=deterministic)
    actor.env_record = dict(data["env"])
    actor.env_config = dict(data["env"]["config"])  # what hallucinate runs on (as the SB3 actors)
    actor.horizon = int(data["env"]["horizon"])  # the T it was trained for (as the SB3 actors)
    actor.meta = dict(data["meta"])
    return actor
