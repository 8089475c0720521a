"""``lookahead_pg``: the paper agents' trainer with ``LookaheadPolicy``, policy gradient started from
``self_lookahead``.

REINFORCE with a learned baseline (and optional joint L2 restorer training, Attention-FH Algorithm 1) as
``gain_pg``, on a policy whose logits are the log squared change of every candidate repair, read from the
restorer's own lookahead, plus a learned correction that starts at zero
(:class:`~fh_gym.agents.policies.lookahead.LookaheadPolicy`): the first deterministic policy is the
``self_lookahead`` strategy and RL trains the correction from there. Each policy step restores every candidate
(the oracle's lookahead cost). Not a paper's agent; ``envs_configs/agents/lookahead_pg.yaml`` holds its defaults.
"""

from __future__ import annotations

from fh_gym.agents.pg.trainer import PaperAgentAlgo
from fh_gym.agents.registry import ALGOS


@ALGOS.register()
class LookaheadPG(PaperAgentAlgo):
    """REINFORCE + baseline on the restorer's own expected gains plus a learned correction (from self_lookahead)"""

    name = "lookahead_pg"
    policy = "LookaheadPolicy"
