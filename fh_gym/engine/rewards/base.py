"""What every reward type shares: the :class:`Reward` interface, the :class:`StepRecord` of one step, and the
:data:`REWARDS` registry (one file per reward in this package, registered with ``@REWARDS.register()``).

A reward returns *named terms* (one (B,) tensor per term); the env's reward is their sum and every term goes
to ``info["reward_<term>"]``. Rewards read the episode through a read-only
:class:`~fh_gym.engine.view.EpisodeView` and each step's :class:`StepRecord`; they never see the engine.
The formulas are in ``docs/environment.md`` ("Rewards").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from fh_gym.engine.networks import NetworkBuilder
from fh_gym.engine.view import EpisodeView
from fh_gym.restorers.registry import Registry


@dataclass
class StepRecord:
    """What one batched repair step did; rewards read it, joint restorer training reuses it.

    Windows are (B, C, w, w) in [0, 1]; ``lr`` is (B, 3, w/s, w/s); MSEs are whole-image, float64.
    ``truth`` is (B,) bool, False for faces without ground truth (inference: ``hr`` is zero there). ``after``
    and ``hr`` are None when neither the reward (``Reward.uses_windows``) nor joint restorer training reads
    them and the engine pasted only the box.
    ``box_mask`` is 1 inside the box; ``paste`` is the blend weight the engine pasted with (the box mask,
    feathered when ``repair.feather`` is set): ``after = before + paste * (restored - before)``.
    """

    slots: Tensor
    boxes: Tensor
    starts: Tensor
    box_mask: Tensor
    paste: Tensor
    before: Tensor
    after: Tensor | None
    lr: Tensor
    hr: Tensor | None
    mse_before: Tensor
    mse_after: Tensor
    done: Tensor
    truth: Tensor


class Reward:
    """Base class: ``terms(view, record) -> {name: (B,) tensor}``; ``reset`` runs at episode start.

    Subclasses set ``name`` (their ``reward.type``) and take their config keys as constructor arguments.
    """

    name = ""
    #: whether :meth:`terms` reads ``rec.after`` / ``rec.hr`` (else the engine may skip building them)
    uses_windows: bool = True

    def setup(self, networks: NetworkBuilder, view: EpisodeView) -> None:
        """Build networks (``networks(block, kind)``: the engine's scale and device) and per-slot buffers
        (``view.num_envs``, ``view.device``); called once, before the first episode."""

    def reset(self, view: EpisodeView, slots: Tensor) -> None:
        """Per-episode preparation for ``slots`` (slot indices; their ground truth is known here)."""

    def terms(self, view: EpisodeView, rec: StepRecord) -> dict[str, Tensor]:
        """The reward terms of the step ``rec`` (after the paste: ``view.current`` is ``I_t``)."""
        raise NotImplementedError

    def term_names(self) -> tuple[str, ...]:
        """The keys :meth:`terms` returns, in order (the envs report them from reset on, so info keys and
        TorchRL specs stay stable); the default is one term named like the reward."""
        return (self.name,)


#: every reward type by ``reward.type``, filled by the modules of this package
REWARDS: Registry[type[Reward]] = Registry("reward type", "fh_gym.engine.rewards")


def build_reward(block: Mapping[str, Any]) -> Reward:
    """Build a reward from ``{type: <name in REWARDS>, **kwargs}``."""
    return REWARDS.build(block)
