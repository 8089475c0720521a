"""The algorithm registry (``fh-gym train --algo NAME``) and loading of trained agents.

An algorithm is a subclass of :class:`Algo` in its own module of ``agents/algos/`` (the registry ``ALGOS``
scans that package), decorated with ``@ALGOS.register()``; its docstring's first line describes it in
``fh-gym train --list``. It states its hyperparameters (:meth:`Algo.base_hyperparams`: every valid key with
its library default; ``envs_configs/agents/<name>.yaml`` changes their values, see
:mod:`fh_gym.agents.hyperparams`), trains from a :class:`~fh_gym.agents.runs.TrainContext` and loads its
agent files as actors (``act(engine, slots, rng) -> actions``, see ``docs/architecture.md``).

Every trained-agent file is a ``.zip`` (SB3) or ``.pt`` file recording its ``algo``, so :func:`load_agent`
dispatches on it (:func:`agent_algo`). A plain SB3 / sb3-contrib / RL Zoo zip (no fh-gym metadata) loads too,
given the env config it was trained on (:mod:`fh_gym.agents.sb3.foreign`).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from fh_gym.agents.hyperparams import apply_variant, load_hyperparams, merge_overrides
from fh_gym.agents.runs import TrainContext
from fh_gym.agents.sb3.foreign import is_plain_sb3_zip, load_plain_agent, plain_algo
from fh_gym.restorers.checkpoint import safe_load
from fh_gym.restorers.config import ConfigError, Field, Schema, schema_from_defaults
from fh_gym.restorers.registry import Registry


class Algo:
    """Base class of the registered algorithms (instantiated without arguments by :func:`get_algo`).

    Attributes:
        name: Registry name (``--algo NAME``) and hyperparameter file stem.
        checkpoint: The run's last checkpoint, relative to the run folder (what a resumed run continues from).
    """

    name: str = ""
    checkpoint: str = ""

    def base_hyperparams(self, env_id: str | None) -> dict[str, Any]:
        """Every valid hyperparameter with its library default, before ``envs_configs/agents/<name>.yaml``."""
        raise NotImplementedError

    def hyperparam_schema(self, env_id: str | None) -> Schema:
        """Every hyperparameter's default and allowed values: :meth:`base_hyperparams` with the entry's specs
        (:meth:`hyperparam_specs`; keys without one follow their default's type)."""
        return schema_from_defaults(self.base_hyperparams(env_id), self.hyperparam_specs(env_id), self.name)

    def hyperparam_specs(self, env_id: str | None) -> dict[str, Field]:
        """Key -> :class:`~fh_gym.restorers.config.Field` (ranges, choices) of the hyperparameters."""
        return {}

    def check_hyperparams(self, env_id: str | None, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` with every value checked (``ConfigError`` naming ``<algo>.<key>``, the value and what is
        allowed); what ``fh-gym train`` and the training functions run before anything is built."""
        return self.hyperparam_schema(env_id).validate(config, self.name)

    def check_env(self, env_config: dict[str, Any], env_id: str) -> None:
        """Raise ``ConfigError`` if this algorithm cannot act in the env (default: it can act in any)."""

    def checkpoint_interval(self, env_steps: int, hyperparams: dict[str, Any], env_config: dict[str, Any]) -> int:
        """The ``checkpoint_every`` value (in the algorithm's unit) for a checkpoint every ``env_steps`` env steps
        (``fh-gym train --checkpoint-every``); default: the unit is env steps."""
        return int(env_steps)

    def defaults(self, env_id: str | None) -> dict[str, Any]:
        """The hyperparameters for ``env_id``: library defaults <- the file's ``default`` <- its ``env_id``."""
        return load_hyperparams(self.name, self.base_hyperparams(env_id), env_id)

    def resolve(self, env_id: str | None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """:meth:`defaults` <- ``overrides`` (validated) <- the selected ``variant`` (where still default)."""
        defaults = self.defaults(env_id)
        return apply_variant(self.name, defaults, merge_overrides(self.name, defaults, overrides))

    def train(self, ctx: TrainContext) -> dict[str, Any]:
        """Train (or resume, see ``ctx.resume``) in ``ctx.run_dir``; returns final paths and scores."""
        raise NotImplementedError

    def load(self, path: Path, device: str = "cpu") -> Any:
        """The agent file ``path`` as an actor."""
        raise NotImplementedError


#: every algorithm class by name, filled by the modules of ``agents/algos/``
ALGOS: Registry[type[Algo]] = Registry("algorithm", "fh_gym.agents.algos")


def get_algo(name: str) -> Algo:
    """The algorithm ``name`` (``unknown algorithm 'x'; available: ...`` otherwise)."""
    return ALGOS.get(name)()


def agent_algo(path: str | Path) -> str:
    """The ``algo`` of a trained-agent checkpoint: recorded (fh-gym ``.zip`` / ``.pt``) or, for a plain SB3 zip,
    the one its policy class belongs to."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent checkpoint not found: {path}")
    if is_plain_sb3_zip(path):
        return plain_algo(path)[0]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "fh_gym.json" in names:
                try:
                    meta = json.loads(archive.read("fh_gym.json"))
                except ValueError as exc:
                    raise ConfigError(f"{path}: its fh_gym.json is not valid JSON ({exc})") from None
                if not isinstance(meta, dict) or not isinstance(meta.get("algo"), str):
                    raise ConfigError(f"{path}: its fh_gym.json names no 'algo'; not an agent file fh-gym wrote")
                return meta["algo"]
        # torch.save writes zip archives too (<name>/data.pkl): those are read below.
        if not any(name.endswith("/data.pkl") for name in names):
            raise ConfigError(f"{path} is an SB3 archive without fh-gym metadata (fh_gym.json)")
    data = safe_load(path)
    if "algo" not in data:
        raise ConfigError(f"{path} is not an fh-gym agent checkpoint (no 'algo' entry)")
    return str(data["algo"])


def load_agent(path: str | Path, device: str = "cpu", env_config: dict[str, Any] | None = None) -> Any:
    """Load any trained agent as an actor (dispatches on its recorded algorithm).

    ``env_config``: the env a plain SB3 / RL Zoo zip was trained on (it records none; fh-gym's own files
    ignore it and act on the config they record).
    """
    if is_plain_sb3_zip(path):
        if env_config is None:
            raise ConfigError(f"{path} is an SB3 zip without fh-gym metadata: say which env it was trained on "
                              "(--env ID, with --restorer / --set as in training)")
        return load_plain_agent(path, env_config, device)
    return get_algo(agent_algo(path)).load(Path(path), device)
