"""Registers the paper agents with ``fh-gym train --algo``: ``attention_fh`` and ``ipfh``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from fh_gym.agents.registry import register_algo


def _lazy(module: str, function: str) -> Callable[..., Any]:
    """``module.function``, imported on the first call (listing algorithms does not import torch policies)."""

    def call(*args: Any) -> Any:
        return getattr(importlib.import_module(module), function)(*args)

    call.__name__ = f"{module}.{function}"
    return call


register_algo("attention_fh", train=_lazy("fh_gym.agents.attention_fh.train", "train"),
              load=_lazy("fh_gym.agents.attention_fh.agent", "load"),
              defaults=_lazy("fh_gym.agents.attention_fh.agent", "defaults"),
              description="Attention-FH: GRU policy over size-free boxes, REINFORCE + baseline, joint L2 restorer")
register_algo("ipfh", train=_lazy("fh_gym.agents.ipfh.train", "train"), load=_lazy("fh_gym.agents.ipfh.agent", "load"),
              defaults=_lazy("fh_gym.agents.ipfh.agent", "defaults"),
              description="IPFH: policy controller (holistic + context), policy gradient, joint patch/image losses")
