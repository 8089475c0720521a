"""Drawing of the synthetic faces (see :mod:`fh_gym.data.synthetic`; their traits: :mod:`fh_gym.data.synthetic_traits`).

Faces are designed on a 256-unit canvas, drawn with anti-aliased OpenCV primitives (sub-pixel coordinates
through ``shift``) at twice the output size, then posed with one affine warp and area-downsampled. The
landmarks are the drawn feature centres pushed through the same affine, so they are exact.
"""

from __future__ import annotations

import cv2
import numpy as np

from fh_gym.data.synthetic_traits import FaceIdentity, ImageJitter

UNIT = 256.0  # design canvas size
SHIFT = 4  # fixed-point bits for sub-pixel drawing
AA = cv2.LINE_AA
NECK_WIDTH = 0.46  # half-width of the neck relative to the face half-width


def _shade(color, factor: float, add: float = 0.0) -> tuple[float, float, float]:
    return tuple(float(min(255.0, max(0.0, c * factor + add))) for c in color)


class FaceRenderer:
    """Draws the images of one identity; the per-identity base image and texture are built once.

    Args:
        identity: The person's traits.
        image_size: Output side S in pixels; drawing happens at 2S.
        rng: Generator for the identity's textures (hair strands, skin pores).
    """

    def __init__(self, identity: FaceIdentity, image_size: int, rng: np.random.Generator) -> None:
        self.face = identity
        self.size = int(image_size)
        self.canvas_size = 2 * self.size
        self.k = self.canvas_size / UNIT  # canvas pixels per design unit
        self.texture = self._skin_texture(rng)
        self.base = self._draw_base(rng)
        ex, ey = identity.eye_dx, identity.eye_y
        eh = identity.eye_size[1]
        self.lid_colors = [(self._sample(cx, ey - 1.6 * eh), self._sample(cx, ey + 1.8 * eh))
                           for cx in (identity.center[0] - ex, identity.center[0] + ex)]

    # ----- primitives (coordinates in design units) -----
    def _canvas(self, points) -> np.ndarray:
        """Design units to canvas pixels; pixel centres sit at integers in both, hence the half-pixel terms."""
        return (np.asarray(points, dtype=np.float64) + 0.5) * self.k - 0.5

    def _fx(self, points) -> np.ndarray:
        return np.round(self._canvas(points) * (1 << SHIFT)).astype(np.int32)

    def _px(self, units: float) -> int:
        return max(1, round(units * self.k))

    def _poly(self, img, points, color) -> None:
        cv2.fillPoly(img, [self._fx(points)], color, AA, SHIFT)

    def _lines(self, img, polylines, color, width: float, closed: bool = False) -> None:
        cv2.polylines(img, [self._fx(p) for p in polylines], closed, color, self._px(width), AA, SHIFT)

    def _ellipse(self, img, center, axes, color, angle: float = 0.0, width: float = -1) -> None:
        thickness = -1 if width < 0 else self._px(width)
        axes_fx = np.round(np.asarray(axes) * (self.k * (1 << SHIFT))).astype(np.int32)
        cv2.ellipse(img, tuple(self._fx(center).tolist()), tuple(axes_fx.tolist()), angle, 0, 360,
                    color, thickness, AA, SHIFT)

    def _sample(self, x: float, y: float) -> tuple[float, float, float]:
        col, row = np.round(self._canvas((x, y))).astype(int)
        r = max(1, self._px(2.0))
        return tuple(self.base[row - r:row + r + 1, col - r:col + r + 1].reshape(-1, 3).mean(0).tolist())

    # ----- per-identity layers -----
    def _skin_texture(self, rng: np.random.Generator) -> np.ndarray:
        """A multiplicative (R, R, 3) float32 field: fine pores plus low-frequency blotches."""
        size = self.canvas_size
        pores = cv2.GaussianBlur(rng.standard_normal((size, size), dtype=np.float32), (0, 0), 0.6 * self.k)
        pores *= 0.045 / max(float(pores.std()), 1e-6)
        blotches = cv2.resize(rng.standard_normal((12, 12), dtype=np.float32), (size, size),
                              interpolation=cv2.INTER_CUBIC)
        return cv2.merge([1.0 + pores + 0.03 * blotches] * 3)

    def _strand_layer(self, rng: np.random.Generator, color, count: int, length: tuple[float, float],
                      origin: tuple[float, float]) -> np.ndarray:
        """Hair-coloured canvas covered with strands flowing away from ``origin``."""
        layer = np.empty((self.canvas_size, self.canvas_size, 3), np.uint8)
        layer[:] = np.round(color).astype(np.uint8)
        starts = rng.uniform(0.0, UNIT, (count, 2))
        direction = starts - np.asarray(origin) + np.array([0.0, 25.0])
        direction /= np.linalg.norm(direction, axis=1, keepdims=True) + 1e-9
        normal = direction[:, ::-1] * np.array([-1.0, 1.0])
        steps = np.linspace(0.0, 1.0, 4)[None, :, None]
        lengths = rng.uniform(*length, (count, 1, 1))
        bend = rng.normal(0.0, 0.15, (count, 1, 1)) * lengths * np.sin(np.pi * steps)
        strands = starts[:, None] + direction[:, None] * lengths * steps + normal[:, None] * bend
        shades = (_shade(color, 0.6), _shade(color, 1.2, 28.0), _shade(color, 0.82))
        for group, shade in enumerate(shades):
            self._lines(layer, list(strands[group::3]), shade, 1.0)
        return layer

    def _composite(self, base: np.ndarray, layer: np.ndarray, polygon, opacity: float = 1.0) -> None:
        mask = np.zeros(base.shape[:2], np.uint8)
        self._poly(mask, polygon, 255)
        alpha = mask.astype(np.float32)[..., None] * (opacity / 255.0)
        base += (layer.astype(np.float32) - base) * alpha

    def _outline(self, count: int = 72) -> np.ndarray:
        f = self.face
        theta = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
        narrow = 1.0 - (1.0 - f.jaw) * np.clip(np.sin(theta), 0.0, None) ** 1.6
        return np.stack([f.center[0] + f.axes[0] * np.cos(theta) * narrow,
                         f.center[1] + f.axes[1] * np.sin(theta)], axis=1)

    def _half_width(self, y: float) -> float:
        """Half-width of the face outline at height ``y`` (below the chin: of the neck)."""
        (_, cy), (a, b) = self.face.center, self.face.axes
        rel = float(np.clip((y - cy) / b, -1.0, 1.0))
        face = a * np.sqrt(1.0 - rel * rel) * (1.0 - (1.0 - self.face.jaw) * max(rel, 0.0) ** 1.6)
        return max(face, NECK_WIDTH * a) if rel > 0 else face

    def _hair_polygons(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The hair in front of the face (crown, sides, fringe) and, for long hair, the part behind it."""
        f = self.face
        (cx, cy), (a, b) = f.center, f.axes
        side, top = f.hair_volume
        ox, oy = a + side, b + top
        lowest = min(f.hair_end, cy)  # the crown arc stops where short hair ends
        start = np.pi + np.arcsin(np.clip((cy - lowest) / oy, 0.0, 1.0))
        arc = np.linspace(start, 3.0 * np.pi - start, 28)
        outer = np.stack([cx + ox * np.cos(arc), cy + oy * np.sin(arc)], axis=1)
        if f.hair_end > cy:  # hair hangs below the crown ellipse, flaring a little
            drop = np.linspace(cy, f.hair_end, 6)[1:]
            flare = ox + 0.12 * (drop - cy)
            outer = np.vstack([np.stack([cx - flare[::-1], drop[::-1]], 1), outer, np.stack([cx + flare, drop], 1)])
        brow_top = f.eye_y - f.brow_gap - f.brow_thickness
        temple_y = min(brow_top - 3.0, f.hair_end)
        inset = 4.0 if f.hair_length in ("buzz", "short") else 2.0
        temple_x = self._half_width(temple_y) - inset
        phi = np.linspace(0.0, np.pi, 21)
        line_y = temple_y - (temple_y - (cy - b * f.hairline)) * np.sin(phi) ** 0.7
        line_x = cx + temple_x * np.cos(phi)
        if f.fringe == "straight":
            line_y = np.maximum(line_y, temple_y - 4.0 + 1.5 * np.cos(phi * 9))
        elif f.fringe == "side":
            t = np.clip((line_x - (cx - temple_x)) / (2 * temple_x), 0.0, 1.0)
            t = t if f.fringe_side > 0 else 1.0 - t
            line_y = np.maximum(line_y, temple_y - (temple_y - line_y.min()) * (1 - t) ** 1.3 - 2.0)
        side_y = np.linspace(temple_y, max(f.hair_end, temple_y), 8)
        side_x = np.array([self._half_width(y) for y in side_y]) - inset
        inner = np.vstack([np.stack([cx + side_x[::-1], side_y[::-1]], 1), np.stack([line_x, line_y], 1),
                           np.stack([cx - side_x, side_y], 1)])
        front = np.vstack([outer, inner])
        back = None
        if f.hair_length == "long":
            arc = np.linspace(np.pi, 2.0 * np.pi, 24)
            crown = np.stack([cx + ox * np.cos(arc), cy + oy * np.sin(arc)], axis=1)
            spread = ox + 0.25 * (UNIT + 8 - cy)
            back = np.vstack([[[cx - spread, UNIT + 8]], crown, [[cx + spread, UNIT + 8]]])
        return front, back

    def _beard_polygon(self, outline: np.ndarray) -> np.ndarray:
        """From the sideburns along the jaw around the chin, the upper edge dipping to the mouth corners."""
        f = self.face
        cx = f.center[0]
        cheek = f.eye_y + 0.45 * (f.nose_y - f.eye_y)
        jaw = outline[outline[:, 1] >= cheek]
        jaw = jaw[np.argsort(np.arctan2(jaw[:, 1] - cheek, jaw[:, 0] - cx))]  # right, chin, left
        jaw[:, 1] = cheek + (jaw[:, 1] - cheek) * 1.04  # a full beard reaches a little below the chin
        lip = f.nose_y + 0.3 * (f.mouth_y - f.nose_y)
        corner = f.mouth_y - 0.15 * (f.mouth_y - f.nose_y)
        upper = [(cx - 1.3 * f.mouth_width, corner), (cx - 0.5 * f.mouth_width, lip),
                 (cx + 0.5 * f.mouth_width, lip), (cx + 1.3 * f.mouth_width, corner)]
        return np.vstack([jaw, upper])

    def _draw_base(self, rng: np.random.Generator) -> np.ndarray:
        """Background, clothes, neck, ears, shaded face, beard and hair: everything that never moves."""
        f = self.face
        (cx, cy), (a, b) = f.center, f.axes
        size = self.canvas_size
        rows = np.linspace(-1.0, 1.0, size, dtype=np.float32)[:, None, None]
        base = np.empty((size, size, 3), np.uint8)
        base[:] = np.clip(np.asarray(f.background, np.float32) * (1.0 - 0.12 * rows), 0, 255)  # no wrap-around
        front, back = self._hair_polygons()
        hair_layer = self._strand_layer(rng, f.hair, 420, (14.0, 40.0), (cx, cy - b - f.hair_volume[1]))
        self._ellipse(base, (cx, UNIT + 0.5 * b), (1.9 * a, 0.75 * b), _shade(f.clothes, 1.0))
        if back is not None:
            canvas = base.astype(np.float32)
            self._composite(canvas, hair_layer, back)
            base = canvas.astype(np.uint8)
        neck_top, neck_w = cy + 0.5 * b, NECK_WIDTH * a
        self._poly(base, [(cx - neck_w, neck_top), (cx + neck_w, neck_top), (cx + 1.12 * neck_w, UNIT + 4),
                          (cx - 1.12 * neck_w, UNIT + 4)], _shade(f.skin, 0.78))
        if f.hair_length in ("buzz", "short"):
            ear_y = f.eye_y + 0.2 * b
            for s in (-1, 1):
                ear_x = cx + s * (self._half_width(ear_y) + 0.02 * a)
                self._ellipse(base, (ear_x, ear_y), (0.13 * a, 0.2 * b), _shade(f.skin, 0.93))
                self._ellipse(base, (ear_x + s * 0.02 * a, ear_y), (0.06 * a, 0.12 * b), _shade(f.skin, 0.75))
        outline = self._outline()
        self._poly(base, outline, f.skin)
        # Round the face: darker towards the sides and the chin (only where the face mask is).
        mask = np.zeros((size, size), np.uint8)
        self._poly(mask, outline, 255)
        coords = (np.arange(size, dtype=np.float32) + 0.5) / self.k - 0.5
        across = ((coords - cx) / a) ** 2
        down = np.clip((coords - cy) / b, 0.0, None) ** 2
        shading = 1.0 - mask.astype(np.float32) / 255.0 * (0.2 * across[None, :] + 0.12 * down[:, None])
        canvas = base.astype(np.float32) * shading[..., None]
        if f.beard > 0:
            self._composite(canvas, hair_layer, self._beard_polygon(outline), f.beard)
        self._composite(canvas, hair_layer, front)
        return np.clip(canvas, 0, 255).astype(np.uint8)

    # ----- per-image features -----
    def _eye(self, img, center, half_w: float, opening: float, lids) -> None:
        f = self.face
        ex, ey = center
        half_h = f.eye_size[1]
        t = np.linspace(-1.0, 1.0, 13)
        xs = ex + half_w * t
        upper = np.stack([xs, ey - half_h * opening * (1 - t * t) ** 0.6], 1)
        lower = np.stack([xs, ey + half_h * (0.55 + 0.2 * opening) * (1 - t * t) ** 0.75], 1)
        self._poly(img, np.vstack([upper, lower[::-1]]), (236.0, 230.0, 224.0))
        iris_r = 0.95 * half_h
        self._ellipse(img, center, (iris_r, iris_r), f.iris)
        self._ellipse(img, center, (iris_r, iris_r), _shade(f.iris, 0.5), width=1.0)
        self._ellipse(img, center, (0.68 * iris_r, 0.68 * iris_r), _shade(f.iris, 1.25, 12.0), width=1.0)
        self._ellipse(img, center, (0.42 * iris_r, 0.42 * iris_r), (12.0, 10.0, 10.0))
        self._ellipse(img, (ex - 0.3 * iris_r, ey - 0.35 * iris_r), (0.17 * iris_r, 0.17 * iris_r),
                      (250.0, 250.0, 250.0))
        # Skin bands just outside the lids hide whatever part of the iris the lids close over.
        cover = np.array([0.0, iris_r + 3.0])
        self._poly(img, np.vstack([upper, upper[::-1] - cover]), lids[0])
        self._poly(img, np.vstack([lower, lower[::-1] + cover]), lids[1])
        self._lines(img, [upper[1:-1]], (34.0, 24.0, 24.0), 2.0)
        self._lines(img, [lower[2:-2]], _shade(lids[1], 0.8), 1.0)
        self._lines(img, [upper[2:-2] - np.array([0.0, 0.55 * half_h + 2.0])], _shade(lids[0], 0.82), 1.0)
        roots = upper[2:-2:2]
        outward = np.sign(roots[:, 0] - ex)[:, None] * np.array([1.2, 0.0]) + np.array([0.0, -3.2])
        lashes = np.stack([roots, roots + outward * (0.7 + 0.3 * opening)], 1)
        self._lines(img, list(lashes), (30.0, 22.0, 22.0), 1.0)

    def _brow(self, img, side: int, x_center: float, y: float) -> None:
        f = self.face
        t = np.linspace(0.0, 1.0, 9)
        half_w = f.eye_size[0]
        xs = x_center + side * (-1.05 * half_w + 2.3 * half_w * t)
        ys = y - f.brow_arch * np.sin(np.pi * t * 0.9) - f.brow_tilt * t
        half_t = 0.5 * f.brow_thickness * (1.0 - 0.45 * t)
        self._poly(img, np.vstack([np.stack([xs, ys - half_t], 1), np.stack([xs, ys + half_t], 1)[::-1]]),
                   f.brow)
        hairs = np.stack([np.stack([xs[:-1], ys[:-1] + half_t[:-1] * 0.7], 1),
                          np.stack([xs[1:], ys[1:] - half_t[1:] * 0.7], 1)], 1)
        self._lines(img, list(hairs), _shade(f.brow, 0.6), 1.0)

    def _nose(self, img, nx: float, ny: float, bridge_x: float) -> None:
        f = self.face
        w = f.nose_width
        skin = f.skin
        top = f.eye_y + 0.25 * (ny - f.eye_y)
        for s in (-1, 1):
            self._lines(img, [np.array([(bridge_x + s * 0.18 * w, top), (nx + s * 0.36 * w, ny - 0.1 * w)])],
                        _shade(skin, 0.86), 1.5)
            self._ellipse(img, (nx + s * 0.36 * w, ny + 0.05 * w), (0.16 * w, 0.13 * w), _shade(skin, 0.72),
                          width=1.0)
            self._ellipse(img, (nx + s * 0.19 * w, ny + 0.13 * w), (0.11 * w, 0.055 * w), _shade(skin, 0.35),
                          angle=-s * 18.0)
        self._ellipse(img, (nx, ny - 0.1 * w), (0.12 * w, 0.1 * w), _shade(skin, 1.07, 6.0))

    def _mouth(self, img, mx: float, my: float, half_w: float, lift: float, opening: float) -> None:
        f = self.face
        t = np.linspace(-1.0, 1.0, 15)
        bulge = 1.0 - t * t
        xs = mx + half_w * t
        mid = my - lift * t * t
        gap = opening * bulge
        up_in, lo_in = mid - 0.5 * gap, mid + 0.5 * gap
        up_out = up_in - f.lip_thickness[0] * bulge ** 0.5 * (1.0 - 0.25 * np.exp(-((t / 0.18) ** 2)))
        lo_out = lo_in + f.lip_thickness[1] * bulge ** 0.6

        def band(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:  # region between two lip curves
            return np.vstack([np.stack([xs, top], 1), np.stack([xs[::-1], bottom[::-1]], 1)])

        if opening > 0.5:
            self._poly(img, band(up_in, lo_in), (62.0, 22.0, 26.0))
            self._poly(img, band(up_in, up_in + 0.35 * gap), (232.0, 226.0, 214.0))  # upper teeth
        self._poly(img, band(up_out, up_in), f.lips)
        self._poly(img, band(lo_in, lo_out), _shade(f.lips, 1.06, 4.0))
        self._lines(img, [np.stack([xs, up_in], 1)], _shade(f.lips, 0.45), 1.2)
        if f.moustache:
            top = f.nose_y + 0.25 * (my - f.nose_y)
            span = np.linspace(-1.05, 1.05, 9)
            lower = np.stack([mx + half_w * span, np.interp(span, t, up_out) - 1.5], 1)
            upper = np.stack([mx + 0.8 * half_w * span, top + 3.0 * span ** 2], 1)
            self._poly(img, np.vstack([upper, lower[::-1]]), _shade(f.hair, 0.9))
            strands = np.stack([upper[1:-1], lower[1:-1] - np.array([0.0, 1.0])], 1)
            self._lines(img, list(strands), _shade(f.hair, 0.6), 1.0)

    def _glasses(self, img, eye_xs: tuple[float, float], eye_y: float, eye_w: float) -> None:
        f = self.face
        color, width = f.glasses_color, 2.4
        rx = 1.45 * eye_w
        ry = rx if f.glasses == "round" else 1.05 * eye_w
        for ex in eye_xs:
            if f.glasses == "rect":
                corners = np.array([(-rx, -ry), (rx, -ry), (rx, ry), (-rx, ry)]) + np.array([ex, eye_y])
                self._lines(img, [corners], color, width, closed=True)
            else:
                self._ellipse(img, (ex, eye_y), (rx, ry), color, width=width)
        left_inner, right_inner = eye_xs[0] + rx, eye_xs[1] - rx
        bridge = [(left_inner, eye_y - 0.3 * ry), (0.5 * (left_inner + right_inner), eye_y - 0.45 * ry),
                  (right_inner, eye_y - 0.3 * ry)]
        self._lines(img, [np.array(bridge)], color, width)
        edge = self._half_width(eye_y)
        for side, ex in ((-1, eye_xs[0]), (1, eye_xs[1])):
            rim, temple = ex + side * rx, f.center[0] + side * edge
            if side * (temple - rim) > 0:  # the arm runs from the rim to the side of the head
                self._lines(img, [np.array([(rim, eye_y - 0.3 * ry), (temple, eye_y - 0.4 * ry)])], color, width)

    def render(self, jitter: ImageJitter) -> tuple[np.ndarray, np.ndarray]:
        """Draw one image.

        Returns:
            (S, S, 3) uint8 RGB image and (5, 2) float32 landmarks (x, y) in output pixels:
            left eye, right eye, nose tip, left and right mouth corner (left = smaller x).
        """
        f, j = self.face, jitter
        cx = f.center[0]
        shift = 0.07 * f.axes[0] * j.yaw
        eye_x = (cx - f.eye_dx + 0.6 * shift, cx + f.eye_dx + 0.6 * shift)
        squeeze = (1.0 + 0.12 * j.yaw, 1.0 - 0.12 * j.yaw)  # the eye turning away looks narrower
        nose = (cx + shift, f.nose_y)
        lift = 0.22 * f.mouth_width * j.smile
        mouth_w = f.mouth_width * (1.0 + 0.08 * max(j.smile, 0.0))
        mx, my = cx + 0.75 * shift, f.mouth_y
        img = self.base.copy()
        for side, x in enumerate(eye_x):
            self._eye(img, (x, f.eye_y), f.eye_size[0] * squeeze[side], j.eye_open, self.lid_colors[side])
            self._brow(img, 2 * side - 1, x, f.eye_y - f.brow_gap - j.brow_raise)
        self._nose(img, nose[0], nose[1], cx + 0.7 * shift)
        self._mouth(img, mx, my, mouth_w, lift, j.mouth_open * 0.35 * f.mouth_width)
        if f.glasses:
            self._glasses(img, eye_x, f.eye_y, f.eye_size[0])
        points = np.array([(eye_x[0], f.eye_y), (eye_x[1], f.eye_y), nose, (mx - mouth_w, my - lift),
                           (mx + mouth_w, my - lift)])

        # Texture, pose and downsampling stay in uint8 (OpenCV's fast paths); lighting is done in float.
        img = cv2.multiply(img, self.texture, dtype=cv2.CV_8U)
        pivot = tuple(self._canvas(f.center).tolist())
        matrix = cv2.getRotationMatrix2D(pivot, j.rotation, j.scale)
        matrix[:, 2] += np.asarray(j.shift) * (self.canvas_size / 128.0)  # shift is in pixels at S=128
        img = cv2.warpAffine(img, matrix, (self.canvas_size, self.canvas_size), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT_101)
        small = cv2.resize(img, (self.size, self.size), interpolation=cv2.INTER_AREA).astype(np.float32)
        coords = np.linspace(-1.0, 1.0, self.size, dtype=np.float32)
        plane = j.light_strength * (np.cos(j.light_angle) * coords[None, :] + np.sin(j.light_angle) * coords[:, None])
        small *= (j.contrast * (1.0 + plane))[..., None]
        small += j.brightness + 128.0 * (1.0 - j.contrast) + 0.5
        if j.noise > 0:
            # Uniform noise with the requested std: a third of the cost of Gaussian sampling.
            uniform = np.random.default_rng(j.noise_seed).random(small.shape, dtype=np.float32) - 0.5
            small += uniform * (j.noise * np.sqrt(12.0))
        image = np.clip(small, 0.0, 255.0).astype(np.uint8)
        posed = self._canvas(points) @ matrix[:, :2].T + matrix[:, 2]
        landmarks = (posed + 0.5) * (self.size / self.canvas_size) - 0.5
        return image, landmarks.astype(np.float32)
