"""RL Baselines3 Zoo: hyperparameter files for every registered id, and the Zoo's commands with fh-gym loaded.

The shipped files ``envs_configs/zoo/{ppo,a2c,ppo_lstm}.yaml`` are the Zoo's own format (``n_timesteps``,
``policy``, ``policy_kwargs``...), one section per registered id, generated from fh-gym's hyperparameter
files (``envs_configs/agents/{ppo,a2c,recurrent_ppo}.yaml``, :func:`zoo_hyperparams`) so both train the same
networks; ``tests/test_zoo.py`` keeps them current. The policy is named by import path
(:class:`fh_gym.agents.sb3.policies.FaceRepairPolicy`: fh-gym's CNN extractor, a ~3 MB agent file instead
of the ~90 MB of ``MultiInputPolicy``).

Command line (``python -m fh_gym.agents.zoo``)::

    python -m fh_gym.agents.zoo path ppo                 # the shipped file, for --conf-file
    python -m fh_gym.agents.zoo train --algo ppo --env fh_gym/FaceRepair-Dense-x8-v0 -n 50000 -f logs
    python -m fh_gym.agents.zoo enjoy --algo ppo --env fh_gym/FaceRepair-Dense-x8-v0 -f logs --no-render
    python -m fh_gym.agents.zoo record_video --algo ppo --env fh_gym/FaceRepair-Dense-x8-v0 -f logs -n 64
    python -m fh_gym.agents.zoo write                    # regenerate the shipped files (development)

``train``, ``enjoy`` and ``record_video`` run the Zoo's own scripts with fh-gym's ids registered (the Zoo's
``record_video`` has no ``--gym-packages``), adding ``--gym-packages fh_gym`` and, for ``train``, the shipped
``--conf-file`` unless given. The plain Zoo commands work as well (README, "RL Baselines3 Zoo").
"""

from __future__ import annotations

import runpy
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from fh_gym.agents.registry import get_algo
from fh_gym.agents.sb3.hyperparams import FH_KEYS
from fh_gym.envs.config import variant_overrides
from fh_gym.registration import env_ids
from fh_gym.restorers.config import ConfigError

#: Zoo algorithm name -> fh-gym algorithm and the policy class the file names
ZOO_ALGOS = {
    "ppo": ("ppo", "fh_gym.agents.sb3.policies.FaceRepairPolicy"),
    "a2c": ("a2c", "fh_gym.agents.sb3.policies.FaceRepairPolicy"),
    "ppo_lstm": ("recurrent_ppo", "fh_gym.agents.sb3.policies.FaceRepairLstmPolicy"),
}
#: fh-gym's policy_kwargs that are the extractor's (the rest are the SB3 policy's)
EXTRACTOR_KEYS = ("features_dim", "encoder", "width")
HEADER = ("# RL Baselines3 Zoo hyperparameters for every fh-gym env id ({algo}: {cls}). Generated from\n"
          "# envs_configs/agents/{source}.yaml by `python -m fh_gym.agents.zoo write`: edit that file, not this one.\n"
          "# Pass a trained restorer with --env-kwargs \"config:{{'restorer': {{'checkpoint': 'restorer.pt'}}}}\".\n")


def zoo_file(algo: str) -> Path:
    """The shipped Zoo file of ``algo`` (``ppo``, ``a2c``, ``ppo_lstm``)."""
    if algo not in ZOO_ALGOS:
        raise ConfigError(f"no RL Zoo file for '{algo}'; available: {', '.join(ZOO_ALGOS)}")
    return Path(str(resources.files("fh_gym.envs_configs") / "zoo" / f"{algo}.yaml"))


