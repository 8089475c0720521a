"""The A-softmax classifier (SphereFace) that trains identity networks: SICNN's ``L_FR``, IPFH's ``L_id``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fh_gym.restorers.losses.identity import a_softmax_logits, a_softmax_loss
from fh_gym.restorers.registry import register_arch


@register_arch
class AngularMarginHead(nn.Module):
    """A-softmax classification layer (Liu et al., SphereFace, CVPR 2017; SICNN Eq. 2; IPFH Eq. 14).

    Holds one weight vector per training identity, (C, D), normalised on use and without bias, so the
    class logits are ``||x|| cos(theta_j)``; the true class gets ``||x|| psi(theta_y)`` with
    ``psi(theta) = (-1)^k cos(m theta) - 2k`` (see :func:`fh_gym.restorers.losses.identity.angular_margin_psi`,
    which also says how a non-integer ``m`` such as IPFH's 1.5 is handled).

    Annealing, as SphereFace trains: the true-class logit is ``(lam cos + psi) / (1 + lam)`` with
    ``lam = max(lambda_min, lambda_base * (1 + lambda_gamma * it) ** -lambda_power)``, ``it`` counting the
    training calls of :meth:`loss` (a buffer, so it is checkpointed and a resumed run continues the
    schedule). SphereFace's prototxt values are the defaults (1000, 0.12, 1, 5). Evaluation
    (``lam=0`` in :meth:`loss`) is the plain A-softmax of the equations.

    Layout: features (B, D) -> logits (B, C). Parameters: ``C * D`` (no paper count: it depends on the
    number of training identities, 17,680 x 512 for SICNN's Set A).

    Args:
        in_features: Feature size D.
        num_classes: Number of training identities C.
        margin: Angular margin m (SICNN 4, IPFH 1.5).
        lambda_base: Annealing start.
        lambda_gamma: Annealing speed.
        lambda_power: Annealing power.
        lambda_min: Final (smallest) lambda; 0 ends on the pure A-softmax.
    """

    kind = "aux"
    paper = "SphereFace A-softmax (SICNN Eq. 2, IPFH Eq. 14)"
    paper_parameters: int | None = None

    def __init__(self, in_features: int = 512, num_classes: int = 10, margin: float = 4.0,
                 lambda_base: float = 1000.0, lambda_gamma: float = 0.12, lambda_power: float = 1.0,
                 lambda_min: float = 5.0) -> None:
        super().__init__()
        if num_classes < 1 or in_features < 1:
            raise ValueError(f"need num_classes >= 1 and in_features >= 1, got {num_classes} and {in_features}")
        if margin < 1:
            raise ValueError(f"the angular margin must be >= 1, got {margin}")
        self.margin = float(margin)
        self.lambda_base, self.lambda_gamma = float(lambda_base), float(lambda_gamma)
        self.lambda_power, self.lambda_min = float(lambda_power), float(lambda_min)
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.xavier_uniform_(self.weight)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    @property
    def num_classes(self) -> int:
        return int(self.weight.shape[0])

    def current_lambda(self) -> float:
        """The annealing weight at the current training iteration."""
        it = float(self.iteration)
        return max(self.lambda_min, self.lambda_base * (1.0 + self.lambda_gamma * it) ** -self.lambda_power)

    def forward(self, features: Tensor, labels: Tensor, lam: float | None = None) -> Tensor:
        """(B, C) margin logits for ``labels``; ``lam`` defaults to the annealing schedule."""
        return a_softmax_logits(features, self.weight, labels, self.margin,
                                self.current_lambda() if lam is None else lam)

    def loss(self, features: Tensor, labels: Tensor, lam: float | None = None, margin: float | None = None,
             reduction: str = "mean") -> Tensor:
        """A-softmax loss; in training mode each call advances the annealing schedule by one iteration.

        Args:
            features: (B, D).
            labels: (B,) in ``[0, num_classes)``.
            lam: Annealing weight (default: the schedule's in training, 0 in eval mode).
            margin: Override of the margin (e.g. IPFH's 1.5 on a head trained with 4).
            reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        """
        if lam is None:
            lam = self.current_lambda() if self.training else 0.0
        value = a_softmax_loss(features, self.weight, labels, self.margin if margin is None else margin, lam,
                               reduction)
        if self.training:
            self.iteration += 1
        return value
