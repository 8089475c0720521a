"""``psnr_identity``: the dense PSNR gain plus the step's gain in identity similarity to the truth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from fh_gym.engine.identity import IdentityTerms
from fh_gym.engine.networks import NetworkBuilder
from fh_gym.engine.rewards.base import REWARDS, Reward, StepRecord
from fh_gym.engine.view import EpisodeView
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.pixels import psnr_gain

#: the shipped head-less recogniser distilled from dlib's descriptor (bounded cosine terms, see docs/weights.md)
DEFAULT_IDENTITY_NET = {"type": "CNNR", "weights": "lfw_dlib"}


@REWARDS.register()
class PSNRIdentityGain(Reward):
    """Two dense terms, both telescoping to the episode's total change (fh-gym's choice of an identity reward):

    * ``psnr_gain``: ``PSNR(I_t, y) - PSNR(I_{t-1}, y)`` in dB, as the ``psnr_gain`` reward;
    * ``identity_gain``: ``identity_weight * (L_id(I_{t-1}) - L_id(I_t))``, with ``L_id`` IPFH's identity loss
      (Eq. 14) of :class:`~fh_gym.engine.identity.IdentityTerms`: for a network without a classifier head (the
      default, the distilled recogniser) the cosine distance ``1 - cos(phi(I_t), phi(y))`` in [0, 2]. The
      episode's sum is ``identity_weight`` x how much closer to its own truth the face got for the recogniser.

    IPFH puts its identity terms in the long-term reward at T only; a dense form gives the same episode total
    and tells the agent which repair moved the identity. Faces without ground truth (inference) get 0.

    Args:
        identity_net: The identity network block (``{type: CNNR, weights: NAME}`` or ``checkpoint: PATH``);
            default :data:`DEFAULT_IDENTITY_NET`. A network with an A-softmax head scores its training people
            by that loss instead (unbounded: use a head-less one).
        identity_weight: dB per unit of cosine similarity. At 10 the two terms are of one size on the x8
            envs: an even-grid episode of 24 LFW test faces gains 2.38 dB and raises the shipped recogniser's
            cosine to the truth by 0.25 (identity term 2.46).
    """

    name = "psnr_identity"
    uses_windows = False

    def __init__(self, identity_net: Mapping[str, Any] | None = None, identity_weight: float = 10.0) -> None:
        if not isinstance(identity_weight, int | float) or isinstance(identity_weight, bool) or identity_weight < 0:
            raise ConfigError(f"reward.identity_weight must be a number >= 0, got {identity_weight!r}")
        self.identity_block = dict(identity_net or DEFAULT_IDENTITY_NET)
        self.identity_weight = float(identity_weight)
        self._identity: IdentityTerms | None = None
        self._previous: Tensor | None = None  # (N,) L_id of each slot's current image

    def setup(self, networks: NetworkBuilder, view: EpisodeView) -> None:
        self._identity = IdentityTerms(networks, view, self.identity_block)
        self._previous = torch.zeros(view.num_envs, device=view.device)

    def reset(self, view: EpisodeView, slots: Tensor) -> None:
        self._identity.reset(slots)
        self._previous[slots] = self._identity.losses(view.start[slots], slots)["identity"].to(torch.float32)

    def term_names(self) -> tuple[str, ...]:
        return ("psnr_gain", "identity_gain")

    def terms(self, view: EpisodeView, rec: StepRecord) -> dict[str, Tensor]:
        loss = self._identity.losses(view.current[rec.slots], rec.slots)["identity"].to(torch.float32)
        gain = (self._previous[rec.slots] - loss) * rec.truth.to(torch.float32)
        self._previous[rec.slots] = loss
        return {"psnr_gain": psnr_gain(rec.mse_before, rec.mse_after).to(torch.float32),
                "identity_gain": self.identity_weight * gain}
