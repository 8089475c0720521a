"""Differentiable SSIM and the C-SRIP SSIM loss (C-SRIP Sec. 3.3, Eqs. 2-3), single and multi-scale.

Layout: ``N x C x H x W`` float in ``[0, data_range]``. The SSIM map is Eq. 3 with an 11x11 Gaussian
window, sigma 1.5, ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` ("as per the reference implementation of
Wang et al.": 6.50 and 58.52 for L = 255; the paper prints 6.55 and 58.98), filtered over the *valid*
region like ``fh_gym.metrics.ssim_per_image``, so ``ssim_loss == 1 - ssim_per_image`` to float precision.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.archs.filters import gaussian_taps

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def _window_for(x: Tensor, window: int) -> int:
    # Images smaller than the window (a 2x side output of an 8x8 LR face is 16x16) get the largest odd
    # window that fits; the paper's images are never that small, so it does not say.
    side = min(window, int(x.shape[-2]), int(x.shape[-1]))
    return side if side % 2 else side - 1


def ssim_map(x: Tensor, y: Tensor, data_range: float = 1.0, window: int = SSIM_WINDOW,
             sigma: float = SSIM_SIGMA) -> Tensor:
    """The SSIM map of C-SRIP Eq. 3 over the valid region, ``N x C x (H-w+1) x (W-w+1)``.

    Args:
        x: ``N x C x H x W`` prediction.
        y: Target, same shape.
        data_range: Dynamic range L (1 for [0, 1] images).
        window: Gaussian window side (11); shrunk to fit images smaller than it.
        sigma: Gaussian sigma (1.5).
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ssim needs two N x C x H x W tensors of the same shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    c = x.shape[1]
    side = _window_for(x, window)
    g = gaussian_taps(sigma, side // 2, x.dtype, x.device)
    wv, wh = g.view(1, 1, -1, 1).expand(c, 1, -1, 1), g.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=0)
    stats = F.conv2d(F.conv2d(stats, wv, groups=c), wh, groups=c)
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.chunk(5, dim=0)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    var_x, var_y, cov = e_xx - mu_x**2, e_yy - mu_y**2, e_xy - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """``(N,)`` mean SSIM of each image (channels averaged), differentiable."""
    return ssim_map(x, y, data_range).flatten(1).mean(dim=1)


def ssim_loss(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """Scalar ``1 - mean SSIM`` over the batch. C-SRIP's Eq. 2 is half of it (``0.5 * ssim_loss``)."""
    return 1.0 - ssim(x, y, data_range).mean()


def multiscale_ssim_loss(outputs: Mapping[str, Tensor], targets: Mapping[str, Tensor],
                         weight: float = 0.5) -> Tensor:
    """C-SRIP Eq. 4's reconstruction part: ``sum_j weight * (1 - SSIM(x_j, y_j))`` over the cascade scales.

    This is the paper's "multi-scale" supervision (one SSIM loss per side output), not Wang et al.'s
    MS-SSIM. ``weight`` 0.5 is Eq. 2's factor 1/2.

    Args:
        outputs: Scale key (``"x2"``, ``"x4"``...) -> prediction.
        targets: The same keys -> target at that resolution.
        weight: Multiplier of every scale's loss.
    """
    missing = sorted(set(outputs) - set(targets))
    if missing:
        raise KeyError(f"no SSIM target for output(s) {missing}; targets have {sorted(targets)}")
    return sum(weight * ssim_loss(outputs[k], targets[k]) for k in outputs)


class SSIMLoss(nn.Module):
    """``1 - SSIM`` as a module (C-SRIP Sec. 3.3, Eq. 2 without its factor 1/2).

    Layout: ``N x C x H x W`` in ``[0, data_range]`` -> scalar.

    Args:
        data_range: Dynamic range of the images.
    """

    paper = "C-SRIP (Grm et al.), Sec. 3.3, Eqs. 2-3"
    paper_parameters: int | None = 0

    def __init__(self, data_range: float = 1.0) -> None:
        super().__init__()
        self.data_range = float(data_range)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return ssim_loss(x, y, self.data_range)
