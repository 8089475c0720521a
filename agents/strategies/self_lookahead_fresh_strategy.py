"""``self_lookahead_fresh``: ``self_lookahead`` that scores each candidate by its change on pixels no repair has
touched yet (our addition).

``self_lookahead``'s argument (an L2 restorer's squared change is the expected gain of its repair) holds where
the restorer's input is like its training inputs. On overlapping boxes it picks boxes that are largely repairs
already (BENCHMARKS section 9: 39% of the pixels of its boxes on ``AttentionFH-T6`` against the oracle's 25%),
where the change overstates the gain. Counting the change on fresh pixels only (coverage 0) keeps the argument
where it holds and gives re-repairs no credit: on the tiling grid at T <= 16 it differs from ``self_lookahead``
only where cells overlap.
"""

from __future__ import annotations

from fh_gym.agents.strategies.base import STRATEGIES
from fh_gym.agents.strategies.self_lookahead_strategy import SelfLookaheadStrategy


@STRATEGIES.register()
class SelfLookaheadFreshStrategy(SelfLookaheadStrategy):
    """Argmax over the allowed candidates of the restorer's squared change on not-yet-repaired pixels (no truth).

    Args:
        chunk: Windows restored per restorer call (bounds memory).
    """

    name = "self_lookahead_fresh"
    order = 62

    def __init__(self, chunk: int = 512) -> None:
        super().__init__(chunk=chunk, fresh_only=True)
