"""The SB3 / sb3-contrib algorithms: the registry entries' base class and ``train_sb3`` (what ``fh-gym train``
runs for them).

Each algorithm is a subclass of :class:`SB3Algo` in ``agents/algos/`` (``ppo``, ``a2c``, ``recurrent_ppo``,
``maskable_ppo``). Hyperparameters: the algorithm constructor's own arguments plus fh-gym's keys
(:func:`fh_gym.agents.sb3.hyperparams.hyperparam_schema`: defaults and allowed values), set by
``envs_configs/agents/<name>.yaml``.

Run folder layout::

    <run_dir>/events.out.tfevents.*      TensorBoard (train/ rollout/ time/ charts/ eval/), appended on resume
    <run_dir>/checkpoints/last.zip       latest checkpoint (after the first update, every ``checkpoint_every``
                                         env steps, on Ctrl-C / SIGTERM)
    <run_dir>/best.zip                   best validation PSNR so far
    <run_dir>/final.zip                  the model at the end of training
    <run_dir>/restorer.pt                fine-tuned restorer (``finetune_restorer``), usable as --restorer

Every ``.zip`` is an agent file for :func:`fh_gym.agents.registry.load_agent` (see
:mod:`fh_gym.agents.sb3.checkpoint`).

Example:
    >>> from fh_gym.agents.registry import get_algo
    >>> get_algo("maskable_ppo").defaults("fh_gym/FaceRepair-Dense-x8-v0")["n_steps"]  # doctest: +SKIP
    64
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.logger import TensorBoardOutputFormat
from stable_baselines3.common.vec_env import VecMonitor, VecNormalize
from tensorboard.compat.proto.event_pb2 import Event, SessionLog

from fh_gym.agents.comparison import recognizer_metric
from fh_gym.agents.finetune import finetune_settings
from fh_gym.agents.registry import Algo
from fh_gym.agents.runs import TrainContext, finished_run_error, last_checkpoint, record_total
from fh_gym.agents.sb3 import callbacks as cb
from fh_gym.agents.sb3.actor import SB3Actor
from fh_gym.agents.sb3.checkpoint import (
    action_space,
    finetuned_restorer,
    load_finetune_state,
    load_model,
    read_member,
    read_metadata,
    restore_vecnormalize,
    save_agent,
)
from fh_gym.agents.sb3.hyperparams import constructor_kwargs, hyperparam_schema, policy_kwargs, spatial_policy
from fh_gym.agents.sb3.logger import make_logger
from fh_gym.envs.vector import FaceRepairSB3VecEnv
from fh_gym.restorers.checkpoint import run_lock
from fh_gym.restorers.config import ConfigError, Schema
from fh_gym.restorers.training.session import StopRequest, deferred_signals


class SB3Algo(Algo):
    """One SB3 algorithm.

    Attributes:
        algo_class: The SB3 / sb3-contrib class.
        policy: Policy alias (``MultiInputPolicy`` or ``MultiInputLstmPolicy``).
        recurrent: Keeps LSTM states (RecurrentPPO).
        maskable: Needs ``action_masks`` and a Discrete / MultiDiscrete action space (MaskablePPO).
    """

    algo_class: type
    policy: str = "MultiInputPolicy"
    recurrent: bool = False
    maskable: bool = False
    checkpoint = str(Path("checkpoints") / "last.zip")

    def policy_class(self, hp: dict[str, Any]) -> type:
        """The SB3 policy class for hyperparameters ``hp`` (the spatial one for ``policy_kwargs.head: spatial``)."""
        spatial = spatial_policy(hp, self.maskable)
        if spatial is not None and self.recurrent:
            raise ConfigError(f"{self.name} has no spatial head (an LSTM policy): use policy_kwargs.head: flatten")
        return spatial or self.algo_class.policy_aliases[self.policy]

    def base_hyperparams(self, env_id: str | None) -> dict[str, Any]:
        return self.hyperparam_schema(env_id).defaults()

    def hyperparam_schema(self, env_id: str | None) -> Schema:
        return hyperparam_schema(self.algo_class, self.recurrent, continuous_ok=not self.maskable)

    def check_env(self, env_config: dict[str, Any], env_id: str) -> None:
        """Raise ``ConfigError`` if this algorithm cannot act in the env (MaskablePPO on continuous actions)."""
        space = action_space(env_config)
        if self.maskable and not isinstance(space, spaces.Discrete | spaces.MultiDiscrete):
            raise ConfigError(f"{self.name} needs Discrete or MultiDiscrete actions (action masks); {env_id} has "
                              f"{space} (action.type={env_config['action']['type']}): use ppo, a2c or "
                              "recurrent_ppo")

    def train(self, ctx: TrainContext) -> dict[str, Any]:
        return train_sb3(ctx, self)

    def load(self, path: Path, device: str = "cpu") -> SB3Actor:
        """An :class:`~fh_gym.agents.sb3.actor.SB3Actor` for the agent file ``path`` (with its fine-tuned
        restorer, if any)."""
        meta = read_metadata(path)
        if meta["algo"] != self.name:
            raise ConfigError(f"{path} holds a {meta['algo']} agent, not {self.name}")
        model = load_model(path, self.algo_class, self.policy_class(meta["hyperparams"]), meta, device=device)
        return SB3Actor(model, f"{self.name}-{Path(path).stem}", meta["env_config"], meta=meta,
                        restorer=finetuned_restorer(path, device))


def _env_seed(seed: int, num_timesteps: int) -> int:
    # A resumed run draws new faces instead of replaying the ones seen since the start.
    return int(np.random.SeedSequence([seed, num_timesteps]).generate_state(1)[0])


def _best_psnr(path: Path) -> float:
    """Validation PSNR recorded in an existing ``best.zip`` (-inf when there is none)."""
    if not path.is_file():
        return -np.inf
    return float(read_metadata(path).get("eval", {}).get("psnr", -np.inf))


def make_vec_env(ctx: TrainContext, hp: dict[str, Any]) -> tuple[Any, Any]:
    """``FaceRepairSB3VecEnv`` -> ``VecMonitor`` (-> ``VecNormalize`` of rewards); returns (env, normaliser).

    The env is seeded by the model: SB3 seeds it with the model's ``seed`` when building the model.
    """
    env: Any = VecMonitor(FaceRepairSB3VecEnv(int(hp["n_envs"]), ctx.env_config))
    normalize = hp["normalize"]
    if normalize is False or normalize is None:
        return env, None
    settings = {} if normalize is True else dict(normalize)
    allowed = {"norm_reward", "clip_reward", "gamma", "epsilon"}
    if set(settings) - allowed:
        raise ConfigError(f"unknown normalize key(s) {sorted(set(settings) - allowed)}; valid: {sorted(allowed)} "
                          "(observations are never normalised: images are uint8, the rest is already in [0, 1])")
    settings.setdefault("gamma", hp.get("gamma", 0.99))
    vec_norm = VecNormalize(env, norm_obs=False, **settings)
    return vec_norm, vec_norm


def build_model(algo: SB3Algo, env: Any, hp: dict[str, Any], env_config: dict[str, Any], *,
                seed: int | None = None, device: str = "cpu") -> Any:
    """A fresh SB3 model of ``algo`` on ``env`` with hyperparameters ``hp`` (a full :meth:`SB3Algo.defaults` dict).

    Example:
        >>> algo = get_algo("ppo"); hp = algo.defaults("fh_gym/FaceRepair-Dense-x8-v0")  # doctest: +SKIP
        >>> env, _ = make_vec_env(ctx, hp); model = build_model(algo, env, hp, ctx.env_config)  # doctest: +SKIP
    """
    algo.check_env(env_config, algo.name)
    return algo.algo_class(algo.policy_class(hp), env, seed=seed, device=device, verbose=0,
                           policy_kwargs=policy_kwargs(hp, env_config),
                           **constructor_kwargs(hp, algo.algo_class))


def _model(ctx: TrainContext, algo: SB3Algo, env: Any, vec_norm: Any, last: Path | None,
           meta: dict[str, Any]) -> Any:
    """The model to train: loaded from ``last`` (resume) or new."""
    if last is None:
        return build_model(algo, env, ctx.algo_config, ctx.env_config, seed=ctx.seed, device=ctx.device)
    start_steps = int(read_metadata(last)["num_timesteps"])
    model = load_model(last, algo.algo_class, algo.policy_class(ctx.algo_config),
                       {**meta, "num_timesteps": start_steps}, device=ctx.device, env=env)
    # SB3's load re-seeds everything (and the env) with the run's original seed, which would replay the
    # faces seen since the start: seed again from the resume point.
    model.set_random_seed(_env_seed(ctx.seed, start_steps))
    blob = read_member(last, "vecnormalize.json")
    if vec_norm is not None and blob is not None:
        restore_vecnormalize(vec_norm, json.loads(blob))
    return model


def _fine_tuner(hp: dict[str, Any], env: Any, last: Path | None) -> cb.RestorerFineTuneCallback | None:
    """The ``finetune_restorer`` callback on ``env`` (its state resumed from ``last``), or None."""
    settings = finetune_settings(hp["finetune_restorer"])
    if settings is None:
        return None
    finetune = cb.RestorerFineTuneCallback(**settings)
    finetune.attach(env)
    state = load_finetune_state(last) if last is not None else None
    if state is not None:
        finetune.load_state_dict(state)
    return finetune


def continue_tensorboard(logger: Any, step: int) -> None:
    """Make TensorBoard drop what an earlier attempt of this run logged at or after ``step`` (it was not
    checkpointed, and the resumed run logs those steps again): the session-start event SummaryWriter's
    ``purge_step`` writes, added to the SB3 logger's writer."""
    for output in logger.output_formats:
        if isinstance(output, TensorBoardOutputFormat):
            output.writer.file_writer.add_event(Event(step=int(step), session_log=SessionLog(status=SessionLog.START)))


