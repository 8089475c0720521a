"""Trained weights shipped inside the package, named like torchvision's: ``{type: Name, weights: lfw_x8}``.

``manifest.yaml`` beside this file lists every shipped file: the network block it fits, the data it was trained
on (``synthetic``: the built-in faces; ``lfw``: the LFW *training* people of the development data, never its test
people), what it is the default for, how it was trained (command, budget) and what it scores. ``fh-gym weights``
prints the list and ``docs/weights.md`` (model cards) is generated from it.

A block's ``weights`` key is one of:

* a shipped name (``lfw_x8``): load that file (its sha256 is checked, it loads with ``weights_only=True``);
* ``default``: the shipped file that fits the caller's context best (:func:`resolve_default`); the envs use it
  for every network they build, so every registered id repairs faces on ``gym.make``;
* ``none``: an untrained network (the envs warn once that repairs then change little or nothing).

``checkpoint: path`` stays for the user's own files; a block may not set both.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from fh_gym.restorers.checkpoint import NETWORK_FORMAT, TRAINING_FORMAT, atomic_torch_save, safe_load
from fh_gym.restorers.config import ConfigError

#: the ``weights`` values that are not file names
DEFAULT, NONE = "default", "none"
#: data kinds of the shipped files; any real-face source (lfw, celeba, folder) prefers ``lfw`` weights
DATA_KINDS = ("synthetic", "lfw")
MANIFEST_KEYS = ("file", "sha256", "network", "data", "scale", "match", "default", "description", "command",
                 "output", "budget", "figures", "check", "trained_on")


@dataclass(frozen=True)
class ShippedWeights:
    """One shipped file (a ``manifest.yaml`` entry).

    Attributes:
        network: The network type (``AttentionFHEnhancer``).
        name: The weights name (``lfw_x8``), unique per network type.
        file: File name inside this package.
        sha256: Hex digest of the file.
        data: ``synthetic`` or ``lfw`` (what it was trained on).
        scale: Super-resolution factor it was trained for (None: the network has no scale, e.g. recognisers).
        match: What it is the ``default`` for beyond type, scale and data (e.g. ``{windows: box}``).
        default: False: never picked by ``weights: default``, only by its name (a second recogniser of one type).
        description, command, budget: Model card text: what it is, how to retrain it, how long it took.
        output: The network checkpoint ``command`` writes (``bench/train_weights.py`` exports it).
        figures: Measured results (name -> value or [mean, ci95]), with ``n``/``faces`` and the protocol.
        check: A small deterministic figure the tests reproduce (``{metric, faces, value, tolerance}``).
        trained_on: The env or recipe settings of the training data (front-end, degradation...).
    """

    network: str
    name: str
    file: str
    sha256: str
    data: str
    scale: int | None
    match: dict[str, Any] = field(default_factory=dict)
    default: bool = True
    description: str = ""
    command: str = ""
    output: str = ""
    budget: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    trained_on: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(str(resources.files(__name__) / self.file))

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


@functools.cache
def shipped() -> tuple[ShippedWeights, ...]:
    """Every entry of ``manifest.yaml`` (validated: unknown keys, data kinds, duplicate names)."""
    entry = resources.files(__name__) / "manifest.yaml"
    data = yaml.safe_load(entry.read_text()) if entry.is_file() else None
    found = []
    for network, names in (data or {}).items():
        for name, record in (names or {}).items():
            unknown = sorted(set(record) - set(MANIFEST_KEYS))
            if unknown:
                raise ConfigError(f"weights manifest: {network}.{name} has unknown key(s) {unknown}; valid: "
                                  f"{', '.join(MANIFEST_KEYS)}")
            if record.get("data") not in DATA_KINDS:
                raise ConfigError(f"weights manifest: {network}.{name}.data must be one of {DATA_KINDS}")
            if name in (DEFAULT, NONE):
                raise ConfigError(f"weights manifest: '{name}' is reserved, not a weights name")
            found.append(ShippedWeights(network=network, name=name, **{k: v for k, v in record.items()
                                                                        if k != "network"}))
    return tuple(found)


def names_for(network: str) -> list[str]:
    """The shipped weights names of a network type."""
    return [w.name for w in shipped() if w.network == network]


def find(network: str, name: str) -> ShippedWeights:
    """The shipped weights ``name`` of ``network`` (``ConfigError`` listing the available ones otherwise)."""
    for weights in shipped():
        if weights.network == network and weights.name == name:
            return weights
    available = ", ".join([DEFAULT, NONE, *names_for(network)])
    raise ConfigError(f"unknown weights '{name}' for {network}; available: {available}")


def file_or_shipped(spec: str | Path, network: str, what: str) -> dict[str, str]:
    """The network block a command-line value names: ``{type: network, checkpoint: spec}`` when ``spec`` is an
    existing file, ``{type: network, weights: spec}`` when it is the name of a shipped file of ``network``.

    Args:
        spec: A path or a shipped weights name (``lfw_x8_t16``).
        network: The network type both must hold (``BoxPoolingSelector``).
        what: The option or key that gave ``spec``, named in the error.

    Raises:
        ConfigError: Neither (one line naming ``what`` and listing the shipped names).
    """
    if Path(spec).is_file():
        return {"type": network, "checkpoint": str(spec)}
    if str(spec) in names_for(network):
        return {"type": network, "weights": str(spec)}
    raise ConfigError(f"{what} {spec}: no such file, nor shipped {network} weights (shipped: "
                      f"{', '.join(names_for(network)) or 'none'})")


def data_kind(data_type: str | None) -> str | None:
    """The shipped-weights data kind that fits a data source type (``None``: no preference)."""
    if data_type is None:
        return None
    return "synthetic" if data_type == "synthetic" else "lfw"


def resolve_default(network: str, scale: int | None, context: Mapping[str, Any] | None = None,
                    fits: Callable[[ShippedWeights], bool] | None = None) -> ShippedWeights | None:
    """The shipped file ``weights: default`` means for ``network`` at ``scale`` in ``context``, or None.

    How the choice is made: among the files of that network type (and scale, when the network has one) that
    may be a default (manifest ``default``, true unless set), keep those whose ``match`` agrees with every key
    it sets in ``context`` (``windows``: ``grid`` or ``box``,
    ``occluded``, ``frontend``: the front-end type the restorer was trained behind...; when none agrees on the
    front-end, the front-end is ignored); then prefer the data kind of ``context["data"]`` (synthetic faces ->
    ``synthetic`` weights, any real-face source -> ``lfw`` weights), then files whose ``match`` is most
    specific; without a data context, ``lfw`` (real faces). ``fits`` drops files first (the caller's
    architecture check: a block asking for other widths than a file's).
    """
    context = dict(context or {})
    wanted = data_kind(context.get("data")) or "lfw"
    of_network = [w for w in shipped() if w.network == network and w.default
                  and (scale is None or w.scale is None or w.scale == int(scale)) and (fits is None or fits(w))]
    # A restorer trained behind another front-end still beats an untrained one: the front-end is matched
    # last (the engine warns when the restorer's front-end differs from the env's).
    for ignored in ((), ("frontend",)):
        candidates = [w for w in of_network if all(context.get(key, _UNSET) == value
                                                    for key, value in w.match.items() if key not in ignored)]
        if candidates:
            return max(candidates, key=lambda w: (w.data == wanted, len(w.match)))
    return None


_UNSET = object()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def verified_path(network: str, name: str) -> Path:
    """The file of shipped weights after checking its sha256 (once per process)."""
    weights = find(network, name)
    if not weights.path.is_file():
        raise ConfigError(f"shipped weights {network}.{name}: {weights.file} is missing from the installation")
    digest = _digest(weights.path)
    if digest != weights.sha256:
        raise ConfigError(f"shipped weights {network}.{name}: {weights.file} is damaged (sha256 {digest[:12]}..., "
                          f"manifest {weights.sha256[:12]}...); reinstall fh-gym")
    return weights.path


@functools.cache
def _arch_of(network: str, name: str) -> dict[str, Any]:
    return dict(safe_load(verified_path(network, name))["arch"])


def stored_arch(weights: ShippedWeights) -> dict[str, Any]:
    """The architecture block a shipped file holds (read once per process)."""
    return _arch_of(weights.network, weights.name)


def export_weights(checkpoint: str | Path, out: str | Path, meta: Mapping[str, Any] | None = None) -> str:
    """Write a trained network (a network or training checkpoint) as a shippable file: float tensors in
    float16 (half the size; the networks load them back into float32), the architecture block, ``meta``.

    Returns:
        The sha256 of the written file (for the manifest).
    """
    data = safe_load(checkpoint)
    if data["format"] == TRAINING_FORMAT:
        data = data["network"]
    if data.get("format") != NETWORK_FORMAT:
        raise ConfigError(f"{checkpoint} is not a network checkpoint (format {data.get('format')!r})")
    state = {k: v.half() if v.is_floating_point() else v for k, v in data["state_dict"].items()}
    payload = {"format": NETWORK_FORMAT, "arch": dict(data["arch"]), "state_dict": state,
               "meta": {**dict(data.get("meta", {})), **dict(meta or {})}}
    atomic_torch_save(payload, out)
    return _digest(Path(out))
