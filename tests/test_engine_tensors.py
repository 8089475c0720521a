"""The engine's tensor path (``step_tensors``, ``observe_tensors``, ``action_mask_tensor``) and its fast paste:
the same episode state as the NumPy path and as a full recomputation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from restorer_helpers import perturbed_restorer

from fh_gym.engine.core import RepairEngine
from fh_gym.envs.config import make_config

SMALL = {"data": {"type": "synthetic", "identities": 16, "images_per_identity": 2}, "horizon": 6}


@pytest.fixture(scope="module")
def restorer():
    return perturbed_restorer(0.02)


def _engine(restorer, variant="dense_x8", **overrides):
    engine = RepairEngine(make_config({**SMALL, **overrides}, variant), 4, restorer=restorer)
    engine.reset(engine.all_slots(), np.random.default_rng(3), {"index": [0, 5, 9, 2]})
    return engine


def _actions(engine, steps=5):
    space = engine.single_action_space
    space.seed(1)
    return [np.stack([space.sample() for _ in range(engine.num_envs)]) for _ in range(steps)]


@pytest.mark.parametrize("variant", ["dense_x8", "attention_fh", "continuous"])
def test_incremental_state_matches_a_full_recomputation(restorer, variant):
    engine = _engine(restorer, variant)
    visits = torch.zeros(4, 128, 128, dtype=torch.int64)
    for actions in _actions(engine):
        out = engine.step(actions)
        for k, box in enumerate(out.boxes):
            top, left, h, w = box.tolist()
            visits[k, top:top + h, left:left + w] += 1
    whole = ((engine.current.double() - engine.hr.double()) ** 2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(engine.mse, whole, rtol=1e-7, atol=1e-10)  # float32 products
    expected = torch.round(engine.current.clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1)
    assert torch.equal(engine.obs_image, expected)
    assert torch.equal(engine.coverage.long(), visits)


def test_the_box_paste_equals_the_window_paste(restorer):
    fast, slow = _engine(restorer), _engine(restorer)
    assert fast._box_side == (32, 16)
    slow._box_side = None  # the general path: whole windows
    for actions in _actions(fast):
        a, b = fast.step(actions), slow.step(actions)
        np.testing.assert_allclose(a.reward, b.reward, rtol=1e-6, atol=1e-7)
    for name in ("current", "obs_image", "coverage", "visited"):
        assert torch.equal(getattr(fast, name), getattr(slow, name)), name
    torch.testing.assert_close(fast.mse, slow.mse, rtol=1e-12, atol=1e-14)
    assert a.record.after is None and a.record.hr is None  # psnr_gain reads neither
    assert b.record.after is not None and fast.step_tensors(torch.zeros(4, dtype=torch.long), keep_batch=True
                                                            ).record.hr.shape == (4, 3, 48, 48)


def test_step_tensors_matches_step_and_stays_on_the_device(restorer):
    numpy_engine, tensor_engine = _engine(restorer), _engine(restorer)
    for actions in _actions(numpy_engine, 6):
        a = numpy_engine.step(actions)
        b = tensor_engine.step_tensors(torch.as_tensor(actions))
        assert isinstance(b.reward, torch.Tensor) and b.reward.device == tensor_engine.device
        assert b.reward.dtype == torch.float32 and b.terminated.dtype == torch.bool
        np.testing.assert_array_equal(a.reward, b.reward.numpy())
        assert list(b.terms) == list(tensor_engine.term_names) == ["psnr_gain"]
    assert b.terminated.all()
    obs = tensor_engine.observe_tensors()
    reference = numpy_engine.observe()
    for key, value in obs.items():
        np.testing.assert_array_equal(value.numpy(), reference[key])
    masks = tensor_engine.action_mask_tensor()
    assert masks.dtype == torch.bool and np.array_equal(masks.numpy(), numpy_engine.action_masks())


def test_observed_tensors_are_safe_to_keep(restorer):
    engine = _engine(restorer)
    first = engine.observe_tensors()
    kept = {k: v.clone() for k, v in first.items()}
    engine.step_tensors(torch.tensor([0, 1, 2, 3]))
    engine.reset(engine.all_slots()[:2], np.random.default_rng(9))
    for key in first:
        assert torch.equal(first[key], kept[key]), key  # neither the step nor the reset wrote into them
    assert engine.observe_tensors()["start"] is engine.obs_start  # start: shared until the next reset


def test_tensor_actions_are_checked(restorer):
    engine = _engine(restorer)
    with pytest.raises(ValueError, match=r"outside Discrete\(49\)"):
        engine.step_tensors(torch.tensor([0, 1, 2, 49]))
    with pytest.raises(ValueError, match="must be integers"):
        engine.step_tensors(torch.zeros(4))
    with pytest.raises(ValueError, match="shape"):
        engine.step_tensors(torch.zeros(4, 2, dtype=torch.long))
    box = _engine(restorer, "attention_fh")
    with pytest.raises(ValueError, match="outside MultiDiscrete"):
        box.step_tensors(torch.tensor([[0, 0, 0, 0]] * 3 + [[8, 0, 0, 0]]))
    cont = _engine(restorer, "continuous")
    with pytest.raises(ValueError, match="outside Box"):
        cont.step_tensors(torch.full((4, 4), float("nan")))
