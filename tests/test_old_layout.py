"""Checkpoints saved before fh-gym installed as one package (modules ``agents.*``, ``restorers.*``) still load."""

from __future__ import annotations

import base64
import io
import json
import pickle
import sys
import zipfile

import numpy as np
import pytest
from sb3_helpers import tiny_context

from fh_gym.agents.registry import get_algo, load_agent
from fh_gym.agents.sb3.checkpoint import save_agent
from fh_gym.agents.sb3.train import build_model, make_vec_env
from fh_gym.engine.core import RepairEngine

#: what SB3 (cloudpickle) wrote for the extractor class of the old layout: a global of module agents.sb3.features
OLD_GLOBAL = b"cagents.sb3.features\nFaceRepairExtractor\n."


def _as_old_layout(path, out):
    """Rewrite every pickled entry of an SB3 zip as a reference to the old ``agents.sb3.features`` module."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            blob = src.read(name)
            if name == "data":
                data = json.loads(blob)
                for value in data.values():
                    if isinstance(value, dict) and ":serialized:" in value:
                        value[":serialized:"] = base64.b64encode(OLD_GLOBAL).decode()
                blob = json.dumps(data).encode()
            dst.writestr(name, blob)
    return out


def test_an_sb3_agent_of_the_old_layout_loads_without_unpickling_old_modules(tmp_path, monkeypatch):
    # An installed fh-gym has no top-level `agents` package (a checkout on sys.path would): hide it.
    monkeypatch.setitem(sys.modules, "agents", None)
    with pytest.raises(ModuleNotFoundError):  # the rewritten entries point at a module that does not exist
        pickle.load(io.BytesIO(OLD_GLOBAL))
    ctx = tiny_context(tmp_path, "ppo", horizon=4)
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("ppo"), env, ctx.algo_config, ctx.env_config, seed=0)
    meta = {"algo": "ppo", "env_id": ctx.env_id, "env_config": ctx.env_config, "hyperparams": ctx.algo_config,
            "seed": 0}
    new = save_agent(model, tmp_path / "new.zip", meta)
    old = _as_old_layout(new, tmp_path / "old.zip")
    actor = load_agent(old)
    engine = RepairEngine(ctx.env_config, 2)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0), {"index": [0, 1]})
    fresh = load_agent(new)
    np.testing.assert_array_equal(actor.act(engine, slots, np.random.default_rng(0)),
                                  fresh.act(engine, slots, np.random.default_rng(0)))
