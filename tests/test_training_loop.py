"""TrainingRun under torch.distributed: ranks stop together when only one of them runs out of budget."""

from __future__ import annotations

import datetime

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from fh_gym.restorers.checkpoint import remember_config
from fh_gym.restorers.training.loop import TrainingRun, agree_to_stop


def _rank_main(rank: int, store_file: str, out_dir: str, results: dict) -> None:
    torch.set_num_threads(1)
    # A short timeout turns the hang this test guards against into an error.
    dist.init_process_group("gloo", init_method=f"file://{store_file}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=20))
    try:
        net = remember_config(nn.Linear(2, 1), {"type": "Linear"})  # checkpoints need an arch block
        run = TrainingRun(out_dir, {"net": net}, {"net": torch.optim.SGD(net.parameters(), lr=0.1)}, {},
                          total_steps=50, progress=False, resume=False)

        def step_fn(step: int) -> dict[str, float]:
            value = torch.ones(1)
            dist.all_reduce(value)  # what DDP's backward does every step
            return {"sum": float(value)}

        # Rank 0's budget is spent before the first step; rank 1 has none.
        run.run(step_fn, time_budget_s=0.0 if rank == 0 else None)
        results[rank] = run.step
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ranks_stop_together_when_one_runs_out_of_time(tmp_path):
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_rank_main, args=(str(tmp_path / "store"), str(tmp_path / "run"), results), nprocs=2, join=True)
        assert dict(results) == {0: 0, 1: 0}


def test_agree_to_stop_is_the_identity_without_a_process_group():
    assert agree_to_stop(True, False) == [True, False]
    assert agree_to_stop(False) == [False]


class _Counter:
    def __init__(self) -> None:
        self.value = 0

    def state_dict(self) -> dict:
        return {"value": self.value}

    def load_state_dict(self, state: dict) -> None:
        self.value = int(state["value"])


def test_resume_restores_state_objects_also_from_checkpoints_of_the_old_layout(tmp_path):
    from fh_gym.restorers.checkpoint import safe_load, save_training_state

    net = remember_config(nn.Linear(2, 1), {"type": "Linear"})
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    counter = _Counter()
    run = TrainingRun(tmp_path, {"net": net}, {"net": opt}, {}, total_steps=3, progress=False, resume=False,
                      state={"counter": counter})

    def step_fn(step: int) -> dict[str, float]:
        counter.value += 10
        return {}

    run.run(step_fn)
    again = _Counter()
    TrainingRun(tmp_path, {"net": net}, {"net": opt}, {}, total_steps=3, progress=False, state={"counter": again})
    assert again.value == 30
    # fh-gym before 0.2 stored the paper agents' state under extra["agent"]
    data = safe_load(tmp_path / "last.pt")
    save_training_state(tmp_path / "last.pt", networks={"net": net}, optimizers={"net": opt}, step=data["step"],
                        config={}, extra={"agent": {"counter": {"value": 7}}})
    old = _Counter()
    resumed = TrainingRun(tmp_path, {"net": net}, {"net": opt}, {}, total_steps=3, progress=False,
                          state={"counter": old})
    assert old.value == 7 and resumed.step == 3
