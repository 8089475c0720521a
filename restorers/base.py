"""Interfaces shared by every network: what a patch restorer sees and returns, and the generator contract.

Layout convention (BasicSR): tensors are NCHW float32 in [0, 1]. Nothing here knows about RL: a patch
restorer receives a :class:`RepairContext` (a window of the current image around the box to repair, plus
the context the papers' restorers ask for) and returns the restored window.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class RepairContext:
    """One batch of repairs. ``B`` windows of side ``w`` (a multiple of ``scale``) in images of side ``H``.

    Attributes:
        current: (B, 3, w, w) the window of the current image I_t that contains the box.
        start: (B, 3, w, w) the same window of the start image I_0 (front-end output).
        lr: (B, 3, w/scale, w/scale) the LR pixels under the window (windows are aligned to the LR grid).
        mask: (B, 1, w, w) 1 inside the box to repair, 0 in the surrounding context.
        coords: (B, 2, w, w) normalised (y, x) position of each window pixel in the full image, in [-1, 1].
        image: (B, 3, H, W) the full current image I_t (global context).
        start_image: (B, 3, H, W) the full start image I_0.
        scale: the super-resolution factor (HR side / LR side).
        global_state: optional (B, D) state vector from an agent (Attention-FH feeds its policy state);
            restorers that use one compute their own when it is ``None``.
    """

    current: Tensor
    start: Tensor
    lr: Tensor
    mask: Tensor
    coords: Tensor
    image: Tensor
    start_image: Tensor
    scale: int
    global_state: Tensor | None = None

    def lr_stack(self) -> Tensor:
        """Inputs resized to the LR grid *without interpolation* (space-to-depth, Attention-FH Sec. 3.3).

        Channels: masked window, current window, start window (3*s*s each, pixel-unshuffled), mask
        (s*s), LR window (3) and LR-grid coordinates (2).
        """
        s = self.scale
        coords = F.avg_pool2d(self.coords, s)
        # pixel_unshuffle of the concatenation == concatenation of the per-tensor unshuffles.
        return torch.cat([F.pixel_unshuffle(self.window_stack(), s), self.lr, coords], dim=1)

    @staticmethod
    def lr_stack_channels(scale: int) -> int:
        return 10 * scale * scale + 5

    def window_stack(self) -> Tensor:
        """The window-resolution part of :meth:`lr_stack` before space-to-depth: masked window, current
        window, start window, mask (10 channels).

        A ``scale x scale`` stride-``scale`` convolution of this stack equals a 1x1 convolution of those
        channels of :meth:`lr_stack`, without materialising the ``10 s^2`` channels (~8x faster at batch 64).
        """
        return torch.cat([self.current * self.mask, self.current, self.start, self.mask], dim=1)

    WINDOW_STACK_CHANNELS = 10

    def hr_stack(self) -> Tensor:
        """Inputs at window resolution: masked, current, start, bicubic-upsampled LR, mask, coords (15 ch)."""
        up = F.interpolate(self.lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return torch.cat([self.current * self.mask, self.current, self.start, up, self.mask, self.coords], dim=1)

    HR_STACK_CHANNELS = 15


class PatchRestorer(nn.Module):
    """Base class of patch restorers: ``forward(ctx) = ctx.current + residual(ctx)``.

    Every restorer predicts a residual added to the current window. Attention-FH (Sec. 3.3) adds the
    enhanced patch to the accumulated result this way; it also makes repeated repairs of the same patch
    refine rather than restart, and with the last layer zero-initialised an untrained restorer is the
    identity (a repair changes nothing) instead of noise. The engine pastes only ``ctx.mask`` back.
    """

    kind = "patch"
    #: the paper (and table) the architecture comes from, and the parameter count it reports (None: not given)
    paper: str = ""
    paper_parameters: int | None = None

    def __init__(self, scale: int = 8) -> None:
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of two >= 2, got {scale}")
        self.scale = int(scale)

    def residual(self, ctx: RepairContext) -> Tensor:
        raise NotImplementedError

    def forward(self, ctx: RepairContext) -> Tensor:
        if ctx.scale != self.scale:
            raise ValueError(f"{type(self).__name__} was built for x{self.scale}, the repair asks for x{ctx.scale}")
        return ctx.current + self.residual(ctx)


class Generator(nn.Module):
    """Base class of full-image generators: ``forward(lr) -> hr`` with ``hr`` ``scale`` times larger.

    Generators with side outputs (C-SRIP) also implement ``forward_all(lr) -> dict[str, Tensor]``.
    """

    kind = "generator"
    paper: str = ""
    paper_parameters: int | None = None

    def __init__(self, scale: int = 8) -> None:
        super().__init__()
        self.scale = int(scale)

    def check_input(self, lr: Tensor) -> None:
        if lr.ndim != 4 or lr.shape[1] != 3:
            raise ValueError(f"{type(self).__name__} expects LR images (N, 3, h, w), got {tuple(lr.shape)}")


def zero_init_(module: nn.Module) -> nn.Module:
    """Zero the weights and bias of ``module`` (the last layer of a residual branch)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
