"""Batched window geometry: crop, mask and paste square repair windows for N faces at once.

A *window* is the square region handed to the restorer: the box to repair plus ``margin`` pixels of
context, aligned to the LR grid (its top-left is a multiple of the scale factor) so the matching LR
pixels are an exact sub-grid. All functions index with tensors: no Python loop over faces.

Two ways to address the windows: flat element indices (:func:`window_index`, ``torch.take`` / ``put_``;
any start) and runs of ``block`` contiguous elements (:class:`WindowBlocks`, ``index_select`` /
``index_copy_``), which the engine uses for LR-grid-aligned windows: one index per ``block`` elements
instead of one per element makes a crop or paste 2-3x faster on a CPU.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor


def window_side(max_box: int, margin: int, scale: int, image_size: int, aligned_to: int = 1) -> int:
    """Smallest window (multiple of ``scale``) that holds any box of side ``<= max_box`` plus its margin.

    When boxes may start anywhere, aligning the window to the LR grid can cost up to ``scale - 1``
    extra pixels; boxes whose corners are multiples of ``scale`` (``aligned_to``) need no slack.
    """
    slack = 0 if (aligned_to % scale == 0 and margin % scale == 0) else scale - 1
    side = int(math.ceil((max_box + 2 * margin + slack) / scale) * scale)
    return min(side, image_size)


def window_starts(boxes: Tensor, window: int, margin: int, scale: int, image_size: int) -> Tensor:
    """(N, 2) top-left corners of the windows holding ``boxes`` (N, 4) ``(top, left, h, w)``.

    The window is centred on the box, kept within ``[far, near]`` (the starts that still hold the box
    and its margin), snapped to the LR grid inside that range (:func:`window_side` leaves enough slack
    for a grid point to exist) and finally pulled inside the image.
    """
    centre = boxes[:, :2] + boxes[:, 2:] // 2
    near = boxes[:, :2] - margin
    far = boxes[:, :2] + boxes[:, 2:] + margin - window
    start = torch.maximum(torch.minimum(centre - window // 2, near), far)
    snapped = torch.div(start, scale, rounding_mode="floor") * scale
    snapped = torch.where(snapped < far, snapped + scale, snapped)
    return snapped.clamp(0, image_size - window)


@functools.lru_cache(maxsize=64)
def _window_offsets(shape: tuple[int, ...], window: int, channels_last: bool, device: torch.device) -> Tensor:
    """Flat offsets of a window's elements from its top-left element, in the output layout."""
    if channels_last:
        _, _, width, channels = shape
        rows = torch.arange(window, device=device)[:, None, None] * (width * channels)
        cols = torch.arange(window, device=device)[None, :, None] * channels
        return rows + cols + torch.arange(channels, device=device)[None, None, :]  # (w, w, C)
    _, channels, height, width = shape
    planes = torch.arange(channels, device=device)[:, None, None] * (height * width)
    rows = torch.arange(window, device=device)[None, :, None] * width
    return planes + rows + torch.arange(window, device=device)[None, None, :]  # (C, w, w)


def window_index(images: Tensor, slots: Tensor, starts: Tensor, window: int, channels_last: bool = False) -> Tensor:
    """Flat indices into contiguous ``images`` of each face's window: (B, C, w, w), or (B, w, w, C) when
    ``channels_last`` (``images`` is N x H x W x C). ``torch.take``/``put_`` with them crop and paste all
    windows in one call, without a loop over faces or a copy of whole images."""
    shape = tuple(images.shape)
    per_face = math.prod(shape[1:])
    width, step = (shape[2], shape[3]) if channels_last else (shape[3], 1)
    base = slots * per_face + (starts[:, 0] * width + starts[:, 1]) * step
    return base.view(-1, 1, 1, 1) + _window_offsets(shape, window, channels_last, images.device)


@dataclass(frozen=True)
class WindowBlocks:
    """B windows of contiguous images as runs of ``length`` contiguous elements (one index per run).

    Built by :func:`window_blocks`; one instance serves every buffer of the same shape (the engine crops
    the current, start and HR images and pastes the current one with the same index).

    Attributes:
        index: (runs,) flat run indices into ``images.view(-1, length)``, in the windows' element order.
        length: Elements per run (``block`` pixels, times the channels when channels-last).
        shape: Shape of the cropped windows: (B, C, w, w), or (B, w, w, C) when channels-last.
    """

    index: Tensor
    length: int
    shape: tuple[int, ...]

    def gather(self, images: Tensor) -> Tensor:
        """The windows of ``images`` (a new tensor)."""
        return images.view(-1, self.length).index_select(0, self.index).view(self.shape)

    def scatter(self, images: Tensor, windows: Tensor) -> None:
        """Write ``windows`` into ``images`` in place (one window per face: the writes never overlap)."""
        images.view(-1, self.length).index_copy_(0, self.index, windows.reshape(-1, self.length).to(images.dtype))


