"""Contract tests over every entry of the agent-stack registries: algorithms, training recipes, policies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fh_gym.agents.cli.main import main
from fh_gym.agents.hyperparams import hyperparam_file
from fh_gym.agents.pg.distributions import ActionSpec
from fh_gym.agents.pg.policy_base import POLICIES, build_policy, policy_defaults
from fh_gym.agents.recipes import run_recipe
from fh_gym.agents.registry import ALGOS, Algo, get_algo
from fh_gym.engine.core import RepairEngine
from fh_gym.envs.face_repair import make_config
from fh_gym.registration import env_ids
from fh_gym.restorers.config import ConfigError, load_yaml
from fh_gym.restorers.training.recipe import DATA_KINDS, RECIPES, get_recipe, recipe_config

ROOT = Path(__file__).resolve().parents[1]
#: algorithms that cannot act in some envs (MaskablePPO needs discrete actions)
REFUSED = {("maskable_ppo", "fh_gym/FaceRepair-Continuous-v0")}


# ----------------------------------------------------------------------------- algorithms
@pytest.mark.parametrize("name", ALGOS.names())
def test_algorithm_entry_is_complete(name):
    cls = ALGOS.get(name)
    assert issubclass(cls, Algo) and cls.name == name and cls.checkpoint  # what --resume continues from
    assert cls.__doc__ and cls.__doc__.strip(), f"{name} needs a docstring (its fh-gym train --list line)"
    assert (ROOT / "envs_configs" / "agents" / f"{name}.yaml").is_file()
    assert "default" in hyperparam_file(name)


@pytest.mark.parametrize("name", ALGOS.names())
def test_defaults_load_and_validate_for_every_env(name):
    algo = get_algo(name)
    for env_id in env_ids():
        config = algo.resolve(env_id)
        assert config["total_timesteps"] > 0, (name, env_id)
        assert set(config) == set(algo.base_hyperparams(env_id)), (name, env_id)  # the file adds no key
        if (name, env_id) not in REFUSED and hasattr(algo, "check_env"):
            algo.check_env(make_config(None, env_ids()[env_id]), env_id)


@pytest.mark.parametrize("name", ALGOS.names())
def test_unknown_hyperparameters_are_named_with_the_valid_ones(name):
    algo = get_algo(name)
    unknown = rf"unknown config key '{name}.not_a_key'; valid keys here: .*total_timesteps"
    with pytest.raises(ConfigError, match=unknown):
        algo.resolve("fh_gym/FaceRepair-Dense-x8-v0", {"not_a_key": 1})
    resolved = algo.resolve("fh_gym/FaceRepair-Dense-x8-v0", {"n_timesteps": 1234})
    assert resolved["total_timesteps"] == 1234  # RL-Zoo alias


def test_unknown_algorithm_lists_the_registered_ones():
    with pytest.raises(ConfigError, match=r"^unknown algorithm 'nope'; available: a2c, attention_fh, gain_pg, "
                                          r"ipfh, lookahead_pg, maskable_ppo, ppo, recurrent_ppo, spatial_pg$"):
        get_algo("nope")


def test_train_list_and_help_come_from_the_registry(capsys):
    assert main(["train", "--list"]) == 0
    listed = capsys.readouterr().out
    for name, description in ALGOS.describe():
        assert f"{name}" in listed and description in listed
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert ALGOS.help() in " ".join(capsys.readouterr().out.split())


# ----------------------------------------------------------------------------- recipes
@pytest.mark.parametrize("name", RECIPES.names())
def test_recipe_config_validates_with_its_yaml(name):
    recipe = get_recipe(name)
    assert recipe.data in DATA_KINDS and recipe.description
    assert recipe_config(name)["recipe"] == name
    path = ROOT / "envs_configs" / "recipes" / f"{name.replace('-', '_')}.yaml"
    assert path.is_file(), f"recipe {name} needs {path.name}"
    config = recipe_config(name, load_yaml(path))
    assert config["recipe"] == name
    with pytest.raises(ConfigError, match=rf"unknown config key '{name}.not_a_key'; valid keys here: .*steps"):
        recipe_config(name, {"not_a_key": 1})


def test_unknown_recipe_lists_the_registered_ones():
    with pytest.raises(ConfigError, match=rf"^unknown recipe 'nope'; available: {', '.join(RECIPES.names())}$"):
        get_recipe("nope")


def test_pretrain_restorer_is_a_recipe_that_needs_an_env(tmp_path, capsys):
    assert get_recipe("pretrain-restorer").data == "patches"
    assert recipe_config("pretrain-restorer", load_yaml(ROOT / "envs_configs" / "recipes" / "pretrain_restorer.yaml"))\
        == recipe_config("pretrain-restorer")  # the shipped YAML states the defaults
    with pytest.raises(ConfigError, match="inside the env"):
        run_recipe("pretrain-restorer", recipe_config("pretrain-restorer"), tmp_path)
    assert main(["train-generator", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "srgan" in listed and "pretrain-restorer" not in listed
    assert main(["train-generator", "pretrain-restorer", "--out", str(tmp_path)]) == 2
    assert "fh-gym pretrain-restorer" in capsys.readouterr().err


# ----------------------------------------------------------------------------- policies
ENV_FOR_POLICY = {"AttentionFHPolicy": "attention_fh", "IPFHPolicy": "ipfh"}


@pytest.mark.parametrize("name", POLICIES.names())
def test_policy_builds_from_its_defaults_and_round_trips(name):
    config = make_config({"image_size": 64, "horizon": 2,
                          "data": {"type": "synthetic", "identities": 4, "images_per_identity": 2, "image_size": 64}},
                         ENV_FOR_POLICY.get(name, "dense_x8"))
    engine = RepairEngine(config, 2)
    faces = engine.all_slots()
    engine.reset(faces, np.random.default_rng(0))
    spec = ActionSpec.from_space(engine.single_action_space)
    torch.manual_seed(0)
    policy = build_policy({"type": name, "sizes": list(spec.sizes), "multi": spec.multi,
                           "image_size": engine.image_size, **policy_defaults(name)})
    state = policy.initial_state(engine, faces)
    prev = torch.zeros(2, len(spec.sizes), dtype=torch.long)
    out, _ = policy.step(engine, faces, state, prev, torch.ones(2, dtype=torch.bool))
    assert out.logits.shape == (2, spec.total) and out.value.shape == (2,)
    twin = build_policy(policy.arch_config)
    twin.load_state_dict(policy.state_dict())
    assert twin.arch_config == policy.arch_config


def test_unknown_policy_lists_the_registered_ones():
    with pytest.raises(ConfigError, match=r"^unknown policy 'Nope'; available: AttentionFHPolicy, GainPolicy, "
                                          r"IPFHPolicy, LookaheadPolicy, SpatialPolicy$"):
        build_policy({"type": "Nope"})


def test_docs_list_every_algorithm_and_recipe():
    docs = (ROOT / "docs" / "agents.md").read_text()
    for name, description in ALGOS.describe():
        assert f"| `{name}` | {description} | `agents/algos/{name}.py` |" in docs, name
    flat = " ".join(docs.split())
    for name in RECIPES.names():
        assert f"`{name}`" in flat, name
