"""bench/paired_rows.py: paired differences between rows of per-face CSVs, across files on the same faces."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def script(bench_script):
    return bench_script("paired_rows")


def _write(path: Path, rows: list[tuple[str, int, int, float, float]]) -> Path:
    lines = ["strategy,T,face_index,bicubic_psnr,start_psnr,psnr,ssim"]
    lines += [f"{s},{t},{f},{b},{b},{p},0.5" for s, t, f, b, p in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_pairs_rows_across_files_on_shared_faces(script, tmp_path, capsys):
    first = _write(tmp_path / "a.csv", [("even", 16, 0, 20.0, 22.0), ("even", 16, 1, 25.0, 26.0),
                                       ("even", 16, 2, 30.0, 31.0)])
    # face 3 is only in the second run: it is left out of the pair
    second = _write(tmp_path / "b.csv", [("greedy2", 10, 0, 20.0, 22.5), ("greedy2", 10, 1, 25.0, 26.0),
                                        ("greedy2", 10, 2, 30.0, 31.5), ("greedy2", 10, 3, 10.0, 19.0)])
    assert script.main([str(first), str(second), "--pair", "greedy2:10", "even:16"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    # gains: greedy2 2.5, 1.0, 1.5 (mean 1.67); even 2, 1, 1 (1.33); differences 0.5, 0, 0.5 (mean 0.33,
    # s = 0.2887, t(0.975, 2) = 4.303: half-width 0.72); greedy2 ahead on 2 of 3 faces
    assert line == "| greedy2:10 | even:16 | 3 | 1.67 ± 1.90 | 1.33 ± 1.43 | 0.33 ± 0.72 | 67% |"


def test_unknown_row_and_bad_row_are_one_line_errors(script, tmp_path, capsys):
    path = _write(tmp_path / "a.csv", [("even", 16, 0, 20.0, 22.0)])
    with pytest.raises(SystemExit) as exit_info:
        script.main([str(path), "--pair", "greedy:4", "even:16"])
    assert exit_info.value.code == 2 and "no row greedy:4; rows: even:16" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        script.main([str(path), "--pair", "greedy", "even:16"])
    assert exit_info.value.code == 2 and "invalid row 'greedy' (expected strategy:T" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        script.main([str(tmp_path / "missing.csv"), "--pair", "even:16", "even:16"])
    assert exit_info.value.code == 2 and "file not found" in capsys.readouterr().err
