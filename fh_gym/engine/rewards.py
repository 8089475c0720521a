"""Reward types. Each returns *named terms* (one tensor per term, shape (B,)); the reward is their sum.

The terms go to ``info["rewards"]`` so every component can be logged. All computation is batched over
the faces stepped together.

* ``psnr_gain`` — dense ``PSNR(I_t) - PSNR(I_{t-1})``; telescopes to the episode's PSNR gain.
* ``attention_fh`` — Attention-FH Eq. 6: 0 before T; at T ``mse_scale * (MSE(B, y) - MSE(I_T, y))``
  plus ``coverage_weight * covered_fraction``, with B a reference result (SRGAN in the paper).
* ``ipfh`` — IPFH Eqs. 9-15: short-term dual-domain (HR + LR) MSE + Gram texture on the repaired patch
  for t < T, long-term ``-(L_f + L_id + L_v)`` on the whole image at T; ``form: absolute`` (the paper)
  or ``delta`` (loss before the repair minus loss after it, which does not reward easy patches).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from fh_gym.config import ConfigError, check_kwargs, merge_config, split_type
from fh_gym.engine.texture import GramTexture

if TYPE_CHECKING:
    from fh_gym.engine.core import RepairEngine


@dataclass
class StepRecord:
    """What one batched repair step did; rewards read it, joint restorer training reuses it.

    Windows are (B, C, w, w) in [0, 1]; ``lr`` is (B, 3, w/s, w/s); MSEs are whole-image, float64.
    ``truth`` is (B,) bool, False for faces without ground truth (inference: ``hr`` is zero there).
    ``box_mask`` is 1 inside the box; ``paste`` is the blend weight the engine pasted with (the box mask,
    feathered when ``repair.feather`` is set): ``after = before + paste * (restored - before)``.
    """

    faces: Tensor
    boxes: Tensor
    starts: Tensor
    box_mask: Tensor
    paste: Tensor
    before: Tensor
    after: Tensor
    lr: Tensor
    hr: Tensor | None
    mse_before: Tensor
    mse_after: Tensor
    done: Tensor
    truth: Tensor


class Reward:
    """Base class: ``terms(engine, record) -> {name: (B,) tensor}``; ``reset`` runs at episode start."""

    name = ""

    def setup(self, engine: RepairEngine) -> None:
        """Build networks and move them to the engine's device (called once)."""

    def reset(self, engine: RepairEngine, faces: Tensor) -> None:
        """Per-episode preparation for ``faces`` (the truth is known here)."""

    def terms(self, engine: RepairEngine, rec: StepRecord) -> dict[str, Tensor]:
        raise NotImplementedError


class PSNRGain(Reward):
    """Dense ``PSNR(I_t, y) - PSNR(I_{t-1}, y)`` in dB (images in [0, 1]). The default for PPO."""

    name = "psnr_gain"

    def terms(self, engine: RepairEngine, rec: StepRecord) -> dict[str, Tensor]:
        gain = 10.0 * torch.log10(rec.mse_before.clamp(min=1e-12) / rec.mse_after.clamp(min=1e-12))
        return {"psnr_gain": gain.to(torch.float32)}


class AttentionFHReward(Reward):
    """Attention-FH delayed reward (Eq. 6), higher is better.

    Args:
        mse_scale: Multiplies ``MSE(B, y) - MSE(I_T, y)`` (MSE of [0, 1] images, about 5e-3 at x8, so a
            1 dB gain is about 1e-3; 1000 makes it about 1).
        coverage_weight: Weight of the fraction of the image covered by at least one box (E_V).
        reference: The reference B: ``"start"`` (I_0), or a generator block such as ``{type: Bicubic}``
            or ``{type: SRGANGenerator, checkpoint: ...}`` applied to the LR input.
    """

    name = "attention_fh"

    def __init__(self, mse_scale: float = 1000.0, coverage_weight: float = 0.1,
                 reference: str | Mapping[str, Any] = "start") -> None:
        self.mse_scale = float(mse_scale)
        self.coverage_weight = float(coverage_weight)
        self.reference = reference
        self._generator = None

    def setup(self, engine: RepairEngine) -> None:
        if self.reference == "start":
            return
        if not isinstance(self.reference, Mapping):
            raise ConfigError(f"reward.reference must be 'start' or a generator block, got {self.reference!r}")
        self._generator = engine.build_scaled_network(self.reference, kind="generator").eval()
        self._reference_mse = torch.zeros(engine.num_envs, dtype=torch.float64, device=engine.device)

    def reset(self, engine: RepairEngine, faces: Tensor) -> None:
        if self._generator is None:
            return
        with torch.no_grad():
            ref = self._generator(engine.lr[faces]).clamp(0, 1)
        diff = (ref.double() - engine.hr[faces].double()) ** 2
        self._reference_mse[faces] = diff.mean(dim=(1, 2, 3))

    def terms(self, engine: RepairEngine, rec: StepRecord) -> dict[str, Tensor]:
        zero = torch.zeros_like(rec.mse_after, dtype=torch.float32)
        if not bool(rec.done.any()):
            return {"mse_gain": zero, "coverage": zero}
        ref = engine.start_mse[rec.faces] if self._generator is None else self._reference_mse[rec.faces]
        gain = self.mse_scale * (ref - rec.mse_after).to(torch.float32)
        covered = (engine.coverage[rec.faces] > 0).to(torch.float32).mean(dim=(1, 2))
        done = rec.done.to(torch.float32)
        return {"mse_gain": gain * done, "coverage": self.coverage_weight * covered * done}


