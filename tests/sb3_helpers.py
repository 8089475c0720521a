"""Tiny SB3 set-ups shared by the SB3 tests: small synthetic data, short episodes, tiny networks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fh_gym.agents.registry import get_algo
from fh_gym.agents.runs import TrainContext
from fh_gym.envs.face_repair import make_config
from fh_gym.registration import env_ids
from fh_gym.restorers.config import merge_config

DATA = {"type": "synthetic", "identities": 24, "images_per_identity": 3}

#: per-algorithm overrides that keep one learn() call to a few seconds on a CPU
TINY = {
    "n_envs": 4, "n_steps": 16, "checkpoint_every": 1_000_000, "image_every": 0,
    "policy_kwargs": {"features_dim": 16, "width": 4, "net_arch": {"pi": [16], "vf": [16]}},
}
PPO_LIKE = {"batch_size": 32, "n_epochs": 1}


def tiny_hyperparams(algo: str, env_id: str = "fh_gym/FaceRepair-Dense-x8-v0", **extra: Any) -> dict[str, Any]:
    hp = merge_config(get_algo(algo).defaults(env_id), TINY)
    if algo != "a2c":
        hp = merge_config(hp, PPO_LIKE)
    if algo == "recurrent_ppo":
        hp = merge_config(hp, {"policy_kwargs": {"lstm_hidden_size": 8}})
    return merge_config(hp, extra)


def env_config(env_id: str = "fh_gym/FaceRepair-Dense-x8-v0", split: str = "train", **overrides: Any) -> dict[str, Any]:
    return make_config(merge_config({"data": {**DATA, "split": split}}, None) | overrides, env_ids()[env_id])


def tiny_context(run_dir: Path, algo: str, env_id: str = "fh_gym/FaceRepair-Dense-x8-v0", *, total: int = 64,
                 resume: bool = False, eval_every: int = 0, horizon: int = 4, **extra: Any) -> TrainContext:
    return TrainContext(env_id=env_id, env_config=env_config(env_id, horizon=horizon),
                        eval_config=env_config(env_id, "val", horizon=horizon),
                        algo_config=tiny_hyperparams(algo, env_id, **extra), run_dir=run_dir, seed=0,
                        total_timesteps=total, resume=resume, progress=False, eval_every=eval_every, eval_faces=2)
