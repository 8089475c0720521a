"""Random patch pairs for restorer pre-training, drawn from random-policy repair episodes.

Each batch is the restorer input for a random box in the *current* state of B episodes, plus the HR
truth of the windows. Between batches every episode advances by one random repair made with the
restorer being trained, so the network learns on the states it meets inside the env (partly repaired
images, overlapping boxes), not only on the start image. Faces come from the configured split
(training people) and are degraded exactly as in the env.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor, nn

from fh_gym.engine.core import RepairEngine
from fh_gym.engine.windows import gather_windows
from fh_gym.restorers.base import RepairContext


def random_actions(engine: RepairEngine, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uniformly random actions of the engine's action type, drawn from ``rng``."""
    space = engine.action_type.space
    if hasattr(space, "n"):
        return rng.integers(int(space.n), size=count)
    if hasattr(space, "nvec"):
        return rng.integers(0, space.nvec, size=(count, len(space.nvec)))
    return rng.uniform(-1.0, 1.0, size=(count, *space.shape)).astype(np.float32)


class PatchPairSampler:
    """Batches of ``(RepairContext, HR window)`` from B random-policy episodes.

    Args:
        env_config: A full env config (``make_config(...)``); its ``data`` block picks the people.
        batch_size: B, the number of episodes (and pairs per batch).
        restorer: The restorer being trained (it also makes the random repairs between batches).
        seed: Seed of the sampler's generator (faces, degradations, boxes).
        dataset: Optional ready ``FaceDataset``.
    """

    def __init__(self, env_config: dict[str, Any], batch_size: int, restorer: nn.Module, seed: int = 0,
                 dataset: Any = None) -> None:
        self.engine = RepairEngine(env_config, batch_size, restorer=restorer, dataset=dataset)
        self.rng = np.random.default_rng(seed)
        self.slots = self.engine.all_slots()
        self.engine.reset(self.slots, self.rng)
        self._started = False

    def _advance(self) -> None:
        if int(self.engine.t.max()) >= self.engine.horizon:
            self.engine.reset(self.slots, self.rng)
            return
        self.engine.step(random_actions(self.engine, len(self.slots), self.rng), self.slots)

    def sample(self) -> tuple[RepairContext, Tensor]:
        """The next batch; call it only after the previous batch has been used (it changes the images)."""
        if self._started:
            self._advance()
        self._started = True
        boxes = self.engine.action_type.to_boxes(random_actions(self.engine, len(self.slots), self.rng))
        ctx, starts = self.engine.context(self.slots, boxes.to(self.engine.device))
        target = gather_windows(self.engine.hr, self.slots, starts, self.engine.window)
        return ctx, target
