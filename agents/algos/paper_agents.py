"""Registers the paper agents with ``fh-gym train --algo``: ``attention_fh`` and ``ipfh``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.registry import Actor, TrainContext, register_algo


def _train_attention_fh(ctx: TrainContext) -> dict[str, Any]:
    from agents.attention_fh.train import train

    return train(ctx)


def _load_attention_fh(path: Path, device: str) -> Actor:
    from agents.attention_fh.agent import load

    return load(path, device)


def _defaults_attention_fh(env_id: str) -> dict[str, Any]:
    from agents.attention_fh.agent import defaults

    return defaults(env_id)


def _train_ipfh(ctx: TrainContext) -> dict[str, Any]:
    from agents.ipfh.train import train

    return train(ctx)


def _load_ipfh(path: Path, device: str) -> Actor:
    from agents.ipfh.agent import load

    return load(path, device)


def _defaults_ipfh(env_id: str) -> dict[str, Any]:
    from agents.ipfh.agent import defaults

    return defaults(env_id)


register_algo("attention_fh", train=_train_attention_fh, load=_load_attention_fh, defaults=_defaults_attention_fh,
              description="Attention-FH: GRU policy over size-free boxes, REINFORCE + baseline, joint L2 restorer")
register_algo("ipfh", train=_train_ipfh, load=_load_ipfh, defaults=_defaults_ipfh,
              description="IPFH: policy controller (holistic + context), policy gradient, joint patch/image losses")
