"""Attention-FH agent: tiny trainings on synthetic faces, save / load / resume, recurrence, ablations, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from paper_agent_utils import BATCH, HORIZON, TINY_POLICY, env_config, train_context

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.pg.actor import PolicyActor
from fh_gym.agents.policies.attention_fh import AttentionFHPolicy
from fh_gym.agents.registry import get_algo, load_agent
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.checkpoint import safe_load

ALGO = "attention_fh"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("afh") / "run"
    result = get_algo(ALGO).train(train_context(ALGO, run_dir, updates=2))
    return run_dir, result


def tiny_policy(engine: RepairEngine, **kwargs) -> AttentionFHPolicy:
    torch.manual_seed(0)
    space = engine.single_action_space
    return AttentionFHPolicy(list(space.nvec), True, engine.image_size, **{**TINY_POLICY[ALGO], **kwargs})


def test_training_writes_a_loadable_agent_and_logs(trained):
    run_dir, result = trained
    assert result["updates"] == 2 and result["env_steps"] == 2 * BATCH * HORIZON
    assert {"eval/psnr", "eval/ssim"} <= set(result)
    for name in ("agent.pt", "last.pt", "restorer.pt"):
        assert (run_dir / name).is_file()
    data = safe_load(run_dir / "agent.pt")
    assert data["algo"] == ALGO and data["env"]["action"]["type"] == "box"
    best = safe_load(run_dir / "best_agent.pt")  # one validation (at the end): the best is that agent
    assert best["meta"]["eval"]["eval/psnr"] == pytest.approx(result["eval/psnr"], abs=1e-4)
    assert best["meta"]["eval_at"] == result["env_steps"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"charts/episodic_return", "charts/episode_psnr", "charts/episode_psnr_gain", "losses/policy",
            "losses/baseline", "losses/restorer", "eval/psnr", "eval/ssim"} <= tags


def test_jointly_trained_restorer_changed_and_is_carried_by_the_actor(trained):
    run_dir, _ = trained
    actor = load_agent(run_dir / "agent.pt")
    # The enhancer's tail starts at zero (identity restorer); the per-step L2 updates moved it.
    assert actor.restorer.tail.weight.abs().sum() > 0
    trained_state = safe_load(run_dir / "last.pt")["networks"]["restorer"]["state_dict"]
    for key, value in actor.restorer.state_dict().items():
        assert torch.equal(value, trained_state[key])


def test_reloaded_actor_predicts_identically(trained):
    run_dir, _ = trained
    config = env_config(ALGO, data={"split": "val"})
    first = run_episodes(config, load_agent(run_dir / "agent.pt"), np.arange(3), batch_size=3, seed=1)
    second = run_episodes(config, load_agent(run_dir / "agent.pt"), np.arange(3), batch_size=3, seed=1)
    assert np.array_equal(first.boxes, second.boxes)
    assert np.allclose(first.metrics["psnr"], second.metrics["psnr"])
    policy_in_run = safe_load(run_dir / "last.pt")["networks"]["policy"]["state_dict"]
    for key, value in load_agent(run_dir / "agent.pt").policy.state_dict().items():
        assert torch.equal(value, policy_in_run[key])


def test_actor_works_without_start_episodes(trained):
    """A plain gym-style loop never calls start_episodes: the first act() must start the episode itself."""
    run_dir, _ = trained
    actor = load_agent(run_dir / "agent.pt")
    engine = RepairEngine(env_config(ALGO, data={"split": "val"}), 2, restorer=actor.restorer)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    for _ in range(engine.horizon):
        engine.step(actor.act(engine, slots, rng), slots)
    assert int(engine.t.min()) == engine.horizon


def test_gru_state_carries_the_previous_action_and_start_episodes_resets():
    engine = RepairEngine(env_config(ALGO), 2)  # untrained enhancer = identity: images never change
    slots = engine.all_slots()
    actor = PolicyActor(tiny_policy(engine, avoid_repeats=False), None, engine.config["action"], "afh")

    def logits_after(first_action: list[int]) -> torch.Tensor:
        engine.reset(slots, np.random.default_rng(0), {"index": [0, 1]})
        actor.start_episodes(engine, slots)
        actor.act(engine, slots, np.random.default_rng(0))
        start = actor.last_logits.clone()
        engine.step(np.array([first_action] * 2), slots)
        actor.act(engine, slots, np.random.default_rng(0))
        return start, actor.last_logits.clone()

    start_a, after_a = logits_after([0, 0, 0, 0])
    start_b, after_b = logits_after([3, 3, 2, 2])
    assert torch.equal(start_a, start_b)  # start_episodes reset the recurrent state
    # Step 2 depends on step 1's action only (the images are the same); logits start small (std-0.01 init).
    assert (after_a - after_b).abs().max() > 1e-6
    again = actor.last_logits.clone()
    actor.act(engine, slots, np.random.default_rng(0))  # asked twice for the same step: same answer
    assert torch.equal(actor.last_logits, again)


def test_i0_agent_ignores_the_current_image():
    engine = RepairEngine(env_config(ALGO), 2)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0), {"index": [0, 1]})
    prev, first = torch.zeros(2, 4, dtype=torch.long), torch.ones(2, dtype=torch.bool)
    outputs = {}
    for mode in ("start", "current"):
        policy = tiny_policy(engine, image_input=mode)
        state = policy.initial_state(engine, slots)
        before = policy(engine, slots, state, prev, first).logits
        saved = engine.current.clone()
        engine.current.copy_(torch.rand_like(engine.current))  # a different I_t, the same I_0
        outputs[mode] = (before, policy(engine, slots, state, prev, first).logits)
        engine.current.copy_(saved)
    assert torch.equal(*outputs["start"])
    assert (outputs["current"][0] - outputs["current"][1]).abs().max() > 1e-6


def test_fixed_box_variant_only_emits_one_box_size(tmp_path):
    run_dir = tmp_path / "fixed"
    result = get_algo(ALGO).train(train_context(ALGO, run_dir, updates=1, variant="fixed_box",
                                                action={"type": "box", "positions": 4, "ratios": [1.0],
                                                        "scales": [1.0]}))
    assert result["updates"] == 1
    actor = load_agent(run_dir / "agent.pt")
    assert actor.name == "attention_fh[fixed_box]"
    assert list(actor.policy.spec.sizes) == [4, 4, 1, 1]
    # On the full size-free env, every action is translated to the one 24x24 box (48 at 128x128).
    config = env_config(ALGO, data={"split": "val"})
    res = run_episodes(config, actor, np.arange(3), batch_size=3)
    top, left, h, w = res.boxes.reshape(-1, 4).T
    assert h.max() <= 24 and w.max() <= 24  # 24 unless clipped at the image border
    assert np.all((h == 24) | (top == 0) | (top + h == 64)) and np.all((w == 24) | (left == 0) | (left + w == 64))
    engine = RepairEngine(config, 3)
    engine.reset(engine.all_slots(), np.random.default_rng(0))
    actor.start_episodes(engine, engine.all_slots())
    actions = actor.act(engine, engine.all_slots(), np.random.default_rng(0))
    assert set(map(tuple, actions[:, 2:].tolist())) == {(1, 1)}  # ratio 1:1, scale 1.0 of the full space


def test_i0_variant_trains(tmp_path):
    result = get_algo(ALGO).train(train_context(ALGO, tmp_path / "i0", updates=1, variant="i0_agent"))
    assert load_agent(tmp_path / "i0" / "agent.pt").policy.image_input == "start"
    assert result["updates"] == 1


def test_resume_continues_the_update_count_and_optimiser_state(tmp_path):
    run_dir = tmp_path / "resume"
    first = get_algo(ALGO).train(train_context(ALGO, run_dir, updates=1))
    state = safe_load(run_dir / "last.pt")
    assert state["step"] == 1
    result = get_algo(ALGO).train(train_context(ALGO, run_dir, updates=2, resume=True))
    assert result["updates"] == 2
    # best_agent.pt: the better of the two validations, the first one's score read back from the file
    best = safe_load(run_dir / "best_agent.pt")["meta"]["eval"]["eval/psnr"]
    assert best == pytest.approx(max(first["eval/psnr"], result["eval/psnr"]), abs=1e-4)
    state = safe_load(run_dir / "last.pt")
    assert state["step"] == 2
    # Adam's own step count proves the optimiser state was restored, not rebuilt.
    assert int(state["optimizers"]["policy"]["state"][0]["step"]) == 2
    assert int(state["optimizers"]["restorer"]["state"][0]["step"]) == 2 * HORIZON


def test_checkpoint_for_another_env_is_refused(trained):
    run_dir, _ = trained
    actor = load_agent(run_dir / "agent.pt")
    with pytest.raises(ValueError, match="cannot reproduce"):
        run_episodes(env_config("ipfh", data={"split": "val"}), actor, np.arange(2), batch_size=2)
    from fh_gym.restorers.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="not 'ipfh'"):
        get_algo("ipfh").load(run_dir / "agent.pt", "cpu")


def test_compare_cli_runs_the_agent(trained, tmp_path):
    from fh_gym.agents.cli.main import main

    run_dir, _ = trained
    args = ["compare", "--env", "fh_gym/FaceRepair-AttentionFH-v0", "--set", "image_size=64", "--set", "horizon=3",
            "--set", "action.positions=4", "--set", "data.identities=24", "--set", "data.images_per_identity=3",
            "--set", "data.image_size=64", "--split", "val", "--strategies", "random", "--agent",
            str(run_dir / "agent.pt"), "--faces", "3", "--out", str(tmp_path / "cmp")]
    assert main(args) == 0
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| attention_fh |" in table and "| random |" in table


def test_hallucinate_cli_runs_the_agent_on_its_training_config(trained, tmp_path):
    import cv2

    from fh_gym.agents.cli.main import main

    run_dir, _ = trained
    folder = tmp_path / "lr"
    folder.mkdir()
    cv2.imwrite(str(folder / "face.png"), np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8))
    assert main(["hallucinate", str(folder), "--agent", str(run_dir / "agent.pt"), "--out", str(tmp_path / "sr")]) == 0
    assert cv2.imread(str(tmp_path / "sr" / "face.png")).shape == (64, 64, 3)


def test_train_cli_trains_and_resumes(tmp_path):
    from fh_gym.agents.cli.main import main

    env_flags = ["--env", "fh_gym/FaceRepair-AttentionFH-v0", "--set", "image_size=64", "--set", "data.image_size=64",
                 "--set", "data.identities=24", "--set", "data.images_per_identity=3", "--set", "horizon=3",
                 "--set", "action.positions=4"]
    algo_flags = ["--set-algo", "batch_size=2", "--set-algo", "policy.feature_dim=8", "--set-algo", "variant=fixed_box",
                  "--set-algo", "action={type: box, positions: 4, ratios: [1.0], scales: [1.0]}"]
    assert main(["train", "--algo", ALGO, *env_flags, *algo_flags, "--timesteps", "6", "--eval-every", "6",
                 "--eval-faces", "2", "--out", str(tmp_path), "--quiet"]) == 0
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert safe_load(run_dir / "last.pt")["step"] == 1
    assert main(["train", "--resume", str(run_dir), "--timesteps", "12", "--quiet"]) == 0
    assert safe_load(run_dir / "last.pt")["step"] == 2
    assert list(load_agent(run_dir / "agent.pt").policy.spec.sizes) == [4, 4, 1, 1]
    record = (run_dir / "run.json").read_bytes()
    agent = (run_dir / "agent.pt").read_bytes()
    # a finished run, and a total it has trained already: one-line errors that change nothing in the folder
    assert main(["train", "--resume", str(run_dir), "--quiet"]) == 2
    assert main(["train", "--resume", str(run_dir), "--timesteps", "6", "--quiet"]) == 2
    assert json.loads(record)["algo_config"]["total_timesteps"] == 12
    assert (run_dir / "run.json").read_bytes() == record and (run_dir / "agent.pt").read_bytes() == agent
    assert safe_load(run_dir / "last.pt")["step"] == 2
    assert main(["train", "--algo", ALGO, *env_flags, "--set-algo", "lr_policy=1", "--out", str(tmp_path)]) == 2


def test_record_uses_the_agents_restorer(trained, tmp_path, monkeypatch):
    from fh_gym import recording

    run_dir, _ = trained
    actor = load_agent(run_dir / "agent.pt")
    seen = {}
    import fh_gym.engine.core as core
    import fh_gym.episodes as episodes

    class Spy(core.RepairEngine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen["restorer"] = self.restorer

    monkeypatch.setattr(episodes, "RepairEngine", Spy)  # the episode runner builds every engine
    paths = recording.record_episodes(env_config(ALGO, data={"split": "val"}), actor, 1, tmp_path / "videos")
    assert paths and paths[0].is_file() and seen["restorer"] is actor.restorer
