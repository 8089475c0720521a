"""SB3 agent checkpoints: the SB3 zip plus fh-gym metadata, written atomically, read without unpickling.

An agent file is the ordinary SB3 ``.zip`` (``model.save``) with extra members:

* ``fh_gym.json``: ``{"format", "algo", "env_id", "env_config", "hyperparams", "seed", "num_timesteps"}``
  (:func:`fh_gym.agents.registry.agent_algo` dispatches on ``algo``);
* ``vecnormalize.json``: the ``VecNormalize`` return statistics when the run normalised rewards;
* ``restorer_finetune.pt``: the jointly fine-tuned restorer and its optimiser (``weights_only``-safe).

SB3 stores some entries (spaces, policy class, schedules) with cloudpickle. :func:`load_model` never
unpickles them: it rebuilds every such entry from ``fh_gym.json`` and passes it as ``custom_objects``,
so loading an agent runs no code from the file (the weights load with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecTransposeImage
from torch import nn

from fh_gym.agents.sb3.hyperparams import constructor_kwargs, policy_kwargs
from fh_gym.engine.actions import build_action_type
from fh_gym.engine.core import observation_space as engine_observation_space
from fh_gym.restorers.checkpoint import atomic_write_bytes, load_error, network_from_payload
from fh_gym.restorers.config import ConfigError

FORMAT = "fh-gym/sb3-agent-v1"
META = "fh_gym.json"
VECNORM = "vecnormalize.json"
FINETUNE = "restorer_finetune.pt"
#: SB3 attributes not worth saving: the last observation batch (~0.5 MB per face) is reset on resume anyway
EXCLUDE = ["_last_obs", "_last_original_obs", "_last_episode_starts", "ep_info_buffer", "ep_success_buffer"]


def observation_space(env_config: dict[str, Any]) -> spaces.Dict:
    """The env's observation space from its config alone (no engine, data or networks built)."""
    return engine_observation_space(int(env_config["image_size"]))


def action_space(env_config: dict[str, Any]) -> spaces.Space:
    """The env's action space from its config (builds only the action type)."""
    return build_action_type(env_config["action"], int(env_config["image_size"])).space


def policy_observation_space(env_config: dict[str, Any]) -> spaces.Dict:
    """The observation space as the SB3 policy sees it (image entries transposed to CxHxW)."""
    raw = observation_space(env_config)
    return spaces.Dict({k: VecTransposeImage.transpose_space(v) if len(v.shape) == 3 else v
                        for k, v in raw.spaces.items()})



def save_agent(model: Any, path: str | os.PathLike, meta: dict[str, Any], *, vec_normalize: Any = None,
               finetune_state: dict[str, Any] | None = None) -> Path:
    """Write ``model`` + metadata (+ VecNormalize statistics, + fine-tuned restorer) to ``path`` atomically.

    Args:
        model: The SB3 model.
        path: Destination ``.zip``.
        meta: ``algo``, ``env_id``, ``env_config``, ``hyperparams``, ``seed`` (``num_timesteps`` is added).
        vec_normalize: A ``VecNormalize`` wrapper whose statistics to keep, or None.
        finetune_state: A ``torch.save``-able dict of tensors / plain values (restorer fine-tuning).
    """
    buffer = io.BytesIO()
    model.save(buffer, exclude=EXCLUDE)
    record = {**meta, "format": FORMAT, "num_timesteps": int(model.num_timesteps)}
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(META, json.dumps(record, indent=2, default=str))
        if vec_normalize is not None:
            archive.writestr(VECNORM, json.dumps(vecnormalize_state(vec_normalize)))
        if finetune_state is not None:
            blob = io.BytesIO()
            torch.save(finetune_state, blob)
            archive.writestr(FINETUNE, blob.getvalue())
    return atomic_write_bytes(Path(path), buffer.getvalue())


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``fh_gym.json`` record of an agent file (``ConfigError`` if it is not an fh-gym SB3 agent)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ConfigError(f"{path} is not an SB3 agent (.zip)")
    with zipfile.ZipFile(path) as archive:
        if META not in archive.namelist():
            raise ConfigError(f"{path} is an SB3 archive without fh-gym metadata ({META}); "
                              "train it with `fh-gym train` or save it with fh_gym.agents.sb3.checkpoint.save_agent")
        meta = json.loads(archive.read(META))
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{path}: unsupported agent format {meta.get('format')!r} (expected {FORMAT})")
    return meta


