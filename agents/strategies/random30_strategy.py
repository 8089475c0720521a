"""``random30``: 30 random patches (IPFH Table VII), i.e. ``random`` with its own horizon of 30."""

from __future__ import annotations

from fh_gym.agents.strategies.base import STRATEGIES
from fh_gym.agents.strategies.random_strategy import RandomStrategy


@STRATEGIES.register()
class Random30Strategy(RandomStrategy):
    """IPFH's "randomly chosen 30 patches": random actions for 30 steps."""

    name = "random30"
    order = 40
    horizon = 30
