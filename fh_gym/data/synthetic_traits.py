"""The look of the synthetic people (:mod:`fh_gym.data.synthetic`): persistent traits per identity, jitter per
image, and the seeded random streams they are drawn from. Drawing them is :mod:`fh_gym.data.synthetic_render`.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

Color = tuple[float, float, float]

# SeedSequence pads short entropy lists with zeros ([s, i] == [s, i, 0]), so every stream starts with
# its own tag: identity traits and image jitter never share random numbers.
IDENTITY_STREAM = 1
IMAGE_STREAM = 2

HAIR_LENGTHS = ("buzz", "short", "medium", "long")
FRINGES = ("none", "straight", "side")
GLASSES = ("", "round", "oval", "rect")

# (R, G, B) anchors interpolated by a single tone parameter, light to dark.
SKIN_TONES = np.array([(241, 206, 186), (224, 178, 148), (198, 146, 110), (160, 110, 76), (110, 72, 50),
                       (78, 52, 38)], dtype=np.float64)
HAIR_COLORS = np.array([(24, 20, 20), (52, 36, 28), (92, 62, 40), (128, 86, 52), (150, 70, 38),
                        (196, 160, 102), (226, 204, 150), (140, 140, 140), (205, 205, 200), (60, 70, 140),
                        (150, 60, 110)], dtype=np.float64)
HAIR_WEIGHTS = np.array([0.2, 0.18, 0.14, 0.1, 0.07, 0.09, 0.06, 0.06, 0.04, 0.03, 0.03])
IRIS_COLORS = np.array([(92, 58, 32), (54, 38, 28), (84, 124, 172), (82, 122, 76), (124, 98, 52),
                        (112, 122, 134)], dtype=np.float64)


@dataclass(frozen=True)
class FaceIdentity:
    """The persistent look of one synthetic person.

    Lengths and positions are in canvas units: the face is designed on a 256x256 canvas (x right, y down)
    and scaled to the render size. Colours are RGB floats in 0..255.
    """

    center: tuple[float, float]
    axes: tuple[float, float]  # half-width, half-height of the face outline
    jaw: float  # lower-face width factor: 1 = round ellipse, 0.55 = narrow pointed chin
    skin: Color
    background: Color
    clothes: Color
    hair: Color
    hair_length: str
    hair_volume: tuple[float, float]  # hair thickness beyond the head at the sides and on top
    hair_end: float  # y where the side hair ends
    hairline: float  # forehead height as a fraction of the half-height (higher = receding)
    fringe: str
    fringe_side: int
    eye_y: float
    eye_dx: float  # half distance between the eye centres
    eye_size: tuple[float, float]  # half-width, half-height of the open eye
    iris: Color
    brow: Color
    brow_thickness: float
    brow_tilt: float  # rise of the outer end over the inner end
    brow_arch: float
    brow_gap: float  # from the eye centre up to the brow centre line
    nose_y: float  # nose tip
    nose_width: float
    mouth_y: float
    mouth_width: float  # half-width
    lips: Color
    lip_thickness: tuple[float, float]  # upper, lower
    glasses: str
    glasses_color: Color
    beard: float  # 0 = none, else opacity of the beard
    moustache: bool


@dataclass(frozen=True)
class ImageJitter:
    """What changes from one image of a person to the next (defaults: a neutral frontal image).

    Attributes:
        rotation: In-plane rotation in degrees, counter-clockwise on screen, about the face centre.
        shift: Translation (x, y) in output pixels at image_size 128 (scaled with the size).
        scale: Zoom factor about the face centre.
        yaw: -1..1, shifts the inner features horizontally (nose most), a cheap out-of-plane turn.
        light_angle: Direction the light comes from, in radians (0 = from the image right).
        light_strength: Relative brightness change across the image from the shading gradient.
        brightness: Added to every channel, in 0..255 units.
        contrast: Multiplies the deviation from mid-grey.
        smile: -0.2..1 mouth-corner lift.
        mouth_open: 0..1.
        eye_open: Eyelid opening relative to the identity's eyes.
        brow_raise: Eyebrow lift in canvas units.
        noise: Sensor-noise standard deviation in 0..255 units (uniform noise drawn from ``noise_seed``).
    """

    rotation: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    yaw: float = 0.0
    light_angle: float = 0.0
    light_strength: float = 0.0
    brightness: float = 0.0
    contrast: float = 1.0
    smile: float = 0.0
    mouth_open: float = 0.0
    eye_open: float = 1.0
    brow_raise: float = 0.0
    noise: float = 0.0
    noise_seed: int = 0


def _hsv(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> Color:
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
    return tuple(255.0 * c for c in rgb)


def _jitter_color(rng: np.random.Generator, color: np.ndarray, amount: float) -> Color:
    return tuple(np.clip(color + rng.normal(0.0, amount, 3), 0, 255).tolist())


def sample_identity(rng: np.random.Generator) -> FaceIdentity:
    """Draw the persistent traits of one person."""
    a = rng.uniform(70.0, 84.0)
    b = a * rng.uniform(1.15, 1.32)
    center = (128.0 + rng.uniform(-3, 3), 133.0 + rng.uniform(-4, 4))
    jaw = rng.uniform(0.55, 0.92)
    tone = rng.uniform(0.0, len(SKIN_TONES) - 1.0)
    skin = np.array([np.interp(tone, np.arange(len(SKIN_TONES)), SKIN_TONES[:, c]) for c in range(3)])
    hair = HAIR_COLORS[rng.choice(len(HAIR_COLORS), p=HAIR_WEIGHTS)]
    eye_y = center[1] - b * rng.uniform(0.08, 0.18)
    eye_w = a * rng.uniform(0.17, 0.21)
    eye_h = eye_w * rng.uniform(0.42, 0.56)
    brow_thickness = rng.uniform(3.0, 8.5)
    nose_y = eye_y + b * rng.uniform(0.34, 0.46)
    chin_y = center[1] + b
    length = HAIR_LENGTHS[rng.choice(4, p=[0.12, 0.38, 0.25, 0.25])]
    side, top = {"buzz": (1.5, 3.0), "short": (4.0, 10.0), "medium": (8.0, 14.0), "long": (9.0, 14.0)}[length]
    hair_end = {"buzz": eye_y - 0.1 * b, "short": eye_y + rng.uniform(-0.05, 0.12) * b,
                "medium": center[1] + rng.uniform(0.3, 0.6) * b, "long": 264.0}[length]
    beard = float(rng.uniform(0.45, 0.95)) if rng.random() < 0.2 else 0.0
    return FaceIdentity(
        center=center, axes=(a, b), jaw=jaw,
        skin=_jitter_color(rng, skin, 4.0),
        background=_hsv(rng, (0.1, 0.6), (0.3, 0.92)),
        clothes=_hsv(rng, (0.15, 0.85), (0.15, 0.85)),
        hair=_jitter_color(rng, hair, 8.0),
        hair_length=length,
        hair_volume=(side * rng.uniform(0.6, 1.8), top * rng.uniform(0.5, 2.0)),
        hair_end=float(hair_end),
        hairline=rng.uniform(0.88, 0.97) if rng.random() < 0.12 else rng.uniform(0.55, 0.78),
        fringe=FRINGES[rng.choice(3, p=[0.45, 0.3, 0.25])],
        fringe_side=int(rng.choice((-1, 1))),
        eye_y=eye_y, eye_dx=a * rng.uniform(0.40, 0.47), eye_size=(eye_w, eye_h),
        iris=_jitter_color(rng, IRIS_COLORS[rng.integers(len(IRIS_COLORS))], 6.0),
        brow=_jitter_color(rng, 0.75 * hair if rng.random() < 0.8 else np.array([40.0, 32.0, 28.0]), 5.0),
        brow_thickness=brow_thickness,
        brow_tilt=rng.uniform(-4.0, 7.0),
        brow_arch=rng.uniform(0.0, 5.0),
        brow_gap=eye_h * rng.uniform(1.7, 2.5) + 0.5 * brow_thickness,
        nose_y=nose_y, nose_width=a * rng.uniform(0.28, 0.42),
        mouth_y=nose_y + (chin_y - nose_y) * rng.uniform(0.36, 0.46),
        mouth_width=a * rng.uniform(0.27, 0.38),
        lips=_jitter_color(rng, 0.62 * skin + 0.38 * np.array([180.0, 60.0, 70.0]), 6.0),
        lip_thickness=(rng.uniform(3.5, 7.0), rng.uniform(5.0, 9.5)),
        glasses=GLASSES[rng.choice(4, p=[0.72, 0.1, 0.09, 0.09])],
        glasses_color=_jitter_color(rng, np.array([30.0, 28.0, 30.0]) if rng.random() < 0.6
                                    else np.array(_hsv(rng, (0.3, 0.8), (0.3, 0.8))), 4.0),
        beard=beard,
        moustache=bool(beard > 0 or rng.random() < 0.08),
    )


def sample_jitter(rng: np.random.Generator) -> ImageJitter:
    """Draw the pose, lighting and expression of one image."""
    return ImageJitter(
        rotation=float(rng.uniform(-10.0, 10.0)),
        shift=(float(rng.uniform(-4.0, 4.0)), float(rng.uniform(-4.0, 4.0))),
        scale=float(rng.uniform(0.94, 1.06)),
        yaw=float(rng.uniform(-1.0, 1.0)),
        light_angle=float(rng.uniform(0.0, 2.0 * np.pi)),
        light_strength=float(rng.uniform(0.0, 0.3)),
        brightness=float(rng.uniform(-14.0, 14.0)),
        contrast=float(rng.uniform(0.86, 1.12)),
        smile=float(rng.uniform(-0.2, 1.0)),
        mouth_open=float(rng.uniform(0.15, 1.0)) if rng.random() < 0.35 else 0.0,
        eye_open=float(rng.uniform(0.6, 1.1)),
        brow_raise=float(rng.uniform(-1.5, 3.0)),
        noise=float(rng.uniform(0.5, 2.0)),
        noise_seed=int(rng.integers(2**31)),
    )


def identity_rng(seed: int, identity: int) -> np.random.Generator:
    """The generator of an identity's traits and textures."""
    return np.random.default_rng([seed, IDENTITY_STREAM, identity])


def image_rng(seed: int, identity: int, image: int) -> np.random.Generator:
    """The generator of one image's jitter."""
    return np.random.default_rng([seed, IMAGE_STREAM, identity, image])
