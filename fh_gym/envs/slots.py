"""One face of a batched env seen as a single env: what the per-env calls of the vector APIs reach.

Gymnasium's ``VectorEnv.call / get_attr / set_attr`` and SB3's ``VecEnv.env_method / get_attr / set_attr``
address sub-envs one by one. The batched envs have one engine and no sub-envs, so each face gets a
:class:`FaceSlot`: attributes set on it stay on it (``set_attr(..., indices=[2])`` changes face 2 only),
attributes it lacks are the batched env's, shared by every face (``engine``, ``config``, ``spec``,
``render_mode``...), and it has the single env's per-face methods (``action_masks``, ``render``, ``reset``,
the ``*_wrapper_attr`` helpers). :func:`face_info` is the single env's ``info`` for one face.

Reward terms are flat info keys ``reward_<term>`` (Gymnasium's MuJoCo convention: ``reward_ctrl``), not a
nested dict: vector envs batch them into plain arrays and TorchRL's info readers take them as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from torch import Tensor

from fh_gym.engine.core import RepairEngine
from fh_gym.render import render_frame
from fh_gym.restorers.pixels import quantize_hwc

#: info key prefix of each reward term (``info["reward_psnr_gain"]``)
REWARD_PREFIX = "reward_"
#: the per-face methods a FaceSlot has (env_method / call)
FACE_METHODS = ("action_masks", "render", "reset", "get_wrapper_attr", "set_wrapper_attr", "has_wrapper_attr")


def face_info(engine: RepairEngine, slot: Tensor, terms: dict[str, np.ndarray] | None = None,
              row: int = 0) -> dict[str, Any]:
    """The single env's ``info`` of one face (``slot``: a one-element slot tensor; ``terms``: the step's
    reward terms, row ``row``), with the same keys and NumPy scalar types after ``reset`` and ``step``:
    ``psnr`` float32, ``t``, ``repairs`` (restorer calls so far) and ``face_index`` int64, ``reward_<term>``
    for every term (float32, 0 after a reset and without ground truth)."""
    stats = engine.info(slot)
    info: dict[str, Any] = {"psnr": stats["psnr"][0], "t": stats["t"][0], "repairs": stats["repairs"][0],
                            "face_index": stats["face_index"][0]}
    for name in engine.term_names:
        info[REWARD_PREFIX + name] = np.float32(terms[name][row]) if terms else np.float32(0.0)
    return info


def reward_terms(info: dict[str, Any]) -> dict[str, Any]:
    """The reward terms of an ``info`` dict (single-env, SB3 or batched), by term name."""
    return {key[len(REWARD_PREFIX):]: value for key, value in info.items() if key.startswith(REWARD_PREFIX)}


def render_faces(engine: RepairEngine, slots: Tensor) -> list[np.ndarray]:
    """One ``rgb_array`` frame per engine slot in ``slots``."""
    render_cfg = engine.config["render"]
    frames = []
    for face in slots.tolist():
        t = int(engine.t[face])
        truth = bool(engine.has_truth[face])
        lr = quantize_hwc(engine.lr[face:face + 1])[0].cpu().numpy()
        hr = quantize_hwc(engine.hr[face:face + 1])[0].cpu().numpy() if truth else None
        psnr = float(engine.psnr(engine.all_slots()[face:face + 1])[0]) if truth else None
        frames.append(render_frame(lr, engine.obs_image[face].cpu().numpy(), hr,
                                   engine.history[face, :t].cpu().numpy(), t, engine.horizon, psnr,
                                   render_cfg["scale"], render_cfg["history"]))
    return frames


class FaceSlot:
    """Face ``index`` of the batched env ``owner`` (which holds ``engine`` and a ``face_rng()``)."""

    def __init__(self, owner: Any, index: int) -> None:
        self._owner = owner
        self._index = index

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the face has not set itself: they are the batched env's, shared by all faces.
        if name.startswith("__") or name in ("_owner", "_index"):
            raise AttributeError(name)
        return getattr(self._owner, name)

    def __repr__(self) -> str:
        return f"FaceSlot({type(self._owner).__name__}, {self._index})"

    @property
    def _slot(self) -> Tensor:
        return self._owner.engine.all_slots()[self._index:self._index + 1]

    @property
    def unwrapped(self) -> FaceSlot:
        return self

    @property
    def observation_space(self) -> spaces.Space:
        return self._owner.engine.single_observation_space

    @property
    def action_space(self) -> spaces.Space:
        return self._owner.engine.single_action_space

    def get_wrapper_attr(self, name: str) -> Any:
        return getattr(self, name)

    def has_wrapper_attr(self, name: str) -> bool:
        return hasattr(self, name)

    def set_wrapper_attr(self, name: str, value: Any, *, force: bool = True) -> None:
        setattr(self, name, value)

    def action_masks(self) -> np.ndarray:
        return self._owner.engine.action_masks(self._slot)[0]

    def render(self) -> np.ndarray:
        return render_faces(self._owner.engine, self._slot)[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start a new episode on this face only (``seed``: its own generator for this reset)."""
        rng = np.random.default_rng(seed) if seed is not None else self._owner.face_rng()
        engine = self._owner.engine
        engine.reset(self._slot, rng, options)
        obs = {k: v[0] for k, v in engine.observe(self._slot).items()}
        return obs, face_info(engine, self._slot)