def read_member(path: str | os.PathLike, name: str) -> bytes | None:
    """Raw bytes of one archive member, or None if absent."""
    with zipfile.ZipFile(path) as archive:
        return archive.read(name) if name in archive.namelist() else None


def load_finetune_state(path: str | os.PathLike) -> dict[str, Any] | None:
    """The fine-tuned restorer state stored in an agent file (``weights_only=True``), or None."""
    blob = read_member(path, FINETUNE)
    return None if blob is None else torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)


def finetuned_restorer(path: str | os.PathLike, device: str = "cpu") -> nn.Module | None:
    """The restorer fine-tuned jointly with the agent (stored in its file), or None when there is none."""
    state = load_finetune_state(path)
    if state is None:
        return None
    return network_from_payload(state["network"], "patch", where=f"{path} fine-tuned restorer").to(device).eval()


def _serialized_keys(path: Path) -> list[str]:
    data = json.loads(read_member(path, "data") or b"{}")
    return [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]


def load_model(path: str | os.PathLike, algo_class: type, policy_class: type, meta: dict[str, Any], *,
               device: str = "cpu", env: Any = None) -> Any:
    """Load the SB3 model of an agent file, rebuilding every pickled entry from ``meta``.

    Args:
        path: The agent ``.zip``.
        algo_class: PPO, A2C, RecurrentPPO or MaskablePPO.
        policy_class: Its policy class (``MultiInputPolicy`` ...).
        meta: The file's :func:`read_metadata` record.
        device: Torch device.
        env: A VecEnv to continue training on (its spaces must match), or None for prediction only.
    """
    hp = meta["hyperparams"]
    kwargs = constructor_kwargs(hp, algo_class)
    # The constructor may complete policy_kwargs (A2C adds its RMSprop optimiser): build an empty shell
    # the way SB3's own load does, so the policy and its optimiser state match what was saved.
    shell = algo_class(policy_class, env=None, device=device, _init_setup_model=False,
                       policy_kwargs=policy_kwargs(hp, meta["env_config"]), **kwargs)
    known: dict[str, Any] = {
        "policy_class": policy_class,
        "policy_kwargs": shell.policy_kwargs,
        "observation_space": policy_observation_space(meta["env_config"]),
        "action_space": action_space(meta["env_config"]),
        "learning_rate": kwargs.get("learning_rate"),
        "lr_schedule": None,  # rebuilt from learning_rate by _setup_model
        "clip_range": kwargs.get("clip_range"),
        "clip_range_vf": kwargs.get("clip_range_vf"),
        "rollout_buffer_class": None,  # the algorithm picks its Dict buffer
    }
    # Anything else SB3 pickled is run-time state the algorithm recreates (buffers, last episode starts).
    custom = {key: known.get(key) for key in _serialized_keys(Path(path))}
    try:
        return algo_class.load(path, env=env, device=device, custom_objects=custom)
    except pickle.UnpicklingError as exc:  # a member holds more than tensors: refused, never run
        raise ConfigError(f"cannot load agent {path}: {load_error(exc)}") from None
    except ValueError as exc:
        raise ConfigError(f"agent {path} does not fit this env: {exc}") from exc


# ----------------------------------------------------------------------------- VecNormalize as JSON
def _rms_state(rms: Any) -> dict[str, Any]:
    return {"mean": np.asarray(rms.mean).tolist(), "var": np.asarray(rms.var).tolist(), "count": float(rms.count)}


def _set_rms(rms: Any, state: dict[str, Any]) -> None:
    rms.mean = np.asarray(state["mean"], dtype=np.float64).reshape(np.shape(rms.mean))
    rms.var = np.asarray(state["var"], dtype=np.float64).reshape(np.shape(rms.var))
    rms.count = float(state["count"])


def vecnormalize_state(vec: Any) -> dict[str, Any]:
    """JSON-able VecNormalize settings and return statistics (no pickle; observations are never normalised)."""
    return {"settings": {"norm_reward": bool(vec.norm_reward), "clip_reward": float(vec.clip_reward),
                         "gamma": float(vec.gamma), "epsilon": float(vec.epsilon)},
            "ret_rms": _rms_state(vec.ret_rms)}


def restore_vecnormalize(vec: Any, state: dict[str, Any]) -> None:
    """Load :func:`vecnormalize_state` statistics into an existing VecNormalize."""
    _set_rms(vec.ret_rms, state["ret_rms"])
