"""Shared fixtures: real-face data location, small thread counts, deterministic torch."""

from __future__ import annotations

import pytest
import torch

from fh_gym.data.paths import lfw_root, shared_data_dir

torch.set_num_threads(2)


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
