"""The SB3 / sb3-contrib algorithms fh-gym trains: class, policy, what they need from the env, loading.

Example:
    >>> from agents.sb3.specs import SPECS
    >>> SPECS["maskable_ppo"].defaults("FaceRepair-Dense-x8-v0")["n_steps"]  # doctest: +SKIP
    64
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gymnasium import spaces
from sb3_contrib import MaskablePPO, RecurrentPPO
from stable_baselines3 import A2C, PPO

from fh_gym.config import ConfigError
from fh_gym.restorers.checkpoint import network_from_payload


@dataclass(frozen=True)
class SB3Spec:
    """One registered SB3 algorithm.

    Attributes:
        name: Registry name (``fh-gym train --algo NAME``) and YAML file stem.
        algo_class: The SB3 / sb3-contrib class.
        policy: Policy alias (``MultiInputPolicy`` or ``MultiInputLstmPolicy``).
        recurrent: Keeps LSTM states (RecurrentPPO).
        maskable: Needs ``action_masks`` and a Discrete / MultiDiscrete action space (MaskablePPO).
        description: One line for ``fh-gym train --list``.
    """

    name: str
    algo_class: type
    policy: str
    recurrent: bool = False
    maskable: bool = False
    description: str = ""

    @property
    def policy_class(self) -> type:
        return self.algo_class.policy_aliases[self.policy]

    def defaults(self, env_id: str) -> dict[str, Any]:
        """Hyperparameters for ``env_id`` from ``envs_configs/agents/<name>.yaml`` over the library defaults."""
        from fh_gym.agents.sb3.hyperparams import load_hyperparams

        return load_hyperparams(self.name, self.algo_class, env_id, recurrent=self.recurrent,
                                continuous_ok=not self.maskable)

    def check_env(self, env_config: dict[str, Any], env_id: str) -> None:
        """Raise ``ConfigError`` if this algorithm cannot act in the env (MaskablePPO on continuous actions)."""
        from fh_gym.agents.sb3.checkpoint import action_space

        space = action_space(env_config)
        if self.maskable and not isinstance(space, spaces.Discrete | spaces.MultiDiscrete):
            raise ConfigError(f"{self.name} needs Discrete or MultiDiscrete actions (action masks); {env_id} has "
                              f"{space} (action.type={env_config['action']['type']}): use ppo, a2c or "
                              "recurrent_ppo")

    def load(self, path: Path, device: str = "cpu") -> Any:
        """An :class:`~fh_gym.agents.sb3.actor.SB3Actor` for the agent file ``path``."""
        from fh_gym.agents.sb3.actor import SB3Actor
        from fh_gym.agents.sb3.checkpoint import load_model, read_metadata

        meta = read_metadata(path)
        if meta["algo"] != self.name:
            raise ConfigError(f"{path} holds a {meta['algo']} agent, not {self.name}")
        model = load_model(path, self.algo_class, self.policy_class, meta, device=device)
        return SB3Actor(model, f"{self.name}-{Path(path).stem}", meta["env_config"], meta=meta,
                        restorer=finetuned_restorer(path, device))


def finetuned_restorer(path: Path, device: str = "cpu") -> Any:
    """The restorer fine-tuned jointly with the agent (stored in its file), or None when there is none."""
    from fh_gym.agents.sb3.checkpoint import load_finetune_state

    state = load_finetune_state(path)
    if state is None:
        return None
    return network_from_payload(state["network"], "patch", where=f"{path} fine-tuned restorer").to(device).eval()


SPECS: dict[str, SB3Spec] = {spec.name: spec for spec in (
    SB3Spec("ppo", PPO, "MultiInputPolicy", description="PPO (SB3), CNN features extractor on the Dict observation"),
    SB3Spec("a2c", A2C, "MultiInputPolicy", description="A2C (SB3), CNN features extractor on the Dict observation"),
    SB3Spec("recurrent_ppo", RecurrentPPO, "MultiInputLstmPolicy", recurrent=True,
            description="RecurrentPPO (sb3-contrib): LSTM policy over the CNN features"),
    SB3Spec("maskable_ppo", MaskablePPO, "MultiInputPolicy", maskable=True,
            description="MaskablePPO (sb3-contrib): never picks a masked action (grid / box envs)"),
)}