def _policy_kwargs(hp: dict[str, Any], horizon: int) -> dict[str, Any]:
    """Every curated policy key (fh-gym's defaults are its own, not SB3's: ``lstm_hidden_size`` is 64, not 256)."""
    block = dict(hp["policy_kwargs"])
    if block.pop("activation_fn") != "tanh":  # SB3's default; another needs a class (no YAML form)
        raise ConfigError("RL Zoo files are generated for activation_fn: tanh only")
    if block.get("optimizer_kwargs") is None:
        block.pop("optimizer_kwargs", None)
    if block.pop("head", "flatten") != "flatten":  # the spatial policy needs the env's action block: not generated here
        raise ConfigError("RL Zoo files are generated for policy_kwargs.head: flatten only")
    extractor = {"horizon": horizon, **{k: block.pop(k) for k in EXTRACTOR_KEYS}}
    return {"features_extractor_kwargs": extractor, **block}


def zoo_entry(zoo_algo: str, env_id: str) -> dict[str, Any]:
    """The Zoo's hyperparameters of ``env_id``: fh-gym's resolved ones, in the Zoo's keys."""
    name, policy = ZOO_ALGOS[zoo_algo]
    algo = get_algo(name)
    hp, base = algo.defaults(env_id), algo.base_hyperparams(env_id)
    entry: dict[str, Any] = {"n_envs": int(hp["n_envs"]), "n_timesteps": int(hp["total_timesteps"]),
                             "policy": policy}
    for key, value in hp.items():
        if key not in FH_KEYS and key != "policy_kwargs" and value != base.get(key):
            entry[key] = value
    if hp["normalize"]:
        # fh-gym normalises returns only: uint8 images must not be standardised.
        settings = {} if hp["normalize"] is True else dict(hp["normalize"])
        entry["normalize"] = {"norm_obs": False, "norm_reward": True, **settings}
    horizon = int(variant_overrides(env_ids()[env_id])["horizon"])
    entry["policy_kwargs"] = _policy_kwargs(hp, horizon)
    return entry


def zoo_hyperparams(zoo_algo: str) -> dict[str, Any]:
    """The content of ``envs_configs/zoo/<zoo_algo>.yaml``: one section per registered id."""
    return {env_id: zoo_entry(zoo_algo, env_id) for env_id in env_ids()}


def zoo_text(zoo_algo: str) -> str:
    name, policy = ZOO_ALGOS[zoo_algo]
    body = yaml.safe_dump(zoo_hyperparams(zoo_algo), sort_keys=False, default_flow_style=None, width=110)
    return HEADER.format(algo=zoo_algo, cls=policy.rsplit(".", 1)[1], source=name) + body


def write_zoo_files(folder: Path | None = None) -> list[Path]:
    """(Re)write the shipped Zoo files (into ``folder``, default the package's ``envs_configs/zoo``)."""
    paths = []
    for zoo_algo in ZOO_ALGOS:
        path = (folder / f"{zoo_algo}.yaml") if folder is not None else zoo_file(zoo_algo)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(zoo_text(zoo_algo))
        paths.append(path)
    return paths


def zoo_arguments(command: str, argv: list[str]) -> list[str]:
    """``argv`` for the Zoo's ``command`` with fh-gym's package (and, for ``train``, its shipped file) added."""
    args = list(argv)
    if command in ("train", "enjoy") and "--gym-packages" not in args:
        args += ["--gym-packages", "fh_gym"]
    if command == "train" and "--conf-file" not in args and "-conf" not in args:
        algo = args[args.index("--algo") + 1] if "--algo" in args else "ppo"
        args += ["--conf-file", str(zoo_file(algo))]
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ("path", "write", "train", "enjoy", "record_video")
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command == "path":
        print(zoo_file(rest[0] if rest else "ppo"))
        return 0
    if command == "write":
        for path in write_zoo_files(Path(rest[0]) if rest else None):
            print(f"wrote {path}")
        return 0
    sys.argv = [f"rl_zoo3.{command}", *zoo_arguments(command, rest)]
    # The Zoo's scripts run as __main__ in this process, where `import fh_gym` has registered the ids.
    runpy.run_module(f"rl_zoo3.{command}", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
