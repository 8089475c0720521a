"""Stable-Baselines3 / sb3-contrib integration: features extractor, hyperparameters, callbacks, checkpoints,
actors for trained models and the training entry point (registered in :mod:`fh_gym.agents.algos.sb3_algos`)."""
