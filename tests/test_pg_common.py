"""Shared policy-gradient machinery of the paper agents: distributions, REINFORCE, configs, actors."""

from __future__ import annotations

import pytest
import torch
from paper_agent_utils import env_config

from fh_gym.agents.hyperparams import paper_baselines
from fh_gym.agents.pg.actor import action_translation
from fh_gym.agents.pg.distributions import ActionSpec, FactorisedCategorical
from fh_gym.agents.pg.reinforce import MovingAverageBaseline, reinforce_losses, returns_to_go
from fh_gym.agents.registry import get_algo
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.config import ConfigError


def test_factorised_log_prob_is_the_sum_of_the_factors():
    spec = ActionSpec((3, 2), True)
    logits = torch.randn(5, 5)
    dist = FactorisedCategorical(logits, spec)
    actions = torch.tensor([[0, 1], [2, 0], [1, 1], [0, 0], [2, 1]])
    expected = torch.log_softmax(logits[:, :3], 1).gather(1, actions[:, :1]).squeeze(1) + \
        torch.log_softmax(logits[:, 3:], 1).gather(1, actions[:, 1:]).squeeze(1)
    assert torch.allclose(dist.log_prob(actions), expected)
    assert dist.sample(torch.Generator().manual_seed(0)).shape == (5, 2)


def test_masks_and_position_masks_forbid_choices():
    spec = ActionSpec((6,), False)
    logits = torch.zeros(2, 6)
    mask = torch.tensor([[True, False, True, True, True, True], [False] * 6])
    dist = FactorisedCategorical(logits, spec, mask, position_mask=torch.tensor([[False, True, True, True, True,
                                                                                 False]] * 2))
    probs = dist.probs()[0]
    assert probs[0, [0, 1, 5]].sum() < 1e-6 and abs(probs[0, 2:5].sum() - 1) < 1e-6
    # A row with nothing allowed by the env mask falls back to the position mask alone.
    assert probs[1, [0, 5]].sum() < 1e-6
    box = ActionSpec((2, 2, 3, 1), True)
    visited = torch.tensor([[True, True, True, False]])  # only (x=1, y=1) left
    joint = FactorisedCategorical(torch.randn(1, box.total), box, None, ~visited)
    for _ in range(5):
        assert joint.sample().tolist()[0][:2] == [1, 1]
    assert joint.mode()[0, :2].tolist() == [1, 1]
    assert torch.isfinite(joint.entropy()).all()


def test_returns_to_go_and_moving_average():
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0], [2.0, 1.0]])
    assert torch.allclose(returns_to_go(rewards, 1.0), torch.tensor([[3.0, 1.0], [2.0, 1.0], [2.0, 1.0]]))
    assert torch.allclose(returns_to_go(rewards, 0.5)[0], torch.tensor([1.5, 0.25]))
    ema = MovingAverageBaseline(3, 0.5)
    first = ema(returns_to_go(rewards, 1.0))
    assert torch.allclose(first[:, 0], torch.tensor([2.0, 1.5, 1.5]))  # first batch: its own mean
    restored = MovingAverageBaseline(3)
    restored.load_state_dict(ema.state_dict())
    assert restored.count == 1 and torch.equal(restored.mean, ema.mean)


@pytest.mark.parametrize("baseline", ["value", "moving_average", "none"])
def test_reinforce_raises_the_probability_of_the_better_action(baseline):
    """Toy bandit: action 0 pays 1, action 1 pays 0.2; REINFORCE must move probability to action 0."""
    torch.manual_seed(0)
    spec = ActionSpec((2,), False)
    logits = torch.zeros(1, 2, requires_grad=True)
    value = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([logits, value], lr=0.05)
    ema = MovingAverageBaseline(1)
    gen = torch.Generator().manual_seed(1)
    for _ in range(60):
        dist = FactorisedCategorical(logits.expand(32, 2), spec)
        actions = dist.sample(gen)
        reward = torch.where(actions[:, 0] == 0, 1.0, 0.2)[None]
        losses = reinforce_losses(dist.log_prob(actions)[None], dist.entropy()[None], value.expand(1, 32), reward,
                                  gamma=1.0, baseline=baseline, moving_average=ema, normalize_advantages=False)
        opt.zero_grad()
        losses["loss"].backward()
        opt.step()
    assert torch.softmax(logits, 1)[0, 0] > 0.8


