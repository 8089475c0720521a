"""One TensorBoard run per training run, with CleanRL-style tags for SB3's own statistics.

SB3 logs ``train/value_loss``, ``train/learning_rate``, ``time/fps``...; in TensorBoard these become
``losses/value_loss``, ``charts/learning_rate`` and ``charts/SPS`` (CleanRL names), next to the fh-gym
callbacks' ``charts/*`` and ``eval/*`` tags, all in the run folder itself so ``--resume`` appends to the
same run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stable_baselines3.common.logger import Logger, TensorBoardOutputFormat, make_output_format

RENAMES = {"train/learning_rate": "charts/learning_rate", "time/fps": "charts/SPS"}


def cleanrl_tag(key: str) -> str:
    """SB3 key -> CleanRL tag (``train/x`` -> ``losses/x``; learning rate and fps -> ``charts/``)."""
    if key in RENAMES:
        return RENAMES[key]
    if key.startswith("train/"):
        return "losses/" + key[len("train/"):]
    return key


class CleanRLTensorBoardFormat(TensorBoardOutputFormat):
    """SB3's TensorBoard writer with keys renamed by :func:`cleanrl_tag`."""

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        renamed = {cleanrl_tag(k): v for k, v in key_values.items()}
        excluded = {cleanrl_tag(k): v for k, v in key_excluded.items()}
        super().write(renamed, excluded, step)


def make_logger(run_dir: str | Path, stdout: bool = False) -> Logger:
    """An SB3 logger writing TensorBoard events into ``run_dir`` (and a text table when ``stdout``)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    formats = [CleanRLTensorBoardFormat(str(run_dir))]
    if stdout:
        formats.append(make_output_format("stdout", str(run_dir)))
    return Logger(str(run_dir), formats)
