"""The paper agents' policy networks, one module per policy (the registry ``POLICIES`` in
:mod:`fh_gym.agents.pg.policy_base` scans this package): ``AttentionFHPolicy`` (Attention-FH Sec. 3.2) and
``IPFHPolicy`` (IPFH's policy controller, Sec. III-B.2). A policy is rebuilt from its stored
``{type: ClassName, **kwargs}`` block; its constructor's keyword arguments are the ``policy`` hyperparameters
of its algorithm (``envs_configs/agents/<algo>.yaml``).
"""
