"""Shared fixtures: real-face data location, the ``bench/`` scripts as modules; one torch thread.

The tests run tiny networks on tiny batches, where OpenMP threads only add overhead, and on a busy
machine (other jobs on the same cores) two threads per process ran 10-60x slower than one.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch

from fh_gym.data.paths import lfw_root, shared_data_dir

torch.set_num_threads(1)


def _found_or_skip(path, what: str):
    if path is None:
        pytest.skip(f"{what} not found: set FH_GYM_DATA (a folder holding lfw-deepfunneled/, lfw_pairs.txt) "
                    "or put shared/data beside the checkout")
    return path


@pytest.fixture(scope="session")
def shared_data():
    return _found_or_skip(shared_data_dir(), "development data")


@pytest.fixture(scope="session")
def lfw_dir():
    return _found_or_skip(lfw_root(), "LFW dev data")


def _load_bench_script(name: str) -> ModuleType:
    """``bench/<name>.py`` imported as a module (the scripts are not a package: they run as files)."""
    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bench_script():
    """``bench_script("paired_rows")``: a ``bench/`` script as a module."""
    return _load_bench_script
