"""Training infrastructure shared by every agent (SB3 or not): validation evaluation, episode metrics,
TensorBoard image grids with boxes, and joint restorer fine-tuning. Nothing here imports SB3."""

from fh_gym.agents.training.evaluation import episode_metrics, evaluate_actor, validation_indices
from fh_gym.agents.training.finetune import RestorerFineTuner
from fh_gym.agents.training.images import episode_grid

__all__ = ["RestorerFineTuner", "episode_grid", "episode_metrics", "evaluate_actor", "validation_indices"]
