"""What-if repairs: the engine's lookaheads, which restore candidate repairs without stepping any episode.

Mixed into :class:`~fh_gym.engine.core.RepairEngine`: :meth:`EngineLookahead.candidate_gains` (true PSNR gains,
the greedy oracle's lookahead), :meth:`EngineLookahead.candidate_changes` (the restorer's squared change, no
truth: ``self_lookahead``) and :meth:`EngineLookahead.fork` (copies of some episodes to step, for lookaheads of
more than one repair). They use the engine's own window context, restorer and paste mask, so a candidate is
scored by exactly the repair a step would make.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from fh_gym.engine.fork import fork_engine
from fh_gym.engine.paste import squared_error_change
from fh_gym.engine.windows import WindowBlocks
from fh_gym.restorers.base import RepairContext
from fh_gym.restorers.pixels import psnr_gain

#: the engine class this mixin is part of: a fork has the type of the engine it was made from
EngineT = TypeVar("EngineT", bound="EngineLookahead")


class EngineLookahead:
    """The engine's lookaheads (see the module docstring)."""

    def candidate_gains(self, slots: Tensor, candidates: np.ndarray, chunk: int = 512,
                        reference: Tensor | None = None) -> np.ndarray:
        """(B, K) PSNR gain in dB each of K candidate actions would give each face, without stepping.

        Uses the ground truth (the greedy oracle's lookahead), or ``reference``: (N, 3, S, S) images standing in
        for the truth of every slot (a proxy truth; gains are then measured against it and no truth is read).
        Windows are restored ``chunk`` at a time.
        """
        if reference is None and not bool(self.has_truth[slots].all()):
            raise ValueError("candidate gains need the ground truth (not available in inference)")
        total = self.image_size**2 * 3
        truth = self.hr if reference is None else reference.to(self.current)
        mse = self.mse if reference is None else (self.current.double() - truth.double()).square().mean(dim=(1, 2, 3))

        def gain(ctx: RepairContext, after: Tensor, blocks: WindowBlocks, faces: Tensor) -> Tensor:
            change = squared_error_change(ctx.current, after, blocks.gather(truth))
            return psnr_gain(mse[faces], mse[faces] + change / total)

        return self._lookahead(slots, candidates, chunk, gain)

    def candidate_changes(self, slots: Tensor, candidates: np.ndarray, chunk: int = 512,
                          fresh_only: bool = False) -> np.ndarray:
        """(B, K) mean squared change (over the image, [0, 1] scale) each candidate repair would make, no truth.

        For a restorer trained with L2, an estimate of E[HR | input], the expected MSE reduction of a repair given
        the current image *is* its squared change (E|x - y|^2 - E|R - y|^2 = |x - R|^2 when R = E[y | x]): the
        truth-free estimate of :meth:`candidate_gains` in MSE units (the ``self_lookahead`` strategy).
        ``fresh_only`` counts the change on pixels no repair has touched yet (coverage 0) only: where the input
        is already a repair the restorer is furthest from that estimate, and its change there overstates its gain.
        """
        total = self.image_size**2 * 3
        # (N, 3, S, S) like the images, so the windows' blocks gather it
        fresh = (self.coverage == 0).unsqueeze(1).expand_as(self.current).to(self.current.dtype).contiguous() \
            if fresh_only else None

        def change(ctx: RepairContext, after: Tensor, blocks: WindowBlocks, faces: Tensor) -> Tensor:
            squared = (after - ctx.current).square()
            if fresh is not None:
                squared = squared * blocks.gather(fresh)
            return squared.sum(dim=(1, 2, 3), dtype=torch.float64) / total

        return self._lookahead(slots, candidates, chunk, change)

    def _lookahead(self, slots: Tensor, candidates: np.ndarray, chunk: int, measure: Callable) -> np.ndarray:
        """(B, K) ``measure(ctx, repaired windows, blocks, faces)`` of every candidate repair, without stepping."""
        candidates = self.action_type.validate(candidates)
        k, b = len(candidates), len(slots)
        boxes_all = self.action_type.to_boxes(candidates).to(self.device)
        values = torch.empty(b, k, dtype=torch.float64)
        per_call = max(1, chunk // b)
        for lo in range(0, k, per_call):
            hi = min(k, lo + per_call)
            rep_faces = slots.repeat_interleave(hi - lo)
            boxes = boxes_all[lo:hi].repeat(b, 1)
            ctx, starts, blocks = self._context(rep_faces, boxes)
            after = ctx.current + self.paste_mask(boxes, starts, ctx.mask) * (self.restore(ctx) - ctx.current)
            values[:, lo:hi] = measure(ctx, after, blocks, rep_faces).view(b, hi - lo).cpu()
        return values.numpy()

    def fork(self: EngineT, slots: Tensor) -> EngineT:
        """A copy of the episodes of ``slots`` (repeats allowed) to step without changing this engine: a
        lookahead of more than one repair (:mod:`fh_gym.engine.fork`; its reward is plain ``psnr_gain``).

        Returns:
            An engine of this engine's class (:class:`~fh_gym.engine.core.RepairEngine`) holding the copies.
        """
        return fork_engine(self, slots)
