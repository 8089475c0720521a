"""The one config schema mechanism: field rules, annotation-typed builders, and every block stating its specs."""

from __future__ import annotations

import inspect

import pytest

from fh_gym.agents.registry import ALGOS, get_algo
from fh_gym.data.build import COMMON_KEYS
from fh_gym.engine.actions.base import ACTIONS
from fh_gym.engine.config import DATA_SCHEMA, ENV_SCHEMA, check_env_config
from fh_gym.envs.config import default_config, make_config
from fh_gym.registration import env_ids
from fh_gym.restorers.config import (
    Bool,
    Choice,
    ConfigError,
    Float,
    Int,
    List,
    Schema,
    check_kwargs,
    infer_field,
    merge_config,
    schema_from_defaults,
)
from fh_gym.restorers.schema import annotation_field
from fh_gym.restorers.training.recipe import RECIPES, recipe_config
from fh_gym.variants import variant_names


@pytest.mark.parametrize("field,value,expected", [
    (Int(min=1), 16, 16), (Int(min=1), 16.0, 16), (Int(), 100000.0, 100000), (Float(), 3, 3), (Float(), 0.5, 0.5),
    (Bool(), False, False), (Choice("a", ["a", "b"]), "b", "b"), (List(item=Float(), length=2), (1, 2.5), [1, 2.5]),
    (Int(nullable=True), None, None),
])
def test_accepted_values(field, value, expected):
    checked = field.validate(value, "key")
    assert checked == expected and type(checked) is type(expected)


@pytest.mark.parametrize("field,value,allowed", [
    (Int(min=1), "16", "an integer >= 1"), (Int(min=1), 16.7, "an integer >= 1"), (Int(), True, "an integer"),
    (Int(), float("inf"), "an integer"), (Int(), float("nan"), "an integer"), (Int(min=1), 0, "an integer >= 1"),
    (Int(), None, "an integer"), (Int(), [16], "an integer"), (Float(), True, "a number"),
    (Float(), float("inf"), "a number"), (Float(min=0, min_open=True), 0, "a number > 0"), (Bool(), 1, "true or false"),
    (Bool(), "yes", "true or false"), (Choice("a", ["a", "b"]), "c", "one of 'a', 'b'"),
    (List(item=Float(), length=2), [1], "a list of 2 numbers"), (List(item=Int()), "12", "a list of integers"),
])
def test_refused_values_name_the_key_the_value_and_what_is_allowed(field, value, allowed):
    with pytest.raises(ConfigError) as info:
        field.validate(value, "block.key")
    assert str(info.value) == f"invalid block.key: {value!r} (expected {allowed})"


def test_schema_defaults_unknown_keys_and_missing_keys():
    schema = Schema({"a": Int(1, min=0), "b": Bool(True)}, name="blk")
    assert schema.defaults() == {"a": 1, "b": True}
    assert schema.validate({"a": 2}) == {"a": 2, "b": True}
    with pytest.raises(ConfigError, match="unknown config key 'blk.c'; valid keys here: a, b"):
        schema.validate({"c": 1})


@pytest.mark.parametrize("annotation,default,kind,nullable", [
    ("int", 3, "int", False), ("float | None", None, "float", True), ("Optional[int]", 1, "int", True),
    ("bool", True, "bool", False), ("Sequence[float]", (1.0,), "any", False), ("str | int", "a", "any", False),
    (int, 3, "int", False), (float | None, None, "float", True), (inspect.Parameter.empty, 0, "any", False),
])
def test_annotations_give_the_value_type(annotation, default, kind, nullable):
    field = annotation_field(annotation, default)
    assert (field.kind, field.nullable) == (kind, nullable)


def test_check_kwargs_checks_and_normalises_values_in_place():
    def builder(width: int = 4, rate: float = 0.5, flag: bool = False, name: str = "x", any_value=None) -> None:
        pass

    kwargs = {"width": 8.0, "rate": 1, "any_value": [1]}
    assert check_kwargs(builder, kwargs, "net") == {"width": 8, "rate": 1, "any_value": [1]}
    with pytest.raises(ConfigError, match=r"invalid width of net: 2.5 \(expected an integer\)"):
        check_kwargs(builder, {"width": 2.5}, "net")
    with pytest.raises(ConfigError, match=r"invalid restorer.flag: 'no' \(expected true or false\)"):
        check_kwargs(builder, {"flag": "no"}, "net", path="restorer")


def test_inferred_fields_follow_the_default():
    assert infer_field(3).kind == "int" and infer_field(0.5).kind == "float" and infer_field(True).kind == "bool"
    assert infer_field({"type": "X"}).kind == "typed" and infer_field({"a": 1}).schema.validate({"a": 2}) == {"a": 2}
    schema = schema_from_defaults({"n": 3, "lr": 1e-3}, {"n": Int(min=1)})
    assert schema["n"].default == 3 and schema["n"].min == 1


def test_the_env_defaults_are_the_schema_and_every_variant_is_valid():
    assert default_config() == ENV_SCHEMA.defaults()
    assert check_env_config(default_config()) == default_config()
    for name in variant_names():
        assert check_env_config(make_config(None, name)) == make_config(None, name)


def test_the_data_schema_states_every_common_data_key():
    assert set(DATA_SCHEMA.fields) == set(COMMON_KEYS)


def test_every_action_type_states_a_spec_for_each_config_key():
    for name, cls in ACTIONS.items():
        params = [p for p in inspect.signature(cls).parameters if p not in ("self", "image_size")]
        assert set(cls.param_specs) == set(params), name


def test_every_recipe_config_validates_and_counts_are_positive():
    for name in RECIPES.names():
        config = recipe_config(name)
        assert config == recipe_config(name, config)
        for key in ("steps", "batch_size", "checkpoint_every", "log_every"):
            with pytest.raises(ConfigError, match=f"invalid {name}.{key}: 0"):
                recipe_config(name, {key: 0})


@pytest.mark.parametrize("algo", ALGOS.names())
def test_every_algorithms_hyperparameters_validate_for_every_env(algo):
    entry = get_algo(algo)
    schema_keys = set(entry.hyperparam_schema(None).fields)
    for env_id in env_ids():
        defaults = entry.defaults(env_id)
        assert set(defaults) == schema_keys
        assert entry.check_hyperparams(env_id, entry.resolve(env_id, defaults))
    for key in ("total_timesteps", "checkpoint_every"):
        with pytest.raises(ConfigError, match=f"invalid {algo}.{key}: 0"):
            entry.check_hyperparams(None, {**entry.defaults(None), key: 0})
    with pytest.raises(ConfigError, match=f"invalid {algo}.total_timesteps: 'abc'"):
        entry.check_hyperparams(None, {**entry.defaults(None), "total_timesteps": "abc"})


def test_checkpoint_and_weights_replace_each_other_in_a_typed_block_override():
    base = {"net": {"type": "CNNR", "weights": "lfw", "width": 16}}
    merged = merge_config(base, {"net": {"checkpoint": "mine.pt"}})
    assert merged["net"] == {"type": "CNNR", "width": 16, "checkpoint": "mine.pt"}
    back = merge_config(merged, {"net": {"type": "CNNR", "weights": "syn"}})
    assert back["net"] == {"type": "CNNR", "width": 16, "weights": "syn"}
    both = merge_config(base, {"net": {"checkpoint": "mine.pt", "weights": "none"}})
    assert both["net"]["weights"] == "none" and both["net"]["checkpoint"] == "mine.pt"
