"""``FaceRepairEnv``: the single-face Gymnasium view of the batched repair engine (``docs/environment.md``)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from torch import nn

from fh_gym.engine.core import RepairEngine
from fh_gym.envs.config import default_config, make_config
from fh_gym.envs.slots import face_info, render_faces
from fh_gym.render import frame_shape
from fh_gym.variants import variants_doc

__all__ = ["FaceRepairEnv", "render_faces"]


class FaceRepairEnv(gym.Env):
    """Repair a degraded face one patch at a time.

    ## Description
    A high-resolution face ``y`` (128x128 by default) is degraded to ``x`` (16x16 at x8) and brought back
    to full size by a front-end (bicubic, or a trained generator) giving the start image ``I_0``. At each
    of ``T`` steps the agent chooses a box; a patch restorer network repairs the image inside it (with
    the context it asks for: the window of ``I_t`` and ``I_0``, the LR pixels, the box mask, the whole
    image) and the result is pasted back. Attention-FH (Shi et al., TPAMI 2020) and IPFH are both this
    MDP with different actions, rewards and restorers. ``docs/environment.md`` describes it in full.

    ## Observation
    ``Dict``: ``image`` (128, 128, 3) uint8 current image ``I_t``; ``start`` (128, 128, 3) uint8 ``I_0``;
    ``coverage`` (128, 128, 1) uint8 number of times each pixel was inside a box; ``last_action`` (4,)
    float32 last box ``(top, left, height, width) / 128``; ``step`` (1,) float32 ``t / T``. The ground truth
    is never in the observation.

    ## Action
    ``action.type`` (``fh_gym.engine.ACTIONS``): ``grid`` (``Discrete``: a 32x32 patch on a stride-16 grid,
    IPFH), ``box`` (``MultiDiscrete((x, y, ratio, scale))``, Attention-FH size-free boxes) or ``continuous``
    (``Box(-1, 1, (4,))``). Boxes are clipped to the image. ``action_masks()`` serves MaskablePPO.
    Actions outside the space (or NaN) raise ``ValueError``.

    ## Reward
    ``reward.type`` (``fh_gym.engine.REWARDS``): ``psnr_gain`` (dense PSNR improvement, default),
    ``attention_fh`` (delayed gain over a reference + coverage) or ``ipfh`` (dual-domain MSE + texture per
    step, whole-image terms at T). Every term is also in ``info["reward_<term>"]`` and the reward is their sum.
    No reward in inference mode.

    ## Episode end
    Terminates after ``horizon`` repairs (T). There is no truncation.

    ## Arguments
    ``config``: dict overriding :func:`default_config` (deep merge; unknown keys raise ``ConfigError``
    listing the valid ones). ``render_mode``: ``"rgb_array"`` or None. ``variant``: name of a registered
    YAML variant (set by ``gymnasium.make``). ``restorer``/``dataset``: ready objects to share between envs.
    ``reset(options=...)``: ``index`` (dataset face), ``hr`` (your HR face) or ``lr`` (your LR face,
    no ground truth).

    ## Registered configurations
    One per YAML file in ``envs_configs/envs/`` (``fh_gym.ENV_IDS``; this list is generated from them):

    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, config: dict | None = None, render_mode: str | None = None, *,
                 variant: str | None = None, restorer: nn.Module | None = None, dataset: Any = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.config = make_config(config, variant)
        self.variant = variant
        self.render_mode = render_mode
        self.engine = RepairEngine(self.config, 1, restorer=restorer, dataset=dataset)
        self.observation_space = self.engine.single_observation_space
        self.action_space = self.engine.single_action_space
        self._slots = self.engine.all_slots()
        self._needs_reset = True  # gymnasium.make's OrderEnforcing checks this too; the unwrapped env must as well

    default_config = staticmethod(default_config)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.engine.reset(self._slots, self.np_random, options)
        self._needs_reset = False
        # The same info keys after reset and step (TorchRL's info readers need them): no box repaired yet.
        return self._observation(), {**face_info(self.engine, self._slots), "box": np.zeros(4, dtype=np.int64)}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        if self._needs_reset:
            raise RuntimeError("step() before reset(): call env.reset() first (there is no face to repair yet)")
        out = self.engine.step(action, self._slots)
        info = {**face_info(self.engine, self._slots, out.terms), "box": out.boxes[0]}
        return self._observation(), float(out.reward[0]), bool(out.terminated[0]), False, info

    def action_masks(self) -> np.ndarray:
        """Legal actions for MaskablePPO (for ``grid`` with ``mask_repeats``: cells not yet repaired)."""
        return self.engine.action_masks(self._slots)[0]

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self.render_frame()

    def render_frame(self) -> np.ndarray:
        """The ``rgb_array`` frame whatever the render mode (see :func:`fh_gym.render.render_frame`)."""
        return render_faces(self.engine, self._slots)[0]

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return frame_shape(self.engine.image_size, self.config["render"]["scale"], not self.engine.inference)

    def _observation(self) -> dict[str, np.ndarray]:
        return {key: value[0] for key, value in self.engine.observe(self._slots).items()}


if FaceRepairEnv.__doc__ is not None:  # None under python -OO
    FaceRepairEnv.__doc__ = FaceRepairEnv.__doc__.rstrip() + "\n\n" + variants_doc() + "\n"