def test_config_rejects_unknown_keys_and_variants():
    def resolve_config(algo, env_id, overrides):
        return get_algo(algo).resolve(env_id, overrides)

    with pytest.raises(ConfigError, match="valid keys here"):
        resolve_config("attention_fh", "fh_gym/FaceRepair-AttentionFH-v0", {"learning_rate": 1.0})
    with pytest.raises(ConfigError, match="valid keys here"):
        resolve_config("ipfh", "fh_gym/FaceRepair-IPFH-v0", {"policy": {"width": 3}})
    with pytest.raises(ConfigError, match="available: full, fixed_box, i0_agent"):
        resolve_config("attention_fh", None, {"variant": "nope"})
    fixed = resolve_config("attention_fh", None, {"variant": "fixed_box"})
    assert fixed["action"] == {"type": "box", "positions": 8, "ratios": [1.0], "scales": [1.0]}
    mine = {"type": "box", "positions": 4, "ratios": [1.0], "scales": [1.0]}
    assert resolve_config("attention_fh", None, {"variant": "fixed_box", "action": mine})["action"] == mine
    assert resolve_config("attention_fh", None, {"variant": "i0_agent"})["policy"]["image_input"] == "start"
    assert paper_baselines("attention_fh") == {"Our w/ random": "random", "Our w/ sequences": "sequential"}


def test_action_translation_between_box_spaces():
    engine = RepairEngine(env_config("attention_fh"), 1)
    fixed = {"type": "box", "positions": 4, "ratios": [1.0], "scales": [1.0]}
    table = action_translation(fixed, engine)
    assert table.shape == (16, 4)
    assert set(map(tuple, table[:, 2:].tolist())) == {(1, 1)}  # the env's 1:1 ratio and unit scale
    assert action_translation(dict(engine.config["action"]), engine) is None
    with pytest.raises(ValueError, match="cannot reproduce its boxes"):
        action_translation({"type": "box", "positions": 3}, engine)
    grid = RepairEngine(env_config("ipfh"), 1)
    with pytest.raises(ValueError, match="cannot reproduce"):
        action_translation(dict(engine.config["action"]), grid)
    assert action_translation({"type": "grid", "patch_size": 32, "stride": 32}, grid).shape == (4,)


def test_reinforce_leaves_out_the_steps_after_a_stop():
    torch.manual_seed(0)
    log_probs = torch.randn(3, 2, requires_grad=True)
    values = torch.randn(3, 2, requires_grad=True)
    rewards = torch.tensor([[1.0, 2.0], [0.5, 0.0], [0.25, 0.0]])  # face 1 stopped after its first step
    alive = torch.tensor([[True, True], [True, False], [True, False]])
    losses = reinforce_losses(log_probs, torch.zeros(3, 2), values, rewards, gamma=1.0, baseline="value",
                              normalize_advantages=False, alive=alive)
    returns = torch.tensor([[1.75, 2.0], [0.75, 0.0], [0.25, 0.0]])
    taken = alive.flatten()
    advantage = (returns - values.detach()).flatten()[taken]
    assert losses["policy"].item() == pytest.approx(-(log_probs.detach().flatten()[taken] * advantage).mean().item())
    assert losses["baseline"].item() == pytest.approx(((values.detach() - returns).flatten()[taken] ** 2).mean().item())
    losses["loss"].backward()
    assert log_probs.grad[1:, 1].abs().sum() == 0 and values.grad[1:, 1].abs().sum() == 0  # no gradient after it
    assert log_probs.grad[:, 0].abs().min() > 0
    unmasked = reinforce_losses(log_probs, torch.zeros(3, 2), values, rewards, gamma=1.0, baseline="value",
                                normalize_advantages=False, alive=torch.ones(3, 2, dtype=torch.bool))
    default = reinforce_losses(log_probs, torch.zeros(3, 2), values, rewards, gamma=1.0, baseline="value",
                               normalize_advantages=False)
    assert unmasked["loss"].item() == pytest.approx(default["loss"].item())


def test_moving_average_baseline_counts_only_the_steps_taken():
    returns = torch.tensor([[4.0, 2.0], [3.0, 9.0], [1.0, 9.0]])
    alive = torch.tensor([[True, True], [True, False], [False, False]])  # nobody took step 2
    ema = MovingAverageBaseline(3, 0.5)
    first = ema(returns, alive)
    assert first[:, 0].tolist() == [3.0, 3.0, 0.0]  # own means over the faces that took each step
    assert ema.mean.tolist() == [3.0, 3.0, 0.0] and ema.seen.tolist() == [1, 1, 0]
    second = ema(torch.tensor([[1.0, 1.0], [1.0, 1.0], [5.0, 7.0]]))
    assert second[:, 1].tolist() == [3.0, 3.0, 6.0]  # step 2's first batch: its own mean again
    assert ema.mean.tolist() == [2.0, 2.0, 6.0] and ema.seen.tolist() == [2, 2, 1]
    old = MovingAverageBaseline(3)
    old.load_state_dict({"mean": torch.ones(3, dtype=torch.float64), "count": 4})  # a checkpoint before `seen`
    assert old.seen.tolist() == [4, 4, 4]
