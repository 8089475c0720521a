"""The env config: every key's default, and a registered variant's overrides merged on top, checked.

A leaf of :mod:`fh_gym.envs` (no env class, no engine instance): the envs, the command line and the training
runs all build their config here. The keys, their defaults and the values they allow are one schema,
:data:`fh_gym.engine.config.ENV_SCHEMA` (the engine checks its config with it too). What each key means is in
``docs/environment.md``.
"""

from __future__ import annotations

from typing import Any

from fh_gym.engine.config import check_env_config, default_config
from fh_gym.restorers.config import merge_config
from fh_gym.variants import variant_chain, variant_files

__all__ = ["default_config", "env_table", "make_config", "variant_overrides"]


def variant_overrides(name: str) -> dict[str, Any]:
    """The full config of variant ``name``: the defaults with its ``extends`` chain applied (parent first).

    Merging against the real defaults reports a typo in any variant file with the valid keys.
    """
    merged = default_config()
    for overrides in variant_chain(name):
        merged = merge_config(merged, overrides)
    return merged


def make_config(config: dict | None = None, variant: str | None = None) -> dict[str, Any]:
    """``default_config()`` updated by a registered variant's YAML, then by ``config``, every value checked
    (:func:`fh_gym.engine.config.check_env_config`)."""
    base = default_config() if variant is None else variant_overrides(variant)
    return check_env_config(merge_config(base, config))


def _describe_action(block: dict[str, Any]) -> str:
    kind = block["type"]
    if kind == "grid":
        side = block.get("patch_size", 32)
        stop = " + stop" if block.get("stop") else ""
        return f"grid: {side}x{side} patch, stride {block.get('stride', 16)}{stop}"
    if kind == "box":
        return "box: (x, y, ratio 3:2/1:1/2:3, scale)"
    if kind == "continuous":
        return "`Box(-1, 1, (4,))` -> (x, y, ratio, scale)"
    return kind


def env_table() -> str:
    """The README's table of registered envs (one row per variant YAML; ``tests/test_repo.py`` keeps it current)."""
    lines = ["| id | actions | reward | T | scale | front-end | restorer |", "|---|---|---|---|---|---|---|"]
    for name, data in variant_files().items():
        cfg = variant_overrides(name)
        reward = cfg["reward"]["type"] + (f" ({cfg['reward']['form']})" if "form" in cfg["reward"] else "")
        reward = f"`{reward}`" + (f" - {cfg['repair']['step_cost']:g} dB a call" if cfg["repair"]["step_cost"] else "")
        degradation = cfg["degradation"]
        scale = f"x{degradation['scale']}" + (" + occlusion" if degradation.get("occlusion") else "")
        lines.append(f"| `{data['id']}` | {_describe_action(cfg['action'])} | {reward} | {cfg['horizon']} | {scale} "
                     f"| {cfg['frontend']['type']} | {cfg['restorer']['type']} |")
    return "\n".join(lines) + "\n"
