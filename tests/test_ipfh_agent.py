"""IPFH agent: tiny training on synthetic faces, save / load, the joint restoration losses, the replay."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from paper_agent_utils import HORIZON, TINY_POLICY, algo_config, env_config, train_context

from fh_gym.agents.evaluate import run_episodes
from fh_gym.agents.ipfh.finetune import IPFHRestorerFineTuner
from fh_gym.agents.policies.ipfh import IPFHPolicy, crop_boxes
from fh_gym.agents.registry import get_algo, load_agent
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.checkpoint import safe_load

ALGO = "ipfh"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ipfh") / "run"
    result = get_algo(ALGO).train(train_context(ALGO, run_dir, updates=2, restorer={"faces_per_step": 2}))
    return run_dir, result


def test_training_saves_loads_and_predicts_identically(trained):
    run_dir, result = trained
    assert result["updates"] == 2 and "eval/psnr" in result
    config = env_config(ALGO, data={"split": "val"})
    first = run_episodes(config, load_agent(run_dir / "agent.pt"), np.arange(3), batch_size=3)
    second = run_episodes(config, load_agent(run_dir / "agent.pt"), np.arange(3), batch_size=3)
    assert np.array_equal(first.boxes, second.boxes)
    # Grid env with mask_repeats: the argmax never repeats a cell within an episode.
    cells = {tuple(b) for b in first.boxes[0].tolist()}
    assert len(cells) == HORIZON


def test_restorer_was_trained_jointly(trained):
    run_dir, _ = trained
    actor = load_agent(run_dir / "agent.pt")
    assert actor.restorer.fuse[-1].weight.abs().sum() > 0  # zero-initialised last layer moved
    state = safe_load(run_dir / "last.pt")
    assert int(state["optimizers"]["restorer"]["state"][0]["step"]) == 2 * (HORIZON + 1)  # Eq. 16 x T + Eq. 17


def test_crop_boxes_resamples_the_box():
    image = torch.arange(64 * 64, dtype=torch.float32).view(1, 1, 64, 64).expand(2, 3, 64, 64).contiguous()
    boxes = torch.tensor([[16, 32, 16, 16], [0, 0, 64, 64]])
    out = crop_boxes(image, boxes, 16)
    assert torch.allclose(out[0], image[0, :, 16:32, 32:48])
    assert torch.allclose(out[1], torch.nn.functional.avg_pool2d(image[1:2], 4)[0], atol=1e-3)


def test_policy_context_branch_sees_the_last_patch_and_action():
    engine = RepairEngine(env_config(ALGO), 2)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0), {"index": [0, 1]})
    torch.manual_seed(0)
    policy = IPFHPolicy([engine.single_action_space.n], False, 64, **TINY_POLICY[ALGO])
    first = torch.ones(2, dtype=torch.bool)
    prev = torch.zeros(2, 1, dtype=torch.long)
    start = policy(engine, slots, {}, prev, first).logits
    engine.step(np.array([4, 4]), slots)  # identity restorer: the image is unchanged
    a = policy(engine, slots, {}, prev + 4, ~first).logits
    b = policy(engine, slots, {}, prev + 5, ~first).logits
    assert (a - start).abs().max() > 1e-7 and (a - b).abs().max() > 1e-7


@pytest.mark.parametrize("feather", [0, 4])
def test_replay_rebuilds_the_final_image_and_gives_restorer_gradients(feather):
    config = {**env_config(ALGO), "repair": {"margin": 8, "feather": feather}}
    engine = RepairEngine(config, 3)
    slots = engine.all_slots()
    # A restorer that changes the image (the default one starts as the identity).
    torch.nn.init.normal_(engine.restorer.fuse[-1].weight, std=0.05)
    cfg = algo_config(ALGO)
    trainer = IPFHRestorerFineTuner(engine, 0.0, None, None, cfg["restorer_loss"])  # lr 0: weights fixed
    engine.reset(slots, np.random.default_rng(0))
    trainer.start_episode(slots)
    for k in range(HORIZON):
        step = engine.step(np.array([k, k + 1, 2 * k]), slots, keep_batch=True)
        stats = trainer.after_step(step)
        assert {"losses/restorer", "losses/restorer_texture", "losses/restorer_lr_mse"} <= set(stats)
    rows = torch.arange(3)
    replay = trainer.replay_final_image(slots, rows)
    assert torch.allclose(replay, engine.current, atol=1e-5)
    replay.sum().backward()
    assert engine.restorer.fuse[-1].weight.grad.abs().sum() > 0
    engine.restorer.zero_grad()
    assert trainer.end_episode(slots)["losses/restorer_image"] > 0


def test_image_loss_with_an_identity_net_has_identity_gradients():
    from fh_gym.agents.ipfh.losses import IPFHLosses

    engine = RepairEngine(env_config(ALGO), 2)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0))
    block = {"type": "CNNR", "width": 4, "feature_dim": 8, "blocks": [1, 1, 1, 1], "num_classes": 3,
             "input_height": 64, "input_width": 64}
    losses = IPFHLosses(engine, identity_net=block, texture_features={**block, "layer": "res1"})
    losses.start_episode(slots)
    images = engine.current.clone().requires_grad_(True)
    terms = losses.image(images, engine.hr, engine.lr, slots)
    assert set(terms) == {"mse", "texture", "lr_mse", "feature", "identity"}
    (terms["feature"] + terms["identity"]).backward()
    assert images.grad.abs().sum() > 0
    assert all(p.grad is None for p in losses.identity.net.parameters())  # the identity net stays fixed
