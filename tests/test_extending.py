"""docs/extending.md: a reward, a strategy and an env variant are one new file each, nothing else edited.

The test copies the project's packages into a temporary folder, writes the files exactly as the page prints
them, and runs the page's last snippet there in a fresh interpreter.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "extending.md"


def page_files() -> tuple[dict[str, str], str]:
    """``{path: content}`` of the page's file sections (``## ...: `path` ``) and its final snippet."""
    text = PAGE.read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    files, snippet = {}, ""
    for section in sections:
        block = re.search(r"```(?:python|yaml)\n(.*?)```", section, flags=re.S).group(1)
        named = re.match(r"[^\n`]*`([^`]+)`", section)
        if named and "/" in named.group(1):
            files[named.group(1)] = block
        else:
            snippet = block
    return files, snippet


def test_the_page_names_one_new_file_per_piece():
    files, snippet = page_files()
    assert sorted(files) == ["agents/strategies/reverse_strategy.py", "envs_configs/envs/dense_x8_l1.yaml",
                             "fh_gym/engine/rewards/l1_gain.py"]
    assert not any((ROOT / path).exists() for path in files)  # examples, not shipped pieces
    assert "gym.make(\"fh_gym/FaceRepair-DenseL1-x8-v0\")" in snippet


def test_the_three_new_files_work_with_nothing_else_edited(tmp_path):
    files, snippet = page_files()
    for folder in ("fh_gym", "agents", "restorers", "envs_configs"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for path, content in files.items():
        (tmp_path / path).write_text(content)
    out = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"reward -?\d+\.\d+ first reverse tile 46", out.stdout), out.stdout
