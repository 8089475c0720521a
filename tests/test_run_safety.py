"""Runs that cannot lose work or lie: kill -9 then resume, concurrent runs, hostile checkpoint files.

* A run killed with SIGKILL (no chance to checkpoint) loses at most one checkpoint interval; ``--resume``
  continues its step counter and its TensorBoard run with no step logged twice (read back from the event files).
* Two runs started together into one ``--out`` keep both models; a second process into a run in progress is refused.
* Checkpoints and agent files carrying a pickle payload are refused or loaded without running it (the file the
  payload would create never appears).
"""

from __future__ import annotations

import base64
import io
import json
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from subprocess_env import ONE_THREAD_ENV

from fh_gym.agents.cli.main import main
from fh_gym.agents.runs import RUN_RECORD, new_context
from fh_gym.agents.sb3.checkpoint import read_metadata
from fh_gym.envs.config import make_config
from fh_gym.restorers.checkpoint import CheckpointError, safe_load

DATA_FLAGS = ["--set", "data.identities=24", "--set", "data.images_per_identity=3", "--set", "horizon=4"]
SB3_FLAGS = ["--algo", "ppo", "--set-algo", "n_envs=4", "--set-algo", "n_steps=16", "--set-algo", "batch_size=32",
             "--set-algo", "n_epochs=1", "--set-algo", "policy_kwargs.features_dim=16",
             "--set-algo", "policy_kwargs.width=4", "--eval-every", "0", "--quiet"]
