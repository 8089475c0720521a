"""Checkpoints that carry their own configuration, written atomically and read with ``weights_only=True``.

A network checkpoint is a plain dict::

    {"format": "fh-gym/network-v1", "arch": {"type": Name, **kwargs}, "state_dict": {...}, "meta": {...}}

so :func:`load_network` rebuilds the architecture from the file itself and refuses a file whose
architecture differs from the one the caller asked for. Training checkpoints add the optimiser states,
the step count and the random-generator states so a killed run resumes where it stopped.
"""

from __future__ import annotations

import ast
import contextlib
import os
import pickle
import random
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import nn

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None

from fh_gym.restorers.registry import get_arch

NETWORK_FORMAT = "fh-gym/network-v1"
TRAINING_FORMAT = "fh-gym/training-v1"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or holds a different architecture than expected."""


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", suffix: str = ".tmp") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it is fsynced and renamed over ``path``.

    A crash or an exception mid-write leaves the previous file intact (and no temporary file behind).
    The file gets the usual 0644 permissions (``mkstemp`` alone creates 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """The temporary files :func:`atomic_open` left in ``folder`` and its sub-folders when a save was killed
    (``.<name>.<random>.tmp``; a clean or failed save removes its own)."""
    return sorted(p for p in Path(folder).rglob(".*.tmp") if p.is_file())


def clean_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove :func:`stale_temporaries` of ``folder``; returns them. Call it only while holding the folder's
    :func:`run_lock` (then no save of another process can be in flight there)."""
    removed = stale_temporaries(folder)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


class RunLocked(CheckpointError):
    """Another process is writing the same run folder."""


_HELD: dict[Path, list[Any]] = {}  # folder -> [open lock file, holders in this process]


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive lock of a run folder (``<folder>/.lock``, an OS lock the kernel releases when the
    process dies, even by ``kill -9``) while training writes into it; stale temporaries of killed saves
    are removed when the lock is taken.

    Re-entrant within one process. Where the platform has no ``fcntl`` (Windows) it only records the pid.

    Raises:
        RunLocked: When another live process holds the lock (the message names its pid).
    """
    folder = Path(folder).resolve()
    if folder in _HELD:
        _HELD[folder][1] += 1
    else:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".lock", "a+")  # noqa: SIM115  (held open for the lifetime of the lock)
        try:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise RunLocked(f"{folder} is in use by a run in progress (pid {owner}); wait for it to end or choose "
                            "another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _HELD[folder] = [handle, 1]
        clean_stale_temporaries(folder)
    try:
        yield folder
    finally:
        _HELD[folder][1] -= 1
        if _HELD[folder][1] == 0:
            handle = _HELD.pop(folder)[0]
            with contextlib.suppress(OSError):
                handle.truncate(0)
            handle.close()  # closing releases the flock


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as handle:
        handle.write(data)
    return Path(path)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path`` then rename it over ``path``.

    A crash mid-write leaves the previous checkpoint intact.
    """
    with atomic_open(path) as handle:
        torch.save(obj, handle)
    return Path(path)


def load_error(exc: BaseException) -> str:
    """A short reason for a failed ``torch.load(weights_only=True)``: a refused pickle says what it held (torch's
    own message would suggest ``weights_only=False``, which would run the file's code)."""
    if isinstance(exc, pickle.UnpicklingError):
        if re.search(r"Unsupported operand \d+", str(exc)):  # a byte no pickle starts with: some other file
            return "not a torch checkpoint (neither torch's zip format nor a pickle of tensors)"
        found = re.search(r"Unsupported global: GLOBAL [\w.]+", str(exc))
        what = f" ({found.group(0)})" if found else ""
        return f"refused: it holds objects other than tensors and plain values{what}; fh-gym never unpickles code"
    return " ".join(str(exc).split())[:300]


