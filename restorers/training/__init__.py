"""Supervised training recipes and the shared resumable training loop."""

from restorers.training.loop import TrainingRun, unwrap

__all__ = ["TrainingRun", "unwrap"]
