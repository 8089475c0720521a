"""Training any SB3 algorithm on the batched env: ``train_sb3(ctx, spec)`` (what ``fh-gym train`` runs).

Run folder layout::

    <run_dir>/events.out.tfevents.*      TensorBoard (charts/, losses/, eval/), appended to on resume
    <run_dir>/checkpoints/last.zip       latest checkpoint (every ``checkpoint_every`` steps, on Ctrl-C)
    <run_dir>/best.zip                   best validation PSNR so far
    <run_dir>/final.zip                  the model at the end of training
    <run_dir>/restorer.pt                fine-tuned restorer (``finetune_restorer``), usable as --restorer

Every ``.zip`` is an agent file for :func:`fh_gym.agents.registry.load_agent` (see :mod:`fh_gym.agents.sb3.checkpoint`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fh_gym.agents.registry import TrainContext
from fh_gym.agents.sb3.specs import SB3Spec
from fh_gym.config import ConfigError

LAST = Path("checkpoints") / "last.zip"


def _env_seed(seed: int, num_timesteps: int) -> int:
    # A resumed run draws new faces instead of replaying the ones seen since the start.
    return int(np.random.SeedSequence([seed, num_timesteps]).generate_state(1)[0])


def _best_psnr(path: Path) -> float:
    """Validation PSNR recorded in an existing ``best.zip`` (-inf when there is none)."""
    from fh_gym.agents.sb3.checkpoint import read_metadata

    if not path.is_file():
        return -np.inf
    return float(read_metadata(path).get("eval", {}).get("psnr", -np.inf))


def make_vec_env(ctx: TrainContext, hp: dict[str, Any], num_timesteps: int = 0) -> tuple[Any, Any]:
    """``FaceRepairSB3VecEnv`` -> ``VecMonitor`` (-> ``VecNormalize`` of rewards); returns (env, normaliser)."""
    from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

    from fh_gym.envs.vector import FaceRepairSB3VecEnv

    venv = FaceRepairSB3VecEnv(int(hp["n_envs"]), ctx.env_config)
    venv.seed(_env_seed(ctx.seed, num_timesteps))
    env: Any = VecMonitor(venv)
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


def build_model(spec: SB3Spec, env: Any, hp: dict[str, Any], env_config: dict[str, Any], *, seed: int | None = None,
                device: str = "cpu") -> Any:
    """A fresh SB3 model of ``spec`` on ``env`` with hyperparameters ``hp`` (a full :meth:`SB3Spec.defaults` dict).

    Example:
        >>> spec = SPECS["ppo"]; hp = spec.defaults("FaceRepair-Dense-x8-v0")  # doctest: +SKIP
        >>> env, _ = make_vec_env(ctx, hp); model = build_model(spec, env, hp, ctx.env_config)  # doctest: +SKIP
    """
    from fh_gym.agents.sb3.hyperparams import constructor_kwargs, policy_kwargs

    spec.check_env(env_config, spec.name)
    return spec.algo_class(spec.policy, env, seed=seed, device=device, verbose=0,
                           policy_kwargs=policy_kwargs(hp, int(env_config["horizon"])),
                           **constructor_kwargs(hp, spec.algo_class))


def train_sb3(ctx: TrainContext, spec: SB3Spec) -> dict[str, Any]:
    """Train (or resume) ``spec`` on ``ctx``; returns the final paths and validation scores."""
    from stable_baselines3.common.callbacks import CallbackList
    from stable_baselines3.common.utils import set_random_seed

    from fh_gym.agents.sb3 import callbacks as cb
    from fh_gym.agents.sb3.actor import SB3Actor
    from fh_gym.agents.sb3.checkpoint import (
        load_finetune_state,
        load_model,
        read_member,
        read_metadata,
        restore_vecnormalize,
        save_agent,
    )
    from fh_gym.agents.sb3.logger import make_logger
    from fh_gym.agents.training.finetune import finetune_settings

    hp = ctx.algo_config
    spec.check_env(ctx.env_config, ctx.env_id)
    run_dir = Path(ctx.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    last = run_dir / LAST
    resuming = ctx.resume and last.is_file()
    meta = {"algo": spec.name, "env_id": ctx.env_id, "env_config": ctx.env_config, "hyperparams": hp,
            "seed": ctx.seed}
    start_steps = 0
    if resuming:
        start_steps = int(read_metadata(last)["num_timesteps"])
    set_random_seed(ctx.seed + start_steps)
    env, vec_norm = make_vec_env(ctx, hp, start_steps)
    if resuming:
        model = load_model(last, spec.algo_class, spec.policy_class, {**meta, "num_timesteps": start_steps},
                           device=ctx.device, env=env)
        # SB3's load re-seeds everything (and the env) with the run's original seed, which would replay the
        # faces seen since the start: seed again from the resume point.
        model.set_random_seed(_env_seed(ctx.seed, start_steps))
        blob = read_member(last, "vecnormalize.json")
        if vec_norm is not None and blob is not None:
            restore_vecnormalize(vec_norm, json.loads(blob))
    else:
        model = build_model(spec, env, hp, ctx.env_config, seed=ctx.seed, device=ctx.device)
    model.set_logger(make_logger(run_dir))

    finetune = None
    settings = finetune_settings(hp["finetune_restorer"])
    if settings is not None:
        finetune = cb.RestorerFineTuneCallback(**settings)
        finetune.attach(env)
        state = load_finetune_state(last) if resuming else None
        if state is not None:
            finetune.load_state_dict(state)

    def save(path: Path) -> Path:
        state = finetune.state_dict() if finetune is not None else None
        if finetune is not None:
            finetune.tuner.save_restorer(run_dir / "restorer.pt")
        return save_agent(model, path, meta, vec_normalize=vec_norm, finetune_state=state)

    best = {"psnr": _best_psnr(run_dir / "best.zip") if resuming else -np.inf}

    def on_result(scores: dict[str, float], steps: int) -> None:
        meta["eval"] = scores
        if scores["psnr"] > best["psnr"]:
            best["psnr"] = scores["psnr"]
            save(run_dir / "best.zip")

    def make_actor(current: Any) -> SB3Actor:
        return SB3Actor(current, spec.name, ctx.env_config, deterministic=bool(hp["deterministic_eval"]))

    validation = cb.ValidationCallback(ctx.eval_config, make_actor, eval_every=ctx.eval_every, faces=ctx.eval_faces,
                                       image_every=int(hp["image_every"]), image_faces=int(hp["image_faces"]),
                                       on_result=on_result, seed=ctx.seed)
    callbacks = [c for c in (finetune, cb.EpisodeStatsCallback(), validation,
                             cb.CheckpointCallback(save, last, int(hp["checkpoint_every"]))) if c is not None]
    if ctx.progress:
        callbacks.append(cb.ProgressCallback(ctx.total_timesteps))
    remaining = max(0, ctx.total_timesteps - model.num_timesteps)
    try:
        if remaining > 0:
            model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=not resuming,
                        log_interval=int(hp["log_interval"]))
    except KeyboardInterrupt:
        save(last)
        raise KeyboardInterrupt(f"interrupted at step {model.num_timesteps}; checkpoint {last}; resume with "
                                f"fh-gym train --resume {run_dir}") from None
    model.logger.dump(model.num_timesteps)  # SB3 records the last update's losses after its last dump
    if validation.eval_every > 0 and validation.last_step != model.num_timesteps:
        validation.evaluate()  # the final numbers are for the final model
    save(last)
    final = save(run_dir / "final.zip")
    result: dict[str, Any] = {"final": str(final), "num_timesteps": int(model.num_timesteps)}
    if validation.last_scores:
        result.update({f"eval_{k}": round(v, 4) for k, v in validation.last_scores.items()})
    env.close()
    return result
