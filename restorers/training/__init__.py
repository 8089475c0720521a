"""Supervised training recipes and the shared resumable training loop."""

from fh_gym.restorers.training.loop import TrainingRun, unwrap

__all__ = ["TrainingRun", "unwrap"]
