"""Episode videos: H.264 MP4 that browsers and editors play, written atomically, readable by everyone.

The one video writer of fh-gym (``fh-gym record``, ``hallucinate --video``, the demo). It encodes with the
ffmpeg binary that the ``imageio-ffmpeg`` wheel ships (no system ffmpeg needed): H.264 (``libx264``),
``yuv420p`` pixels (what browsers, VS Code and QuickTime decode; it needs even sides, so odd frames get one
black row / column), ``+faststart`` (playable while it downloads). The file is written under a temporary
name, renamed into place and given mode 0644 (a temporary file would be 0600: unreadable by others).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np

#: encoder settings: H.264 at constant quality, browser-compatible pixels, index at the front
CODEC = "libx264"
OUTPUT_PARAMS = ["-crf", "18", "-preset", "medium", "-movflags", "+faststart"]
#: permissions of a written video (``rw-r--r--``)
FILE_MODE = 0o644


def _even(frame: np.ndarray) -> np.ndarray:
    """``frame`` padded with one black row / column where a side is odd (yuv420p needs even sides)."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))


def _checked(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    shape = None
    for count, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"video frames must be HxWx3 uint8, got {frame.shape} {frame.dtype}")
        if shape is None:
            shape = frame.shape
        elif frame.shape != shape:
            raise ValueError(f"frame {count} has shape {frame.shape}, the first had {shape}")
        yield np.ascontiguousarray(_even(frame))


def write_mp4(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float = 4.0) -> Path:
    """Write RGB uint8 frames (all the same HxWx3 shape) to ``path`` as H.264; returns the path.

    Raises:
        ValueError: If there are no frames, or a frame has another shape or dtype than the first.
        RuntimeError: If ffmpeg fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = _checked(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("no frames to write")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".mp4", dir=path.parent)
    os.close(fd)
    writer = imageio_ffmpeg.write_frames(tmp, (first.shape[1], first.shape[0]), fps=float(fps), codec=CODEC,
                                         pix_fmt_out="yuv420p", macro_block_size=2, quality=None,
                                         output_params=OUTPUT_PARAMS, ffmpeg_log_level="error")
    try:
        writer.send(None)  # starts ffmpeg
        writer.send(first)
        for frame in frames:
            writer.send(frame)
        writer.close()
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except Exception as exc:
        writer.close()  # ffmpeg exits before its file is removed
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, ValueError):
            raise
        raise RuntimeError(f"could not write the video {path}: {exc}") from exc
    return path


def video_info(path: str | os.PathLike) -> dict[str, Any]:
    """ffmpeg's description of a video (``codec``, ``size``, ``fps``, ``duration``...), without decoding it."""
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        return next(reader)
    finally:
        reader.close()


def read_mp4(path: str | os.PathLike) -> list[np.ndarray]:
    """All frames of a video as RGB uint8 arrays (tests and tools)."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3).copy() for data in reader]
    reader.close()
    return frames