class IPFHReward(Reward):
    """IPFH reward (Eqs. 9-15) with dual-domain MSE and Gram texture, absolute or delta form.

    Short-term (t < T), on the repaired box: HR-domain MSE and Gram texture between the restored patch
    and the HR truth, and the same in the LR domain between the restored patch brought down to the LR
    grid (``lr_domain``) and the LR input. Long-term (t = T), on the whole image: ``L_v`` = MSE + texture;
    ``L_f`` (identity-feature distance) and ``L_id`` (identity loss) when ``identity_net`` is set.
    Every term is multiplied by ``scale * weights[term]`` and negated (a loss becomes a reward).

    Args:
        form: ``"absolute"`` (the paper: ``r = -loss(after)``) or ``"delta"`` (``loss(before) -
            loss(after)`` per step; at T ``L(I_0) - L(I_T)``).
        scale: Global multiplier (MSEs of [0, 1] images are ~1e-3).
        weights: Per-term weights: ``mse``, ``texture``, ``lr_mse``, ``lr_texture`` (short-term),
            ``visual_mse``, ``visual_texture``, ``feature``, ``identity`` (long-term).
        lr_domain: ``"resize"`` (antialiased bicubic; IPFH Table X "down-sampling") or a network block
            such as ``{type: IPFHDualDownsampler, checkpoint: ...}`` (the paper's conv downsampler).
        texture_features: Network block giving the feature maps phi for the Gram matrices. The default
            is a fixed Gabor filter bank; the trained identity network is the paper's choice:
            ``{type: CNNR, checkpoint: path, layer: res1}`` (see :mod:`fh_gym.engine.identity`).
        identity_net: Identity network block for ``L_f``/``L_id`` (``None``: long-term is ``L_v`` only), e.g.
            ``{type: CNNR, checkpoint: path, margin: 1.5}`` (:class:`fh_gym.engine.identity.IdentityTerms`).
    """

    name = "ipfh"
    DEFAULT_WEIGHTS = {"mse": 1.0, "texture": 1.0, "lr_mse": 1.0, "lr_texture": 1.0,
                       "visual_mse": 1.0, "visual_texture": 1.0, "feature": 1.0, "identity": 1.0}

    def __init__(self, form: str = "absolute", scale: float = 100.0, weights: Mapping[str, float] | None = None,
                 lr_domain: str | Mapping[str, Any] = "resize",
                 texture_features: Mapping[str, Any] | None = None,
                 identity_net: Mapping[str, Any] | None = None) -> None:
        if form not in ("absolute", "delta"):
            raise ConfigError(f"reward.form must be 'absolute' or 'delta', got {form!r}")
        self.form = form
        self.scale = float(scale)
        self.weights = merge_config(self.DEFAULT_WEIGHTS, weights or {}, "reward.weights")
        self.lr_domain = lr_domain
        self.texture_block = dict(texture_features or {"type": "GaborTextureFeatures"})
        self.identity_block = identity_net
        self._down = None
        self._phi = None
        self._identity = None

    def setup(self, engine: RepairEngine) -> None:
        from fh_gym.engine.identity import build_texture_features
        from fh_gym.engine.texture import GramTexture

        if self.lr_domain != "resize":
            if not isinstance(self.lr_domain, Mapping):
                raise ConfigError(f"reward.lr_domain must be 'resize' or a network block, got {self.lr_domain!r}")
            self._down = engine.build_scaled_network(self.lr_domain, kind="aux").eval()
        self._phi = GramTexture(build_texture_features(engine, self.texture_block))
        if self.identity_block is not None:
            from fh_gym.engine.identity import IdentityTerms

            self._identity = IdentityTerms(engine, self.identity_block)
        # Long-term losses of I_0 per face, for the delta form's L(I_0) - L(I_T).
        self._start_losses: dict[str, Tensor] = {}

    def _downsample(self, engine: RepairEngine, hr: Tensor) -> Tensor:
        if self._down is not None:
            return self._down(hr)
        from fh_gym.degradations import downsample_bicubic

        return downsample_bicubic(hr, engine.scale)

    def _patch_losses(self, engine: RepairEngine, restored: Tensor, rec: StepRecord) -> dict[str, Tensor]:
        return dual_domain_patch_losses(restored, rec.hr, rec.lr, rec.box_mask, engine.scale, self._phi,
                                        lambda hr: self._downsample(engine, hr))

    def _visual_losses(self, images: Tensor, hr: Tensor) -> dict[str, Tensor]:
        mse = ((images - hr) ** 2).mean(dim=(1, 2, 3))
        return {"visual_mse": mse, "visual_texture": self._phi.distance(images, hr, None)}

    def _long_term(self, engine: RepairEngine, faces: Tensor, images: Tensor) -> dict[str, Tensor]:
        losses = self._visual_losses(images, engine.hr[faces])
        if self._identity is not None:
            losses.update(self._identity.losses(images, faces))
        return losses

    def reset(self, engine: RepairEngine, faces: Tensor) -> None:
        if self._identity is not None:
            self._identity.reset(faces)  # caches phi(y) and the class labels of the new faces
        if self.form == "delta":
            with torch.no_grad():
                for name, value in self._long_term(engine, faces, engine.start[faces]).items():
                    store = self._start_losses.setdefault(
                        name, torch.zeros(engine.num_envs, device=engine.device))
                    store[faces] = value.to(store.dtype)

    def _weighted(self, losses: dict[str, Tensor]) -> dict[str, Tensor]:
        return {name: -self.scale * self.weights[name] * value for name, value in losses.items()}

    def terms(self, engine: RepairEngine, rec: StepRecord) -> dict[str, Tensor]:
        with torch.no_grad():
            short = self._patch_losses(engine, rec.after, rec)
            if self.form == "delta":
                before = self._patch_losses(engine, rec.before, rec)
                short = {k: v - before[k] for k, v in short.items()}
            live = (~rec.done).to(torch.float32)
            out = {k: v * live for k, v in self._weighted(short).items()}
            names = ["visual_mse", "visual_texture"] + (["feature", "identity"] if self._identity else [])
            long = {k: torch.zeros_like(live) for k in names}
            if bool(rec.done.any()):
                done_faces = rec.faces[rec.done]
                final = self._long_term(engine, done_faces, engine.current[done_faces])
                if self.form == "delta":
                    final = {k: v - self._start_losses[k][done_faces] for k, v in final.items()}
                for k, v in self._weighted(final).items():
                    long[k][rec.done] = v.to(torch.float32)
            out.update(long)
        return out


