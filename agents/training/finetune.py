"""Joint restorer fine-tuning during RL (Attention-FH Algorithm 1, line 18), for any agent.

Every env step asked with ``keep_batch=True`` returns the restorer's inputs (``StepOutput.context``, images as
they were before the paste) and the HR truth of the windows (``StepOutput.record.hr``); one supervised
:func:`~fh_gym.restorers.training.patch_pretrain.restorer_step` on them updates the restorer *in place*. The
engine's restorer object is the one the env repairs with, so the next steps use the new weights.

Example (plain loop, no SB3):
    >>> tuner = RestorerFineTuner(engine, lr=1e-4)  # doctest: +SKIP
    >>> stats = tuner.after_step(engine.step(actions, keep_batch=True))  # doctest: +SKIP
    >>> tuner.save_restorer("runs/my_run/restorer.pt")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from fh_gym.config import ConfigError
from fh_gym.engine.core import StepOutput

FORMAT = "fh-gym/restorer-finetune-v1"
DEFAULTS: dict[str, Any] = {"lr": 1e-4, "every": 1, "grad_clip": 1.0}


def finetune_settings(value: Any) -> dict[str, Any] | None:
    """The ``finetune_restorer`` hyperparameter as settings: None/False -> off, True -> defaults, dict -> merged."""
    if value is None or value is False:
        return None
    if value is True:
        return dict(DEFAULTS)
    if not isinstance(value, dict):
        raise ConfigError(f"finetune_restorer must be true, false or a mapping, got {value!r}")
    unknown = set(value) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown finetune_restorer key(s) {sorted(unknown)}; valid: {', '.join(DEFAULTS)}")
    settings = {**DEFAULTS, **value}
    if int(settings["every"]) < 1:
        raise ConfigError(f"finetune_restorer.every must be >= 1, got {settings['every']}")
    return settings


class RestorerFineTuner:
    """Supervised updates of an engine's restorer on the patches the agent repairs.

    Args:
        engine: The training :class:`~fh_gym.engine.core.RepairEngine` (its restorer is updated in place).
        lr: Adam learning rate.
        every: Update after every ``every``-th env step.
        grad_clip: Max gradient norm (None: no clipping).
    """

    def __init__(self, engine: Any, lr: float = 1e-4, every: int = 1, grad_clip: float | None = 1.0) -> None:
        if not any(p.requires_grad for p in engine.restorer.parameters()):
            raise ConfigError(f"restorer {type(engine.restorer).__name__} has no trainable parameters to fine-tune")
        self.engine = engine
        self.every = int(every)
        self.grad_clip = grad_clip
        self.optimizer = torch.optim.Adam(engine.restorer.parameters(), lr=float(lr))
        self.calls = 0
        self.updates = 0

    def after_step(self, step: StepOutput | None) -> dict[str, float] | None:
        """Call once after each ``engine.step(..., keep_batch=True)`` with its output; returns the update's
        losses or None when it skipped (not an update step, no inputs kept, faces without ground truth)."""
        from fh_gym.restorers.training.patch_pretrain import restorer_step

        self.calls += 1
        if self.calls % self.every or step is None or step.context is None:
            return None
        ctx, record = step.context, step.record
        if not bool(record.truth.all()):
            return None  # inference faces have no target
        stats = restorer_step(self.engine.restorer, self.optimizer, ctx, record.hr.float(), grad_clip=self.grad_clip)
        self.engine.restorer.eval()  # the env repairs in eval mode (BatchNorm / dropout restorers)
        self.updates += 1
        return stats

    def state_dict(self) -> dict[str, Any]:
        """Restorer weights + architecture, optimiser state and counters (``weights_only``-safe)."""
        from fh_gym.restorers.checkpoint import network_payload

        return {"format": FORMAT, "network": network_payload(self.engine.restorer, {"finetune_updates": self.updates}),
                "optimizer": self.optimizer.state_dict(), "calls": self.calls, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume: restorer weights, optimiser state and counters from :meth:`state_dict`."""
        if state.get("format") != FORMAT:
            raise ConfigError(f"not a restorer fine-tuning state (format {state.get('format')!r})")
        self.engine.restorer.load_state_dict(state["network"]["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.calls, self.updates = int(state["calls"]), int(state["updates"])

    def save_restorer(self, path: str | os.PathLike) -> Path:
        """The fine-tuned restorer as a network checkpoint (usable as ``--restorer``)."""
        from fh_gym.restorers.checkpoint import save_network

        return save_network(self.engine.restorer, path, {"finetune_updates": self.updates})
