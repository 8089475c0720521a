"""Fixed patch-selection strategies (the papers' baselines) and the greedy oracle upper bound.

One file per strategy (``*_strategy.py``), each registered in :data:`STRATEGIES` and built by name with
:func:`build_strategy`:

* ``random``: uniform random actions (Attention-FH "Our w/ random").
* ``even``: non-overlapping tiling in raster order, repeated from the start when T exceeds the tiles.
* ``sequential``: a raster scan over the action grid, spaced so T steps sweep the whole image.
* ``random30``: 30 random patches (IPFH Table VII), ``random`` with its own horizon of 30.
* ``centre_out``: the even tiles from the centre of the face outwards.
* ``best_fixed``: the best open-loop order, chosen on training people (greedy on the mean gain, even or
  centre_out, whichever ends higher): the fixed strategy to beat.
* ``gain_predictor``: the candidate a trained network predicts to gain most (one-step lookahead without the
  truth; the ``gain-predictor`` recipe trains it on the oracle's gains of training people).
* ``self_lookahead``: the candidate the restorer itself would change most (one-step lookahead without the truth
  or any training: for an L2-trained restorer the expected gain of a repair is its squared change).
* ``self_lookahead_fresh``: ``self_lookahead`` scoring each candidate by its change on pixels no repair has
  touched yet (overlapping boxes: re-repairs get no credit).
* ``self_lookahead2``: ``self_lookahead`` two repairs ahead (the first of the pair of repairs that change most).
* ``greedy``: the best next patch by true PSNR gain (uses the ground truth): an upper bound, not an agent.
* ``greedy2``: the first repair of the best pair of next repairs by true gain (a beam of first repairs, each
  looked past on a fork of the engine): the two-step upper bound.

(A test keeps this list in step with the registry.)
"""

from fh_gym.agents.strategies.base import STRATEGIES, Strategy, build_strategy, strategy_names
from fh_gym.agents.strategies.best_fixed_strategy import BestFixedStrategy
from fh_gym.agents.strategies.centre_out_strategy import CentreOutStrategy
from fh_gym.agents.strategies.even_strategy import EvenGridStrategy
from fh_gym.agents.strategies.gain_predictor_strategy import GainPredictorStrategy
from fh_gym.agents.strategies.greedy2_strategy import TwoStepOracleStrategy
from fh_gym.agents.strategies.greedy_strategy import GreedyOracleStrategy
from fh_gym.agents.strategies.random30_strategy import Random30Strategy
from fh_gym.agents.strategies.random_strategy import RandomStrategy
from fh_gym.agents.strategies.self_lookahead2_strategy import SelfLookahead2Strategy
from fh_gym.agents.strategies.self_lookahead_fresh_strategy import SelfLookaheadFreshStrategy
from fh_gym.agents.strategies.self_lookahead_strategy import SelfLookaheadStrategy
from fh_gym.agents.strategies.sequential_strategy import SequentialStrategy

__all__ = ["STRATEGIES", "BestFixedStrategy", "CentreOutStrategy", "EvenGridStrategy", "GainPredictorStrategy",
           "GreedyOracleStrategy", "Random30Strategy", "RandomStrategy", "SelfLookahead2Strategy",
           "SelfLookaheadFreshStrategy", "SelfLookaheadStrategy", "SequentialStrategy", "Strategy",
           "TwoStepOracleStrategy", "build_strategy", "strategy_names"]
