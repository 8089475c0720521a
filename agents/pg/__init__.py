"""Policy-gradient machinery shared by the paper agents (Attention-FH, IPFH).

* :mod:`~agents.pg.distributions` — factorised categorical distributions over ``grid``/``box`` actions.
* :mod:`~agents.pg.rollout` — batched on-policy episodes on a :class:`~fh_gym.engine.core.RepairEngine`.
* :mod:`~agents.pg.reinforce` — returns-to-go, baselines and the REINFORCE loss (Williams 1992).
* :mod:`~agents.pg.actor` — the trained policy + its restorer as an actor for evaluation / compare / record.
* :mod:`~agents.pg.checkpoint` — ``.pt`` agent checkpoints (``weights_only=True`` loadable).
* :mod:`~agents.pg.config` — hyperparameters from ``envs_configs/agents/<algo>.yaml``.
* :mod:`~agents.pg.trainer` — the training driver (progress, TensorBoard, checkpoints, resume, evaluation).
"""