SB3_UPDATE = 64  # env steps per PPO update here (4 faces x 16 steps)
FH_GYM = [sys.executable, "-m", "fh_gym.agents.cli.main"]


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([*FH_GYM, *args], cwd=cwd, env=ONE_THREAD_ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def wait_for(proc: subprocess.Popen, ready: Callable[[], bool], what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"ended before {what}: " + proc.stdout.read().decode()
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)


def kill_hard(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)  # kill -9: no handler runs, nothing is checkpointed on the way out
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def kill_hard_once(proc: subprocess.Popen, ready: Callable[[], bool], what: str) -> None:
    """Wait for ``what``, let the run go on a moment (mid-interval), kill -9 it; never leave it running."""
    try:
        wait_for(proc, ready, what)
        time.sleep(1.0)
        kill_hard(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def scalar_steps(folder: Path) -> dict[str, list[int]]:
    """Tag -> logged steps as TensorBoard shows them (every events file of the folder, purges applied)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [e.step for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def raw_max_step(folder: Path) -> int:
    """The last step the killed process logged (raw events, no purge): how far it had got."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    steps = [event.step for path in folder.glob("events.out.tfevents.*") for event in EventFileLoader(str(path)).Load()
             if event.HasField("summary")]
    return max(steps)


def assert_tensorboard_continues(folder: Path, final_step: int, checkpoint_step: int) -> None:
    steps = scalar_steps(folder)
    assert steps
    for tag, values in steps.items():
        assert values == sorted(set(values)), f"{tag}: steps logged twice or out of order: {values}"
    assert max(max(v) for v in steps.values()) == final_step
    assert any(s > checkpoint_step for v in steps.values() for s in v)


def plant_stale_temporary(folder: Path) -> Path:
    stale = folder / ".last.pt.killedsave.tmp"
    stale.write_bytes(b"half a checkpoint")
    return stale


@pytest.mark.slow
def test_sb3_run_killed_with_sigkill_resumes_losing_at_most_one_interval(tmp_path):
    out = tmp_path / "runs"
    proc = start(["train", *SB3_FLAGS, *DATA_FLAGS, "--checkpoint-every", str(SB3_UPDATE), "--timesteps", "1000000",
                  "--out", str(out)], tmp_path)
    def two_checkpoints() -> bool:
        last = list(out.glob("*/checkpoints/last.zip"))
        return bool(last) and read_metadata(last[0])["num_timesteps"] >= 2 * SB3_UPDATE

    kill_hard_once(proc, two_checkpoints, "second checkpoint")
    (run_dir,) = out.iterdir()
    checkpoint_step = read_metadata(run_dir / "checkpoints" / "last.zip")["num_timesteps"]
    assert raw_max_step(run_dir) - checkpoint_step <= SB3_UPDATE  # at most one interval lost
    stale = plant_stale_temporary(run_dir / "checkpoints")
    final_step = checkpoint_step + 2 * SB3_UPDATE
    assert main(["train", "--resume", str(run_dir), "--timesteps", str(final_step), "--quiet"]) == 0
    assert read_metadata(run_dir / "final.zip")["num_timesteps"] == final_step
    assert not stale.exists()
    assert_tensorboard_continues(run_dir, final_step, checkpoint_step)


@pytest.mark.slow
def test_pretraining_killed_with_sigkill_resumes_losing_at_most_one_interval(tmp_path):
    config = tmp_path / "recipe.yaml"
    config.write_text(yaml.safe_dump({"log_every": 1, "eval_faces": 4}))
    out = tmp_path / "restorer"
    flags = ["pretrain-restorer", *DATA_FLAGS, "--config", str(config), "--batch-size", "4", "--checkpoint-every", "4",
             "--eval-every", "0", "--out", str(out), "--quiet"]
    proc = start([*flags, "--steps", "100000"], tmp_path)
    kill_hard_once(proc, lambda: (out / "last.pt").exists() and safe_load(out / "last.pt")["step"] >= 8, "checkpoint")
    checkpoint_step = safe_load(out / "last.pt")["step"]
    assert raw_max_step(out / "tb") - checkpoint_step <= 4
    stale = plant_stale_temporary(out)
    final_step = checkpoint_step + 6
    assert main([*flags, "--steps", str(final_step)]) == 0
    assert safe_load(out / "last.pt")["step"] == final_step
    assert not stale.exists()
    assert_tensorboard_continues(out / "tb", final_step, checkpoint_step)


@pytest.mark.slow
def test_paper_agent_killed_with_sigkill_resumes_losing_at_most_one_interval(tmp_path):
    out = tmp_path / "runs"
    update = 4 * 3  # env steps per update: batch 4 x T 3
    flags = ["--algo", "attention_fh", "--env", "FaceRepair-AttentionFH-v0", "--set", "image_size=64",
             "--set", "data.image_size=64", "--set", "data.identities=24", "--set", "data.images_per_identity=3",
             "--set", "horizon=3", "--set", "action.positions=4", "--set-algo", "batch_size=4",
             "--set-algo", "policy.feature_dim=8", "--set-algo", "policy.history_hidden=8",
             "--set-algo", "policy.policy_hidden=16", "--set-algo", "policy.head_hidden=16",
             "--set-algo", "policy.value_hidden=8", "--set-algo", "eval_batch_size=4", "--eval-faces", "2",
             "--eval-every", "0", "--checkpoint-every", str(2 * update), "--quiet"]
    proc = start(["train", *flags, "--timesteps", "10000000", "--out", str(out)], tmp_path)
    def updates(n: int) -> Callable[[], bool]:
        return lambda: any(safe_load(p)["step"] >= n for p in out.glob("*/last.pt"))

    kill_hard_once(proc, updates(4), "checkpoint")
    (run_dir,) = out.iterdir()
    checkpoint_step = safe_load(run_dir / "last.pt")["step"] * update
    assert raw_max_step(run_dir / "tb") - checkpoint_step <= 2 * update
    final_step = checkpoint_step + 2 * update
    assert main(["train", "--resume", str(run_dir), "--timesteps", str(final_step), "--quiet"]) == 0
    assert safe_load(run_dir / "last.pt")["step"] * update == final_step
    assert_tensorboard_continues(run_dir / "tb", final_step, checkpoint_step)


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    env, record = make_config({"horizon": 4}, "dense_x8"), {"n_envs": 1, "total_timesteps": 1}
    first = new_context(tmp_path, "FaceRepair-Dense-x8-v0", "ppo", 0, env, env, record, when=1_700_000_000)
    second = new_context(tmp_path, "FaceRepair-Dense-x8-v0", "ppo", 0, env, env, record, when=1_700_000_000)
    assert first.run_dir != second.run_dir
    assert second.run_dir.name == first.run_dir.name + "-2"
    assert all((ctx.run_dir / RUN_RECORD).is_file() for ctx in (first, second))


@pytest.mark.slow
def test_two_concurrent_runs_into_one_out_keep_both_models(tmp_path):
    out = tmp_path / "runs"
    args = ["train", "--algo", "a2c", *DATA_FLAGS, "--set-algo", "n_envs=4", "--set-algo", "n_steps=8",
            "--set-algo", "policy_kwargs.features_dim=16", "--set-algo", "policy_kwargs.width=4", "--eval-every", "0",
            "--timesteps", "64", "--out", str(out), "--quiet"]
    procs = [start(args, tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    runs = sorted(out.iterdir())
    assert len(runs) == 2
    for run_dir in runs:
        assert read_metadata(run_dir / "final.zip")["num_timesteps"] == 64
        assert json.loads((run_dir / RUN_RECORD).read_text())["algo"] == "a2c"
    assert sorted(line.split("run: ")[1].strip() for text in outputs for line in text.splitlines()
                  if line.startswith("run: ")) == [str(r) for r in runs]


@pytest.mark.slow
def test_a_second_process_into_a_run_in_progress_is_refused(tmp_path, capsys):
    out = tmp_path / "restorer"
    flags = ["pretrain-restorer", *DATA_FLAGS, "--batch-size", "4", "--checkpoint-every", "2", "--eval-every", "0",
             "--out", str(out), "--quiet"]
    proc = start([*flags, "--steps", "100000"], tmp_path)
    try:
        wait_for(proc, lambda: (out / "last.pt").exists(), "checkpoint")
        assert main([*flags, "--steps", "100"]) == 2
        err = capsys.readouterr().err
        assert "is in use by a run in progress" in err and len(err.strip().splitlines()) == 1
        assert proc.poll() is None  # the first run goes on
    finally:
        proc.kill()
        proc.communicate(timeout=60)


# ----------------------------------------------------------------------------- hostile files
class Payload:
    """Unpickling this creates the file ``marker`` (what a malicious checkpoint would run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def test_a_pickle_payload_checkpoint_is_refused(tmp_path, capsys, monkeypatch):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "fh-gym/network-v1", "arch": {"type": "FSRCNN"}, "state_dict": Payload(marker)}, evil)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        safe_load(evil)
    monkeypatch.chdir(tmp_path)
    for argv in (["compare", "--strategies", "even", "--restorer", str(evil)],
                 ["compare", "--strategies", "even", "--agent", str(evil)],
                 ["hallucinate", str(evil), "--agent", str(evil)]):
        assert main(argv) == 2
        assert "Traceback" not in capsys.readouterr().err
    assert not marker.exists()


@pytest.fixture(scope="module")
def agent_zip(tmp_path_factory):
    from sb3_helpers import tiny_context

    from fh_gym.agents.registry import get_algo

    run_dir = tmp_path_factory.mktemp("agent")
    get_algo("a2c").train(tiny_context(run_dir, "a2c", total=16))
    return run_dir / "final.zip"


def rewrite_zip(source: Path, target: Path, replace: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            new.writestr(name, replace.get(name, old.read(name)))
    return target


def test_an_agent_zip_with_a_pickle_payload_never_runs_it(tmp_path, agent_zip, capsys, monkeypatch):
    import cloudpickle

    from fh_gym.agents.registry import load_agent

    marker = tmp_path / "pwned"
    blob = base64.b64encode(cloudpickle.dumps(Payload(marker))).decode()
    with zipfile.ZipFile(agent_zip) as archive:
        data = json.loads(archive.read("data"))
    serialized = [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]
    assert serialized  # SB3 pickles some entries: each one now carries the payload, plus a new one
    for key in [*serialized, "extra_entry"]:
        data[key] = {":type:": "<class 'object'>", ":serialized:": blob}
    evil_data = rewrite_zip(agent_zip, tmp_path / "evil_data.zip", {"data": json.dumps(data).encode()})
    weights = io.BytesIO()
    torch.save({"weight": Payload(marker)}, weights)
    evil_weights = rewrite_zip(agent_zip, tmp_path / "evil_weights.zip", {"policy.pth": weights.getvalue()})

    load_agent(evil_data)  # every pickled entry is rebuilt from fh_gym.json: the payload is never unpickled
    with pytest.raises(Exception, match="(?i)weights only|unpickl|cannot"):
        load_agent(evil_weights)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--strategies", "even", "--agent", str(evil_weights), "--faces", "2"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not marker.exists()


# ----------------------------------------------------------------------------- checkpoints, folders, progress
def tiny_run(out: Path, checkpoint_every: int = 100):
    from fh_gym.restorers.build import build_network
    from fh_gym.restorers.training.loop import TrainingRun

    net = build_network({"type": "VDSR", "depth": 2, "width": 4}, kind="patch", scale=8)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    return TrainingRun(out, {"net": net}, {"net": optimizer}, {"recipe": "tiny"}, total_steps=10,
                       checkpoint_every=checkpoint_every, progress=False), net


def test_the_first_step_is_checkpointed_and_an_error_keeps_it(tmp_path):
    run, _ = tiny_run(tmp_path / "run")

    def step_fn(step: int) -> dict[str, float]:
        if step == 3:
            raise FloatingPointError("loss is NaN")
        return {"loss": 1.0 / (step + 1)}

    with pytest.raises(FloatingPointError):
        run.run(step_fn)
    assert safe_load(tmp_path / "run" / "last.pt")["step"] == 1  # written after step 1, kept after the error


def test_a_run_failing_before_its_first_checkpoint_leaves_no_folder(tmp_path):
    run, _ = tiny_run(tmp_path / "run")

    def step_fn(step: int) -> dict[str, float]:
        raise MemoryError("out of memory")

    with pytest.raises(MemoryError):
        run.run(step_fn)
    assert not (tmp_path / "run").exists()


def test_resume_without_a_checkpoint_says_so_and_replaces_the_old_steps(tmp_path, capsys):
    from sb3_helpers import env_config, tiny_hyperparams
    from torch.utils.tensorboard import SummaryWriter

    hp = {**tiny_hyperparams("a2c"), "n_steps": 8, "total_timesteps": 32}
    ctx = new_context(tmp_path, "FaceRepair-Dense-x8-v0", "a2c", 0, env_config(horizon=4),
                      env_config(split="val", horizon=4), hp, eval_every=0, progress=False)
    with SummaryWriter(str(ctx.run_dir)) as writer:  # what an attempt killed before its first checkpoint logged
        writer.add_scalar("charts/episodic_return", -1.0, 64)
    assert main(["train", "--resume", str(ctx.run_dir), "--quiet"]) == 0
    assert "no checkpoint yet, starting from step 0" in capsys.readouterr().err
    assert max(scalar_steps(ctx.run_dir)["charts/episodic_return"]) <= 32  # the stale step 64 is purged


def test_progress_in_a_log_is_plain_lines(capsys):
    from fh_gym.restorers.training.session import progress_bar

    bar = progress_bar(50, desc="train", unit="step")
    for _ in range(50):
        bar.update(1)
    bar.close()
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.count("\n") == 10 and "train: 50/50 step (100%" in err
