"""A replay buffer of oracle-labelled selection states, so every costly label trains the gain predictor more than once.

The gain predictor's labels are the expensive part of its training (the oracle repairs every candidate of every
state: ~2.8 s for 32 states of a 16-cell grid on one CPU core, against ~0.1 s for the network's update), so a
run that sees each label once spends almost all its time labelling. The buffer keeps the last ``capacity``
states (I_t, I_0 and coverage in float16, ~230 KB a 128 x 128 state; the coordinate and difference channels are
rebuilt on sampling) with their gains and masks, and hands out random minibatches of them.

``mirror`` (our choice, an augmentation no paper uses): a sampled state is mirrored left-right with probability
1/2, its candidates permuted to their mirror images. This treats the restorer and the degradation as
mirror-symmetric (both are learnt or drawn on unaligned faces; a mirrored label is a close estimate, not the
oracle's exact gain), and needs every candidate box's mirror image to be a candidate too (grid cells are).

The buffer lives in memory only: a resumed run refills it from new labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from fh_gym.restorers.archs.selection_arch import selection_stack

#: channels of the selection stack the buffer stores: I_t, I_0 and coverage (selection_stack's layout)
_KEPT = [0, 1, 2, 3, 4, 5, 9]


@dataclass
class LabelledStates:
    """B labelled states in the layout of :class:`fh_gym.samplers.gain_labels.GainBatch`."""

    stack: Tensor
    gains: Tensor
    allowed: Tensor
    boxes: Tensor


def mirror_permutation(boxes: Tensor, image_size: int) -> Tensor | None:
    """(K,) index of each candidate box's left-right mirror image among ``boxes`` ``(top, left, h, w)``, or None
    where some box's mirror image is no candidate."""
    rows = boxes.to(torch.int64).tolist()
    where = {tuple(box): k for k, box in enumerate(rows)}
    mirrored = [where.get((top, image_size - left - w, h, w)) for top, left, h, w in rows]
    return None if any(m is None for m in mirrored) else torch.tensor(mirrored, dtype=torch.int64)


class LabelReplay:
    """Ring buffer of labelled states with random, optionally mirrored, minibatches.

    Args:
        capacity: States kept (the oldest go first).
        boxes: (K, 4) candidate boxes of the env, pixels.
        image_size: Side of the images.
        mirror: Mirror half of the sampled states (see the module docstring).
        seed: Seed of the sampling.

    Raises:
        ValueError: ``mirror`` with candidates whose mirror images are no candidates, or ``capacity < 1``.
    """

    def __init__(self, capacity: int, boxes: Tensor, image_size: int, mirror: bool = False, seed: int = 0) -> None:
        if int(capacity) < 1:
            raise ValueError(f"replay capacity must be at least 1 state, got {capacity}")
        self.capacity, self.boxes, self.image_size = int(capacity), boxes, int(image_size)
        self.permutation = mirror_permutation(boxes, self.image_size) if mirror else None
        if mirror and self.permutation is None:
            raise ValueError("mirror: some candidate box's mirror image is no candidate of this action type "
                             "(mirroring needs a left-right symmetric candidate set, e.g. a grid)")
        self.rng = np.random.default_rng(seed)
        self._states: Tensor | None = None
        self._gains: Tensor | None = None
        self._allowed: Tensor | None = None
        self.size = 0
        self._next = 0

    def add(self, batch: LabelledStates) -> None:
        """Store the states of ``batch`` (its ``stack`` in :func:`selection_stack`'s layout), on the CPU."""
        states = batch.stack[:, _KEPT].detach().to("cpu", torch.float16)
        if self._states is None:
            self._states = torch.empty((self.capacity, *states.shape[1:]), dtype=torch.float16)
            self._gains = torch.empty((self.capacity, batch.gains.shape[1]), dtype=torch.float32)
            self._allowed = torch.empty((self.capacity, batch.allowed.shape[1]), dtype=torch.bool)
        rows = (self._next + torch.arange(len(states))) % self.capacity
        self._states[rows] = states
        self._gains[rows] = batch.gains.detach().cpu().to(torch.float32)
        self._allowed[rows] = batch.allowed.detach().cpu()
        self._next = int(rows[-1] + 1) % self.capacity
        self.size = min(self.capacity, self.size + len(states))

    def sample(self, batch_size: int, device: torch.device | str = "cpu") -> LabelledStates:
        """``batch_size`` random stored states (with replacement), mirrored where :attr:`permutation` is set."""
        if self.size == 0 or self._states is None:
            raise ValueError("the replay buffer is empty: add labelled states first")
        rows = torch.from_numpy(self.rng.integers(self.size, size=int(batch_size)))
        states = self._states[rows].to(device, torch.float32)
        gains, allowed = self._gains[rows].to(device), self._allowed[rows].to(device)
        if self.permutation is not None:
            flip = torch.from_numpy(self.rng.random(int(batch_size)) < 0.5).to(device)
            states = torch.where(flip[:, None, None, None], states.flip(-1), states)
            # the gain of candidate k in the mirrored state is that of its mirror image in the stored one
            permutation = self.permutation.to(device)
            gains = torch.where(flip[:, None], gains[:, permutation], gains)
            allowed = torch.where(flip[:, None], allowed[:, permutation], allowed)
        stack = selection_stack(states[:, 0:3], states[:, 3:6], states[:, 6:7])
        return LabelledStates(stack=stack, gains=gains, allowed=allowed, boxes=self.boxes)
