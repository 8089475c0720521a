"""IPFH's joint training of the local restoration network (Sec. III-B.2): Eq. 16 every step, Eq. 17 at T.

After every repair one Adam step on the patch loss (Eq. 16, :mod:`fh_gym.agents.ipfh.losses`); at T one step
on the image loss (Eq. 17) of the final image. The final image's gradient is taken through a *replay*: the
restorer is re-run (current weights) on every step's kept inputs and its outputs are pasted in step order
onto I_T, so each pixel depends on the last repair that covered it. Gradients through earlier repairs'
effect on later inputs are cut (truncated back-propagation; the paper does not say how it differentiates
the sequence). ``faces_per_step`` subsamples the faces of both losses.
"""

from __future__ import annotations

from typing import Any

import torch

from fh_gym.agents.finetune import RestorerFineTuner, cat_contexts, slice_context, subsample_rows
from fh_gym.agents.ipfh.losses import IMAGE_TERMS, PATCH_TERMS, IPFHLosses, weighted_sum
from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.engine.rewards import StepRecord
from fh_gym.engine.windows import gather_windows, pasted_windows
from fh_gym.restorers.base import RepairContext
from fh_gym.restorers.config import ConfigError

#: the ``restorer_loss`` hyperparameters and their defaults
LOSS_DEFAULTS: dict[str, Any] = {
    "patch": {name: 1.0 for name in PATCH_TERMS},  # Eq. 16 weights
    "image": {name: 1.0 for name in IMAGE_TERMS},  # Eq. 17 weights (feature / identity need identity_net)
    "image_loss": True,
    "texture_features": {"type": "GaborTextureFeatures"},
    "lr_domain": "resize",  # or a network block mapping HR to LR ({type: IPFHDualDownsampler, ...})
    "identity_net": None,
}


class IPFHRestorerFineTuner(RestorerFineTuner):
    """Eq. 16 after every repair, Eq. 17 (through the replay) at T.

    Args:
        engine: The training engine (its restorer is trained).
        lr / grad_clip / faces_per_step: Optimiser settings (see :class:`RestorerFineTuner`).
        loss_cfg: The ``restorer_loss`` block (:data:`LOSS_DEFAULTS`).
    """

    def __init__(self, engine: RepairEngine, lr: float, grad_clip: float | None, faces_per_step: int | None,
                 loss_cfg: dict[str, Any]) -> None:
        super().__init__(engine, lr=lr, grad_clip=grad_clip, faces_per_step=faces_per_step)
        self.patch_weights = _weights(loss_cfg["patch"], PATCH_TERMS, "patch")
        self.image_weights = _weights(loss_cfg["image"], IMAGE_TERMS, "image")
        self.image_loss = bool(loss_cfg["image_loss"])
        self.losses = IPFHLosses(engine, loss_cfg["texture_features"], loss_cfg["lr_domain"], loss_cfg["identity_net"])
        self._steps: list[tuple[Any, torch.Tensor, torch.Tensor]] = []

    def start_episode(self, slots: torch.Tensor) -> None:
        self._steps = []
        self.losses.start_episode(slots)

    def after_step(self, step: StepOutput | None) -> dict[str, float] | None:
        if self.image_loss and step is not None and step.context is not None:  # every step's inputs, for the replay
            self._steps.append((step.context, step.record.starts, step.record.paste))
        return super().after_step(step)

    def update(self, ctx: RepairContext, record: StepRecord) -> dict[str, float]:
        """Eq. 16 on the repaired boxes."""
        self.restorer.train()
        terms = self.losses.patch(self.restorer(ctx), record.hr, record.lr, record.box_mask)
        loss = weighted_sum(terms, self.patch_weights)
        self.optimise(loss)
        return {"losses/restorer": float(loss.detach()),
                **{f"losses/restorer_{k}": float(v.detach()) for k, v in terms.items()}}

    def replay_final_image(self, slots: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """I_T of ``slots[rows]`` rebuilt from the kept inputs with the current restorer, differentiably.

        One restorer call for all T steps (same window size), then the pastes in step order starting from
        I_0, blending each output into the replayed image exactly as the engine did (also with feathered
        pastes), so the result equals ``engine.current`` if the weights have not changed since the episode.
        """
        engine = self.engine
        contexts = cat_contexts([slice_context(c, rows) for c, _, _ in self._steps])
        outputs = self.restorer(contexts).clamp(0, 1).split(len(rows))
        image = engine.start[slots[rows]].detach().clone()
        replay_slots = torch.arange(len(rows), device=engine.device)
        for out, (_, starts, paste) in zip(outputs, self._steps, strict=True):
            window = gather_windows(image, replay_slots, starts[rows], engine.window)
            image = pasted_windows(image, replay_slots, starts[rows], window + paste[rows] * (out - window))
        return image

    def end_episode(self, slots: torch.Tensor) -> dict[str, float]:
        """Eq. 17 on the replayed final images of (a subset of) ``slots``."""
        if not self.image_loss or not self._steps:
            return {}
        engine = self.engine
        rows = subsample_rows(len(slots), self.faces_per_step, self.generator).to(engine.device)
        self.restorer.train()
        image = self.replay_final_image(slots, rows)
        terms = self.losses.image(image, engine.hr[slots[rows]], engine.lr[slots[rows]], slots[rows])
        loss = weighted_sum(terms, self.image_weights)
        self.optimise(loss)
        self._steps = []
        return {"losses/restorer_image": float(loss.detach())}


def _weights(block: dict[str, float], names: tuple[str, ...], what: str) -> dict[str, float]:
    unknown = set(block) - set(names)
    if unknown:
        raise ConfigError(f"unknown restorer_loss.{what} term(s) {sorted(unknown)}; valid: {', '.join(names)}")
    return {k: float(block.get(k, 0.0)) for k in names}
