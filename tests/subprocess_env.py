"""Environment for tests that start ``fh_gym`` in a subprocess: the working tree (not an installed copy)
on PYTHONPATH, one torch thread."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
