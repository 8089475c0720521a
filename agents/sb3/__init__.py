"""Stable-Baselines3 / sb3-contrib integration: features extractor, hyperparameters, callbacks, checkpoints,
actors for trained models and the training entry point (``SB3Algo``; the algorithms are ``agents/algos/*.py``)."""
