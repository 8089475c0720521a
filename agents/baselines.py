from fh_gym.agents.strategies import *  # noqa: F403  # temporary: removed at merge
