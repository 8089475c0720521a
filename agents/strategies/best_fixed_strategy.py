"""``best_fixed``: the best *open-loop* order of repairs, chosen on training people -- the fixed strategy to beat.

An open-loop order is a fixed sequence of T actions applied to every face, whatever it looks like (``even`` is
one). :func:`search_order` chooses one for an env config and restorer on faces of the *training* people:

1. greedy on the mean gain: at each step the action whose repair raises the mean PSNR of the training faces
   most (applied to all of them), which content-blind selection can do best one step at a time;
2. the ``even`` and ``centre_out`` orders of the same length;

and keeps whichever reaches the highest mean final PSNR on those faces (at T = 16 on the dense x8 env the
even tiling wins; under a budget the greedy order does). Test people are never looked at. The order is cached
per env config + restorer (``$FH_GYM_CACHE/best_fixed/<key>.json``), so a comparison pays the search once.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fh_gym.agents.strategies.base import STRATEGIES, Strategy
from fh_gym.agents.strategies.centre_out_strategy import CentreOutStrategy
from fh_gym.agents.strategies.even_strategy import EvenGridStrategy
from fh_gym.data import build_dataset
from fh_gym.data.paths import cache_dir
from fh_gym.engine.core import RepairEngine
from fh_gym.restorers.checkpoint import atomic_write_bytes
from fh_gym.restorers.config import merge_config

#: config keys that do not change which order is best (where faces come from, how runs are rendered)
_IRRELEVANT = ("data", "mode", "device", "render")


def restorer_fingerprint(restorer: nn.Module) -> str:
    """What identifies a restorer's weights: its shipped name or checkpoint, else a hash of its parameters."""
    source = getattr(restorer, "weights_source", None)
    if source:
        return str(source)
    digest = hashlib.sha256()
    for name, tensor in sorted(restorer.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def order_key(config: Mapping[str, Any], restorer: nn.Module, search_faces: int, seed: int) -> str:
    """Cache key of a searched order: the env config that matters, the restorer, the search settings."""
    relevant = {k: v for k, v in config.items() if k not in _IRRELEVANT}
    data = {"source": {k: v for k, v in config["data"].items() if k != "split"}}
    blob = json.dumps([relevant, data, restorer_fingerprint(restorer), search_faces, seed], sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _final_psnr(engine: RepairEngine, slots: Tensor, order: np.ndarray, indices: np.ndarray, seed: int) -> float:
    engine.reset(slots, np.random.default_rng(seed), {"index": indices})
    for action in order:
        engine.step(np.repeat(action[None], len(slots), axis=0), slots)
    return float(np.mean(engine.psnr(slots)))


def search_order(config: Mapping[str, Any], restorer: nn.Module, search_faces: int = 128,
                 seed: int = 0) -> tuple[np.ndarray, str]:
    """The best open-loop order of ``config["horizon"]`` actions on ``search_faces`` training faces (see the
    module docstring); returns it with the name of the candidate that won (``greedy``, ``even``, ``centre_out``)."""
    train = merge_config(config, {"data": {**config["data"], "split": "train"}, "mode": "train"})
    dataset = build_dataset(train["data"])
    count = min(int(search_faces), len(dataset))
    engine = RepairEngine(train, count, restorer=restorer, dataset=dataset)
    slots = engine.all_slots()
    indices = np.random.default_rng(seed).choice(len(dataset), count, replace=False)
    engine.reset(slots, np.random.default_rng(seed), {"index": indices})
    candidates = engine.action_type.candidate_actions()
    greedy = []
    for _ in range(engine.horizon):
        best = candidates[int(engine.candidate_gains(slots, candidates).mean(axis=0).argmax())]
        greedy.append(best)
        engine.step(np.repeat(np.asarray(best)[None], count, axis=0), slots)
    orders = {"greedy": np.stack(greedy)}
    for fixed in (EvenGridStrategy(), CentreOutStrategy()):
        sequence = fixed.sequence(engine)
        orders[fixed.name] = sequence[np.arange(engine.horizon) % len(sequence)]
    scores = {name: _final_psnr(engine, slots, order, indices, seed) for name, order in orders.items()}
    winner = max(scores, key=scores.get)
    return orders[winner], winner


@STRATEGIES.register()
class BestFixedStrategy(Strategy):
    """The best open-loop order found on training people (see the module docstring).

    Args:
        search_faces: Training faces the search runs on.
        seed: Seed of the search's face choice and degradations.
        cache: Keep searched orders on disk (``$FH_GYM_CACHE/best_fixed``).
    """

    name = "best_fixed"
    order = 40

    def __init__(self, search_faces: int = 128, seed: int = 0, cache: bool = True) -> None:
        self.search_faces, self.seed, self.cache = int(search_faces), int(seed), bool(cache)
        self._orders: dict[str, np.ndarray] = {}
        #: which candidate order won the search (per cache key), for reports
        self.chosen: dict[str, str] = {}

    def order_for(self, engine: RepairEngine) -> np.ndarray:
        """The order for ``engine``'s config and restorer (searched once, then from memory or disk)."""
        key = order_key(engine.config, engine.restorer, self.search_faces, self.seed)
        if key in self._orders:
            return self._orders[key]
        path = cache_dir() / "best_fixed" / f"{key}.json"
        if self.cache and path.is_file():
            record = json.loads(path.read_text())
            order, winner = np.asarray(record["order"], dtype=engine.action_type.candidate_actions().dtype), \
                record["winner"]
        else:
            # minutes on a CPU the first time: say so, or the first comparison looks hung
            where = f"; cached in {path.parent}" if self.cache else ""
            print(f"best_fixed: searching the best open-loop order on {self.search_faces} training faces (once per "
                  f"env config and restorer{where})", file=sys.stderr, flush=True)
            with torch.no_grad():
                order, winner = search_order(engine.config, engine.restorer, self.search_faces, self.seed)
            if self.cache:
                atomic_write_bytes(path, json.dumps({"order": np.asarray(order).tolist(), "winner": winner,
                                                     "config": engine.config}, default=str).encode())
        self._orders[key], self.chosen[key] = order, winner
        return order

    def act(self, engine: RepairEngine, slots: Tensor, rng: np.random.Generator) -> np.ndarray:
        order = self.order_for(engine)
        return order[engine.t[slots].cpu().numpy() % len(order)]
