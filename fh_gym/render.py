"""``rgb_array`` frames: LR (nearest-upsampled) | current image with the box history | HR when known."""

from __future__ import annotations

import cv2
import numpy as np

HEADER_PER_SCALE = 14
HISTORY_COLOUR = (255, 215, 0)
CURRENT_COLOUR = (255, 40, 40)


def frame_shape(image_size: int, render_scale: int, with_truth: bool) -> tuple[int, int, int]:
    """Shape of :func:`render_frame`'s output: ``(14*k + S*k, panels*S*k, 3)``, panels = 3 or 2."""
    side = image_size * render_scale
    return HEADER_PER_SCALE * render_scale + side, (3 if with_truth else 2) * side, 3


def render_frame(lr: np.ndarray, current: np.ndarray, hr: np.ndarray | None, boxes: np.ndarray,
                 step: int, horizon: int, psnr: float | None, render_scale: int = 2,
                 draw_history: bool = True) -> np.ndarray:
    """Compose one frame.

    Args:
        lr: (h, w, 3) uint8 LR input.
        current: (S, S, 3) uint8 current image I_t.
        hr: (S, S, 3) uint8 ground truth, or None (inference).
        boxes: (t, 4) boxes ``(top, left, height, width)`` repaired so far; the last is the current one.
        step: t; horizon: T; psnr: current PSNR in dB or None.
        render_scale: Integer zoom of every panel.
        draw_history: Draw earlier boxes (thin) as well as the current one (thick).

    Returns:
        (14*k + S*k, panels*S*k, 3) uint8 RGB frame, k = ``render_scale``.
    """
    k = int(render_scale)
    size = current.shape[0]
    side = size * k

    def zoom(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, (side, side), interpolation=cv2.INTER_NEAREST)

    middle = np.ascontiguousarray(zoom(current))
    shown = boxes if draw_history else boxes[-1:]
    for i, (top, left, h, w) in enumerate(np.asarray(shown, dtype=np.int64)):
        last = i == len(shown) - 1
        colour = CURRENT_COLOUR if last else HISTORY_COLOUR
        cv2.rectangle(middle, (int(left * k), int(top * k)), (int((left + w) * k) - 1, int((top + h) * k) - 1),
                      colour, 2 if last else 1)
    panels = [zoom(lr), middle] + ([zoom(hr)] if hr is not None else [])
    body = np.ascontiguousarray(np.concatenate(panels, axis=1))
    labels = ["LR", "repairing", "HR"]
    for i in range(len(panels)):
        # Panel names sit inside each panel (dark outline so they read on any face).
        org = (i * side + 3 * k, side - 4 * k)
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
            cv2.putText(body, labels[i], org, cv2.FONT_HERSHEY_SIMPLEX, 0.3 * k, colour, thickness, cv2.LINE_AA)
    header = np.full((HEADER_PER_SCALE * k, body.shape[1], 3), 24, dtype=np.uint8)
    text = f"t {step}/{horizon}" + (f"   PSNR {psnr:.2f} dB" if psnr is not None and np.isfinite(psnr) else "")
    cv2.putText(header, text, (4 * k, int(HEADER_PER_SCALE * k * 0.72)), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * k,
                (240, 240, 240), 1, cv2.LINE_AA)
    return np.concatenate([header, body], axis=0)
