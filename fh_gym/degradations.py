"""Seeded, composable, batched LR degradations (HR -> LR); ``docs/environment.md`` ("Episode") says where the
env applies them.

Layout and range: HR and LR are ``N x 3 x H x W`` float tensors in ``[0, 1]`` on any device.
The pipeline, in this fixed order, is

1. **blur**: Gaussian blur of the HR image with a per-image sigma (HR pixels);
2. **downsample**: ``"bicubic"`` (antialiased bicubic, ``F.interpolate(..., antialias=True)``) or
   ``"blur_decimate"`` (C-SRIP: the blur of step 1, then every ``scale``-th pixel);
3. **noise**: additive Gaussian noise, sigma in [0, 255] units, on the LR image;
4. **JPEG**: compression of the LR image with OpenCV (the only per-image Python loop: cv2 codes one
   image at a time; the LR is rounded to uint8 by the codec);
5. **occlusion** (OFHNet): one random axis-aligned rectangle covering a fraction of the LR area.

All randomness comes from the ``numpy.random.Generator`` passed to :meth:`Degradation.__call__`:
per-image parameters are drawn from it directly and noise tensors from a CPU ``torch.Generator``
seeded from it (so results do not depend on the device's RNG). Every stage draws its parameters
even when it is disabled, so switching one stage on or off never changes another stage's draws
for the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fh_gym.restorers.archs.filters import decimation_sigma, downscale, gaussian_blur
from fh_gym.restorers.config import Anything, Choice, ConfigError, Int, Schema, merge_config
from fh_gym.restorers.pixels import quantize_hwc

__all__ = [
    "DOWNSAMPLE_MODES",
    "OCCLUSION_FILLS",
    "Degradation",
    "DegradedBatch",
    "decimation_sigma",
    "downsample_bicubic",
    "gaussian_blur",
    "upsample_bicubic",
]

DOWNSAMPLE_MODES = ("bicubic", "blur_decimate")
OCCLUSION_FILLS = ("noise", "gray", "black")
_OCCLUSION_DEFAULTS: dict[str, Any] = {"area": [0.0625, 0.25], "fill": "noise"}
_ASPECT_RANGE = (0.5, 2.0)  # occlusion width/height ratio, log-uniform
_FILL_VALUES = {"gray": 0.5, "black": 0.0}


# --------------------------------------------------------------------------- helpers for reuse

def _check_nchw(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be Nx3xHxW, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} has dtype {x.dtype}; expected float in [0, 1]")


def downsample_bicubic(hr: Tensor, scale: int) -> Tensor:
    """Antialiased bicubic downscale by ``scale`` (``align_corners=False``), clamped to [0, 1].

    Args:
        hr: ``N x 3 x H x W`` float in [0, 1]; H and W divisible by ``scale``.
        scale: Integer factor.

    Returns:
        ``N x 3 x H/scale x W/scale`` float in [0, 1].
    """
    _check_nchw(hr, "hr")
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}x{w} is not divisible by scale {scale}")
    return downscale(hr, scale, "bicubic")


def upsample_bicubic(lr: Tensor, scale: int) -> Tensor:
    """Bicubic upscale by ``scale`` (``align_corners=False``), clamped to [0, 1] (bicubic overshoots).

    Args:
        lr: ``N x 3 x h x w`` float in [0, 1].
        scale: Integer factor.

    Returns:
        ``N x 3 x h*scale x w*scale`` float in [0, 1].
    """
    _check_nchw(lr, "lr")
    h, w = lr.shape[-2:]
    out = F.interpolate(lr, size=(h * scale, w * scale), mode="bicubic", align_corners=False)
    return out.clamp(0.0, 1.0)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _range_problem(value: Any, lo_ok: float, hi_ok: float, *, integer: bool = False,
                   open_interval: bool = False) -> str | None:
    """What is wrong with a number-or-``[lo, hi]`` value (None when it is fine)."""
    kind = "an integer" if integer else "a number"
    bounds = f"({lo_ok:g}, {hi_ok:g})" if open_interval else f"[{lo_ok:g}, {hi_ok:g}]"
    expected = f"expected {kind} or [lo, hi] in {bounds}, finite"
    if _is_number(value):
        pair = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2 \
            and all(_is_number(v) for v in value):
        pair = (value[0], value[1])
    else:
        return expected
    if integer and any(float(v) != int(v) for v in pair):
        return expected
    inside = (lambda v: lo_ok < v < hi_ok) if open_interval else (lambda v: lo_ok <= v <= hi_ok)
    if not (inside(pair[0]) and inside(pair[1])):
        return expected
    return "lo > hi in [lo, hi]; expected lo <= hi" if pair[0] > pair[1] else None


def _parse_range(key: str, value: Any, lo_ok: float, hi_ok: float, *, integer: bool = False,
                 open_interval: bool = False) -> tuple[float, float]:
    """Turn a number or ``[lo, hi]`` into a checked ``(lo, hi)`` pair."""
    problem = _range_problem(value, lo_ok, hi_ok, integer=integer, open_interval=open_interval)
    if problem:
        raise ConfigError(f"invalid degradation.{key}: {value!r} ({problem})")
    pair = (value, value) if _is_number(value) else value
    return float(pair[0]), float(pair[1])


def _power_of_two(value: int) -> str | None:
    return None if value & (value - 1) == 0 else "expected a power of two >= 2 (4, 8, 16)"


def _occlusion_problem(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return None
    return f"expected null or a mapping with keys {sorted(_OCCLUSION_DEFAULTS)}"


#: the degradation block of the env config (and of the image-pair recipes); ranges are checked per key
SCHEMA = Schema({
    "scale": Int(8, min=2, check=_power_of_two, doc="downscale factor"),
    "downsample": Choice("bicubic", DOWNSAMPLE_MODES),
    "blur_sigma": Anything(0.0, check=lambda v: _range_problem(v, 0.0, math.inf), doc="HR pixels, number or [lo, hi]"),
    "noise_sigma": Anything(0.0, check=lambda v: _range_problem(v, 0.0, math.inf), doc="[0, 255] units"),
    "jpeg_quality": Anything(None, check=lambda v: _range_problem(v, 1, 100, integer=True), doc="1..100 or null"),
    "occlusion": Anything(None, check=_occlusion_problem, doc="null or {area, fill}"),
}, name="degradation")


# --------------------------------------------------------------------------- the pipeline

@dataclass
class DegradedBatch:
    """Output of :class:`Degradation`.

    Attributes:
        lr: ``N x 3 x H/s x W/s`` float in [0, 1], on the device of the HR input.
        occlusion_mask: ``N x 1 x H/s x W/s`` float, 1 where occluded; ``None`` without occlusion.
        params: Per-image sampled values as numpy arrays of length N: ``blur_sigma`` (HR pixels,
            as applied), ``noise_sigma`` ([0, 255] units), ``jpeg_quality`` (int, 0 = no JPEG),
            ``occlusion_box`` (N x 4 int: top, left, height, width in LR pixels; zeros without
            occlusion) and ``occlusion_area`` (fraction of the LR area, 0 without occlusion).
    """

    lr: Tensor
    occlusion_mask: Tensor | None
    params: dict[str, np.ndarray] = field(default_factory=dict)


class Degradation:
    """HR -> LR degradation pipeline configured by a flat, YAML-friendly dict.

    Args:
        scale: Downscale factor, a power of two >= 2 (4, 8, 16...).
        downsample: ``"bicubic"`` or ``"blur_decimate"``.
        blur_sigma: Gaussian blur before downsampling (HR pixels), a number or ``[lo, hi]`` sampled
            per image. For ``blur_decimate`` the value 0 means :func:`decimation_sigma` (``(scale-1)/2``).
        noise_sigma: Additive Gaussian noise std on the LR image in [0, 255] units, number or ``[lo, hi]``.
        jpeg_quality: ``None``, an int in 1..100, or ``[lo, hi]`` (sampled per image, inclusive).
        occlusion: ``None`` or ``{"area": [lo, hi] or number in (0, 1), "fill": "noise"|"gray"|"black"}``;
            missing keys take ``{"area": [0.0625, 0.25], "fill": "noise"}`` (OFHNet: 1/16..1/4).
    """

    def __init__(self, scale: int = 8, downsample: str = "bicubic",
                 blur_sigma: float | Sequence[float] = 0.0, noise_sigma: float | Sequence[float] = 0.0,
                 jpeg_quality: int | Sequence[int] | None = None,
                 occlusion: Mapping[str, Any] | None = None) -> None:
        scale = SCHEMA["scale"].validate(scale, "degradation.scale")
        downsample = SCHEMA["downsample"].validate(downsample, "degradation.downsample")
        self.scale = scale
        self.downsample = downsample
        self.blur_range = _parse_range("blur_sigma", blur_sigma, 0.0, math.inf)
        if downsample == "blur_decimate" and self.blur_range == (0.0, 0.0):
            s = decimation_sigma(self.scale)
            self.blur_range = (s, s)
        self.noise_range = _parse_range("noise_sigma", noise_sigma, 0.0, math.inf)
        self.jpeg_range = None if jpeg_quality is None else \
            _parse_range("jpeg_quality", jpeg_quality, 1, 100, integer=True)
        self.occlusion: dict[str, Any] | None = None
        self.area_range: tuple[float, float] | None = None
        if occlusion is not None:
            SCHEMA["occlusion"].validate(occlusion, "degradation.occlusion")
            occ = merge_config(_OCCLUSION_DEFAULTS, occlusion, "degradation.occlusion")
            self.area_range = _parse_range("occlusion.area", occ["area"], 0.0, 1.0, open_interval=True)
            Choice("noise", OCCLUSION_FILLS).validate(occ["fill"], "degradation.occlusion.fill")
            self.occlusion = occ
        self._config = {"scale": self.scale, "downsample": downsample, "blur_sigma": blur_sigma,
                        "noise_sigma": noise_sigma, "jpeg_quality": jpeg_quality,
                        "occlusion": self.occlusion}

    @staticmethod
    def default_config() -> dict[str, Any]:
        """The defaults: x8 antialiased bicubic, no blur, noise, JPEG or occlusion (:data:`SCHEMA`)."""
        return SCHEMA.defaults()

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> Degradation:
        """Build from a (partial) config dict merged over :meth:`default_config`.

        Raises:
            ConfigError: For an unknown key (the message lists the valid keys) or a bad value
                (the message names the key and the value).
        """
        return cls(**SCHEMA.validate(merge_config(cls.default_config(), cfg, "degradation")))

    @property
    def config(self) -> dict[str, Any]:
        """The configuration this instance was built from (occlusion with defaults filled in)."""
        return merge_config(self._config, None)

    def __repr__(self) -> str:
        return f"Degradation({self._config})"

    # ----------------------------------------------------------------------- sampling

    @staticmethod
    def _draw_occlusion(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Raw uniforms for the occlusion boxes (drawn even when occlusion is off, see module doc)."""
        return rng.random(n), rng.random(n), rng.random(n), rng.random(n)

    def _occlusion_boxes(self, raw: tuple[np.ndarray, ...], h: int, w: int) -> np.ndarray:
        """Per-image boxes (top, left, height, width) whose area fraction lies in the configured range.

        The target area fraction is uniform in ``[lo, hi]`` and the aspect ratio (width / height)
        log-uniform in [1/2, 2]; the position is uniform over all placements inside the image.
        """
        lo, hi = self.area_range or (0.0, 1.0)
        u_area, u_aspect, u_top, u_left = raw
        target = lo + (hi - lo) * u_area
        log_lo, log_hi = math.log(_ASPECT_RANGE[0]), math.log(_ASPECT_RANGE[1])
        aspect = np.exp(log_lo + (log_hi - log_lo) * u_aspect)
        # Candidate integer sizes whose area is inside [lo, hi]; pick the one nearest (in log size)
        # to the continuous target, so rounding never pushes the area out of range.
        hh, ww = np.meshgrid(np.arange(1, h + 1), np.arange(1, w + 1), indexing="ij")
        hh, ww = hh.ravel(), ww.ravel()
        frac = hh * ww / float(h * w)
        ok = (frac >= lo - 1e-12) & (frac <= hi + 1e-12)
        if not ok.any():
            raise ValueError(f"no rectangle in a {h}x{w} LR image covers an area fraction in "
                             f"[{lo:g}, {hi:g}]; use a larger image or a wider occlusion.area")
        hh, ww = hh[ok], ww[ok]
        area = target * h * w
        th, tw = np.sqrt(area / aspect), np.sqrt(area * aspect)
        cost = (np.log(hh)[None] - np.log(th)[:, None]) ** 2 + (np.log(ww)[None] - np.log(tw)[:, None]) ** 2
        pick = cost.argmin(axis=1)
        bh, bw = hh[pick], ww[pick]
        top = np.floor(u_top * (h - bh + 1)).astype(np.int64)
        left = np.floor(u_left * (w - bw + 1)).astype(np.int64)
        return np.stack([top, left, bh, bw], axis=1).astype(np.int64)

    def _occlude(self, lr: Tensor, occ_raw: np.ndarray, fill_seed: int) -> tuple[Tensor, Tensor | None, np.ndarray,
                                                                                 np.ndarray]:
        """OFHNet's random occlusion of the LR batch: (occluded LR, mask or None, boxes (N, 4), area fractions)."""
        n, _, lh, lw = lr.shape
        if self.occlusion is None:
            return lr, None, np.zeros((n, 4), dtype=np.int64), np.zeros(n)
        boxes = self._occlusion_boxes(occ_raw, lh, lw)
        bt = torch.as_tensor(boxes, device=lr.device)
        rows = torch.arange(lh, device=lr.device).view(1, lh, 1)
        cols = torch.arange(lw, device=lr.device).view(1, 1, lw)
        top, left, bh, bw = (bt[:, i].view(n, 1, 1) for i in range(4))
        inside = (rows >= top) & (rows < top + bh) & (cols >= left) & (cols < left + bw)
        mask = inside.unsqueeze(1).to(lr.dtype)
        if self.occlusion["fill"] == "noise":
            gen = torch.Generator().manual_seed(fill_seed)
            fill = torch.rand(lr.shape, generator=gen, dtype=torch.float32).to(lr.device, lr.dtype)
        else:
            fill = torch.full_like(lr, _FILL_VALUES[self.occlusion["fill"]])
        return lr * (1.0 - mask) + fill * mask, mask, boxes, boxes[:, 2] * boxes[:, 3] / float(lh * lw)

    def __call__(self, hr: Tensor, rng: np.random.Generator) -> DegradedBatch:
        """Degrade a batch of HR faces.

        Args:
            hr: ``N x 3 x H x W`` float in [0, 1] (not checked, to avoid a device sync); H and W
                divisible by ``scale``.
            rng: Source of all randomness; the same state gives identical outputs.

        Returns:
            :class:`DegradedBatch` with the LR batch (float in [0, 1], same device and dtype),
            the occlusion mask and the per-image parameters.

        Raises:
            ValueError: If ``hr`` has the wrong shape or dtype, or H / W is not divisible by ``scale``.
            TypeError: If ``rng`` is not a ``numpy.random.Generator``.
        """
        _check_nchw(hr, "hr")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        n, _, h, w = hr.shape
        s = self.scale
        if h % s or w % s:
            raise ValueError(f"HR size {h}x{w} is not divisible by scale {s}")

        # Draw every stage's parameters up front, in a fixed order (see module docstring).
        blur = rng.uniform(*self.blur_range, n)
        noise = rng.uniform(*self.noise_range, n)
        noise_seed, fill_seed = (int(v) for v in rng.integers(0, 2**63 - 1, 2))
        jr = self.jpeg_range or (1, 100)
        quality = rng.integers(int(jr[0]), int(jr[1]) + 1, n)
        occ_raw = self._draw_occlusion(n, rng)

        if self.downsample == "bicubic":
            lr = downsample_bicubic(gaussian_blur(hr, blur) if blur.max() > 0 else hr, s)
        else:
            # Keep the sample nearest the centre of each s x s block (index s//2), which matches
            # bicubic's pixel alignment to within half an HR pixel; only those pixels are blurred.
            lr = gaussian_blur(hr, blur, step=s).clamp(0.0, 1.0)

        if noise.max() > 0:
            gen = torch.Generator().manual_seed(noise_seed)
            eps = torch.randn(lr.shape, generator=gen, dtype=torch.float32).to(lr.device, lr.dtype)
            sig = torch.as_tensor(noise / 255.0, dtype=lr.dtype, device=lr.device).view(n, 1, 1, 1)
            lr = (lr + sig * eps).clamp(0.0, 1.0)

        if self.jpeg_range is not None:
            lr = _jpeg(lr, quality)
        else:
            quality = np.zeros(n, dtype=np.int64)

        lr, mask, boxes, area = self._occlude(lr, occ_raw, fill_seed)

        params = {"blur_sigma": blur, "noise_sigma": noise, "jpeg_quality": quality.astype(np.int64),
                  "occlusion_box": boxes, "occlusion_area": area}
        return DegradedBatch(lr=lr, occlusion_mask=mask, params=params)


def _jpeg(lr: Tensor, quality: np.ndarray) -> Tensor:
    """JPEG-compress each LR image with its own quality (cv2 codes one image at a time)."""
    u8 = quantize_hwc(lr).cpu().numpy()
    out = np.empty_like(u8)
    for i in range(u8.shape[0]):
        bgr = np.ascontiguousarray(u8[i, :, :, ::-1])  # cv2 codes BGR; chroma must see the right channels
        ok, buf = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality[i])])
        if not ok:
            raise RuntimeError(f"cv2.imencode failed for JPEG quality {int(quality[i])}")
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(device=lr.device, dtype=lr.dtype) / 255.0
