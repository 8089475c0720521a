"""The built wheel: one top-level package, configs (and shipped weights) inside it, usable from another folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout, installed (no dependencies) into a private folder."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(work / "dist"), str(ROOT)], check=True, capture_output=True, timeout=600)
    wheel = next((work / "dist").glob("fh_gym-*.whl"))
    target = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return wheel, target


@pytest.mark.slow
def test_the_wheel_has_one_top_level_package(installed):
    wheel, target = installed
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = archive.read(next(n for n in names if n.endswith("top_level.txt"))).decode().split()
    assert top_level == ["fh_gym"]
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"fh_gym"}
    assert "fh_gym/envs_configs/envs/dense_x8.yaml" in names
    assert "fh_gym/agents/cli/main.py" in names and "fh_gym/restorers/registry.py" in names
    assert "fh_gym/restorers/weights/manifest.yaml" in names
    assert "fh_gym/restorers/weights/AttentionFHEnhancer-syn_x8.pt" in names  # the shipped weights travel along
    installed_dirs = sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info") and p.name != "bin")
    assert installed_dirs == ["fh_gym"]


@pytest.mark.slow
def test_the_installed_wheel_runs_from_another_folder(installed, tmp_path):
    _, target = installed
    code = ("import gymnasium as gym, fh_gym, fh_gym.agents, fh_gym.restorers; "
            "env = gym.make('fh_gym/FaceRepair-Dense-x8-v0'); env.reset(seed=0); "
            "print(fh_gym.__file__); print(fh_gym.agents.__file__); "
            "print(env.unwrapped.engine.restorer.weights_source)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(target), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    first, second, source = out.stdout.split()
    assert first.startswith(str(target)) and second.startswith(str(target / "fh_gym" / "agents"))
    assert source == "weights:syn_x8"  # repairs with the installed weights, no checkpoint given
