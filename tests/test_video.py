"""Videos are H.264 with browser-compatible pixels, mode 0644, written by one writer for every command."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fh_gym.agents.cli.main import main
from fh_gym.video import FILE_MODE, read_mp4, video_info, write_mp4

DATA = ["--set", "data.identities=6", "--set", "data.images_per_identity=2"]


def _mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_write_mp4_is_h264_yuv420p_0644_and_pads_odd_sides(tmp_path):
    frames = [np.full((31, 45, 3), 40 * k, np.uint8) for k in range(4)]
    path = write_mp4(frames, tmp_path / "v.mp4", fps=4)
    info = video_info(path)
    assert info["codec"] == "h264" and info["pix_fmt"].startswith("yuv420p") and info["fps"] == 4.0
    assert _mode(path) == FILE_MODE == 0o644
    decoded = read_mp4(path)
    assert len(decoded) == 4 and decoded[0].shape == (32, 46, 3)  # one black row and column added
    assert abs(int(decoded[2][10, 10, 0]) - 80) <= 2 and decoded[3][31, 45].max() < 20
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no temporary file left behind


def test_write_mp4_refuses_bad_frames(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_mp4([], tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        write_mp4([np.zeros((8, 8), np.uint8)], tmp_path / "b.mp4")
    with pytest.raises(ValueError, match="frame 1 has shape"):
        write_mp4([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)], tmp_path / "c.mp4")
    assert not list(tmp_path.iterdir())


def test_record_and_hallucinate_write_h264_videos_readable_by_others(tmp_path):
    assert main(["record", *DATA, "--episodes", "1", "--set", "horizon=2", "--out", str(tmp_path / "rec")]) == 0
    lr = tmp_path / "lr"
    lr.mkdir()
    import cv2  # the test's own PNG writer

    cv2.imwrite(str(lr / "face.png"), np.full((16, 16, 3), 120, np.uint8))
    assert main(["hallucinate", str(lr), "--video", "--set", "horizon=2", "--out", str(tmp_path / "sr")]) == 0
    for video in [*(tmp_path / "rec").glob("*.mp4"), tmp_path / "sr" / "face.mp4"]:
        assert video_info(video)["codec"] == "h264" and _mode(video) == 0o644, video
