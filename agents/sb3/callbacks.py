"""SB3 callbacks: episode metrics, validation evaluation with image grids, checkpoints, restorer fine-tuning.

They log through the model's logger (see :func:`fh_gym.agents.sb3.logger.make_logger`), so every tag lands in
the run's single TensorBoard run. The work itself lives in :mod:`fh_gym.agents.evaluate`,
:mod:`fh_gym.recording` and :mod:`fh_gym.agents.finetune` (no SB3 there), for agents that are not SB3 models.

Tags: ``charts/episodic_return``, ``charts/episodic_length``, ``charts/episode_psnr``,
``charts/episode_psnr_gain``, ``charts/episode_ssim``, ``charts/reward_terms/<term>`` (each term summed
over the episode), ``eval/<metric>`` (validation people), ``eval/episodes`` (image grid), ``losses/restorer``,
``losses/restorer_mse`` and ``charts/restorer_psnr_box`` (fine-tuning), next to SB3's own ``train/*``,
``rollout/*`` and ``time/*`` (see :mod:`fh_gym.agents.sb3.logger`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Image

from fh_gym.agents.evaluate import ExtraMetrics, episode_metrics, evaluate_actor, validation_indices
from fh_gym.agents.finetune import RestorerFineTuner
from fh_gym.data import build_dataset
from fh_gym.envs.slots import reward_terms
from fh_gym.envs.vector import FaceRepairSB3VecEnv
from fh_gym.recording import episode_grid
from fh_gym.restorers.training.session import progress_bar

#: image entries are for TensorBoard only
_NOT_TEXT = ("stdout", "log", "json", "csv")


def find_repair_env(env: Any) -> Any:
    """The ``FaceRepairSB3VecEnv`` under SB3 wrappers (``VecMonitor``, ``VecNormalize``...)."""
    inner = env
    while not isinstance(inner, FaceRepairSB3VecEnv):  # wrappers forward attribute reads: unwrap explicitly
        if not hasattr(inner, "venv"):
            raise TypeError(f"{type(env).__name__} does not wrap a FaceRepairSB3VecEnv (no engine found)")
        inner = inner.venv
    return inner


def find_engine(env: Any) -> Any:
    """The batched engine under (possibly wrapped) ``FaceRepairSB3VecEnv``."""
    return find_repair_env(env).engine


def _hwc(images: np.ndarray) -> np.ndarray:
    """(B, 3, H, W) -> (B, H, W, 3): SB3's VecTransposeImage also transposes terminal observations."""
    return np.transpose(images, (0, 2, 3, 1)) if images.shape[1] == 3 and images.shape[-1] != 3 else images


class EpisodeStatsCallback(BaseCallback):
    """Per-episode return, PSNR / SSIM of the final image vs HR, PSNR gain and summed reward terms.

    The final and start images come from ``info["terminal_observation"]`` (the engine already reset the
    slot) and the HR face from the dataset by ``info["face_index"]``; values are averaged per log dump.
    """

    def _on_training_start(self) -> None:
        self.engine = find_engine(self.training_env)
        self.term_sums: list[dict[str, float]] = [{} for _ in range(self.training_env.num_envs)]

    def _on_step(self) -> bool:
        infos, dones = self.locals["infos"], self.locals["dones"]
        for i, info in enumerate(infos):
            for name, value in reward_terms(info).items():
                self.term_sums[i][name] = self.term_sums[i].get(name, 0.0) + float(value)
        finished = np.flatnonzero(dones)
        measurable = []
        for i in finished:
            info = infos[i]
            if "episode" in info:
                self.logger.record_mean("charts/episodic_return", float(info["episode"]["r"]))
                self.logger.record_mean("charts/episodic_length", float(info["episode"]["l"]))
            for name, total in self.term_sums[i].items():
                self.logger.record_mean(f"charts/reward_terms/{name}", total)
            self.term_sums[i] = {}
            if info.get("face_index", -1) >= 0 and "terminal_observation" in info:
                measurable.append(i)
        if measurable:
            last = [infos[i]["terminal_observation"] for i in measurable]
            hr = self.engine.dataset.hr_float([infos[i]["face_index"] for i in measurable])
            scores = episode_metrics(_hwc(np.stack([o["image"] for o in last])),
                                     _hwc(np.stack([o["start"] for o in last])), hr, self.engine.scale)
            for k in range(len(measurable)):
                self.logger.record_mean("charts/episode_psnr", float(scores["psnr"][k]))
                self.logger.record_mean("charts/episode_ssim", float(scores["ssim"][k]))
                self.logger.record_mean("charts/episode_psnr_gain", float(scores["psnr_gain"][k]))
        return True


