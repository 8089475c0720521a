"""Policy-gradient machinery shared by the paper agents (Attention-FH, IPFH).

* :mod:`~fh_gym.agents.pg.distributions` — factorised categorical distributions over ``grid``/``box`` actions.
* :mod:`~fh_gym.agents.pg.rollout` — batched on-policy episodes on a :class:`~fh_gym.engine.core.RepairEngine`.
* :mod:`~fh_gym.agents.pg.reinforce` — returns-to-go, baselines and the REINFORCE loss (Williams 1992).
* :mod:`~fh_gym.agents.pg.actor` — the trained policy + its restorer as an actor for evaluation / compare / record.
* :mod:`~fh_gym.agents.pg.checkpoint` — ``.pt`` agent checkpoints (``weights_only=True`` loadable).
* :mod:`~fh_gym.agents.pg.policy_base` — the policy interface and the policy registry (``agents/policies/``).
* :mod:`~fh_gym.agents.pg.trainer` — the paper agents' registry base class and training driver (a ``TrainingRun``).
"""
