"""Configuration helpers (re-exported from :mod:`fh_gym.restorers.config`, which both packages share).

``fh_gym`` depends on ``restorers``, never the reverse, so the one implementation lives there.
"""

from fh_gym.restorers.config import ConfigError, check_kwargs, load_yaml, merge_config, split_type

__all__ = ["ConfigError", "check_kwargs", "load_yaml", "merge_config", "split_type"]
