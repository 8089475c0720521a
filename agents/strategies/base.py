"""The strategy registry and what strategies share: the base class and box-sequence helpers.

A strategy is an :class:`~fh_gym.episodes.Actor` with no training: it acts on a batch of faces of a
:class:`~fh_gym.engine.core.RepairEngine` at once (one action row per face). Strategies speak in boxes and
ask the action type for the nearest action, so each one runs on ``grid``, ``box`` and ``continuous`` envs
alike. Adding one is one new file ``agents/strategies/<name>_strategy.py`` with a
``@STRATEGIES.register()`` class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fh_gym.engine.core import RepairEngine
from fh_gym.episodes import BaseActor
from fh_gym.restorers.registry import Registry


def stop_unless_it_pays(engine: RepairEngine, best: np.ndarray, best_gain: np.ndarray) -> np.ndarray:
    """``best`` actions, or the env's stop action (adaptive budgets) where ``best_gain`` (dB, per face) does not
    exceed ``repair.step_cost``: the reward of a repair is its gain minus that cost. Without a stop action:
    ``best``."""
    stop = engine.action_type.stop_action
    if stop is None:
        return best
    return np.where(best_gain > engine.step_cost, best, stop).astype(best.dtype)


class Strategy(BaseActor):
    """Base class of the fixed strategies. ``horizon`` (if set) replaces the env's T for this strategy.

    Attributes:
        order: Position in comparison tables (baselines first, oracles last; ties by name).
        in_defaults: Part of ``fh-gym compare``'s default list (False for strategies that need a trained file or
            that cost a lookahead of every candidate without being the oracle).
    """

    name = ""
    order = 50
    in_defaults = True


#: every strategy class by name (``fh-gym compare --strategies``), filled by ``*_strategy.py``
STRATEGIES: Registry[type[Strategy]] = Registry("strategy", "fh_gym.agents.strategies", suffix="_strategy")


def build_strategy(name: str, **kwargs: Any) -> Strategy:
    """The strategy ``name`` built with ``kwargs`` (e.g. ``build_strategy("greedy", max_candidates=64)``).

    Raises:
        ConfigError: For an unknown name (listing the registered ones) or an argument it does not take.
    """
    return STRATEGIES.build({"type": name, **kwargs})


def strategy_names(with_truth: bool = True, defaults_only: bool = True) -> list[str]:
    """The strategies in table order: ``compare``'s default list, or with ``defaults_only=False`` every registered
    one (those asked for by name too: a trained file's, the costly lookaheads); ``with_truth=False`` leaves out
    oracles (no ground truth at inference)."""
    names = [n for n in STRATEGIES.names() if (with_truth or not STRATEGIES.get(n).uses_truth)
             and (STRATEGIES.get(n).in_defaults or not defaults_only)]
    return sorted(names, key=lambda n: (STRATEGIES.get(n).order, n))


def box_sequence_actions(engine: RepairEngine, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """The engine's action for each box ``(top, left, h, w)``, stacked."""
    return np.stack([np.asarray(engine.action_type.action_for_box(*box)) for box in boxes])


def tile_side(engine: RepairEngine) -> int:
    """The action type's natural patch side (grid patch size, box base size, else a quarter image)."""
    actions = engine.action_type
    side = getattr(actions, "patch_size", None) or getattr(actions, "base_size", engine.image_size // 4)
    return round(float(side))
