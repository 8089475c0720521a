"""Building the engine's networks with its scale and device (restorer, front-end, reward networks).

A leaf module: rewards and losses get a :class:`NetworkBuilder` instead of the engine.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fh_gym.engine.device import resolve_device
from fh_gym.restorers.build import build_network

#: torch seed of the networks an engine builds without a checkpoint (reproducible untrained restorers)
NETWORK_INIT_SEED = 0


def weights_context(config: Mapping[str, Any]) -> dict[str, Any]:
    """What ``weights: default`` chooses by in an env config (:func:`fh_gym.restorers.weights.resolve_default`):
    the data source type (real faces in inference mode), the window family of the action type (``grid`` or
    ``box``: box and continuous actions repair windows of several sizes), whether the LR faces are occluded, and
    the front-end type."""
    action = config.get("action", {}).get("type", "grid")
    degradation = config.get("degradation", {})
    # Inference repairs the user's own LR faces: real faces, whatever the (unused) data block says.
    data = "folder" if config.get("mode") == "inference" else config.get("data", {}).get("type")
    return {"data": data, "windows": "grid" if action == "grid" else "box",
            "occluded": bool(degradation.get("occlusion")), "frontend": config.get("frontend", {}).get("type")}


def build_scaled(block: Mapping[str, Any], kind: str, scale: int, device: torch.device | str = "cpu",
                 init_seed: int | None = NETWORK_INIT_SEED, context: Mapping[str, Any] | None = None) -> nn.Module:
    """Build a network block, filling in ``scale`` when the network takes one (and refusing another).

    ``init_seed`` initialises the weights from a fixed torch seed in a forked RNG: every env, comparison and
    hallucination of the same config gets the same untrained network whatever the global torch RNG state,
    and building leaves that state untouched. ``None`` draws from the global RNG (seeded training runs).
    ``context`` (:func:`weights_context`) is what a block's ``weights: default`` picks shipped weights by.

    Env networks are trained unless asked otherwise: a block with neither ``checkpoint`` nor ``weights`` gets
    ``weights: default`` (the shipped file that fits; ``weights: none`` asks for an untrained network).
    """
    if "checkpoint" not in block and "weights" not in block:
        block = {**block, "weights": "default"}
    # a device name is checked first: "cuda" without CUDA is the user's one-line error, not torch's assertion
    target = resolve_device(device) if isinstance(device, str) else device
    return build_network(block, kind=kind, scale=scale, init_seed=init_seed, weights_context=context).to(target)


def env_network(config: Mapping[str, Any], key: str = "restorer", kind: str = "patch") -> nn.Module:
    """The network an env of ``config`` builds for ``config[key]`` (its scale, device and shipped-weights context),
    for tools that share one network between several engines (comparisons, hallucination, benchmarks)."""
    return build_scaled(config[key], kind, int(config["degradation"]["scale"]), config["device"],
                        context=weights_context(config))


@dataclass(frozen=True)
class NetworkBuilder:
    """Builds network blocks for one engine: its scale factor and device, the fixed init seed.

    Attributes:
        scale: The degradation's scale factor (filled into blocks whose network takes one).
        device: Where the networks go.
        context: What ``weights: default`` picks shipped weights by (:func:`weights_context` of the env config).
    """

    scale: int
    device: torch.device
    context: Mapping[str, Any] | None = None

    def __call__(self, block: Mapping[str, Any], kind: str) -> nn.Module:
        """The network of ``block`` (``kind``: ``patch``, ``generator`` or ``aux``), see :func:`build_scaled`."""
        return build_scaled(block, kind, self.scale, self.device, context=self.context)


def frozen(module: nn.Module) -> nn.Module:
    """``module`` in eval mode with its parameters fixed (networks that score, never learn: reward and loss
    networks); gradients still flow to their inputs."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module.eval()


def warn_if_untrained(network: nn.Module, role: str, block: Mapping[str, Any]) -> None:
    """Warn (once per call site, Python's default) when an env network with parameters holds no trained weights:
    the user asked for ``weights: none``, or no shipped file fits (``weights: default``). A ready network handed
    to the env (no ``weights_source`` attribute) is the caller's business."""
    if getattr(network, "weights_source", "given") is not None or not any(True for _ in network.parameters()):
        return
    why = "weights: none" if block.get("weights") == "none" else "no shipped weights fit this env"
    warnings.warn(f"the env's {role} {block.get('type')} is untrained ({why}): its repairs change little or "
                  f"nothing; set {role}.weights to 'default' or a shipped name (fh-gym weights), or "
                  f"{role}.checkpoint to your own file", UserWarning, stacklevel=3)


def frontend_signature(frontend: nn.Module) -> str:
    """What start images a front-end makes, as a restorer checkpoint records it: ``Bicubic`` (no weights),
    ``CSRIPGenerator weights:lfw_x8`` (shipped), ``CSRIPGenerator checkpoint:<sha256 prefix>`` (a user's file:
    its content, not its path, so the record survives moving the file) or ``CSRIPGenerator untrained``."""
    name = type(frontend).__name__
    source = getattr(frontend, "weights_source", None)
    if source is None:
        return name if not any(True for _ in frontend.parameters()) else f"{name} untrained"
    if source.startswith("checkpoint:"):
        digest = hashlib.sha256(Path(source.split(":", 1)[1]).read_bytes()).hexdigest()[:12]
        return f"{name} checkpoint:{digest}"
    return f"{name} {source}"


def trained_frontend(restorer: nn.Module) -> str | None:
    """The front-end signature a restorer's checkpoint records (None: not recorded, e.g. older files)."""
    meta = getattr(restorer, "checkpoint_meta", None) or {}
    return meta.get("frontend") or (meta.get("trained_on") or {}).get("frontend")


def warn_if_frontend_differs(restorer: nn.Module, frontend: nn.Module) -> None:
    """Warn when the restorer was trained on start images of another front-end than the env's: a restorer
    trained behind bicubic makes a good generator's output worse (issue 13: -0.61 dB below bicubic)."""
    trained, used = trained_frontend(restorer), frontend_signature(frontend)
    if trained is None or trained == used:
        return
    warnings.warn(f"the env's restorer was trained on start images of {trained}, but the env's front-end is "
                  f"{used}: its repairs may make faces worse; pre-train a restorer on this env "
                  "(fh-gym pretrain-restorer --env ... with this frontend) or use the matching front-end",
                  UserWarning, stacklevel=3)
