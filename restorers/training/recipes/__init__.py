"""The training recipes, one module per recipe (the registry in :mod:`fh_gym.restorers.training.recipe` scans
this package): ``csrip``, ``identity-net``, ``ipfh-coarse``, ``landmark-net``, ``ofhnet``, ``sicnn``, ``srgan``
(image pairs) and ``pretrain-restorer`` (patch pairs). Each has a YAML in ``envs_configs/recipes/``.

The registry's names are re-exported here for callers outside the package.
"""

from fh_gym.restorers.training.recipe import (
    RECIPES,
    PairBatch,
    Recipe,
    RecipeContext,
    get_recipe,
    recipe_config,
    register_recipe,
)

__all__ = ["RECIPES", "PairBatch", "Recipe", "RecipeContext", "get_recipe", "recipe_config", "register_recipe"]
