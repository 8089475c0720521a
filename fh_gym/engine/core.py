"""The batched repair engine: N faces stepped at once in torch, on any device.

``FaceRepairEnv`` is its N=1 view, ``FaceRepairVectorEnv`` and the SB3 adapter its N>1 views. Per step it
crops one window per face around the chosen box, restores the windows in one restorer call, pastes the
boxes back and updates coverage, the uint8 observation buffers and the whole-image MSE *incrementally*
(only the windows change), so a step costs O(N * window) and never loops over faces in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from fh_gym.data.base import FaceDataset
from fh_gym.data.build import build_dataset
from fh_gym.degradations import Degradation
from fh_gym.engine.actions.base import build_action_type
from fh_gym.engine.config import check_env_config
from fh_gym.engine.inputs import face_indices, images_to_tensor
from fh_gym.engine.networks import NETWORK_INIT_SEED, NetworkBuilder, build_scaled, warn_if_untrained, weights_context
from fh_gym.engine.rewards.base import StepRecord, build_reward
from fh_gym.engine.view import EpisodeView
from fh_gym.engine.windows import (
    box_mask,
    gather_windows,
    scatter_windows,
    window_coords,
    window_index,
    window_side,
    window_starts,
)
from fh_gym.restorers.base import RepairContext
from fh_gym.restorers.config import ConfigError, Int
from fh_gym.restorers.pixels import psnr_from_mse, psnr_gain, quantize_hwc

# build_scaled and NETWORK_INIT_SEED moved to fh_gym.engine.networks; kept importable from here for callers.
__all__ = ["NETWORK_INIT_SEED", "RepairEngine", "StepOutput", "build_scaled", "observation_space", "resolve_device"]


@dataclass
class StepOutput:
    """Result of :meth:`RepairEngine.step` for the faces stepped (B = len(faces)).

    Attributes:
        reward / terms / terminated / boxes: per face (NumPy), what the envs return.
        record: What the repair did (windows before and after, the paste mask, the HR truth, the MSEs).
        context: The restorer inputs of this step, with the full images as they were *before* the paste,
            when the step was asked for them (``keep_batch=True``: joint restorer training); else None.
    """

    reward: np.ndarray
    terms: dict[str, np.ndarray]
    terminated: np.ndarray
    boxes: np.ndarray
    record: StepRecord
    context: RepairContext | None = None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device '{name}' (use cpu, cuda, cuda:N or auto)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' requested but CUDA is not available")
    return device


def observation_space(image_size: int) -> spaces.Dict:
    """One face's observation space (see ``FaceRepairEnv``'s docstring)."""
    s = int(image_size)
    return spaces.Dict({
        "image": spaces.Box(0, 255, (s, s, 3), np.uint8),
        "start": spaces.Box(0, 255, (s, s, 3), np.uint8),
        "coverage": spaces.Box(0, 255, (s, s, 1), np.uint8),
        "last_action": spaces.Box(0.0, 1.0, (4,), np.float32),
        "step": spaces.Box(0.0, 1.0, (1,), np.float32),
    })


class RepairEngine:
    """State and dynamics of N face-repair episodes.

    Args:
        config: A full env config (``FaceRepairEnv.default_config()`` merged with overrides).
        num_envs: Number of faces N.
        restorer: A ready patch restorer (shared between envs); built from ``config["restorer"]`` if None.
        dataset: A :class:`fh_gym.data.FaceDataset`; built from ``config["data"]`` if None.
    """

    def __init__(self, config: Mapping[str, Any], num_envs: int, *, restorer: nn.Module | None = None,
                 dataset: Any = None) -> None:
        # Every value checked by the env schema (the same checks as make_config, for configs built elsewhere).
        self.config = check_env_config(config)
        cfg = self.config
        self.num_envs = Int(min=1).validate(num_envs, "num_envs")
        self.device = resolve_device(cfg["device"])
        self.image_size = cfg["image_size"]
        self.horizon = cfg["horizon"]
        self.inference = cfg["mode"] == "inference"
        self.degradation = Degradation.from_config(cfg["degradation"])
        self.scale = self.degradation.scale
        self.lr_size = self.image_size // self.scale
        self.action_type = build_action_type(cfg["action"], self.image_size)
        self.margin = cfg["repair"]["margin"]
        self.feather = cfg["repair"]["feather"]
        self.window = window_side(self.action_type.max_box_side, self.margin, self.scale, self.image_size,
                                  self.action_type.aligned_to)
        self._dataset = dataset
        self._dataset_given = dataset is not None
        #: builds network blocks with this engine's scale and device (front-end, restorer, reward networks)
        self.networks = NetworkBuilder(self.scale, self.device, weights_context(cfg))
        self.frontend = self.networks(cfg["frontend"], kind="generator").eval()
        self.restorer = restorer if restorer is not None else self.networks(cfg["restorer"], "patch")
        if restorer is None:  # a ready restorer handed in is the caller's business
            warn_if_untrained(self.restorer, "restorer", cfg["restorer"])
        warn_if_untrained(self.frontend, "frontend", cfg["frontend"])
        self.restorer.to(self.device).eval()
        if getattr(self.restorer, "scale", self.scale) != self.scale:
            raise ConfigError(f"restorer is built for x{self.restorer.scale}, the degradation is x{self.scale}")
        self.reward_fn = build_reward(cfg["reward"])
        self._allocate()
        #: the read-only episode state rewards (and restorer losses) read
        self.view = EpisodeView(self)
        self.reward_fn.setup(self.networks, self.view)

    # ----------------------------------------------------------------- construction
    @property
    def dataset(self) -> FaceDataset:
        """The faces episodes draw from (built from ``config["data"]`` on first use)."""
        if self._dataset is None:
            self._dataset = build_dataset(self.config["data"])
            if self._dataset.image_size != self.image_size:
                raise ConfigError(f"dataset faces are {self._dataset.image_size}px but image_size is "
                                  f"{self.image_size}")
        return self._dataset

    def _allocate(self) -> None:
        n, s, lr, dev = self.num_envs, self.image_size, self.lr_size, self.device
        self.hr = torch.zeros(n, 3, s, s, device=dev)
        self.lr = torch.zeros(n, 3, lr, lr, device=dev)
        self.start = torch.zeros(n, 3, s, s, device=dev)
        self.current = torch.zeros(n, 3, s, s, device=dev)
        self.occlusion = torch.zeros(n, 1, lr, lr, device=dev)
        self.coverage = torch.zeros(n, s, s, dtype=torch.uint8, device=dev)
        self.obs_image = torch.zeros(n, s, s, 3, dtype=torch.uint8, device=dev)
        self.obs_start = torch.zeros(n, s, s, 3, dtype=torch.uint8, device=dev)
        self.t = torch.zeros(n, dtype=torch.long, device=dev)
        self.mse = torch.zeros(n, dtype=torch.float64, device=dev)
        self.start_mse = torch.zeros(n, dtype=torch.float64, device=dev)
        self.history = torch.zeros(n, self.horizon, 4, dtype=torch.long, device=dev)
        self.last_box = torch.zeros(n, 4, device=dev)
        self.has_truth = torch.zeros(n, dtype=torch.bool, device=dev)
        self.face_index = np.full(n, -1, dtype=np.int64)
        #: the person each slot shows (the dataset's identity name; None when unknown)
        self.identity_name = np.full(n, None, dtype=object)
        mask_len = self.action_type.mask_size() if isinstance(self.action_type.space, spaces.Discrete) else 0
        self.visited = torch.zeros(n, mask_len, dtype=torch.bool, device=dev)

    # ----------------------------------------------------------------- spaces
    @property
    def single_observation_space(self) -> spaces.Dict:
        return observation_space(self.image_size)

    @property
    def single_action_space(self) -> spaces.Space:
        return self.action_type.space

    # ----------------------------------------------------------------- episodes
    def all_slots(self) -> Tensor:
        return torch.arange(self.num_envs, device=self.device)

    def reset(self, slots: Tensor, rng: np.random.Generator, options: Mapping[str, Any] | None = None) -> None:
        """Start new episodes for ``slots`` (indices into the N slots), drawing from ``rng`` only.

        Options: ``index`` (dataset index or list, one per face) picks faces deterministically; ``hr``
        (uint8 HxWx3 or NxHxWx3) supplies your own HR faces; ``lr`` (uint8 hxwx3 or Nxhxwx3, h = image_size
        / scale) supplies LR inputs without ground truth (inference: no reward is computed).
        """
        options = dict(options or {})
        unknown = set(options) - {"index", "hr", "lr"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; valid: index, hr, lr")
        hr, lr, occlusion, truth = self._draw(slots, rng, options)
        with torch.no_grad():
            start = self.frontend(lr).clamp(0, 1)
        self.hr[slots], self.lr[slots], self.start[slots], self.current[slots] = hr, lr, start, start
        self.occlusion[slots] = 0.0 if occlusion is None else occlusion.to(self.device, torch.float32)
        self.has_truth[slots] = truth
        q = quantize_hwc(start)
        self.obs_image[slots], self.obs_start[slots] = q, q
        self.coverage[slots] = 0
        self.t[slots] = 0
        self.history[slots] = 0
        self.last_box[slots] = 0.0
        self.visited[slots] = False
        mse = ((start.double() - hr.double()) ** 2).mean(dim=(1, 2, 3))
        self.mse[slots], self.start_mse[slots] = mse, mse
        if truth:
            self.reward_fn.reset(self.view, slots)

    def _draw(self, slots: Tensor, rng: np.random.Generator,
              options: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor | None, bool]:
        """HR truth, LR input, occlusion mask and whether the truth is known for the faces of a reset, from
        the dataset or the reset options; records each slot's face index and person."""
        k, rows = len(slots), slots.cpu().numpy()
        if "lr" in options:
            self.face_index[rows], self.identity_name[rows] = -1, None
            lr = images_to_tensor(options["lr"], self.lr_size, "lr", k).to(self.device)
            return torch.zeros(k, 3, self.image_size, self.image_size, device=self.device), lr, None, False
        if self.inference:
            raise ValueError("an inference-mode env has no ground truth: reset(options={'lr': image})")
        if "hr" in options:
            hr = images_to_tensor(options["hr"], self.image_size, "hr", k).to(self.device)
            index, people = np.full(k, -1), [None] * k
        else:
            index = face_indices(options["index"], k) if "index" in options else\
                rng.integers(len(self.dataset), size=k)
            if np.any((index < 0) | (index >= len(self.dataset))):
                raise ValueError(f"face index {index.tolist()} outside the dataset (0..{len(self.dataset) - 1})")
            batch = self.dataset.batch(index, self.device)
            hr, people = batch.hr, batch.identity_names
        self.face_index[rows], self.identity_name[rows] = index, people
        degraded = self.degradation(hr, rng)
        return hr, degraded.lr.to(self.device), degraded.occlusion_mask, True

    def context(self, slots: Tensor, boxes: Tensor) -> tuple[RepairContext, Tensor]:
        """The restorer input for repairing ``boxes`` (B, 4) of ``slots`` (B,), and the window corners."""
        w, s = self.window, self.scale
        starts = window_starts(boxes, w, self.margin, s, self.image_size)
        everyone = len(slots) == self.num_envs and bool((slots == self.all_slots()).all())
        return RepairContext(
            current=gather_windows(self.current, slots, starts, w),
            start=gather_windows(self.start, slots, starts, w),
            lr=gather_windows(self.lr, slots, torch.div(starts, s, rounding_mode="floor"), w // s),
            mask=box_mask(boxes, starts, w),
            coords=window_coords(starts, w, self.image_size),
            image=self.current if everyone else self.current[slots],
            start_image=self.start if everyone else self.start[slots],
            scale=s,
        ), starts

    def restore(self, ctx: RepairContext) -> Tensor:
        """Run the restorer (no gradient) and clamp to [0, 1]."""
        with torch.no_grad():
            return self.restorer(ctx).clamp(0, 1)

    def step(self, actions: np.ndarray, slots: Tensor | None = None, *, keep_batch: bool = False) -> StepOutput:
        """Repair one box per face. ``actions`` has one row per face in ``slots`` (default: all).

        ``keep_batch``: also return the restorer inputs (``StepOutput.context``) for joint restorer training.
        """
        slots = self.all_slots() if slots is None else slots
        actions = self.action_type.validate(actions)
        if len(actions) != len(slots):
            raise ValueError(f"got {len(actions)} actions for {len(slots)} faces")
        if bool((self.t[slots] >= self.horizon).any()):
            raise RuntimeError("the episode has ended (t == horizon): call reset() before step()")
        boxes = self.action_type.to_boxes(actions).to(self.device)
        ctx, starts = self.context(slots, boxes)
        if keep_batch and ctx.image.data_ptr() == self.current.data_ptr():
            # The paste below writes into self.current (and an SB3 same-step reset into self.start); a
            # training replay must see this step's images.
            ctx.image, ctx.start_image = ctx.image.clone(), ctx.start_image.clone()
        restored = self.restore(ctx)
        before = ctx.current
        paste = self.paste_mask(boxes, starts, ctx.mask)
        after = before + paste * (restored - before)
        scatter_windows(self.current, slots, starts, after)
        self._update_observation(slots, starts, after, ctx.mask)

        truth = self.has_truth[slots]
        hr = gather_windows(self.hr, slots, starts, self.window)
        mse_before = self.mse[slots]
        change = ((after.double() - hr) ** 2).sum(dim=(1, 2, 3)) - ((before.double() - hr) ** 2).sum(dim=(1, 2, 3))
        mse_after = (mse_before + change / (3 * self.image_size**2)).clamp(min=0.0)
        self.mse[slots] = mse_after

        t = self.t[slots]
        self.history[slots, t] = boxes
        self.last_box[slots] = self.action_type.normalised(boxes).to(self.device)
        if self.visited.shape[1]:
            self.visited[slots, torch.as_tensor(actions, device=self.device)] = True
        self.t[slots] = t + 1
        done = self.t[slots] >= self.horizon
        record = StepRecord(slots=slots, boxes=boxes, starts=starts, box_mask=ctx.mask, paste=paste, before=before,
                            after=after, lr=ctx.lr, hr=hr, mse_before=mse_before, mse_after=mse_after,
                            done=done, truth=truth)

        terms: dict[str, np.ndarray] = {}
        reward = np.zeros(len(slots), dtype=np.float32)
        if bool(truth.any()):
            for name, value in self.reward_fn.terms(self.view, record).items():
                value = torch.where(truth, value, torch.zeros_like(value))
                terms[name] = value.detach().cpu().numpy().astype(np.float32)
                reward += terms[name]
        return StepOutput(reward=reward, terms=terms, terminated=done.cpu().numpy(),
                          boxes=boxes.cpu().numpy(), record=record, context=ctx if keep_batch else None)

    def paste_mask(self, boxes: Tensor, starts: Tensor, box: Tensor | None = None) -> Tensor:
        """(B, 1, w, w): how much of a restored window replaces the current one (the box mask ``box`` of
        :meth:`context`, feathered when ``repair.feather`` is set)."""
        if self.feather <= 0:
            return box if box is not None else box_mask(boxes, starts, self.window)
        return box_mask(boxes, starts, self.window, self.feather)

    def candidate_gains(self, slots: Tensor, candidates: np.ndarray, chunk: int = 512) -> np.ndarray:
        """(B, K) PSNR gain in dB each of K candidate actions would give each face, without stepping.

        Uses the ground truth (the greedy oracle's lookahead). Windows are restored ``chunk`` at a time.
        """
        if not bool(self.has_truth[slots].all()):
            raise ValueError("candidate gains need the ground truth (not available in inference)")
        candidates = self.action_type.validate(candidates)
        k, b = len(candidates), len(slots)
        boxes_all = self.action_type.to_boxes(candidates).to(self.device)
        total = self.image_size**2 * 3
        gains = torch.empty(b, k, dtype=torch.float64)
        per_call = max(1, chunk // b)
        for lo in range(0, k, per_call):
            hi = min(k, lo + per_call)
            rep_faces = slots.repeat_interleave(hi - lo)
            boxes = boxes_all[lo:hi].repeat(b, 1)
            ctx, starts = self.context(rep_faces, boxes)
            restored = self.restore(ctx)
            after = ctx.current + self.paste_mask(boxes, starts, ctx.mask) * (restored - ctx.current)
            hr = gather_windows(self.hr, rep_faces, starts, self.window).double()
            change = ((after.double() - hr) ** 2).sum(dim=(1, 2, 3)) - ((ctx.current.double() - hr) ** 2).sum(
                dim=(1, 2, 3))
            mse = self.mse[rep_faces]
            gain = psnr_gain(mse, mse + change / total)
            gains[:, lo:hi] = gain.view(b, hi - lo).cpu()
        return gains.numpy()

    def _update_observation(self, slots: Tensor, starts: Tensor, after: Tensor, mask: Tensor) -> None:
        w = self.window
        pixels = window_index(self.obs_image, slots, starts, w, channels_last=True)
        self.obs_image.put_(pixels, quantize_hwc(after))
        cells = window_index(self.coverage.unsqueeze(-1), slots, starts, w, channels_last=True)
        visits = torch.take(self.coverage, cells).to(torch.int16) + (mask.permute(0, 2, 3, 1) > 0).to(torch.int16)
        self.coverage.put_(cells, visits.clamp(max=255).to(torch.uint8))

    # ----------------------------------------------------------------- views
    def observe(self, slots: Tensor | None = None) -> dict[str, np.ndarray]:
        """Batched observation (one row per face) as NumPy copies (safe to keep)."""
        def pick(buffer: Tensor) -> Tensor:
            # Every face: a whole-buffer copy (memcpy) is cheaper than a gather; a subset: indexing copies.
            return buffer.to("cpu", copy=True) if slots is None else buffer[slots]

        return {
            "image": pick(self.obs_image).cpu().numpy(),
            "start": pick(self.obs_start).cpu().numpy(),
            "coverage": pick(self.coverage).unsqueeze(-1).cpu().numpy(),
            "last_action": pick(self.last_box).cpu().numpy(),
            "step": (pick(self.t).to(torch.float32) / self.horizon).unsqueeze(-1).cpu().numpy(),
        }

    def psnr(self, slots: Tensor | None = None) -> np.ndarray:
        """Current whole-image PSNR in dB (from the running MSE; nan without ground truth)."""
        slots = self.all_slots() if slots is None else slots
        value = psnr_from_mse(self.mse[slots]).cpu().numpy()
        return np.where(self.has_truth[slots].cpu().numpy(), value, np.nan)

    def action_masks(self, slots: Tensor | None = None) -> np.ndarray:
        """(B, mask_size) bool: for ``grid`` with ``mask_repeats`` forbids cells already repaired."""
        slots = self.all_slots() if slots is None else slots
        size = self.action_type.mask_size()
        if not self.visited.shape[1] or not getattr(self.action_type, "mask_repeats", False):
            return np.ones((len(slots), size), dtype=bool)
        allowed = ~self.visited[slots]
        # Once every cell is used, allow them all again rather than leave no legal action.
        allowed[~allowed.any(dim=1)] = True
        return allowed.cpu().numpy()

    def info(self, slots: Tensor | None = None) -> dict[str, np.ndarray]:
        slots = self.all_slots() if slots is None else slots
        return {"psnr": self.psnr(slots).astype(np.float32), "t": self.t[slots].cpu().numpy(),
                "face_index": self.face_index[slots.cpu().numpy()]}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if not self._dataset_given:
            # A dataset built from config is rebuilt (from the in-process or disk cache) after unpickling.
            state["_dataset"] = None
        return state