def train_sb3(ctx: TrainContext, algo: SB3Algo) -> dict[str, Any]:
    """Train (or resume) ``algo`` on ``ctx``; returns the final paths and validation scores.

    One process at a time trains a run folder (:func:`~fh_gym.restorers.checkpoint.run_lock`; stale temporaries
    of killed saves are removed). SIGINT / SIGTERM end ``learn()`` at the next env step, checkpoint and raise
    :class:`~fh_gym.restorers.training.session.Interrupted` (exit 130 / 143); a second signal stops at once.
    """
    ctx = dataclasses.replace(ctx, algo_config=algo.check_hyperparams(ctx.env_id, ctx.algo_config))
    algo.check_env(ctx.env_config, ctx.env_id)
    run_dir = Path(ctx.run_dir)
    with run_lock(run_dir), deferred_signals() as stop:
        return _train_session(ctx, algo, ctx.algo_config, run_dir, stop)


def _train_session(ctx: TrainContext, algo: SB3Algo, hp: dict[str, Any], run_dir: Path,
                   stop: StopRequest) -> dict[str, Any]:
    """One training session of :func:`train_sb3` (the run folder locked, signals deferred).

    Longer than most functions: the checkpoint, best-model and validation callbacks share the model, its
    metadata and the fine-tuner through closures.
    """
    last = run_dir / algo.checkpoint
    resume_from = last_checkpoint(run_dir, algo.checkpoint) if ctx.resume else None
    if ctx.resume and resume_from is None:
        print(f"{run_dir}: no checkpoint yet, starting from step 0 (the earlier attempt's TensorBoard steps are "
              "replaced)", file=sys.stderr)
    meta = {"algo": algo.name, "env_id": ctx.env_id, "env_config": ctx.env_config, "hyperparams": hp,
            "seed": ctx.seed}
    # No seeding here: a fresh model's constructor seeds every RNG and the env from ctx.seed (SB3's
    # _setup_model), and a resumed one is re-seeded from the resume point in _model.
    env, vec_norm = make_vec_env(ctx, hp)
    model = _model(ctx, algo, env, vec_norm, resume_from, meta)
    if ctx.resume:
        if model.num_timesteps >= ctx.total_timesteps and (run_dir / "final.zip").exists():
            env.close()  # before the logger, which would add an empty TensorBoard file to the run
            raise finished_run_error(run_dir, int(model.num_timesteps), int(ctx.total_timesteps))
        record_total(run_dir, ctx.total_timesteps)
    model.set_logger(make_logger(run_dir))
    if ctx.resume:
        continue_tensorboard(model.logger, model.num_timesteps)
    finetune = _fine_tuner(hp, env, resume_from)

    def save(path: Path) -> Path:
        state = finetune.state_dict() if finetune is not None else None
        if finetune is not None:
            finetune.tuner.save_restorer(run_dir / "restorer.pt")
        return save_agent(model, path, meta, vec_normalize=vec_norm, finetune_state=state)

    best = {"psnr": _best_psnr(run_dir / "best.zip") if resume_from is not None else -np.inf}

    def on_result(scores: dict[str, float], steps: int) -> None:
        meta["eval"] = scores
        if scores["psnr"] > best["psnr"]:
            best["psnr"] = scores["psnr"]
            save(run_dir / "best.zip")

    def make_actor(current: Any) -> SB3Actor:
        return SB3Actor(current, algo.name, ctx.env_config, deterministic=bool(hp["deterministic_eval"]))

    validation = cb.ValidationCallback(ctx.eval_config, make_actor, eval_every=ctx.eval_every, num_faces=ctx.eval_faces,
                                       image_every=int(hp["image_every"]), image_faces=int(hp["image_faces"]),
                                       on_result=on_result, seed=ctx.seed,
                                       extra_metrics=None if hp["eval_recognizer"] is None else
                                       recognizer_metric(hp["eval_recognizer"], ctx.device))
    dumped = cb.DumpedKeysCallback(int(hp["log_interval"]))
    callbacks = [c for c in (finetune, cb.EpisodeStatsCallback(), validation,
                             cb.CheckpointCallback(save, last, int(hp["checkpoint_every"])),
                             cb.StopOnSignalCallback(stop), dumped) if c is not None]
    if ctx.progress:
        callbacks.append(cb.ProgressCallback(ctx.total_timesteps))
    remaining = max(0, ctx.total_timesteps - model.num_timesteps)
    if remaining > 0:
        model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=resume_from is None,
                    log_interval=int(hp["log_interval"]))
    if stop:
        save(last)
        env.close()
        raise stop.interrupted(f"interrupted at step {model.num_timesteps}; checkpoint {last}; resume with "
                               f"fh-gym train --resume {run_dir}")
    if remaining > 0:
        dumped.final_dump()  # SB3 records the last update's losses after its last dump
    if validation.eval_every > 0 and validation.last_step != model.num_timesteps:
        validation.evaluate()  # the final numbers are for the final model
    save(last)
    final = save(run_dir / "final.zip")
    result: dict[str, Any] = {"final": str(final), "num_timesteps": int(model.num_timesteps)}
    if validation.last_scores:
        result.update({f"eval_{k}": round(v, 4) for k, v in validation.last_scores.items()})
    env.close()
    return result
