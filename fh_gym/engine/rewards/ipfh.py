"""``ipfh``: the IPFH reward (Eqs. 9-15), dual-domain patch terms each step and whole-image terms at T."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from fh_gym.engine.dual_domain import DualDomain
from fh_gym.engine.identity import IdentityTerms
from fh_gym.engine.networks import NetworkBuilder
from fh_gym.engine.rewards.base import REWARDS, Reward, StepRecord
from fh_gym.engine.view import EpisodeView
from fh_gym.restorers.config import ConfigError, merge_config


@REWARDS.register()
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
            ``{type: CNNR, checkpoint: path, layer: res1}`` (see :mod:`fh_gym.engine.dual_domain`).
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
        self._dual: DualDomain | None = None
        self._down = None
        self._phi = None
        self._identity: IdentityTerms | None = None

    def setup(self, networks: NetworkBuilder, view: EpisodeView) -> None:
        self._dual = DualDomain(networks, self.texture_block, self.lr_domain, where="reward")
        self._phi, self._down = self._dual.texture, self._dual.down
        if self.identity_block is not None:
            self._identity = IdentityTerms(networks, view, self.identity_block)
        # Long-term losses of I_0 per face, for the delta form's L(I_0) - L(I_T).
        self._start_losses: dict[str, Tensor] = {}

    def _visual_losses(self, images: Tensor, hr: Tensor) -> dict[str, Tensor]:
        mse = ((images - hr) ** 2).mean(dim=(1, 2, 3))
        return {"visual_mse": mse, "visual_texture": self._phi.distance(images, hr, None)}

    def _long_term(self, view: EpisodeView, slots: Tensor, images: Tensor) -> dict[str, Tensor]:
        losses = self._visual_losses(images, view.hr[slots])
        if self._identity is not None:
            losses.update(self._identity.losses(images, slots))
        return losses

    def reset(self, view: EpisodeView, slots: Tensor) -> None:
        if self._identity is not None:
            self._identity.reset(slots)  # caches phi(y) and the class labels of the new faces
        if self.form == "delta":
            with torch.no_grad():
                for name, value in self._long_term(view, slots, view.start[slots]).items():
                    store = self._start_losses.setdefault(name, torch.zeros(view.num_envs, device=view.device))
                    store[slots] = value.to(store.dtype)

    def _weighted(self, losses: dict[str, Tensor]) -> dict[str, Tensor]:
        return {name: -self.scale * self.weights[name] * value for name, value in losses.items()}

    def term_names(self) -> tuple[str, ...]:
        long = ("visual_mse", "visual_texture") + (("feature", "identity") if self.identity_block is not None else ())
        return ("mse", "texture", "lr_mse", "lr_texture", *long)

    def terms(self, view: EpisodeView, rec: StepRecord) -> dict[str, Tensor]:
        with torch.no_grad():
            short = self._dual.patch_terms(rec.after, rec.hr, rec.lr, rec.box_mask)
            if self.form == "delta":
                before = self._dual.patch_terms(rec.before, rec.hr, rec.lr, rec.box_mask)
                short = {k: v - before[k] for k, v in short.items()}
            live = (~rec.done).to(torch.float32)
            out = {k: v * live for k, v in self._weighted(short).items()}
            names = ["visual_mse", "visual_texture"] + (["feature", "identity"] if self._identity else [])
            long = {k: torch.zeros_like(live) for k in names}
            if bool(rec.done.any()):
                done_faces = rec.slots[rec.done]
                final = self._long_term(view, done_faces, view.current[done_faces])
                if self.form == "delta":
                    final = {k: v - self._start_losses[k][done_faces] for k, v in final.items()}
                for k, v in self._weighted(final).items():
                    long[k][rec.done] = v.to(torch.float32)
            out.update(long)
        return out
