"""The SB3 algorithms' hyperparameters: which keys are valid, their defaults, and how they reach SB3.

The valid keys (:func:`base_defaults`) are the algorithm constructor's own arguments (``n_steps``, ``gamma``,
``clip_range``...) plus fh-gym's keys (:data:`FH_KEYS`) and the curated ``policy_kwargs``; the files
``envs_configs/agents/<algo>.yaml`` set their values (one loader for every algorithm:
:mod:`fh_gym.agents.hyperparams`), e.g.::

    default:
      learning_rate: 3.0e-4        # or "lin_3.0e-4" for a linear decay to 0
      policy_kwargs: {features_dim: 128, net_arch: {pi: [64], vf: [64]}}
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from torch import nn

from fh_gym.agents.sb3.features import FaceRepairExtractor
from fh_gym.agents.sb3.spatial import FaceRepairSpatialMaskablePolicy, FaceRepairSpatialPolicy, SpatialExtractor
from fh_gym.restorers.config import (
    Anything,
    Block,
    Bool,
    Choice,
    ConfigError,
    Field,
    Float,
    Int,
    Schema,
    Str,
    parse_value,
    signature_fields,
)


def _mapping_or_flag(value: Any) -> str | None:
    return None if isinstance(value, (bool, dict)) else "expected true, false or a mapping of settings"


#: fh-gym's own hyperparameters (not constructor arguments of the SB3 class): defaults and allowed values
FH_SCHEMA = Schema({
    "n_envs": Int(8, min=1),                     # faces stepped together by one batched engine
    "total_timesteps": Int(200_000, min=1),      # env steps (faces x repairs); RL-Zoo's n_timesteps is an alias
    "normalize": Anything(False, check=_mapping_or_flag),  # VecNormalize: true = rewards only; or its kwargs
    "finetune_restorer": Anything(None, check=_mapping_or_flag),  # joint fine-tuning: true or {lr, every, grad_clip}
    "checkpoint_every": Int(10_000, min=1),      # env steps between checkpoints (and one after the first update)
    "image_every": Int(5, min=0),                # evaluations between TensorBoard image grids (0: never)
    "image_faces": Int(4, min=1),                # faces in each image grid
    "log_interval": Int(1, min=1),               # algorithm iterations between log dumps
    "deterministic_eval": Bool(True),            # greedy actions in evaluation
    "eval_recognizer": Str(None, nullable=True),  # 'dlib' or an identity-net file: eval/id_distance, eval/id_same
})
FH_KEYS: dict[str, Any] = FH_SCHEMA.defaults()


def _schedule_problem(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("lin_"):
        value = parse_value(value[len("lin_"):])
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    return None if ok else "expected a number >= 0 or 'lin_<number>' (linear decay to 0)"


#: ranges of the SB3 constructor arguments (their types come from the constructors' annotations)
SB3_SPECS: dict[str, Field] = {
    "learning_rate": Anything(check=_schedule_problem), "clip_range": Anything(check=_schedule_problem),
    "clip_range_vf": Anything(check=_schedule_problem),
    "n_steps": Int(min=1), "batch_size": Int(min=1), "n_epochs": Int(min=1),
    "gamma": Float(min=0, max=1), "gae_lambda": Float(min=0, max=1),
    "ent_coef": Float(min=0), "vf_coef": Float(min=0), "max_grad_norm": Float(min=0, min_open=True),
    "target_kl": Float(min=0, min_open=True, nullable=True), "stats_window_size": Int(min=1),
    "alpha": Float(min=0, max=1), "epsilon": Float(min=0, min_open=True),
}

#: constructor arguments fh-gym sets itself
_RESERVED = {"policy", "env", "tensorboard_log", "policy_kwargs", "verbose", "seed", "device", "_init_setup_model",
             "rollout_buffer_class", "rollout_buffer_kwargs"}  # classes: not YAML-able, the Dict buffer is right

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU}

#: ``policy_kwargs`` keys; features_dim/encoder/width go to :class:`~fh_gym.agents.sb3.features.FaceRepairExtractor`
POLICY_SCHEMA = Schema({
    "features_dim": Int(128, min=1),
    "encoder": Choice("small", ("small", "attention_fh")),
    # "flatten": FaceRepairExtractor + MLP heads; "spatial": one logit per candidate patch (agents/sb3/spatial.py)
    "head": Choice("flatten", ("flatten", "spatial")),
    "width": Int(16, min=1),
    "net_arch": Anything({"pi": [64], "vf": [64]}),
    "activation_fn": Choice("tanh", tuple(ACTIVATIONS)),
    "ortho_init": Bool(True),
    "share_features_extractor": Bool(True),
    "optimizer_kwargs": Anything(None),
})
CONTINUOUS_POLICY_SCHEMA = Schema({"log_std_init": Float(0.0)})
LSTM_POLICY_SCHEMA = Schema({"lstm_hidden_size": Int(64, min=1), "n_lstm_layers": Int(1, min=1),
                             "shared_lstm": Bool(False), "enable_critic_lstm": Bool(True)})
EXTRACTOR_KEYS = ("features_dim", "encoder", "width")


def hyperparam_schema(algo_class: type, recurrent: bool = False, continuous_ok: bool = True) -> Schema:
    """Every valid key of an algorithm with its library default and allowed values (before any YAML): the
    constructor's arguments (types from its annotations, ranges from :data:`SB3_SPECS`), :data:`FH_SCHEMA`
    and the ``policy_kwargs`` block."""
    params = inspect.signature(algo_class).parameters
    typed = signature_fields(algo_class)
    fields = {k: SB3_SPECS[k].with_default(p.default) if k in SB3_SPECS else typed[k] for k, p in params.items()
              if k not in _RESERVED and p.default is not inspect.Parameter.empty}
    policy = dict(POLICY_SCHEMA.fields)
    if continuous_ok:
        policy.update(CONTINUOUS_POLICY_SCHEMA.fields)
    if recurrent:
        policy.update(LSTM_POLICY_SCHEMA.fields)
    return Schema({**fields, **FH_SCHEMA.fields, "policy_kwargs": Block(Schema(policy, name="policy_kwargs"))})


def base_defaults(algo_class: type, recurrent: bool = False, continuous_ok: bool = True) -> dict[str, Any]:
    """Every valid key of an algorithm with its library default (before any YAML)."""
    return hyperparam_schema(algo_class, recurrent, continuous_ok).defaults()


def schedule(value: Any) -> Any:
    """A float, or ``"lin_<float>"`` (RL-Zoo) as a linear schedule from that value to 0."""
    if isinstance(value, str):
        if not value.startswith("lin_"):
            raise ConfigError(f"schedule must be a number or 'lin_<number>', got {value!r}")
        problem = _schedule_problem(value)
        if problem:
            raise ConfigError(f"invalid schedule: {value!r} ({problem})")
        start = float(value[len("lin_"):])
        return lambda progress_remaining: progress_remaining * start
    return value


def policy_kwargs(hp: dict[str, Any], env_config: dict[str, Any]) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` (with the features extractor) from the YAML ``policy_kwargs`` block.

    ``head: spatial`` builds :class:`~fh_gym.agents.sb3.spatial.SpatialExtractor` on the env's action block
    (``features_dim`` is then the length of its global features, ``encoder`` does not apply); the policy class
    must be the matching spatial one (:func:`spatial_policy`).
    """
    block = dict(hp["policy_kwargs"])
    name = str(block.pop("activation_fn"))
    if name not in ACTIVATIONS:
        raise ConfigError(f"policy_kwargs.activation_fn {name!r} is unknown; valid: {', '.join(ACTIVATIONS)}")
    extractor = {k: block.pop(k) for k in EXTRACTOR_KEYS}
    extractor["horizon"] = int(env_config["horizon"])
    head = block.pop("head", "flatten")  # agent files from before the key hold the flatten head
    if block.get("optimizer_kwargs") is None:
        block.pop("optimizer_kwargs", None)  # let the algorithm pick (A2C: RMSprop settings)
    if head == "spatial":
        if extractor["encoder"] != "small":
            raise ConfigError("policy_kwargs.encoder applies to head: flatten only (the spatial head has its own "
                              "trunk)")
        if env_config["action"]["type"] == "continuous":
            raise ConfigError("policy_kwargs.head: spatial needs grid or box actions (one logit per candidate "
                              "patch); the env has continuous actions: use head: flatten")
        extractor = {"action": dict(env_config["action"]), "horizon": extractor["horizon"],
                     "width": extractor["width"], "global_dim": extractor["features_dim"]}
        return {**block, "activation_fn": ACTIVATIONS[name], "features_extractor_class": SpatialExtractor,
                "features_extractor_kwargs": extractor}
    return {**block, "activation_fn": ACTIVATIONS[name], "features_extractor_class": FaceRepairExtractor,
            "features_extractor_kwargs": extractor}


def spatial_policy(hp: dict[str, Any], maskable: bool) -> type | None:
    """The spatial policy class when ``policy_kwargs.head`` is ``spatial`` (None: the algorithm's own)."""
    if hp["policy_kwargs"].get("head", "flatten") != "spatial":
        return None
    return FaceRepairSpatialMaskablePolicy if maskable else FaceRepairSpatialPolicy


def constructor_kwargs(hp: dict[str, Any], algo_class: type) -> dict[str, Any]:
    """The hyperparameters the SB3 constructor takes (schedules converted), without fh-gym's keys."""
    params = inspect.signature(algo_class).parameters
    kwargs = {k: v for k, v in hp.items() if k in params and k not in _RESERVED}
    for key in ("learning_rate", "clip_range", "clip_range_vf"):
        if key in kwargs and kwargs[key] is not None:
            kwargs[key] = schedule(kwargs[key])
    return kwargs