def window_blocks(shape: tuple[int, ...], slots: Tensor, starts: Tensor, window: int, block: int,
                  channels_last: bool = False) -> WindowBlocks:
    """:class:`WindowBlocks` of (N, C, H, W) images (or (N, H, W, C) when ``channels_last``).

    ``block`` must divide the image width, the window side and every start column (LR-grid-aligned windows:
    ``block = scale``); the caller guarantees it (checking would cost a device sync per step).
    """
    offsets = torch.arange(window, device=starts.device)
    runs = torch.arange(window // block, device=starts.device) + torch.div(starts[:, 1], block,
                                                                              rounding_mode="floor")[:, None]
    if channels_last:
        _, height, width, channels = shape
        rows = slots[:, None] * height + starts[:, 0, None] + offsets  # (B, w) image rows
        index = rows[:, :, None] * (width // block) + runs[:, None, :]
        return WindowBlocks(index.reshape(-1), block * channels, (len(slots), window, window, channels))
    _, channels, height, width = shape
    planes = slots[:, None] * channels + torch.arange(channels, device=starts.device)  # (B, C)
    rows = planes[:, :, None] * height + starts[:, 0, None, None] + offsets  # (B, C, w)
    index = rows[..., None] * (width // block) + runs[:, None, None, :]
    return WindowBlocks(index.reshape(-1), block, (len(slots), channels, window, window))


def gather_windows(images: Tensor, slots: Tensor, starts: Tensor, window: int, block: int = 1) -> Tensor:
    """Crop (B, C, w, w) windows at ``starts`` from ``images[faces]`` (N, C, H, W, contiguous); ``block`` > 1:
    through :class:`WindowBlocks` (``block`` divides the width, the window and every start column)."""
    if block > 1:
        return window_blocks(tuple(images.shape), slots, starts, window, block).gather(images)
    return torch.take(images, window_index(images, slots, starts, window))


def pasted_windows(images: Tensor, slots: Tensor, starts: Tensor, windows: Tensor) -> Tensor:
    """Out-of-place :func:`scatter_windows`: a new tensor, so autograd can differentiate through a
    sequence of pastes (replaying an episode for the restorer's image loss)."""
    return images.put(window_index(images, slots, starts, windows.shape[-1]), windows.to(images.dtype))


def scatter_windows(images: Tensor, slots: Tensor, starts: Tensor, windows: Tensor) -> None:
    """Write (B, C, w, w) ``windows`` into ``images[faces]`` at ``starts`` in place (one window per face,
    so the writes never overlap)."""
    images.put_(window_index(images, slots, starts, windows.shape[-1]), windows.to(images.dtype))


def box_mask(boxes: Tensor, starts: Tensor, window: int, feather: int = 0) -> Tensor:
    """(N, 1, w, w) float mask of each box inside its window; with ``feather`` a linear ramp at the edge.

    The feathered mask rises from ``1/(feather+1)`` on the box's outer pixels to 1 at ``feather`` pixels
    inside, so blended pastes leave no seam; ``feather=0`` is the papers' hard replacement.
    """
    offsets = torch.arange(window, device=boxes.device)
    y = starts[:, 0, None] + offsets  # (N, w) absolute rows
    x = starts[:, 1, None] + offsets
    top, left, h, w = boxes.unbind(1)
    dy = torch.minimum(y - top[:, None], top[:, None] + h[:, None] - 1 - y)  # >= 0 inside the box
    dx = torch.minimum(x - left[:, None], left[:, None] + w[:, None] - 1 - x)
    dist = torch.minimum(dy[:, :, None], dx[:, None, :])  # (N, w, w)
    if feather <= 0:
        mask = (dist >= 0).to(torch.float32)
    else:
        mask = ((dist + 1).clamp(min=0).to(torch.float32) / (feather + 1)).clamp(max=1.0)
    return mask[:, None]


def full_box_mask(boxes: Tensor, image_size: int) -> Tensor:
    """(N, H, W) bool mask of each box in the full image (coverage, rendering, tests)."""
    idx = torch.arange(image_size, device=boxes.device)
    top, left, h, w = boxes.unbind(1)
    in_rows = (idx[None] >= top[:, None]) & (idx[None] < (top + h)[:, None])
    in_cols = (idx[None] >= left[:, None]) & (idx[None] < (left + w)[:, None])
    return in_rows[:, :, None] & in_cols[:, None, :]


def window_coords(starts: Tensor, window: int, image_size: int) -> Tensor:
    """(N, 2, w, w) normalised (y, x) pixel-centre coordinates in [-1, 1] (``align_corners=False``)."""
    offsets = torch.arange(window, device=starts.device, dtype=torch.float32) + 0.5
    y = (starts[:, 0, None].to(torch.float32) + offsets) * (2.0 / image_size) - 1.0  # (N, w)
    x = (starts[:, 1, None].to(torch.float32) + offsets) * (2.0 / image_size) - 1.0
    n = starts.shape[0]
    return torch.stack([y[:, :, None].expand(n, window, window), x[:, None, :].expand(n, window, window)], dim=1)