class ValidationCallback(BaseCallback):
    """Every ``eval_every`` env steps: evaluate the current policy on validation people.

    Args:
        eval_config: Env config on the validation split.
        make_actor: ``fn(model) -> actor`` (e.g. an :class:`~fh_gym.agents.sb3.actor.SB3Actor`).
        eval_every: Env steps between evaluations (0: never).
        num_faces: Validation faces per evaluation.
        image_every: Log an image grid every this many evaluations (0: never); image_faces: rows in it.
        on_result: ``fn(scores, num_timesteps)`` after each evaluation (best-model saving).
        seed: Fixed degradation seed (every evaluation sees the same LR inputs).
        at_start: Also evaluate before the first update.
        extra_metrics: More per-face columns logged as ``eval/<name>`` (a recogniser's identity columns).
    """

    def __init__(self, eval_config: dict[str, Any], make_actor: Callable[[Any], Any], *, eval_every: int,
                 num_faces: int = 32, image_every: int = 5, image_faces: int = 4,
                 on_result: Callable[[dict[str, float], int], None] | None = None, seed: int = 0,
                 at_start: bool = True, extra_metrics: ExtraMetrics | None = None) -> None:
        super().__init__()
        self.extra_metrics = extra_metrics
        self.eval_config = eval_config
        self.make_actor = make_actor
        self.eval_every = int(eval_every)
        self.num_faces = int(num_faces)
        self.image_every, self.image_faces = int(image_every), int(image_faces)
        self.on_result = on_result
        self.seed = seed
        self.at_start = at_start
        self.dataset = build_dataset(eval_config["data"])
        self.evaluations = 0
        self.last_scores: dict[str, float] = {}
        self.last_step = -1
        self._next = 0

    def _on_training_start(self) -> None:
        self.engine = find_engine(self.training_env)
        if self.eval_every > 0:
            self._next = (self.num_timesteps // self.eval_every + 1) * self.eval_every
            if self.at_start and self.num_timesteps == 0:
                self.evaluate()

    def _on_step(self) -> bool:
        if self.eval_every > 0 and self.num_timesteps >= self._next:
            self._next = (self.num_timesteps // self.eval_every + 1) * self.eval_every
            self.evaluate()
        return True

    def evaluate(self) -> dict[str, float]:
        """Evaluate now, log ``eval/*`` (and an image grid when due) and dump at the current step."""
        actor = self.make_actor(self.model)
        restorer = self.engine.restorer  # shared: evaluation sees fine-tuned weights
        scores = evaluate_actor(self.eval_config, actor, num_faces=self.num_faces, restorer=restorer,
                                dataset=self.dataset, seed=self.seed, extra_metrics=self.extra_metrics)
        for name, value in scores.items():
            self.logger.record(f"eval/{name}", value)
        if self.image_every > 0 and self.evaluations % self.image_every == 0:
            indices = validation_indices(self.dataset, self.image_faces)
            grid = episode_grid(self.eval_config, actor, indices, restorer=restorer, dataset=self.dataset,
                                seed=self.seed)
            self.logger.record("eval/episodes", Image(grid, "HWC"), exclude=_NOT_TEXT)
        self.evaluations += 1
        self.last_scores, self.last_step = scores, self.num_timesteps
        self.logger.dump(self.num_timesteps)
        if self.on_result is not None:
            self.on_result(scores, self.num_timesteps)
        return scores


class CheckpointCallback(BaseCallback):
    """Call ``save(path)`` (atomic) after the first update of a session and then every ``every`` env steps, so a
    killed run loses at most one interval and ``--resume`` never starts over (``every`` >= 1)."""

    def __init__(self, save: Callable[[Path], Path], path: Path, every: int) -> None:
        super().__init__()
        self.save, self.path, self.every = save, Path(path), int(every)
        self._next = 0
        self._start = 0
        self._first_done = False

    def _on_training_start(self) -> None:
        self._start = self.num_timesteps
        self._next = (self.num_timesteps // self.every + 1) * self.every

    def _on_rollout_start(self) -> None:
        # A rollout starts after each update: the first one past the session's start is the first update.
        if not self._first_done and self.num_timesteps > self._start:
            self._first_done = True
            self.save(self.path)

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next = (self.num_timesteps // self.every + 1) * self.every
            self.save(self.path)
        return True


class DumpedKeysCallback(BaseCallback):
    """Remembers which logger keys SB3's dump after a rollout writes (every ``log_interval``-th rollout of a
    ``learn()`` call) and at which step, so a final dump can leave out keys already written at that step
    (TensorBoard then never shows one tag twice at one step)."""

    def __init__(self, log_interval: int) -> None:
        super().__init__()
        self.log_interval = int(log_interval)
        self.rollouts = 0
        self.step = -1
        self.keys: set[str] = set()

    def _on_training_start(self) -> None:
        self.rollouts = 0  # SB3 counts its iterations from 0 in every learn() call

    def _on_rollout_end(self) -> None:
        self.rollouts += 1
        if self.rollouts % self.log_interval == 0:
            # SB3 dumps right after this, at this step: what is recorded now is what it writes then.
            self.step, self.keys = self.num_timesteps, set(self.logger.name_to_value)

    def _on_step(self) -> bool:
        return True

    def final_dump(self) -> None:
        """Dump what was recorded since SB3's last dump (the last update's losses), without the keys that dump
        already wrote at the same step."""
        logger = self.logger
        if self.step == self.num_timesteps:
            for key in self.keys:
                for table in (logger.name_to_value, logger.name_to_count, logger.name_to_excluded):
                    table.pop(key, None)
        logger.dump(self.num_timesteps)


class StopOnSignalCallback(BaseCallback):
    """Ends ``learn()`` at the next env step once ``request`` (a
    :class:`~fh_gym.restorers.training.session.StopRequest`) is set by SIGINT / SIGTERM."""

    def __init__(self, request: Any) -> None:
        super().__init__()
        self.request = request

    def _on_step(self) -> bool:
        return not self.request


class RestorerFineTuneCallback(BaseCallback):
    """Joint restorer fine-tuning after every env step (:class:`~fh_gym.agents.finetune.RestorerFineTuner`).

    Args:
        lr: Adam learning rate; every: update every ``every`` env steps; grad_clip: max gradient norm.

    The tuner is created when training starts (it needs the env's engine); ``state_dict`` /
    ``load_state_dict`` carry the restorer weights and the optimiser through checkpoints.
    """

    def __init__(self, lr: float = 1e-4, every: int = 1, grad_clip: float | None = 1.0) -> None:
        super().__init__()
        self.settings = {"lr": lr, "every": every, "grad_clip": grad_clip}
        self.tuner: RestorerFineTuner | None = None
        self._pending: dict[str, Any] | None = None

    def attach(self, env: Any) -> RestorerFineTuner:
        """Create the tuner on ``env``'s engine (done at training start when not called before)."""
        if self.tuner is None:
            self.repair_env = find_repair_env(env)
            self.repair_env.keep_batch = True  # each step then keeps the restorer inputs in last_step
            self.tuner = RestorerFineTuner(self.repair_env.engine, **self.settings)
            if self._pending is not None:
                self.tuner.load_state_dict(self._pending)
                self._pending = None
        return self.tuner

    def _on_training_start(self) -> None:
        self.attach(self.training_env)

    def _on_step(self) -> bool:
        for tag, value in (self.tuner.after_step(self.repair_env.last_step) or {}).items():
            self.logger.record_mean(tag, value)
        return True

    def state_dict(self) -> dict[str, Any] | None:
        return self.tuner.state_dict() if self.tuner is not None else self._pending

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.tuner is not None:
            self.tuner.load_state_dict(state)
        else:
            self._pending = state


class ProgressCallback(BaseCallback):
    """A progress bar over env steps with the latest episode PSNR gain (SB3's own bar needs ``rich``); a plain
    line every 10% when the output is not a terminal."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = int(total)

    def _on_training_start(self) -> None:
        self.bar = progress_bar(self.total, initial=self.num_timesteps, unit="step", desc="train")

    def _on_step(self) -> bool:
        self.bar.update(self.num_timesteps - self.bar.n)
        gains = self.logger.name_to_value.get("charts/episode_psnr_gain")
        if gains is not None:
            self.bar.set_postfix(psnr_gain=f"{gains:.2f}", refresh=False)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()

