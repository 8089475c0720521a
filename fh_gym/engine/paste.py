"""Pasting one step's repairs into the engine's state, for N faces at once (no loop over faces).

A paste writes the repaired pixels into the current image, their uint8 copy into the observation, counts
the visits and returns each face's change of the whole-image squared error (the running MSE is
incremental: only the repaired region changes). Two ways, with the same result:

* :func:`paste_windows`: the whole repair window (any action type, feathered pastes);
* :func:`paste_boxes`: only the box, when every box has the same side and a hard paste leaves the rest of
  the window unchanged (``grid`` actions): less than half the pixels of a window to move at 32 / 48.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from fh_gym.engine.windows import WindowBlocks, window_blocks
from fh_gym.restorers.pixels import quantize_hwc


@dataclass(frozen=True)
class PasteTargets:
    """The engine buffers a paste writes (``current`` (N, 3, S, S), ``obs_image`` (N, S, S, 3) uint8,
    ``coverage`` (N, S, S) uint8) or reads (``hr``); ``scale``: windows and boxes start on its grid."""

    current: Tensor
    hr: Tensor
    obs_image: Tensor
    coverage: Tensor
    scale: int


def squared_error_change(before: Tensor, after: Tensor, hr: Tensor) -> Tensor:
    """(B,) float64 ``sum((after - hr)^2) - sum((before - hr)^2)`` as ``sum((a - b)(a + b - 2h))``: one float32
    pass (exact where nothing changed), summed in float64."""
    return ((after - before) * (after + before - 2.0 * hr)).sum(dim=(1, 2, 3), dtype=torch.float64)


def _observe_region(targets: PasteTargets, slots: Tensor, corners: Tensor, side: int, pixels: Tensor,
                    visited: Tensor | None, block: int) -> None:
    """Write the uint8 ``pixels`` (B, 3, side, side) at ``corners`` and add one visit where ``visited`` (or
    everywhere when None), saturating at 255."""
    n, size = targets.coverage.shape[:2]
    # The uint8 image and the visit counts share their (N, S, S) rows: one block index serves both.
    cells = window_blocks((n, size, size, 1), slots, corners, side, block, channels_last=True)
    rgb = dataclasses.replace(cells, length=cells.length * 3, shape=(*cells.shape[:3], 3))
    rgb.scatter(targets.obs_image, quantize_hwc(pixels))
    counts = cells.gather(targets.coverage)
    more = counts < 255 if visited is None else (counts < 255) & (visited.permute(0, 2, 3, 1) > 0)
    cells.scatter(targets.coverage, counts + more.to(torch.uint8))


def paste_windows(targets: PasteTargets, slots: Tensor, starts: Tensor, blocks: WindowBlocks, before: Tensor,
                  after: Tensor, box: Tensor) -> tuple[Tensor, Tensor]:
    """Paste whole windows ``after`` (B, 3, w, w) at ``starts`` (their ``blocks`` in the images); ``box`` is
    the box mask (visits). Returns the squared-error change and the HR windows."""
    blocks.scatter(targets.current, after)
    _observe_region(targets, slots, starts, after.shape[-1], after, box, targets.scale)
    hr = blocks.gather(targets.hr)
    return squared_error_change(before, after, hr), hr


def paste_boxes(targets: PasteTargets, slots: Tensor, corners: Tensor, starts: Tensor, before: Tensor,
                after: Tensor, side: int, block: int) -> Tensor:
    """Paste only the ``side`` x ``side`` boxes whose top-left corners are ``corners`` (B, 2), cut from the
    windows ``before`` / ``after`` that start at ``starts`` (a hard paste: inside the box ``after`` may be
    the restored window itself). ``starts`` are multiples of the scale; ``block`` divides the corners, the
    side and the image (longer runs than the scale: fewer indices). Returns the squared-error change."""
    local = torch.arange(len(slots), device=slots.device)
    inside = window_blocks(tuple(after.shape), local, corners - starts, side, targets.scale)
    before_box, after_box = inside.gather(before), inside.gather(after)
    boxes = window_blocks(tuple(targets.current.shape), slots, corners, side, block)
    boxes.scatter(targets.current, after_box)
    _observe_region(targets, slots, corners, side, after_box, None, block)
    return squared_error_change(before_box, after_box, boxes.gather(targets.hr))
