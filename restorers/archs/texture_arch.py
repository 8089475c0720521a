"""Fixed texture features: a Gabor filter bank on luminance (the default phi of the Gram texture loss)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.registry import register_arch


def _gabor(size: int, sigma: float, theta: float, wavelength: float, phase: float) -> Tensor:
    half = size // 2
    y, x = torch.meshgrid(torch.arange(-half, half + 1.0), torch.arange(-half, half + 1.0), indexing="ij")
    xr = x * math.cos(theta) + y * math.sin(theta)
    yr = -x * math.sin(theta) + y * math.cos(theta)
    kernel = torch.exp(-(xr**2 + yr**2) / (2 * sigma**2)) * torch.cos(2 * math.pi * xr / wavelength + phase)
    kernel = kernel - kernel.mean()  # zero DC: respond to texture, not brightness
    return kernel / kernel.abs().sum()


@register_arch
class GaborTextureFeatures(nn.Module):
    """Multi-scale oriented Gabor responses (even and odd phase) of the BT.601 luminance.

    A classic, training-free texture descriptor (Portilla & Simoncelli style band-pass statistics):
    its Gram matrix captures the energy in each band and orientation and their correlations. It is the
    default feature network of the IPFH texture reward until a trained identity network is configured.

    The responses are multiplied by ``gain``: the Gram distance grows with the fourth power of the
    feature scale, and with ``gain=200`` the texture distance between bicubic x8 and HR faces is of the
    order of their MSE (3e-3 vs 4e-3 on LFW faces in [0, 1]), so the reward's default weights of 1 mix
    comparable terms.

    Args:
        orientations: Number of orientations in [0, pi).
        wavelengths: Wavelengths in HR pixels, one band each (sigma = 0.56 * wavelength, ~1 octave).
        gain: Multiplier of the responses.
    """

    paper = 'Gabor texture bank (fh-gym default phi of the IPFH texture loss, Eq. 11)'
    paper_parameters = None

    kind = "aux"

    def __init__(self, orientations: int = 4, wavelengths: tuple[float, ...] | list[float] = (3.0, 6.0),
                 gain: float = 200.0) -> None:
        super().__init__()
        self.gain = float(gain)
        self.orientations = int(orientations)
        self.wavelengths = tuple(float(w) for w in wavelengths)
        size = 2 * math.ceil(1.7 * max(self.wavelengths)) + 1
        kernels = []
        for wavelength in self.wavelengths:
            for k in range(self.orientations):
                theta = math.pi * k / self.orientations
                for phase in (0.0, math.pi / 2):
                    kernels.append(_gabor(size, 0.56 * wavelength, theta, wavelength, phase))
        self.register_buffer("kernels", torch.stack(kernels)[:, None], persistent=False)
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1), persistent=False)

    @property
    def out_channels(self) -> int:
        return int(self.kernels.shape[0])

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 2 * orientations * len(wavelengths), H, W) responses."""
        y = (images * self.luma).sum(dim=1, keepdim=True)
        pad = self.kernels.shape[-1] // 2
        mode = "reflect" if min(y.shape[-2:]) > pad else "replicate"
        return F.conv2d(F.pad(y, (pad, pad, pad, pad), mode=mode), self.kernels) * self.gain
