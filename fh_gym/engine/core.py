"""The batched repair engine: N faces stepped at once in torch, on any device.

``FaceRepairEnv`` is its N=1 view, ``FaceRepairVectorEnv`` and the SB3 adapter its N>1 views. Per step it
crops one window per face around the chosen box, restores the windows in one restorer call, pastes the
boxes back and updates coverage, the uint8 observation buffers and the whole-image MSE *incrementally*
(only the windows change), so a step costs O(N * window) and never loops over faces in Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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
from fh_gym.engine.device import resolve_device
from fh_gym.engine.geometry import DiscreteGeometry
from fh_gym.engine.inputs import face_indices, images_to_tensor
from fh_gym.engine.interface import StepOutput, StepTensors, observation_space
from fh_gym.engine.lookahead import EngineLookahead
from fh_gym.engine.networks import (
    NETWORK_INIT_SEED,
    NetworkBuilder,
    build_scaled,
    warn_if_frontend_differs,
    warn_if_untrained,
    weights_context,
)
from fh_gym.engine.observe import EngineObservations
from fh_gym.engine.paste import PasteTargets, paste_boxes, paste_windows
from fh_gym.engine.rewards.base import StepRecord, build_reward
from fh_gym.engine.stopping import step_with_stops
from fh_gym.engine.view import EpisodeView
from fh_gym.engine.windows import (
    WindowBlocks,
    box_mask,
    gather_windows,
    window_blocks,
    window_coords,
    window_side,
    window_starts,
)
from fh_gym.restorers.base import RepairContext
from fh_gym.restorers.config import ConfigError, Int
from fh_gym.restorers.pixels import quantize_hwc

# build_scaled and NETWORK_INIT_SEED moved to fh_gym.engine.networks, the step results, spaces and device to
# fh_gym.engine.interface; kept importable from here for callers.
__all__ = ["NETWORK_INIT_SEED", "RepairEngine", "StepOutput", "StepTensors", "build_scaled", "observation_space",
           "resolve_device"]


class RepairEngine(EngineObservations, EngineLookahead):
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
        self.step_cost = float(cfg["repair"]["step_cost"])
        self.window = window_side(self.action_type.max_box_side, self.margin, self.scale, self.image_size,
                                  self.action_type.aligned_to)
        side, aligned_to = self.action_type.box_side, self.action_type.aligned_to
        # Equal boxes on the LR grid and a hard paste: a step moves only the box's pixels (paste_boxes), in
        # runs of the longest block that divides the box corners, their side and the image.
        block = math.gcd(aligned_to, side or 1, self.image_size)
        aligned = side is not None and side % self.scale == 0 and aligned_to % self.scale == 0
        self._box_side = (side, block) if aligned and self.feather <= 0 else None
        self._geometry = DiscreteGeometry.build(self.action_type, self.window, self.margin, self.scale,
                                                self.image_size, self.device)
        self._dataset = dataset
        self._dataset_given = dataset is not None
        #: builds network blocks with this engine's scale and device (front-end, restorer, reward networks)
        self.networks = NetworkBuilder(self.scale, self.device, weights_context(cfg))
        self.frontend = self.networks(cfg["frontend"], kind="generator").eval()
        self.restorer = restorer if restorer is not None else self.networks(cfg["restorer"], "patch")
        if restorer is None:  # a ready restorer handed in is the caller's business
            warn_if_untrained(self.restorer, "restorer", cfg["restorer"])
        warn_if_untrained(self.frontend, "frontend", cfg["frontend"])
        warn_if_frontend_differs(self.restorer, self.frontend)
        self.restorer.to(self.device).eval()
        if getattr(self.restorer, "scale", self.scale) != self.scale:
            raise ConfigError(f"restorer is built for x{self.restorer.scale}, the degradation is x{self.scale}")
        self.reward_fn = build_reward(cfg["reward"])
        #: the reward's term names, in order (``info["reward_<term>"]`` keys from reset on)
        self.term_names = tuple(self.reward_fn.term_names()) + (("step_cost",) if self.charges_calls else ())
        self._allocate()
        #: the read-only episode state rewards (and restorer losses) read
        self.view = EpisodeView(self)
        self.reward_fn.setup(self.networks, self.view)

    # ----------------------------------------------------------------- construction
    @property
    def charges_calls(self) -> bool:
        """Whether the reward has a ``step_cost`` term (a cost per call, or a stop action to weigh it against)."""
        return self.step_cost > 0 or self.action_type.stop_action is not None

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
        #: restorer calls of the episode so far (t, less nothing: a stop ends the episode without one)
        self.repairs = torch.zeros(n, dtype=torch.long, device=dev)
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
        self.obs_image[slots] = q
        # Copy-on-write: observe_tensors hands out obs_start itself, so it is never written in place.
        self.obs_start = self.obs_start.clone()
        self.obs_start[slots] = q
        self.coverage[slots] = 0
        self.t[slots] = 0
        self.repairs[slots] = 0
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
        ctx, starts, _ = self._context(slots, boxes)
        return ctx, starts

    def _context(self, slots: Tensor, boxes: Tensor, geometry: tuple[Tensor, Tensor, Tensor] | None = None
                 ) -> tuple[RepairContext, Tensor, WindowBlocks]:
        """:meth:`context` and the windows' :class:`WindowBlocks` in the (N, 3, S, S) images (a step reuses
        them to crop the HR windows and paste the repair). ``geometry``: the boxes' window corners, masks
        and coordinates when known already (:class:`~fh_gym.engine.geometry.DiscreteGeometry`)."""
        w, s = self.window, self.scale
        if geometry is None:
            starts = window_starts(boxes, w, self.margin, s, self.image_size)
            geometry = (starts, box_mask(boxes, starts, w), window_coords(starts, w, self.image_size))
        starts, mask, coords = geometry
        # Windows start on the LR grid: runs of `scale` pixels are contiguous in every image row.
        blocks = window_blocks(tuple(self.current.shape), slots, starts, w, s)
        everyone = len(slots) == self.num_envs and bool((slots == self.all_slots()).all())
        return RepairContext(
            current=blocks.gather(self.current),
            start=blocks.gather(self.start),
            lr=gather_windows(self.lr, slots, torch.div(starts, s, rounding_mode="floor"), w // s),
            mask=mask,
            coords=coords,
            image=self.current if everyone else self.current[slots],
            start_image=self.start if everyone else self.start[slots],
            scale=s,
        ), starts, blocks

    def restore(self, ctx: RepairContext) -> Tensor:
        """Run the restorer (no gradient) and clamp to [0, 1]."""
        with torch.no_grad():
            return self.restorer(ctx).clamp(0, 1)

    def step(self, actions: np.ndarray, slots: Tensor | None = None, *, keep_batch: bool = False) -> StepOutput:
        """Repair one box per face. ``actions`` has one row per face in ``slots`` (default: all).

        ``keep_batch``: also return the restorer inputs (``StepOutput.context``) for joint restorer training.
        """
        actions = self.action_type.validate(actions)
        return self.step_tensors(torch.as_tensor(actions), slots, keep_batch=keep_batch, check=False).to_numpy()

    def step_tensors(self, actions: Tensor, slots: Tensor | None = None, *, keep_batch: bool = False,
                     check: bool = True) -> StepTensors:
        """:meth:`step` on the engine's device: tensor actions in, tensors out (no NumPy, no host copy).

        ``check`` validates the actions against the action space (one device sync; :meth:`step` has
        validated them already). Longer than most methods: one repair, its paste, the running MSE, the
        episode bookkeeping and the reward, in the order they depend on each other.
        """
        slots = self.all_slots() if slots is None else slots
        actions = torch.as_tensor(actions, device=self.device)
        if len(actions) != len(slots):
            raise ValueError(f"got {len(actions)} actions for {len(slots)} faces")
        if check:
            actions = self.action_type.check_tensor(actions)
        if bool((self.t[slots] >= self.horizon).any()):
            raise RuntimeError("the episode has ended (t == horizon or a stop action): call reset() before step()")
        if self.action_type.stop_action is not None:
            stopping = actions == self.action_type.stop_action
            if bool(stopping.any()):
                return step_with_stops(self, actions, slots, stopping, keep_batch)
        if self._geometry is not None:
            boxes, *geometry = self._geometry.lookup(actions)
            ctx, starts, blocks = self._context(slots, boxes, tuple(geometry))
        else:
            boxes = self.action_type.to_boxes(actions).to(self.device)
            ctx, starts, blocks = self._context(slots, boxes)
        if keep_batch and ctx.image.data_ptr() == self.current.data_ptr():
            # The paste below writes into self.current (and an SB3 same-step reset into self.start); a
            # training replay must see this step's images.
            ctx.image, ctx.start_image = ctx.image.clone(), ctx.start_image.clone()
        restored = self.restore(ctx)
        before = ctx.current
        paste = self.paste_mask(boxes, starts, ctx.mask)
        targets = PasteTargets(self.current, self.hr, self.obs_image, self.coverage, self.scale)
        # The pasted and HR windows only for whom reads them (rewards that ask, joint restorer training).
        windows = keep_batch or self.reward_fn.uses_windows or self._box_side is None
        after = before + paste * (restored - before) if windows else None
        hr = None
        if self._box_side is None:
            change, hr = paste_windows(targets, slots, starts, blocks, before, after, ctx.mask)
        else:  # a hard paste: inside the box the pasted window is the restored one
            change = paste_boxes(targets, slots, boxes[:, :2], starts, before, restored, *self._box_side)
            hr = blocks.gather(self.hr) if windows else None

        truth = self.has_truth[slots]
        mse_before = self.mse[slots]
        mse_after = (mse_before + change / (3 * self.image_size**2)).clamp(min=0.0)
        self.mse[slots] = mse_after

        t = self.t[slots]
        self.history[slots, t] = boxes
        self.last_box[slots] = self.action_type.normalised(boxes).to(self.device)
        if self.visited.shape[1]:
            self.visited[slots, actions.long()] = True
        self.t[slots] = t + 1
        self.repairs[slots] += 1
        done = self.t[slots] >= self.horizon
        record = StepRecord(slots=slots, boxes=boxes, starts=starts, box_mask=ctx.mask, paste=paste, before=before,
                            after=after, lr=ctx.lr, hr=hr, mse_before=mse_before, mse_after=mse_after,
                            done=done, truth=truth)
        terms, reward = self._reward(record, truth)
        return StepTensors(reward=reward, terms=terms, terminated=done, boxes=boxes, record=record,
                           context=ctx if keep_batch else None)

    def _reward(self, record: StepRecord, truth: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """The reward terms of a step (zero for faces without ground truth; none if no face has one) and
        their sum."""
        terms: dict[str, Tensor] = {}
        reward = torch.zeros(len(truth), dtype=torch.float32, device=self.device)
        if not bool(truth.any()):
            return terms, reward
        values = self.reward_fn.terms(self.view, record)
        if self.charges_calls:
            values = {**values, "step_cost": torch.full_like(reward, -self.step_cost)}
        if set(values) != set(self.term_names):
            raise RuntimeError(f"reward {self.reward_fn.name!r} returned terms {sorted(values)} but its "
                               f"term_names() are {sorted(self.term_names)}")
        for name, value in values.items():
            terms[name] = torch.where(truth, value, torch.zeros_like(value)).detach().to(torch.float32)
            reward = reward + terms[name]
        return terms, reward

    def paste_mask(self, boxes: Tensor, starts: Tensor, box: Tensor | None = None) -> Tensor:
        """(B, 1, w, w): how much of a restored window replaces the current one (the box mask ``box`` of
        :meth:`context`, feathered when ``repair.feather`` is set)."""
        if self.feather <= 0:
            return box if box is not None else box_mask(boxes, starts, self.window)
        return box_mask(boxes, starts, self.window, self.feather)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if not self._dataset_given:
            # A dataset built from config is rebuilt (from the in-process or disk cache) after unpickling.
            state["_dataset"] = None
        return state
