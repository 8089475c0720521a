"""Identity losses: A-softmax (SphereFace), the SICNN super-identity loss and the IPFH feature loss.

Layout: identity features are (B, D) float tensors (the output of an identity network such as
:class:`fh_gym.restorers.archs.sicnn_arch.CNNR`); class weights are (C, D); labels are (B,) int64.

* :func:`a_softmax_loss` — SphereFace's angular-margin softmax (SICNN Eq. 2 ``L_FR``, IPFH Eq. 14 ``L_id``).
* :func:`super_identity_loss` — SICNN Eq. 3 ``L_SI``: squared Euclidean distance of the L2-normalised
  features, i.e. ``2 - 2 cos``, a monotone proxy of the geodesic distance on the unit hypersphere.
* :func:`feature_distance` — IPFH Eq. 13 ``L_f``: Euclidean distance of the (unnormalised) features.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

#: cos(theta) is clamped this far inside [-1, 1] before acos, whose gradient is infinite at the ends.
_ACOS_EPS = 1e-6


def _check_features(a: Tensor, b: Tensor) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"identity features must be two (B, D) tensors of the same shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def angular_margin_psi(cos_theta: Tensor, margin: float) -> Tensor:
    """SphereFace's ``psi(theta) = (-1)^k cos(m theta) - 2k`` for ``theta`` in ``[k pi/m, (k+1) pi/m]``.

    ``psi`` is continuous and decreasing on ``[0, pi]`` and replaces ``cos(theta)`` for the true class,
    which demands an angle ``m`` times smaller than for the other classes.

    Non-integer margins (IPFH uses ``m = 1.5``): the same formula with ``k = floor(m theta / pi)``. Then
    ``k`` runs over ``0 .. ceil(m) - 1`` (not ``0 .. m - 1`` as the papers write for integer ``m``), and
    ``psi`` stays continuous and decreasing on the whole of ``[0, pi]``: at each breakpoint
    ``theta_k = k pi / m`` both pieces equal ``1 - 2k`` (because ``cos(k pi) = (-1)^k``).
    Integer margins use the Chebyshev polynomial ``cos(m theta) = T_m(cos theta)`` as SphereFace does
    (no ``acos`` in the gradient); non-integer ones need ``theta = acos(cos theta)`` (clamped by 1e-6).

    Args:
        cos_theta: Cosines, any shape, in [-1, 1].
        margin: ``m >= 1``.

    Returns:
        ``psi`` with the shape of ``cos_theta``.
    """
    if margin < 1:
        raise ValueError(f"the angular margin m must be >= 1, got {margin}")
    cos_theta = cos_theta.clamp(-1.0, 1.0)
    theta = torch.acos(cos_theta.clamp(-1.0 + _ACOS_EPS, 1.0 - _ACOS_EPS))
    k = torch.floor(margin * theta.detach() / math.pi).clamp(max=math.ceil(margin) - 1)
    integer = float(margin).is_integer()
    cos_m_theta = _chebyshev(cos_theta, int(margin)) if integer else torch.cos(margin * theta)
    sign = 1.0 - 2.0 * torch.remainder(k, 2.0)  # (-1)^k
    return sign * cos_m_theta - 2.0 * k


def _chebyshev(x: Tensor, order: int) -> Tensor:
    """``T_order(x)`` by the recurrence ``T_{n+1} = 2x T_n - T_{n-1}``; ``T_n(cos t) = cos(n t)``."""
    previous, current = torch.ones_like(x), x
    if order == 0:
        return previous
    for _ in range(order - 1):
        previous, current = current, 2 * x * current - previous
    return current


def a_softmax_logits(features: Tensor, weight: Tensor, labels: Tensor, margin: float = 4.0,
                     lam: float = 0.0) -> Tensor:
    """A-softmax logits ``||x|| cos(theta_j)`` with the true class replaced by ``||x|| psi(theta_y)``.

    SphereFace normalises the class weights (``||W_j|| = 1``, no bias), so the logits are the feature norm
    times the cosine to each class. Annealing (SphereFace training): the true-class logit is
    ``||x|| (lam cos(theta_y) + psi(theta_y)) / (1 + lam)``; ``lam = 0`` is the plain A-softmax of the
    papers' equations, large ``lam`` is the ordinary (normalised-weight) softmax.

    Args:
        features: (B, D) identity features.
        weight: (C, D) class weights (normalised here).
        labels: (B,) class indices in ``[0, C)``.
        margin: Angular margin ``m >= 1`` (SICNN: 4, IPFH: 1.5).
        lam: Annealing weight ``lambda >= 0``.

    Returns:
        (B, C) logits.
    """
    if features.ndim != 2 or weight.ndim != 2 or features.shape[1] != weight.shape[1]:
        raise ValueError(f"features (B, D) and class weights (C, D) must share D, got {tuple(features.shape)} "
                         f"and {tuple(weight.shape)}")
    if labels.shape != features.shape[:1]:
        raise ValueError(f"labels must be (B,) = {tuple(features.shape[:1])}, got {tuple(labels.shape)}")
    norms = features.norm(dim=1, keepdim=True)
    cos = F.normalize(features, dim=1) @ F.normalize(weight, dim=1).t()
    cos_true = cos.gather(1, labels[:, None])
    target = (lam * cos_true + angular_margin_psi(cos_true, margin)) / (1.0 + lam)
    return norms * cos.scatter(1, labels[:, None], target)


def a_softmax_loss(features: Tensor, weight: Tensor, labels: Tensor, margin: float = 4.0, lam: float = 0.0,
                   reduction: str = "mean") -> Tensor:
    """A-softmax cross-entropy (SICNN Eq. 2, IPFH Eq. 14); see :func:`a_softmax_logits` for the arguments.

    ``reduction``: ``"mean"``, ``"sum"`` or ``"none"`` ((B,) per-sample losses).
    """
    logits = a_softmax_logits(features, weight, labels, margin, lam)
    return F.cross_entropy(logits, labels, reduction=reduction)


def super_identity_loss(f_sr: Tensor, f_hr: Tensor, reduction: str = "mean") -> Tensor:
    """SICNN Eq. 3: ``|| f_sr/||f_sr|| - f_hr/||f_hr|| ||_2^2`` (= ``2 - 2 cos``, in [0, 4]).

    Args:
        f_sr: (B, D) identity features of the hallucinated faces.
        f_hr: (B, D) identity features of the HR faces (usually detached).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """
    _check_features(f_sr, f_hr)
    return _reduce((F.normalize(f_sr, dim=1) - F.normalize(f_hr, dim=1)).pow(2).sum(dim=1), reduction)


def feature_distance(f_sr: Tensor, f_hr: Tensor, reduction: str = "none") -> Tensor:
    """IPFH Eq. 13 ``L_f = || phi(y_hat) - phi(y) ||_2``: Euclidean distance of the identity features.

    Args:
        f_sr: (B, D) features of the hallucinated faces.
        f_hr: (B, D) features of the ground truth.
        reduction: ``"none"`` ((B,), the default: a per-face reward term), ``"mean"`` or ``"sum"``.
    """
    _check_features(f_sr, f_hr)
    return _reduce((f_sr - f_hr).norm(dim=1), reduction)


def cosine_similarity(f_a: Tensor, f_b: Tensor) -> Tensor:
    """(B,) cosine of two feature batches (the SICNN / IPFH identity-similarity score, IPFH Eq. 19)."""
    _check_features(f_a, f_b)
    return F.cosine_similarity(f_a, f_b, dim=1, eps=1e-12)