def dual_domain_patch_losses(restored: Tensor, hr: Tensor, lr: Tensor, mask: Tensor, scale: int,
                             texture: GramTexture, downsample: Callable[[Tensor], Tensor]) -> dict[str, Tensor]:
    """IPFH Eq. 10 / 16 terms per window, (B,) each, over the box only: HR-domain MSE and Gram texture of the
    restored windows vs the HR truth, and the same in the LR domain (``downsample(restored)`` vs ``lr``,
    weighted by the fraction of each LR pixel inside the box). Differentiable in ``restored``.

    Args:
        restored, hr: (B, 3, w, w) windows in [0, 1]; lr: (B, 3, w/s, w/s); mask: (B, 1, w, w) box mask.
    """
    area = mask.sum(dim=(1, 2, 3)).clamp(min=1.0)
    mse = ((restored - hr) ** 2 * mask).sum(dim=(1, 2, 3)) / (3 * area)
    lr_restored = downsample(restored)
    lr_mask = F.avg_pool2d(mask, scale)
    lr_area = lr_mask.sum(dim=(1, 2, 3)).clamp(min=1e-6)
    lr_mse = ((lr_restored - lr) ** 2 * lr_mask).sum(dim=(1, 2, 3)) / (3 * lr_area)
    return {"mse": mse, "texture": texture.distance(restored, hr, mask), "lr_mse": lr_mse,
            "lr_texture": texture.distance(lr_restored, lr, lr_mask)}


REWARD_TYPES: dict[str, type[Reward]] = {
    "psnr_gain": PSNRGain,
    "attention_fh": AttentionFHReward,
    "ipfh": IPFHReward,
}


def build_reward(block: Mapping[str, Any]) -> Reward:
    """Build a reward from ``{type: psnr_gain|attention_fh|ipfh, **kwargs}``."""
    name, kwargs = split_type(block, "reward config")
    if name not in REWARD_TYPES:
        raise ConfigError(f"unknown reward.type '{name}'; valid: {', '.join(REWARD_TYPES)}")
    cls = REWARD_TYPES[name]
    check_kwargs(cls, kwargs, f"reward type '{name}'")
    return cls(**kwargs)
