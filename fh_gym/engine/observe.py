"""What the batched engine shows of its episodes: observations, action masks, PSNR and info, for any subset
of its slots, as NumPy copies (the Gymnasium and SB3 envs) or as tensors on its device (the TorchRL env).

A mixin of :class:`fh_gym.engine.core.RepairEngine`: it reads the engine's buffers (``obs_image``,
``obs_start``, ``coverage``, ``last_box``, ``t``, ``visited``, ``mse``, ``has_truth``, ``face_index``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from fh_gym.restorers.pixels import psnr_from_mse


class EngineObservations:
    """The engine's read-only views (see the module docstring)."""

    def observe(self, slots: Tensor | None = None) -> dict[str, np.ndarray]:
        """Batched observation (one row per face) as NumPy copies (safe to keep)."""
        # Every face: a whole-buffer copy (memcpy) is cheaper than a gather; a subset: indexing copies.
        return {k: v.cpu().numpy() for k, v in self._observation(slots, lambda b: b.to("cpu", copy=True)).items()}

    def observe_tensors(self, slots: Tensor | None = None) -> dict[str, Tensor]:
        """Batched observation as tensors on the engine's device, safe to keep: copies of the buffers that
        change in place; ``start`` of every face is the engine's own tensor, which is replaced, never
        written, when a face resets (copy-on-write)."""
        return self._observation(slots, lambda buffer: buffer if buffer is self.obs_start else buffer.clone())

    def _observation(self, slots: Tensor | None, copy_all: Callable[[Tensor], Tensor]) -> dict[str, Tensor]:
        def pick(buffer: Tensor) -> Tensor:
            return copy_all(buffer) if slots is None else buffer[slots]

        return {
            "image": pick(self.obs_image),
            "start": pick(self.obs_start),
            "coverage": pick(self.coverage).unsqueeze(-1),
            "last_action": pick(self.last_box),
            "step": (pick(self.t).to(torch.float32) / self.horizon).unsqueeze(-1),
        }

    def psnr(self, slots: Tensor | None = None) -> np.ndarray:
        """Current whole-image PSNR in dB (from the running MSE; nan without ground truth)."""
        slots = self.all_slots() if slots is None else slots
        value = psnr_from_mse(self.mse[slots]).cpu().numpy()
        return np.where(self.has_truth[slots].cpu().numpy(), value, np.nan)

    def action_masks(self, slots: Tensor | None = None) -> np.ndarray:
        """(B, mask_size) bool: for ``grid`` with ``mask_repeats`` forbids cells already repaired."""
        return self.action_mask_tensor(slots).cpu().numpy()

    def action_mask_tensor(self, slots: Tensor | None = None) -> Tensor:
        """:meth:`action_masks` as a bool tensor on the engine's device."""
        slots = self.all_slots() if slots is None else slots
        size = self.action_type.mask_size()
        if not self.visited.shape[1] or not getattr(self.action_type, "mask_repeats", False):
            return torch.ones((len(slots), size), dtype=torch.bool, device=self.device)
        allowed = ~self.visited[slots]
        stop = self.action_type.stop_action
        cells = allowed if stop is None else allowed[:, :stop]
        # Once every cell is used, allow them all again rather than leave no legal action.
        allowed[:, : cells.shape[1]] = cells | ~cells.any(dim=1, keepdim=True)
        if stop is not None:
            allowed[:, stop] = True  # stopping is always allowed
        return allowed

    def info(self, slots: Tensor | None = None) -> dict[str, np.ndarray]:
        slots = self.all_slots() if slots is None else slots
        return {"psnr": self.psnr(slots).astype(np.float32), "t": self.t[slots].cpu().numpy(),
                "repairs": self.repairs[slots].cpu().numpy(),
                "face_index": self.face_index[slots.cpu().numpy()]}

