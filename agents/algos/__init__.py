"""The algorithms of ``fh-gym train --algo``, one module per algorithm (the registry ``ALGOS`` in
:mod:`fh_gym.agents.registry` scans this package): ``ppo``, ``a2c``, ``recurrent_ppo``, ``maskable_ppo``
(Stable-Baselines3 / sb3-contrib) and the paper agents ``attention_fh`` and ``ipfh``. Each has its
hyperparameter file ``envs_configs/agents/<name>.yaml`` (see ``docs/agents.md``).
"""
