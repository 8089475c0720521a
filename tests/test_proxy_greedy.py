"""bench/proxy_greedy.py: with the truth as its reference it is the greedy oracle; the reference reads no truth."""

from __future__ import annotations

import numpy as np
import pytest

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.strategies.base import build_strategy
from fh_gym.data import build_dataset
from fh_gym.envs import make_config
from fh_gym.episodes import build_engine


@pytest.fixture(scope="module")
def script(bench_script):
    return bench_script("proxy_greedy")


@pytest.fixture(scope="module")
def config():
    return make_config({"data": {"type": "synthetic", "split": "val"}, "horizon": 4}, variant="dense_x8")


def test_with_the_truth_as_reference_it_is_the_greedy_oracle(script, config):
    actor = script.ProxyGreedyActor(lambda engine, slots: engine.hr[slots])
    proxy = run_episodes(config, actor, np.arange(3), seed=0, batch_size=2)
    greedy = run_episodes(config, build_strategy("greedy"), np.arange(3), seed=0, batch_size=2)
    np.testing.assert_array_equal(proxy.boxes, greedy.boxes)
    np.testing.assert_allclose(proxy.metrics["psnr"], greedy.metrics["psnr"], atol=1e-9)


def test_the_pipeline_reference_is_made_from_the_lr_alone(script, config):
    dataset = build_dataset(config["data"])
    engine = build_engine(config, build_strategy("even"), 2, dataset=dataset)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0, 1]})
    reference = script.pipeline_reference("csrip_pipeline", 2, config["data"], dataset)
    first = reference(engine, engine.all_slots()).clone()
    engine.hr.zero_()  # the truth gone: the same reference
    np.testing.assert_array_equal(reference(engine, engine.all_slots()).numpy(), first.numpy())
    assert first.shape == engine.current.shape and float(first.min()) >= 0 and float(first.max()) <= 1
    # a different image from the selecting env's start (the C-SRIP front-end and two repairs)
    assert not np.allclose(first.numpy(), engine.start.numpy(), atol=1e-3)


def test_a_proxy_row_runs_end_to_end(script, capsys):
    assert script.main(["--data", "synthetic", "--split", "val", "--faces", "2", "--steps", "1",
                        "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "| even |" in out and "| self_lookahead |" in out and "| proxy_greedy |" in out


def test_candidate_gains_against_the_truth_as_reference_are_the_oracles(config):
    engine = build_engine(config, build_strategy("even"), 2, dataset=build_dataset(config["data"]))
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0, 1]})
    engine.step(np.array([3, 40]))
    candidates = engine.action_type.candidate_actions()
    np.testing.assert_allclose(engine.candidate_gains(engine.all_slots(), candidates, reference=engine.hr.clone()),
                               engine.candidate_gains(engine.all_slots(), candidates), atol=1e-9)
    engine.has_truth[:] = False  # an inference face: a reference still gives gains, the truth does not
    assert np.isfinite(engine.candidate_gains(engine.all_slots(), candidates, reference=engine.start)).all()


def test_truth_shares_blend_the_reference_towards_the_truth(script, config):
    dataset = build_dataset(config["data"])
    engine = build_engine(config, build_strategy("even"), 2, dataset=dataset)
    engine.reset(engine.all_slots(), np.random.default_rng(0), {"index": [0, 1]})
    slots = engine.all_slots()
    start = lambda eng, s: eng.start[s]  # noqa: E731 - a reference of the start image
    assert script.blend_with_truth(start, 0) is start
    half = script.blend_with_truth(start, 0.5)(engine, slots)
    np.testing.assert_allclose(half.numpy(), (0.5 * engine.hr + 0.5 * engine.start).numpy(), atol=1e-7)
    np.testing.assert_array_equal(script.blend_with_truth(start, 1)(engine, slots).numpy(), engine.hr.numpy())
    faces = np.arange(3)
    psnr = [script.reference_psnr(script.blend_with_truth(start, a), config, faces, dataset, batch=2) for a in (0, 0.5)]
    # halving the reference's error lifts its PSNR by 20 log10(2) = 6.02 dB (up to the uint8 quantisation)
    np.testing.assert_allclose(psnr[1] - psnr[0], 6.02, atol=0.1)
    assert script.parse_shares("0,0.25,1") == [0.0, 0.25, 1.0]
    for bad, why in (("0.5,x", "not a number"), ("1.5", r"must be in \[0, 1\]")):
        with pytest.raises(ValueError, match=why):
            script.parse_shares(bad)
