"""Where fh-gym finds development data and keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "FH_GYM_DATA"
CACHE_ENV = "FH_GYM_CACHE"


def shared_data_dir() -> Path | None:
    """The development data folder: ``$FH_GYM_DATA``, else ``../shared/data`` beside the checkout or cwd.

    Returns ``None`` when neither exists (tests then skip with a message saying so).
    """
    env = os.environ.get(DATA_ENV)
    if env:
        path = Path(env).expanduser()
        return path if path.is_dir() else None
    here = Path(__file__).resolve()
    candidates = [Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"]
    candidates += [p / "shared" / "data" for p in here.parents]
    for path in candidates:
        if (path / "lfw-deepfunneled").is_dir():
            return path
    return None


def lfw_root() -> Path | None:
    """``<shared data>/lfw-deepfunneled`` when present."""
    base = shared_data_dir()
    if base is None:
        return None
    root = base / "lfw-deepfunneled"
    return root if root.is_dir() else None


def cache_dir() -> Path:
    """Cache folder for decoded datasets: ``$FH_GYM_CACHE`` or ``~/.cache/fh_gym``."""
    path = Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "fh_gym")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
