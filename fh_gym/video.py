"""MP4 episode videos through OpenCV (``mp4v``), written atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np


def write_mp4(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float = 4.0) -> Path:
    """Write RGB uint8 frames (all the same HxWx3 shape) to ``path``; returns the path.

    Raises:
        ValueError: If there are no frames, or a frame has another shape or dtype than the first.
        RuntimeError: If OpenCV cannot open a video writer.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".mp4", dir=path.parent)
    os.close(fd)
    writer = None
    count = 0
    try:
        for frame in frames:
            frame = np.asarray(frame)
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"video frames must be HxWx3 uint8, got {frame.shape} {frame.dtype}")
            if writer is None:
                shape = frame.shape
                writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (shape[1], shape[0]))
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV could not open an mp4v writer for {path}")
            elif frame.shape != shape:
                raise ValueError(f"frame {count} has shape {frame.shape}, the first had {shape}")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            count += 1
        if writer is None:
            raise ValueError("no frames to write")
        writer.release()
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.release()
        Path(tmp).unlink(missing_ok=True)
    return path


def read_mp4(path: str | os.PathLike) -> list[np.ndarray]:
    """All frames of a video as RGB uint8 arrays (tests and tools)."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames
