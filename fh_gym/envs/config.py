"""The env config: every key's default, and a registered variant's overrides merged on top.

A leaf of :mod:`fh_gym.envs` (no env class, no engine): the envs, the command line and the training runs
all build their config here. What each key means is in ``docs/environment.md``.
"""

from __future__ import annotations

from typing import Any

from fh_gym.degradations import Degradation
from fh_gym.restorers.config import merge_config
from fh_gym.variants import variant_chain, variant_files


def default_config() -> dict[str, Any]:
    """Defaults of every env (the dense x8 variant); YAML variants override a subset of these keys."""
    return {
        "image_size": 128,
        "horizon": 16,
        "mode": "train",
        "device": "cpu",
        "data": {"type": "synthetic", "split": "train"},
        "degradation": Degradation.default_config(),
        "frontend": {"type": "Bicubic"},
        "restorer": {"type": "AttentionFHEnhancer"},
        "action": {"type": "grid", "patch_size": 32, "stride": 16, "mask_repeats": True},
        "repair": {"margin": 8, "feather": 0},
        "reward": {"type": "psnr_gain"},
        "render": {"scale": 2, "history": True},
    }


def variant_overrides(name: str) -> dict[str, Any]:
    """The full config of variant ``name``: the defaults with its ``extends`` chain applied (parent first).

    Merging against the real defaults reports a typo in any variant file with the valid keys.
    """
    merged = default_config()
    for overrides in variant_chain(name):
        merged = merge_config(merged, overrides)
    return merged


def make_config(config: dict | None = None, variant: str | None = None) -> dict[str, Any]:
    """``default_config()`` updated by a registered variant's YAML, then by ``config``."""
    base = default_config() if variant is None else variant_overrides(variant)
    return merge_config(base, config)


def _describe_action(block: dict[str, Any]) -> str:
    kind = block["type"]
    if kind == "grid":
        side = block.get("patch_size", 32)
        return f"grid: {side}x{side} patch, stride {block.get('stride', 16)}"
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
        degradation = cfg["degradation"]
        scale = f"x{degradation['scale']}" + (" + occlusion" if degradation.get("occlusion") else "")
        lines.append(f"| `{data['id']}` | {_describe_action(cfg['action'])} | `{reward}` | {cfg['horizon']} | {scale} "
                     f"| {cfg['frontend']['type']} | {cfg['restorer']['type']} |")
    return "\n".join(lines) + "\n"
