"""Tiny configurations shared by the paper-agent tests (64x64 synthetic faces, T = 3, batch 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fh_gym.agents.registry import get_algo
from fh_gym.agents.runs import TrainContext
from fh_gym.envs.face_repair import make_config
from fh_gym.restorers.config import merge_config

DATA = {"type": "synthetic", "identities": 24, "images_per_identity": 3, "image_size": 64}
BATCH, HORIZON = 4, 3
TINY_POLICY = {
    "attention_fh": {"feature_dim": 8, "history_hidden": 8, "policy_hidden": 16, "head_hidden": 16, "value_hidden": 8},
    "ipfh": {"widths": [4, 8], "holistic_dim": 16, "context_dim": 8, "patch_size": 16, "patch_width": 4,
             "value_hidden": 8},
    "spatial_pg": {"width": 4, "value_hidden": 8},
    "gain_pg": {"width": 4, "hidden": 8, "value_hidden": 8},
    "lookahead_pg": {"width": 4, "hidden": 8, "value_hidden": 8},
}
VARIANT = {"attention_fh": "attention_fh", "ipfh": "ipfh", "spatial_pg": "dense_x8", "gain_pg": "dense_x8",
           "lookahead_pg": "dense_x8"}
ENV_ID = {"attention_fh": "fh_gym/FaceRepair-AttentionFH-v0", "ipfh": "fh_gym/FaceRepair-IPFH-v0",
          "spatial_pg": "fh_gym/FaceRepair-Dense-x8-v0", "gain_pg": "fh_gym/FaceRepair-Dense-x8-v0",
          "lookahead_pg": "fh_gym/FaceRepair-Dense-x8-v0"}


def env_config(algo: str, **overrides: Any) -> dict[str, Any]:
    base = {"image_size": 64, "data": DATA, "horizon": HORIZON}
    if algo == "attention_fh":
        base["action"] = {"type": "box", "positions": 4}
    config = make_config(base, VARIANT[algo])
    # overrides may name any env key (action, repair...), not only the tiny base's
    return make_config(merge_config(config, overrides)) if overrides else config


def algo_config(algo: str, **overrides: Any) -> dict[str, Any]:
    config = merge_config(get_algo(algo).defaults(ENV_ID[algo]),
                          {"batch_size": BATCH, "policy": TINY_POLICY[algo], "eval_batch_size": 8,
                           "checkpoint_every": 1})
    return merge_config(config, overrides, algo)


def train_context(algo: str, run_dir: Path, updates: int, resume: bool = False, env: dict | None = None,
                  **overrides: Any) -> TrainContext:
    config = env_config(algo, **(env or {}))
    evaluation = merge_config(config, {"data": {**config["data"], "split": "val"}})
    return TrainContext(env_id=ENV_ID[algo], env_config=config, eval_config=evaluation,
                        algo_config=algo_config(algo, **overrides), run_dir=run_dir, seed=0,
                        total_timesteps=updates * BATCH * HORIZON, resume=resume, progress=False,
                        eval_every=2 * BATCH * HORIZON, eval_faces=3)
