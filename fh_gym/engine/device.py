"""The torch device an env or tool runs on, checked once: a name the user gave becomes a one-line error."""

from __future__ import annotations

import torch

from fh_gym.restorers.config import ConfigError


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (CUDA when there is one) as a torch device; a name torch
    does not know, or CUDA where there is none, is a :class:`ConfigError` naming the device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device '{name}' (use cpu, cuda, cuda:N, mps or auto)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' requested but CUDA is not available")
    return device