def safe_load(path: str | os.PathLike) -> dict:
    """Load a checkpoint dict with ``weights_only=True``; clear errors for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {load_error(exc)}") from exc
    if not isinstance(data, dict) or "format" not in data:
        raise CheckpointError(f"{path} is not an fh-gym checkpoint (no 'format' key)")
    return data


def arch_block(model: nn.Module) -> dict:
    """The ``{type, **kwargs}`` block a model was built from (stored by :func:`remember_config`)."""
    block = getattr(model, "arch_config", None)
    if block is None:
        raise CheckpointError(
            f"{type(model).__name__} has no arch_config; build it with restorers.build_network or "
            "call restorers.checkpoint.remember_config(model, block)")
    return dict(block)


def remember_config(model: nn.Module, block: Mapping[str, Any]) -> nn.Module:
    """Attach the typed block a model was built from so checkpoints can rebuild it."""
    model.arch_config = {k: v for k, v in block.items() if k != "checkpoint"}
    return model


def network_payload(model: nn.Module, meta: Mapping[str, Any] | None = None) -> dict:
    return {"format": NETWORK_FORMAT, "arch": arch_block(model), "state_dict": model.state_dict(),
            "meta": dict(meta or {})}


def save_network(model: nn.Module, path: str | os.PathLike, meta: Mapping[str, Any] | None = None) -> Path:
    """Save weights plus the architecture block (atomically)."""
    return atomic_torch_save(network_payload(model, meta), path)


def _describe(block: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(block.items()))


def load_network(path: str | os.PathLike, expected: Mapping[str, Any] | None = None,
                 kind: str | None = None) -> nn.Module:
    """Rebuild the network stored in ``path`` and load its weights.

    Args:
        path: A network checkpoint, or a training checkpoint (its ``"network"`` entry is used).
        expected: The ``{type, **kwargs}`` the caller wants; keys given here must match the stored ones.
        kind: Required network kind (``"patch"``, ``"generator"``, ``"aux"``).

    Raises:
        CheckpointError: If the file is unreadable or holds another architecture.
    """
    data = safe_load(path)
    if data["format"] == TRAINING_FORMAT:
        data = data["network"]
    if data.get("format") != NETWORK_FORMAT:
        raise CheckpointError(f"{path} has unsupported format {data.get('format')!r}")
    stored = dict(data["arch"])
    if expected:
        wanted = {k: v for k, v in expected.items() if k != "checkpoint"}
        clash = {k: v for k, v in wanted.items() if stored.get(k, _MISSING) != v}
        if clash:
            raise CheckpointError(
                f"checkpoint {path} holds {{{_describe(stored)}}}, which does not match the requested "
                f"{{{_describe(wanted)}}} (differs in {sorted(clash)})")
    return network_from_payload(data, kind, where=f"checkpoint {path}")


def network_from_payload(payload: Mapping[str, Any], kind: str | None = None, where: str = "checkpoint") -> nn.Module:
    """Rebuild the network of a :func:`network_payload` dict (already read from a file) and load its weights.

    Args:
        payload: ``{"arch": {type, **kwargs}, "state_dict": ..., "meta": ...}``.
        kind: Required network kind (``"patch"``, ``"generator"``, ``"aux"``).
        where: What holds the payload, for error messages (``"checkpoint runs/x/agent.pt"``).

    Raises:
        CheckpointError: If the weights do not fit the stored architecture.
    """
    stored = dict(payload["arch"])
    cls = get_arch(stored["type"], kind)
    model = cls(**{k: v for k, v in stored.items() if k != "type"})
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{where} does not fit {stored['type']}: {exc}") from exc
    remember_config(model, stored)
    model.checkpoint_meta = dict(payload.get("meta", {}))
    return model


_MISSING = object()


def rng_state() -> dict:
    """Python, NumPy (legacy global) and torch generator states, in a ``weights_only``-safe form."""
    np_state = np.random.get_state()  # noqa: NPY002  (the legacy global generator is what libraries seed)
    return {
        "python": repr(random.getstate()),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    random.setstate(ast.literal_eval(state["python"]))
    np_state = state["numpy"]
    legacy = ("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"], np_state["has_gauss"],
              np_state["gauss"])
    np.random.set_state(legacy)  # noqa: NPY002
    torch.set_rng_state(state["torch"])


def save_training_state(path: str | os.PathLike, *, networks: Mapping[str, nn.Module],
                        optimizers: Mapping[str, torch.optim.Optimizer], step: int,
                        config: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Path:
    """Atomically write everything needed to resume a run: weights, optimisers, step, config, RNG."""
    payload = {
        "format": TRAINING_FORMAT,
        "networks": {name: network_payload(m) for name, m in networks.items()},
        "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
        "step": int(step),
        "config": dict(config),
        "rng": rng_state(),
        "extra": dict(extra or {}),
    }
    # The first network doubles as the file's network checkpoint (load_network accepts the file).
    payload["network"] = next(iter(payload["networks"].values()))
    return atomic_torch_save(payload, path)


def load_training_state(path: str | os.PathLike, *, networks: Mapping[str, nn.Module],
                        optimizers: Mapping[str, torch.optim.Optimizer], restore_rng: bool = True) -> dict:
    """Load a training checkpoint into existing networks and optimisers; returns the payload.

    Raises:
        CheckpointError: If a network's stored architecture differs from the one being resumed.
    """
    data = safe_load(path)
    if data["format"] != TRAINING_FORMAT:
        raise CheckpointError(f"{path} is not a training checkpoint")
    for name, model in networks.items():
        if name not in data["networks"]:
            raise CheckpointError(f"{path} has no network '{name}' (has {sorted(data['networks'])})")
        stored = data["networks"][name]["arch"]
        mine = getattr(model, "arch_config", None)
        if mine is not None and dict(mine) != dict(stored):
            raise CheckpointError(f"{path} holds {name}={{{_describe(stored)}}}, "
                                  f"the run builds {{{_describe(mine)}}}")
        try:
            model.load_state_dict(data["networks"][name]["state_dict"])
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint {path} does not fit network '{name}': {exc}") from exc
    for name, opt in optimizers.items():
        if name not in data["optimizers"]:
            raise CheckpointError(f"{path} has no optimiser '{name}' (has {sorted(data['optimizers'])}): "
                                  "was the run started with other settings?")
        opt.load_state_dict(data["optimizers"][name])
    if restore_rng:
        set_rng_state(data["rng"])
    return data
