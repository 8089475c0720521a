"""Actors for trained SB3 models: recurrent state per face, action masks, env checks."""

from __future__ import annotations

import numpy as np
import pytest
from sb3_helpers import env_config, tiny_context
from stable_baselines3.common.callbacks import BaseCallback

from fh_gym.agents.registry import get_algo
from fh_gym.agents.sb3.actor import SB3Actor
from fh_gym.agents.sb3.train import build_model, make_vec_env
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.config import ConfigError


def _model(tmp_path, algo, env_id="fh_gym/FaceRepair-Dense-x8-v0", **extra):
    ctx = tiny_context(tmp_path, algo, env_id, horizon=16, **extra)
    env, _ = make_vec_env(ctx, ctx.algo_config)
    return build_model(get_algo(algo), env, ctx.algo_config, ctx.env_config, seed=0), ctx


def _engine(ctx, num_faces=2, seed=0):
    engine = RepairEngine(ctx.env_config, num_faces)
    engine.reset(engine.all_slots(), np.random.default_rng(seed), {"index": list(range(num_faces))})
    return engine


def test_recurrent_actor_carries_state_across_steps_and_resets(tmp_path):
    model, ctx = _model(tmp_path, "recurrent_ppo")
    actor = SB3Actor(model, "lstm", ctx.env_config)
    rng = np.random.default_rng(0)
    engine = _engine(ctx)
    slots = engine.all_slots()
    actor.start_episodes(engine, slots)
    first = actor.act(engine, slots, rng)
    h1 = actor.states(slots)
    assert np.abs(h1[0]).sum() > 0
    engine.step(first, slots)
    actor.act(engine, slots, rng)
    carried = actor.states(slots)

    # The same step-2 observation from a forgotten state gives another state: the memory matters.
    actor.start_episodes(engine, slots)
    actor.act(engine, slots, rng)
    fresh = actor.states(slots)
    assert not np.allclose(carried[0], fresh[0])

    # A new episode (t == 0) starts from zeros again: the first state is reproduced exactly.
    engine = _engine(ctx)
    actor.start_episodes(engine, slots)
    again = actor.act(engine, slots, rng)
    assert np.array_equal(again, first)
    assert np.allclose(actor.states(slots)[0], h1[0])


def test_recurrent_state_is_kept_per_face(tmp_path):
    model, ctx = _model(tmp_path, "recurrent_ppo")
    actor = SB3Actor(model, "lstm", ctx.env_config)
    rng = np.random.default_rng(0)
    engine = _engine(ctx, num_faces=2)
    everyone = engine.all_slots()
    actor.act(engine, everyone, rng)
    before = actor.states(everyone)
    actor.start_episodes(engine, everyone[1:])  # only face 1 starts over
    after = actor.states(everyone)
    assert np.array_equal(after[0][:, 0], before[0][:, 0]) and not after[0][:, 1].any()


def test_maskable_actor_never_picks_a_masked_action(tmp_path):
    model, ctx = _model(tmp_path, "maskable_ppo")
    assert ctx.env_config["action"]["mask_repeats"] and ctx.env_config["action"]["type"] == "grid"
    actor = SB3Actor(model, "masked", ctx.env_config, deterministic=False)  # sampling: the harder case
    rng = np.random.default_rng(0)
    engine = _engine(ctx, num_faces=4)
    slots = engine.all_slots()
    chosen = []
    for _ in range(engine.horizon):
        masks = engine.action_masks(slots)
        actions = actor.act(engine, slots, rng)
        assert masks[np.arange(len(slots)), actions].all()
        chosen.append(actions)
        engine.step(actions, slots)
    chosen = np.stack(chosen, axis=1)
    assert all(len(set(row)) == engine.horizon for row in chosen)  # 16 steps, 49 cells: never a repeat


class _MaskCheck(BaseCallback):
    def _on_step(self) -> bool:
        masks, actions = self.locals["action_masks"], self.locals["actions"]
        assert masks[np.arange(len(actions)), actions].all()
        self.checked = getattr(self, "checked", 0) + len(actions)
        return True


def test_maskable_ppo_rollouts_respect_the_masks(tmp_path):
    model, _ = _model(tmp_path, "maskable_ppo")
    check = _MaskCheck()
    model.learn(64, callback=check)
    assert check.checked == 64


def test_actor_refuses_an_env_with_other_actions(tmp_path):
    model, ctx = _model(tmp_path, "ppo")
    actor = SB3Actor(model, "ppo", ctx.env_config)
    engine = RepairEngine(env_config("fh_gym/FaceRepair-AttentionFH-v0"), 1)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0]})
    with pytest.raises(ConfigError, match="trained with actions Discrete"):
        actor.act(engine, engine.all_slots(), np.random.default_rng(0))
