"""Throughput of the batched vector env against N separate ``FaceRepairEnv`` in SB3's ``DummyVecEnv``.

Both sides use the same restorer object, the same dataset and the same pre-drawn random actions;
episodes auto-reset on both sides. Reported: env steps per second (faces x steps / wall time), the
median over ``repeats`` runs, and the ratio batched / DummyVecEnv measured in the same run.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from fh_gym.data import build_dataset
from fh_gym.engine.core import RepairEngine
from fh_gym.engine.networks import env_network
from fh_gym.envs.face_repair import FaceRepairEnv
from fh_gym.envs.vector import FaceRepairVectorEnv
from fh_gym.restorers.config import merge_config


@dataclass
class BenchRow:
    num_envs: int
    batched_sps: float
    dummy_sps: float
    batched_runs: list[float]
    dummy_runs: list[float]

    @property
    def ratio(self) -> float:
        return self.batched_sps / self.dummy_sps


def _actions(space: Any, steps: int, num_envs: int, seed: int) -> list[np.ndarray]:
    space.seed(seed)
    return [np.stack([space.sample() for _ in range(num_envs)]) for _ in range(steps)]


def _time_batched(config: dict, num_envs: int, actions: list[np.ndarray], restorer: Any, dataset: Any) -> float:
    env = FaceRepairVectorEnv(num_envs, config, restorer=restorer, dataset=dataset)
    env.reset(seed=0)
    env.step(actions[0])  # warm-up (allocator, first restorer call)
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    return num_envs * len(actions) / (time.perf_counter() - start)


def _time_dummy(config: dict, num_envs: int, actions: list[np.ndarray], restorer: Any, dataset: Any) -> float:
    vec = DummyVecEnv([lambda: FaceRepairEnv(config, restorer=restorer, dataset=dataset)] * num_envs)
    vec.seed(0)
    vec.reset()
    vec.step(actions[0])
    start = time.perf_counter()
    for action in actions:
        vec.step(action)
    return num_envs * len(actions) / (time.perf_counter() - start)


def run_benchmark(config: dict, sizes: tuple[int, ...] = (1, 8, 64), steps: int = 48, repeats: int = 5,
                  device: str = "cpu") -> list[BenchRow]:
    """Steps/s of both implementations for each N in ``sizes`` (median of ``repeats``)."""
    config = merge_config(config, {"device": device})
    dataset = build_dataset(config["data"])
    restorer = env_network(config).eval()
    rows = []
    for n in sizes:
        space = RepairEngine(config, 1, restorer=restorer, dataset=dataset).single_action_space
        actions = _actions(space, steps, n, seed=n)
        batched, dummy = [], []
        for _ in range(repeats):
            batched.append(_time_batched(config, n, actions, restorer, dataset))
            dummy.append(_time_dummy(config, n, actions, restorer, dataset))
        rows.append(BenchRow(n, statistics.median(batched), statistics.median(dummy), batched, dummy))
    return rows


def machine_description(device: str = "cpu") -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}")


def rows_to_markdown(rows: list[BenchRow]) -> str:
    lines = ["| N | batched VectorEnv (steps/s) | DummyVecEnv of N envs (steps/s) | ratio |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.num_envs} | {r.batched_sps:,.0f} | {r.dummy_sps:,.0f} | {r.ratio:.1f}x |")
    return "\n".join(lines) + "\n"
