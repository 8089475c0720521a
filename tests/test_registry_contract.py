"""Every entry of the reward, action-type and data-source registries keeps the same contract.

A new reward, action type or data source is one new file; these tests pick it up without being edited.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from fh_gym.data import DATASETS, DatasetError, FaceDataset, build_dataset
from fh_gym.engine import ACTIONS, REWARDS, ActionType, RepairEngine, Reward, build_action_type, build_reward
from fh_gym.envs.config import make_config
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.registry import Registry

SMALL = {"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}, "horizon": 2}


@pytest.mark.parametrize(("registry", "build"), [
    (REWARDS, lambda: build_reward({"type": "x"})),
    (ACTIONS, lambda: build_action_type({"type": "x"}, 128)),
    (DATASETS, lambda: build_dataset({"type": "x"})),
], ids=["rewards", "actions", "datasets"])
def test_unknown_names_list_the_registered_ones(registry: Registry, build):
    with pytest.raises(ConfigError) as error:
        build()
    assert str(error.value) == f"unknown {registry.what} 'x'; available: {', '.join(registry.names())}"


def test_registries_hold_the_shipped_entries():
    assert {"psnr_gain", "attention_fh", "ipfh"} <= set(REWARDS.names())
    assert {"grid", "box", "continuous"} <= set(ACTIONS.names())
    assert {"synthetic", "lfw", "celeba", "folder"} <= set(DATASETS.names())


def _described(registry: Registry, name: str) -> None:
    assert dict(registry.describe())[name], f"{registry.what} '{name}' needs a docstring (help texts use it)"


# --------------------------------------------------------------------------- rewards
@pytest.mark.parametrize("name", REWARDS.names())
def test_reward_builds_with_defaults_and_rejects_unknown_keys(name):
    cls = REWARDS.get(name)
    assert issubclass(cls, Reward) and cls.name == name
    _described(REWARDS, name)
    assert isinstance(build_reward({"type": name}), cls)
    with pytest.raises(ConfigError, match=rf"unknown key\(s\) \['bogus'\] for reward type '{name}'; valid keys"):
        build_reward({"type": name, "bogus": 1})


@pytest.mark.parametrize("name", REWARDS.names())
def test_reward_terms_are_finite_named_per_face_and_sum_to_the_reward(name):
    engine = RepairEngine(make_config({**SMALL, "reward": {"type": name}}), 3)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0))
    names = None
    for action in (0, 5):
        out = engine.step(np.full(3, action), slots)
        assert out.terms, f"reward '{name}' returned no terms"
        assert names is None or set(out.terms) == names, "every step returns the same terms"
        assert list(out.terms) == list(engine.term_names) == list(engine.reward_fn.term_names())
        names = set(out.terms)
        for value in out.terms.values():
            assert value.shape == (3,) and value.dtype == np.float32 and np.isfinite(value).all()
        np.testing.assert_allclose(out.reward, sum(out.terms.values()), rtol=1e-6, atol=1e-6)
    lr = np.zeros((engine.lr_size, engine.lr_size, 3), np.uint8)
    engine.reset(slots, np.random.default_rng(0), {"lr": lr})
    out = engine.step(np.zeros(3, dtype=np.int64), slots)
    assert out.terms == {} and np.all(out.reward == 0), "faces without ground truth get no reward"


# --------------------------------------------------------------------------- action types
@pytest.mark.parametrize("name", ACTIONS.names())
@pytest.mark.parametrize("image_size", [64, 128])
def test_action_type_builds_with_defaults_and_maps_its_space_to_boxes_inside_the_image(name, image_size):
    cls = ACTIONS.get(name)
    assert issubclass(cls, ActionType) and cls.name == name
    _described(ACTIONS, name)
    actions = build_action_type({"type": name}, image_size)
    assert isinstance(actions, cls) and actions.image_size == image_size
    actions.space.seed(0)
    sampled = np.stack([actions.space.sample() for _ in range(64)])
    for batch in (sampled, actions.validate(actions.candidate_actions())):
        boxes = actions.to_boxes(actions.validate(batch))
        assert boxes.shape == (len(batch), 4) and boxes.dtype == torch.int64
        top, left, height, width = boxes.unbind(1)
        assert bool((top >= 0).all() and (left >= 0).all() and (height >= 1).all() and (width >= 1).all())
        assert bool((top + height <= image_size).all() and (left + width <= image_size).all())
        assert int(boxes[:, 2:].max()) <= actions.max_box_side <= image_size
    assert actions.space.contains(np.asarray(actions.action_for_box(10, 20, 30, 30), dtype=actions.space.dtype))
    normalised = actions.normalised(boxes)
    assert bool((normalised >= 0).all() and (normalised <= 1).all())


@pytest.mark.parametrize("name", ACTIONS.names())
def test_action_type_rejects_unknown_keys_and_an_image_size_of_its_own(name):
    with pytest.raises(ConfigError, match=rf"unknown key\(s\) \['bogus'\] for action type '{name}'; valid keys"):
        build_action_type({"type": name, "bogus": 1}, 128)
    with pytest.raises(ConfigError, match="image_size is set by the environment"):
        build_action_type({"type": name, "image_size": 64}, 128)


@pytest.mark.parametrize("name", ACTIONS.names())
def test_engine_steps_with_every_action_type(name):
    engine = RepairEngine(make_config({**SMALL, "action": {"type": name}}), 2)
    slots = engine.all_slots()
    engine.reset(slots, np.random.default_rng(0))
    engine.single_action_space.seed(0)
    out = engine.step(np.stack([engine.single_action_space.sample() for _ in range(2)]), slots)
    assert out.boxes.shape == (2, 4) and np.isfinite(out.reward).all()
    if hasattr(engine.single_action_space, "n") or hasattr(engine.single_action_space, "nvec"):
        assert engine.action_masks().shape == (2, engine.action_type.mask_size())


# --------------------------------------------------------------------------- data sources
def _required(builder) -> list[str]:
    return [k for k, p in inspect.signature(builder).parameters.items() if p.default is inspect.Parameter.empty]


@pytest.mark.parametrize("name", DATASETS.names())
def test_data_source_signature_and_config_errors(name):
    builder = DATASETS.get(name)
    _described(DATASETS, name)
    parameters = inspect.signature(builder).parameters
    assert parameters["image_size"].default == 128, "every source takes the env's image_size (default 128)"
    with pytest.raises(ConfigError, match=rf"unknown key\(s\) \['bogus'\] for data source '{name}'.*split"):
        build_dataset({"type": name, "bogus": 1})
    required = _required(builder)
    if required:
        with pytest.raises(ConfigError, match=f"data source '{name}' needs the key"):
            build_dataset({"type": name})


@pytest.mark.parametrize("name", DATASETS.names())
def test_data_source_builds_with_defaults_or_names_a_missing_root(name, tmp_path):
    builder = DATASETS.get(name)
    if "root" in inspect.signature(builder).parameters:  # sources that read files
        missing = tmp_path / "no_such_folder"
        with pytest.raises(DatasetError, match="no_such_folder"):
            build_dataset({"type": name, "root": str(missing), "split": "all"})
        return
    extra = {key: 1 for key in _required(builder)}
    dataset = build_dataset({"type": name, "split": "all", **extra})
    assert isinstance(dataset, FaceDataset) and len(dataset) > 0 and dataset.image_size == 128
    assert dataset.num_identities == len(dataset.identity_names)
    batch = dataset.batch([0, len(dataset) - 1])
    assert batch.hr.shape == (2, 3, 128, 128) and batch.hr.dtype == torch.float32
    assert batch.identity_names == [dataset.identity_names[i] for i in dataset.identities[[0, -1]]]
