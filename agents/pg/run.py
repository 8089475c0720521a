"""``AgentRun``: :class:`fh_gym.restorers.training.loop.TrainingRun` for policy-gradient agents.

What it adds to the supervised loop (progress bar, TensorBoard, atomic ``last.pt``, resume with the step
count, optimiser and scheduler states, time budget):

* TensorBoard's x-axis is *env steps* (updates x faces x T), like the SB3 runs of the same env;
* ``last.pt`` also holds the trainer's own state (moving-average baseline...), restored on resume;
* every checkpoint also writes ``agent.pt`` (the loadable agent, see :mod:`fh_gym.agents.pg.checkpoint`), and the
  end of the run writes ``restorer.pt`` (the jointly trained restorer as a plain network checkpoint,
  usable with ``--restorer``) instead of one file per network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fh_gym.restorers.checkpoint import save_network, save_training_state
from fh_gym.restorers.training.loop import TrainingRun


class AgentRun(TrainingRun):
    """A :class:`TrainingRun` whose step is one policy update of ``steps_per_update`` env steps.

    Args:
        steps_per_update: Env steps per update (B faces x T steps).
        get_state / set_state: The trainer's extra state for ``last.pt`` (plain tensors / numbers).
        write_agent: Writes ``agent.pt``; called with every checkpoint.
        **kwargs: :class:`TrainingRun` arguments.
    """

    def __init__(self, *, steps_per_update: int, get_state: Callable[[], dict[str, Any]],
                 set_state: Callable[[Mapping[str, Any]], None], write_agent: Callable[[], Path | None],
                 **kwargs: Any) -> None:
        self.steps_per_update = int(steps_per_update)
        self._get_state, self._set_state, self._write_agent = get_state, set_state, write_agent
        super().__init__(**kwargs)

    @property
    def env_steps(self) -> int:
        return self.step * self.steps_per_update

    def _resume(self) -> dict[str, Any]:
        data = super()._resume()
        self._set_state(data["extra"].get("agent", {}))
        return data

    def save_checkpoint(self) -> None:
        if not self.is_main:
            return
        extra = {"schedulers": {n: s.state_dict() for n, s in self.schedulers.items()}, "agent": self._get_state()}
        save_training_state(self.checkpoint_path, networks=self._bare(), optimizers=self.optimizers,
                            step=self.step, config=self.config, extra=extra)
        self._write_agent()

    def log_scalars(self, values: Mapping[str, float], env_steps: int) -> None:
        """Write ``values`` (full tags) at ``env_steps`` now (evaluation results)."""
        if not self.is_main:
            return
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out_dir / "tb"))
        for tag, value in values.items():
            self.writer.add_scalar(tag, float(value), env_steps)

    def _log(self, losses: Mapping[str, float]) -> None:
        self.log_scalars({k if "/" in k else f"losses/{k}": v for k, v in losses.items()}, self.env_steps)

    def save_networks(self, meta: Mapping[str, Any] | None = None) -> dict[str, Path]:
        paths: dict[str, Path] = {}
        if self.is_main and "restorer" in self.networks:
            info = {"step": self.step, "env_steps": self.env_steps, "recipe": str(self.config.get("algo", "")),
                    **(meta or {})}
            paths["restorer"] = save_network(self._bare()["restorer"], self.out_dir / "restorer.pt", meta=info)
        return paths
