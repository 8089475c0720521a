"""The episode runner (``fh_gym.episodes``): hooks, the actor protocol, the restorer rule, every strategy on
every action type."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.strategies import STRATEGIES, build_strategy, strategy_names
from fh_gym.engine.core import StepOutput, build_scaled
from fh_gym.envs.face_repair import make_config
from fh_gym.episodes import (
    Actor,
    BaseActor,
    EpisodeHook,
    FunctionActor,
    as_actor,
    build_engine,
    play_episodes,
    repairing_restorer,
)
from fh_gym.inference import inference_config

SMALL = {"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}, "horizon": 3}
ACTIONS = {"grid": {"type": "grid", "patch_size": 32, "stride": 16}, "box": {"type": "box", "positions": 4},
           "continuous": {"type": "continuous"}}


def config(**overrides):
    return make_config({**SMALL, **overrides}, "dense_x8")


class Events(EpisodeHook):
    """Records every moment the runner reports, with the step counter the engine shows then."""

    def __init__(self):
        self.events = []

    def on_start(self, engine, slots):
        self.events.append(("start", int(engine.t[slots[0]])))

    def on_step(self, engine, slots, step):
        assert isinstance(step, StepOutput) and len(step.reward) == len(slots)
        self.events.append(("step", int(engine.t[slots[0]])))

    def on_end(self, engine, slots):
        self.events.append(("end", int(engine.t[slots[0]])))


class CountingActor(BaseActor):
    name = "counting"

    def __init__(self, horizon=None, restorer=None):
        self.horizon, self.restorer = horizon, restorer
        self.started = []

    def start_episodes(self, engine, slots):
        self.started.append(int(engine.t[slots].max()))

    def act(self, engine, slots, rng):
        return np.zeros(len(slots), dtype=np.int64)


def test_hooks_see_the_start_every_step_and_the_end_in_order():
    actor = CountingActor()
    engine = build_engine(config(), actor, 2)
    hooks = [Events(), Events()]
    play_episodes(engine, actor, engine.all_slots(), np.random.default_rng(0), {"index": [0, 1]}, hooks)
    expected = [("start", 0), ("step", 1), ("step", 2), ("step", 3), ("end", 3)]
    assert hooks[0].events == expected and hooks[1].events == expected
    assert actor.started == [0]  # started once, right after the reset


def test_keep_batch_reaches_the_step_hook():
    seen = []

    class Contexts(EpisodeHook):
        def on_step(self, engine, slots, step):
            seen.append(step.context)

    actor = CountingActor()
    engine = build_engine(config(), actor, 1)
    play_episodes(engine, actor, engine.all_slots(), np.random.default_rng(0), hooks=[Contexts()], keep_batch=True)
    assert len(seen) == 3 and all(c is not None for c in seen)


def test_horizon_explicit_then_the_actors_then_the_envs():
    assert build_engine(config(), CountingActor(), 1).horizon == 3
    assert build_engine(config(), CountingActor(horizon=5), 1).horizon == 5
    assert build_engine(config(), CountingActor(horizon=5), 1, horizon=2).horizon == 2
    assert build_strategy("random30").horizon == 30


def test_the_actors_own_restorer_repairs_else_the_envs():
    own = build_scaled({"type": "FSRCNN"}, "patch", 8)
    env = build_scaled({"type": "FSRCNN"}, "patch", 8)
    assert repairing_restorer(CountingActor(restorer=own), env) is own
    assert repairing_restorer(CountingActor(), env) is env
    assert repairing_restorer(CountingActor(), None) is None  # the engine builds the config's
    assert build_engine(config(), CountingActor(restorer=own), 1, restorer=env).restorer is own
    assert build_engine(config(), CountingActor(), 1, restorer=env).restorer is env


def test_evaluation_follows_the_restorer_rule():
    """Two restorers that repair differently: an actor carrying one is measured with it, whatever is shared."""
    torch.manual_seed(0)
    own = build_scaled({"type": "FSRCNN"}, "patch", 8)
    with torch.no_grad():
        for p in own.parameters():
            p.add_(0.05 * torch.randn_like(p))
    env = build_scaled({"type": "FSRCNN"}, "patch", 8)
    even = build_strategy("even")

    class EvenWithOwn(type(even)):
        restorer = own

    with_own = run_episodes(config(), EvenWithOwn(), np.arange(2), restorer=env, batch_size=2)
    only_own = run_episodes(config(), even, np.arange(2), restorer=own, batch_size=2)
    shared = run_episodes(config(), even, np.arange(2), restorer=env, batch_size=2)
    np.testing.assert_array_equal(with_own.final_psnr, only_own.final_psnr)
    assert not np.allclose(with_own.final_psnr, shared.final_psnr)


def test_plain_functions_become_actors_and_other_objects_are_refused():
    def act(engine, slots, rng):
        return np.zeros(len(slots), dtype=np.int64)

    actor = as_actor(act)
    assert isinstance(actor, FunctionActor) and isinstance(actor, Actor) and actor.name == "agent"
    assert as_actor(actor) is actor
    result = run_episodes(config(), act, np.arange(2), batch_size=2)
    assert result.name == "agent" and result.boxes.shape == (2, 3, 4)
    with pytest.raises(TypeError, match="not an actor"):
        as_actor(object())


def test_inference_inputs_run_through_the_same_runner():
    actor = build_strategy("even")
    engine = build_engine(inference_config(config()), actor, 2)
    hook = Events()
    lr = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    play_episodes(engine, actor, engine.all_slots(), np.random.default_rng(0), {"lr": lr}, [hook])
    assert hook.events[-1] == ("end", 3) and not bool(engine.has_truth.any())


def test_strategy_names_come_from_the_registry_in_table_order():
    assert strategy_names() == ["random", "even", "centre_out", "sequential", "best_fixed", "random30", "greedy"]
    assert "greedy" not in strategy_names(with_truth=False)
    # gain_predictor needs a trained network; the lookaheads restore every candidate (pair) at every step
    by_name_only = {"gain_predictor", "self_lookahead", "self_lookahead_fresh", "greedy2", "self_lookahead2"}
    assert set(strategy_names()) == set(STRATEGIES.names()) - by_name_only
    assert all(not STRATEGIES.get(name).in_defaults for name in by_name_only)
    assert build_strategy("greedy", max_candidates=7).max_candidates == 7
    with pytest.raises(ValueError, match="unknown strategy 'nope'; available: best_fixed, centre_out, even"):
        build_strategy("nope")
    with pytest.raises(ValueError, match="unknown key"):
        build_strategy("even", max_candidates=3)


def test_strategy_docs_list_every_strategy():
    import fh_gym.agents.strategies as package

    for name in STRATEGIES.names():
        assert f"* ``{name}``" in package.__doc__, name


@pytest.fixture(scope="module")
def predictor_file(tmp_path_factory):
    """An (untrained) gain predictor checkpoint: what the gain_predictor strategy loads."""
    from fh_gym.restorers.build import build_network
    from fh_gym.restorers.checkpoint import save_network

    net = build_network({"type": "BoxPoolingSelector", "width": 4, "hidden": 8}, kind="aux", init_seed=0)
    return str(save_network(net, tmp_path_factory.mktemp("predictor") / "gain_predictor.pt"))


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_runs_on_every_action_type(name, action, predictor_file):
    kwargs = {"greedy": {"max_candidates": 6}, "gain_predictor": {"checkpoint": predictor_file},
              "best_fixed": {"search_faces": 2}}.get(name, {})
    strategy = build_strategy(name, **kwargs)
    env_config = config(action=ACTIONS[action])
    result = run_episodes(env_config, strategy, np.arange(2), batch_size=2, horizon=3, seed=1)
    assert result.name == name and result.boxes.shape == (2, 3, 4)
    top, left, h, w = result.boxes.reshape(-1, 4).T
    assert np.all(h > 0) and np.all(w > 0) and np.all(top >= 0) and np.all(left >= 0)
    assert np.all(top + h <= 128) and np.all(left + w <= 128)
    assert np.all(np.isfinite(result.final_psnr))


def test_only_the_cli_imports_cli_modules():
    """Library packages never import the command line (its library functions live in the libraries)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for folder in ("fh_gym", "agents", "restorers"):
        for path in (root / folder).rglob("*.py"):
            if path.is_relative_to(root / "agents" / "cli"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else\
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                assert not any(n.startswith("fh_gym.agents.cli") for n in names), path
