"""SB3 policies with fh-gym's features extractor built in, importable by name.

``MultiInputPolicy`` on the FaceRepairEnv observation builds SB3's ``CombinedExtractor`` (a NatureCNN per
image entry, flattened: ~90 MB agent files). These classes are the same policies with
:class:`~fh_gym.agents.sb3.features.FaceRepairExtractor` as their default extractor (a ~3 MB file), so a
client that names policies by import path uses it with no code, e.g. RL Baselines3 Zoo::

    policy: fh_gym.agents.sb3.policies.FaceRepairPolicy
    policy_kwargs: {features_extractor_kwargs: {features_dim: 128, horizon: 16}}

``features_extractor_kwargs`` go to the extractor (``features_dim``, ``horizon`` (the env's T), ``encoder``,
``width``); every other keyword is the SB3 base class's. ``fh-gym train`` builds the same networks from
``MultiInputPolicy`` and explicit ``policy_kwargs`` (:func:`fh_gym.agents.sb3.hyperparams.policy_kwargs`).
"""

from __future__ import annotations

from typing import Any

from sb3_contrib.common.maskable.policies import MaskableMultiInputActorCriticPolicy
from sb3_contrib.common.recurrent.policies import RecurrentMultiInputActorCriticPolicy
from stable_baselines3.common.policies import MultiInputActorCriticPolicy

from fh_gym.agents.sb3.features import FaceRepairExtractor

__all__ = ["FaceRepairLstmPolicy", "FaceRepairMaskablePolicy", "FaceRepairPolicy"]


def _with_extractor(kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs.setdefault("features_extractor_class", FaceRepairExtractor)
    return kwargs


class FaceRepairPolicy(MultiInputActorCriticPolicy):
    """PPO / A2C actor-critic on the Dict observation through :class:`FaceRepairExtractor`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **_with_extractor(kwargs))


class FaceRepairLstmPolicy(RecurrentMultiInputActorCriticPolicy):
    """RecurrentPPO (RL Zoo's ``ppo_lstm``): an LSTM on :class:`FaceRepairExtractor`'s features."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **_with_extractor(kwargs))


class FaceRepairMaskablePolicy(MaskableMultiInputActorCriticPolicy):
    """MaskablePPO actor-critic through :class:`FaceRepairExtractor`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **_with_extractor(kwargs))
