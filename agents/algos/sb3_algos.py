"""Registers the SB3 / sb3-contrib algorithms: ``ppo``, ``a2c``, ``recurrent_ppo``, ``maskable_ppo``.

Hyperparameters: ``envs_configs/agents/<name>.yaml`` (see :mod:`fh_gym.agents.sb3.hyperparams`); training:
:func:`fh_gym.agents.sb3.train.train_sb3`; loading: :meth:`fh_gym.agents.sb3.specs.SB3Spec.load`.
"""

from __future__ import annotations

from functools import partial

from fh_gym.agents.registry import register_algo
from fh_gym.agents.sb3.specs import SPECS
from fh_gym.agents.sb3.train import train_sb3

for _spec in SPECS.values():
    register_algo(_spec.name, train=partial(train_sb3, spec=_spec), load=_spec.load, defaults=_spec.defaults,
                  description=_spec.description)
