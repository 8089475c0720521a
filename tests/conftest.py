"""Shared fixtures: real-face data location; one torch thread.

The tests run tiny networks on tiny batches, where OpenMP threads only add overhead, and on a busy
machine (other jobs on the same cores) two threads per process ran 10-60x slower than one.
"""

from __future__ import annotations

import pytest
import torch

from fh_gym.data.paths import lfw_root, shared_data_dir

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data():
    path = shared_data_dir()
    if path is None:
        pytest.skip("development data not found: set FH_GYM_DATA or put shared/data beside the checkout")
    return path


@pytest.fixture(scope="session")
def lfw_dir():
    path = lfw_root()
    if path is None:
        pytest.skip("LFW dev data not found: set FH_GYM_DATA to a folder holding lfw-deepfunneled/")
    return path
