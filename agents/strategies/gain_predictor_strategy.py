"""``gain_predictor``: repair the candidate a trained network predicts to gain most -- a one-step lookahead without
the truth (the ``gain-predictor`` recipe trains it on the greedy oracle's gains of training people)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fh_gym.agents.strategies.base import STRATEGIES, Strategy, stop_unless_it_pays
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.build import build_network
from fh_gym.restorers.config import ConfigError
from fh_gym.samplers.gain_labels import candidate_allowed, engine_selection_stack


@STRATEGIES.register()
class GainPredictorStrategy(Strategy):
    """Argmax of the predicted gains over the allowed candidates (masked cells are never picked); with a stop
    action, stop when no predicted gain exceeds the env's ``repair.step_cost``.

    Args:
        checkpoint: The trained predictor (``gain_predictor.pt`` of a ``gain-predictor`` run).
        weights: Or shipped weights of ``BoxPoolingSelector`` (a name, or ``default``).
    """

    name = "gain_predictor"
    order = 60
    in_defaults = False

    def __init__(self, checkpoint: str | None = None, weights: str | None = None,
                 network: nn.Module | None = None) -> None:
        if sum(x is not None for x in (checkpoint, weights, network)) != 1:
            raise ConfigError("strategy gain_predictor needs a trained predictor: give checkpoint (a gain-predictor "
                              "run's gain_predictor.pt) or weights")
        if network is None:  # a network object: the recipe's own validation during training
            block: dict[str, Any] = {"type": "BoxPoolingSelector"}
            block.update({"checkpoint": checkpoint} if checkpoint else {"weights": weights})
            network = build_network(block, kind="aux")
        self.network = network.eval()
        self._candidates: tuple[int, np.ndarray, Tensor] | None = None

    def _candidates_of(self, engine: RepairEngine) -> tuple[np.ndarray, Tensor]:
        if self._candidates is None or self._candidates[0] != id(engine):
            candidates = engine.action_type.candidate_actions()
            self._candidates = (id(engine), candidates, engine.action_type.to_boxes(candidates))
            self.network.to(engine.device)
        return self._candidates[1], self._candidates[2]

    @torch.no_grad()
    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        candidates, boxes = self._candidates_of(engine)
        predicted = self.network(engine_selection_stack(engine, slots), boxes.to(engine.device))[..., 0]
        allowed = torch.as_tensor(candidate_allowed(engine, slots, candidates), device=predicted.device)
        gain, index = predicted.masked_fill(~allowed, float("-inf")).max(dim=1)
        return stop_unless_it_pays(engine, candidates[index.cpu().numpy()], gain.cpu().numpy())
