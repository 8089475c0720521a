"""Plain SB3 / sb3-contrib / RL Zoo agent files (no fh-gym metadata) as fh-gym actors.

A zip saved by ``model.save`` (or by the Zoo) records neither the env nor its config, so the caller gives
the env config it was trained on (``--env`` and ``--restorer`` / ``--set`` on the command line). The
algorithm follows from the stored policy class (PPO and A2C share theirs: PPO's file has ``clip_range``).

SB3 pickles some entries. Like :func:`fh_gym.agents.sb3.checkpoint.load_model`, this module rebuilds the
spaces from the env config and replaces schedules and buffers; the policy class and ``policy_kwargs`` are
read by a restricted unpickler that only resolves SB3 / sb3-contrib / fh-gym policy and features-extractor
classes, torch activation functions and optimisers (anything else is a ``ConfigError``), so loading runs
no code from the file beyond those classes. A model that observed frame-stacked observations does not fit
an fh-gym env: it is refused with the reason. VecNormalize statistics (the Zoo's ``vecnormalize.pkl``) are
not applied: fh-gym's Zoo files normalise returns only, which acting does not need.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import pickle
import pickletools
import zipfile
from pathlib import Path
from typing import Any

import torch
from sb3_contrib import MaskablePPO, RecurrentPPO
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.policies import BasePolicy
from torch import nn

from fh_gym.agents.sb3.actor import SB3Actor
from fh_gym.agents.sb3.checkpoint import META, action_space, policy_observation_space, read_member
from fh_gym.restorers.config import ConfigError

#: modules whose classes a plain agent file may name (policies, extractors, activations, optimisers)
ALLOWED_MODULES = ("stable_baselines3.", "sb3_contrib.", "fh_gym.agents.sb3.", "torch.nn.modules.activation",
                   "torch.optim.")
#: fh-gym algorithm name -> SB3 class, chosen by the policy class's family
FAMILIES = {"recurrent": ("recurrent_ppo", RecurrentPPO), "maskable": ("maskable_ppo", MaskablePPO)}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only classes of :data:`ALLOWED_MODULES` that are policies, modules or optimisers."""

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith(ALLOWED_MODULES):
            value = getattr(importlib.import_module(module), name, None)
            if isinstance(value, type) and issubclass(value, BasePolicy | nn.Module | torch.optim.Optimizer):
                return value
        raise ConfigError(f"the agent file pickles {module}.{name}, which fh-gym does not load (only SB3, "
                          "sb3-contrib and fh-gym policies and extractors, torch activations and optimisers)")


def _restricted(entry: Any) -> Any:
    """A data entry: plain JSON as it is, a pickled one through :class:`_RestrictedUnpickler`."""
    if not (isinstance(entry, dict) and ":serialized:" in entry):
        return entry
    return _RestrictedUnpickler(io.BytesIO(base64.b64decode(entry[":serialized:"]))).load()


def is_plain_sb3_zip(path: str | Path) -> bool:
    """An SB3 zip (``data`` + ``policy.pth``) without fh-gym's metadata."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    return {"data", "policy.pth"} <= names and META not in names


def _data(path: Path) -> dict[str, Any]:
    return json.loads(read_member(path, "data") or b"{}")


def _class_name(entry: Any) -> str:
    """``module.Name`` of a pickled class, read from the pickle's opcodes (nothing is executed)."""
    strings = [arg for op, arg, _ in pickletools.genops(base64.b64decode(entry[":serialized:"]))
               if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE")]
    return ".".join(strings[:2])


def plain_algo(path: str | Path) -> tuple[str, type]:
    """(fh-gym algorithm name, SB3 class) of a plain zip, from its policy class."""
    data = _data(Path(path))
    policy = _class_name(data.get("policy_class", {":serialized:": ""}))
    lowered = policy.lower()
    for family, found in FAMILIES.items():
        if family in lowered or (family == "recurrent" and "lstm" in lowered):
            return found
    if "actorcritic" in lowered or policy.endswith("FaceRepairPolicy"):
        return ("ppo", PPO) if "clip_range" in data else ("a2c", A2C)
    raise ConfigError(f"{path}: policy {policy or '?'} is not one fh-gym can act with (PPO, A2C, RecurrentPPO, "
                      "MaskablePPO actor-critic policies)")


def load_plain_model(path: str | Path, env_config: dict[str, Any], device: str = "cpu") -> tuple[str, Any]:
    """(algorithm name, model) of a plain zip, its spaces rebuilt from ``env_config`` (prediction only)."""
    path = Path(path)
    name, algo_class = plain_algo(path)
    data = _data(path)
    known = {
        "policy_class": _restricted(data["policy_class"]),
        "policy_kwargs": _restricted(data.get("policy_kwargs", {})),
        "observation_space": policy_observation_space(env_config),
        "action_space": action_space(env_config),
        "learning_rate": 0.0, "lr_schedule": lambda _: 0.0, "clip_range": lambda _: 0.0,  # acting only
    }
    serialized = [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]
    custom = {key: known.get(key) for key in {*serialized, "policy_class", "policy_kwargs"}}
    try:
        return name, algo_class.load(path, device=device, custom_objects=custom)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path} does not fit the env {env_config['action']} / {env_config['image_size']}px "
                          f"(a model trained on another env, frame-stacked observations...): {exc}") from exc


def load_plain_agent(path: str | Path, env_config: dict[str, Any], device: str = "cpu") -> SB3Actor:
    """A plain SB3 / RL Zoo zip as an :class:`~fh_gym.agents.sb3.actor.SB3Actor` on ``env_config``."""
    name, model = load_plain_model(path, env_config, device)
    return SB3Actor(model, f"{name}-{Path(path).stem}", env_config,
                    meta={"algo": name, "source": "plain SB3 zip", "env_config": env_config})
