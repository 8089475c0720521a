"""One TensorBoard run per training run, with SB3's standard tags.

SB3's own statistics keep SB3's names (``train/value_loss``, ``train/learning_rate``, ``rollout/ep_rew_mean``,
``time/fps``...), exactly as in a plain SB3 or RL Zoo run, so their curves line up in one TensorBoard. fh-gym's
callbacks add theirs under their own prefixes: ``charts/`` (episode return, PSNR, reward terms), ``eval/``
(validation people: ``eval/psnr``, ``eval/ssim``, ``eval/psnr_gain``, the ``eval/episodes`` grid) and
``losses/restorer*`` (joint restorer training). Everything goes into the run folder itself, so ``--resume``
appends to the same run.
"""

from __future__ import annotations

from pathlib import Path

from stable_baselines3.common.logger import Logger, TensorBoardOutputFormat, make_output_format


def make_logger(run_dir: str | Path, stdout: bool = False) -> Logger:
    """An SB3 logger writing TensorBoard events into ``run_dir`` (and a text table when ``stdout``)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    formats = [TensorBoardOutputFormat(str(run_dir))]
    if stdout:
        formats.append(make_output_format("stdout", str(run_dir)))
    return Logger(str(run_dir), formats)
