"""The ``fh-gym`` commands end to end on tiny synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from fh_gym.agents.cli.main import main
from fh_gym.restorers.checkpoint import load_network, safe_load
from fh_gym.video import read_mp4

DATA = ["--data", "synthetic", "--set", "data.identities=24", "--set", "data.images_per_identity=3"]


def test_pretrain_restorer_trains_checkpoints_and_resumes(tmp_path, capsys):
    out = tmp_path / "restorer"
    args = ["pretrain-restorer", *DATA, "--arch", "FSRCNN", "--batch-size", "4", "--eval-every", "1000",
            "--out", str(out), "--quiet", "--set", "horizon=4"]
    assert main([*args, "--steps", "6"]) == 0
    first = safe_load(out / "last.pt")
    assert first["step"] == 6
    assert "validation even-grid gain" in capsys.readouterr().out
    assert main([*args, "--steps", "9"]) == 0  # same folder: resumes at 6
    resumed = safe_load(out / "last.pt")
    assert resumed["step"] == 9
    adam = resumed["optimizers"]["restorer"]["state"]
    assert int(next(iter(adam.values()))["step"]) == 9  # optimiser state carried over, not restarted
    restorer = load_network(out / "restorer.pt", kind="patch")
    assert type(restorer).__name__ == "FSRCNN" and restorer.checkpoint_meta["step"] == 9


def test_compare_writes_markdown_csv_and_plot(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", *DATA, "--strategies", "random,even,greedy", "--faces", "4", "--batch-size", "4",
                 "--set", "horizon=2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| bicubic | 0 | 4 |" in printed and "| greedy | 2 | 4 |" in printed
    assert (out / "compare.csv").read_text().count("\n") == 5  # header + bicubic + 3 strategies
    assert (out / "compare.png").stat().st_size > 1000


def test_record_writes_one_video_per_episode_with_start_frame(tmp_path):
    out = tmp_path / "videos"
    assert main(["record", *DATA, "--strategy", "even", "--episodes", "2", "--set", "horizon=3",
                 "--out", str(out)]) == 0
    videos = sorted(out.glob("*.mp4"))
    assert [v.name for v in videos] == ["even_000.mp4", "even_001.mp4"]
    frames = read_mp4(videos[0])
    assert len(frames) == 4  # start frame + one per step
    assert frames[0].shape == (284, 768, 3)
    # the current box is drawn in red on the middle panel from the first step on
    middle = [f[28:, 256:512].astype(int) for f in frames]
    red = [np.sum((m[..., 0] > 200) & (m[..., 1] < 90) & (m[..., 2] < 90)) for m in middle]
    assert red[0] < red[1]


def test_bench_reports_both_implementations(capsys):
    assert main(["bench", *DATA, "--sizes", "1", "2", "--steps", "2", "--repeats", "1"]) == 0
    table = capsys.readouterr().out
    assert "| 1 |" in table and "| 2 |" in table and "x |" in table


def test_bad_config_key_exits_with_a_clear_message(capsys):
    assert main(["compare", *DATA, "--set", "horizn=3"]) == 2
    assert "unknown config key 'horizn'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "pretrain-restorer", "compare", "eval", "record", "bench",
                                     "train-generator", "train"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: fh-gym" in capsys.readouterr().out
