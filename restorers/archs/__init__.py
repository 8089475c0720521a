"""Importing this package registers every ``*_arch.py`` file in it."""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if _module.name.endswith("_arch"):
        importlib.import_module(f"{__name__}.{_module.name}")
