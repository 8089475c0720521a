"""Resolve ``fh_gym.agents``, ``fh_gym.restorers`` and ``fh_gym.envs_configs`` in a source checkout.

The repository keeps ``agents/``, ``restorers/`` and ``envs_configs/`` beside ``fh_gym/`` (the project's agreed
layout); the wheel installs them *inside* ``fh_gym`` (``package-dir`` in ``setup.py``), so an installed fh-gym
has a single top-level package. When Python imports ``fh_gym`` from the checkout itself (``python -m pytest``
in the repository root, scripts in ``bench/``), this finder maps those three names to the sibling folders, so
the code imports ``fh_gym.restorers...`` everywhere and runs the same from the checkout and from the wheel.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

#: sub-packages of the wheel that live beside ``fh_gym/`` in the repository
SIBLINGS = ("agents", "restorers", "envs_configs")


class _SiblingFinder(importlib.abc.MetaPathFinder):
    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        prefix, _, leaf = name.partition(".")
        if prefix != "fh_gym" or leaf not in SIBLINGS:
            return None
        folder = self.root / leaf
        return importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])


def install(package_dir: str) -> None:
    """Install the finder when ``package_dir`` (``fh_gym/``) sits in a checkout rather than in a wheel."""
    here = Path(package_dir)
    root = here.parent
    if (here / "restorers").is_dir() or not (root / "restorers" / "__init__.py").is_file():
        return  # an installed wheel: the sub-packages are real sub-folders
    if not any(isinstance(f, _SiblingFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SiblingFinder(root))
