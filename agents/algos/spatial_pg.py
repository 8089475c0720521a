"""``spatial_pg``: the paper agents' trainer with the fully convolutional ``SpatialPolicy``.

The same REINFORCE-with-baseline updates and joint L2 restorer training as ``attention_fh`` (Algorithm 1:
batches of whole episodes, one restorer step per repair), on any grid or box env, with
:class:`~fh_gym.agents.policies.spatial.SpatialPolicy` instead of a paper's policy network: the
paper-agent counterpart of SB3's ``policy_kwargs.head: spatial`` (issue 9: policies that can see where to
repair). Not a paper's agent; ``envs_configs/agents/spatial_pg.yaml`` holds its defaults.
"""

from __future__ import annotations

from fh_gym.agents.pg.trainer import PaperAgentAlgo
from fh_gym.agents.registry import ALGOS


@ALGOS.register()
class SpatialPG(PaperAgentAlgo):
    """REINFORCE + baseline with the spatial (one logit per candidate patch) policy, joint L2 restorer"""

    name = "spatial_pg"
    policy = "SpatialPolicy"
