"""Reliability soak and fuzzing: kill -9 / resume cycles, a vector-env soak with memory, config/action/CLI fuzzing.

Usage: python bench/reliability.py [--kills 10] [--soak-steps 2000] [--fuzz 500] [--parts kills soak fuzz]
       [--out outputs/reliability]

* **kills**: a ``pretrain-restorer`` run killed with SIGKILL at random moments ``--kills`` times and resumed each
  time; reports, per kill, the steps the killed process had logged past its last checkpoint (the work lost; at
  most one ``--checkpoint-every`` interval) and checks that the final run reaches its step count with TensorBoard
  steps strictly increasing. The same cycle is then run for a PPO ``fh-gym train`` run.
* **soak**: ``--soak-steps`` vector steps of 64 faces (random valid actions, resets at T) with the resident set
  size sampled every 10% (flat memory = no leak).
* **fuzz**: ``--fuzz`` random hostile values per target for env config keys (``make_config`` then a step),
  hyperparameters (``check_hyperparams``), actions of every action type (``env.step``) and command-line flags
  (``fh-gym`` in-process): each must be accepted and work, or be refused with a one-line ``ConfigError`` /
  ``ValueError`` / exit status 2; anything else counts as a failure and is listed.

Prints a Markdown table (BENCHMARKS-style) and writes ``<out>/reliability.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402

from fh_gym.agents.cli.main import main  # noqa: E402
from fh_gym.agents.registry import ALGOS, get_algo  # noqa: E402
from fh_gym.agents.sb3.checkpoint import read_metadata  # noqa: E402
from fh_gym.engine.config import ENV_SCHEMA  # noqa: E402
from fh_gym.envs.face_repair import FaceRepairEnv, make_config  # noqa: E402
from fh_gym.restorers.checkpoint import safe_load  # noqa: E402
from fh_gym.restorers.config import ConfigError, merge_config  # noqa: E402

TINY = ["--set", "data.identities=24", "--set", "data.images_per_identity=3", "--set", "horizon=4"]
HOSTILE = ["16", "abc", "", 16.7, -8, 0, -1, 10**12, float("inf"), float("-inf"), float("nan"), True, False, None,
           [], [16], {"a": 1}, 1e-300, 2**63, "cuda:x", "tpu", 8.5, 1.0]


logging.getLogger("tensorboard").setLevel(logging.ERROR)  # its purge notices are what this script checks for


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def events_steps(folder: Path) -> tuple[int, dict[str, list[int]]]:
    """(last raw step logged, tag -> steps as TensorBoard shows them) of a TensorBoard folder."""
    raw = [e.step for p in folder.glob("events.out.tfevents.*") for e in EventFileLoader(str(p)).Load()
           if e.HasField("summary")]
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return max(raw, default=0), {t: [e.step for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


class KillTarget:
    """A run to kill and resume: its command lines, checkpoint interval, last checkpointed step, TensorBoard."""

    def __init__(self, kind: str, out: Path) -> None:
        self.kind, self.out = kind, out
        if kind == "pretrain":
            self.interval = 4
            out.mkdir(parents=True, exist_ok=True)
            (out.parent / "pretrain.yaml").write_text("log_every: 1\neval_faces: 4\n")  # TensorBoard at every step
            self.base = ["pretrain-restorer", *TINY, "--config", str(out.parent / "pretrain.yaml"), "--batch-size", "4",
                         "--checkpoint-every", str(self.interval), "--eval-every", "0", "--out", str(out), "--quiet"]
        else:
            self.interval = 64
            self.base = ["train", "--algo", "ppo", *TINY, "--set-algo", "n_envs=4", "--set-algo", "n_steps=16",
                         "--set-algo", "batch_size=32", "--set-algo", "n_epochs=1", "--set-algo",
                         "policy_kwargs.width=4", "--set-algo", "policy_kwargs.features_dim=16", "--eval-every", "0",
                         "--checkpoint-every", str(self.interval), "--quiet", "--out", str(out)]

    def run_dir(self) -> Path | None:
        if self.kind == "pretrain":
            return self.out
        found = list(self.out.glob("*/run.json"))
        return found[0].parent if found else None

    def checkpoint(self) -> int:
        """The last checkpointed step (-1 before the first)."""
        folder = self.run_dir()
        if folder is None:
            return -1
        path = folder / ("last.pt" if self.kind == "pretrain" else "checkpoints/last.zip")
        if not path.exists():
            return -1
        return safe_load(path)["step"] if self.kind == "pretrain" else read_metadata(path)["num_timesteps"]

    def tensorboard(self) -> Path:
        return self.out / "tb" if self.kind == "pretrain" else self.run_dir()

    def argv(self, total: int) -> list[str]:
        """Start (or resume) the run towards ``total`` steps."""
        if self.kind == "pretrain":
            return [*self.base, "--steps", str(total)]
        folder = self.run_dir()
        if folder is None:
            return [*self.base, "--timesteps", str(total)]
        return ["train", "--resume", str(folder), "--timesteps", str(total), "--quiet"]


def kill_cycles(kind: str, kills: int, rng: random.Random, work: Path) -> dict[str, Any]:
    """Kill a run with SIGKILL ``kills`` times at random moments (each after a new checkpoint), resuming it each
    time; then let it finish two intervals past its last checkpoint."""
    target = KillTarget(kind, work / kind)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    lost, started = [], time.perf_counter()
    for _ in range(kills):
        before = target.checkpoint()
        proc = subprocess.Popen([sys.executable, "-m", "fh_gym.agents.cli.main", *target.argv(10**7)], env=env,
                                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while target.checkpoint() <= before and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(rng.uniform(0.2, 3.0))  # a random moment: mid-step, mid-save or mid-log
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        lost.append(events_steps(target.tensorboard())[0] - target.checkpoint())
    final = target.checkpoint() + 2 * target.interval
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(target.argv(final))
    _, steps = events_steps(target.tensorboard())
    return {"kills": kills, "interval": target.interval, "lost": lost, "max_lost": max(lost),
            "final_step": target.checkpoint(), "expected_final": final, "exit": code,
            "tensorboard_strictly_increasing": all(v == sorted(set(v)) for v in steps.values()),
            "stale_tmp_left": len(list(target.out.rglob(".*.tmp"))), "minutes": (time.perf_counter() - started) / 60}


def soak(steps: int, rng: np.random.Generator) -> dict[str, Any]:
    """Vector steps of 64 faces with random valid actions; RSS every 10%."""
    envs = gym.make_vec("FaceRepair-Dense-x8-v0", num_envs=64, vectorization_mode="vector_entry_point",
                        config={"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}})
    envs.reset(seed=0)
    samples, started = [], time.perf_counter()
    for step in range(steps):
        envs.step(rng.integers(0, envs.single_action_space.n, 64))
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            samples.append(round(rss_mb(), 1))
    envs.close()
    return {"vector_steps": steps, "face_steps": steps * 64, "rss_mb": samples,
            "rss_growth_mb_after_warmup": round(samples[-1] - samples[1], 1) if len(samples) > 1 else 0.0,
            "minutes": (time.perf_counter() - started) / 60}


def _env_keys() -> list[str]:
    keys = []
    for key, field in ENV_SCHEMA.fields.items():
        keys += [f"{key}.{sub}" for sub in field.schema.fields] if field.schema is not None else [key]
    return [*keys, "action.stride", "action.patch_size", "action.mask_repeats", "data.identities", "data.max_images",
            "data.split_fractions", "restorer.d", "degradation.occlusion.area"]


def _nested(key: str, value: Any) -> dict[str, Any]:
    node: Any = value
    for part in reversed(key.split(".")):
        node = {part: node}
    return node


class Tally:
    """Per target: tried / accepted (and worked) / refused in one line / failures (anything else)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def __call__(self, target: str, attempt: Callable[[], Any], label: str) -> None:
        row = self.rows.setdefault(target, {"tried": 0, "accepted": 0, "refused": 0, "failures": []})
        row["tried"] += 1
        try:
            attempt()
        except (ConfigError, ValueError, RuntimeError, MemoryError) as exc:  # MemoryError: a count too big to hold
            if len(str(exc).splitlines()) == 1:
                row["refused"] += 1
            else:
                row["failures"].append(f"{label}: multi-line {type(exc).__name__}")
        except Exception as exc:
            row["failures"].append(f"{label}: {type(exc).__name__}: {exc}"[:200])
        else:
            row["accepted"] += 1


TINY_DATA = {"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}}


def step_env_with(key: str, value: Any) -> None:
    """An env config with ``key`` set to ``value``, built, reset and stepped once."""
    env = FaceRepairEnv(make_config(merge_config(make_config(TINY_DATA, "dense_x8"), _nested(key, value))))
    env.reset(seed=0)
    env.step(env.action_space.sample())


def cli_flag(command: str, flag: str, value: str) -> None:
    """``fh-gym COMMAND FLAG VALUE --help``: a refused value is one line; an accepted one just prints the help."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main([command, *(["x.png"] if command == "hallucinate" else []), flag, value, "--help"])
    if "Traceback" in err.getvalue() or len(err.getvalue().strip().splitlines()) > 1:
        raise TypeError(f"not one line: {err.getvalue()!r}")
    if err.getvalue():
        raise ValueError(err.getvalue().strip())


CLI_FLAGS = [("compare", "--faces"), ("compare", "--batch-size"), ("record", "--fps"), ("train", "--timesteps"),
             ("pretrain-restorer", "--steps"), ("train", "--checkpoint-every"), ("compare", "--seed"),
             ("compare", "--max-images"), ("hallucinate", "--batch-size"), ("train", "--threads"),
             ("compare", "--device"), ("train-generator", "--scale")]


def fuzz(count: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    """Random hostile values for env keys, hyperparameters, actions and CLI flags (see the module docstring)."""
    tally = Tally()
    keys = _env_keys()
    for _ in range(count):
        key, value = rng.choice(keys), rng.choice(HOSTILE)
        tally("env config", lambda k=key, v=value: step_env_with(k, v), f"{key}={value!r}")
    for _ in range(count):
        algo = get_algo(rng.choice(ALGOS.names()))
        key, value = rng.choice(sorted(algo.defaults(None))), rng.choice(HOSTILE)
        tally("hyperparameters", lambda a=algo, k=key, v=value: a.check_hyperparams(None, {**a.defaults(None), k: v}),
              f"{algo.name}.{key}={value!r}")
    for variant in ("dense_x8", "attention_fh", "continuous"):
        env = FaceRepairEnv({**TINY_DATA, "horizon": 100_000}, variant=variant)
        env.reset(seed=0)
        for _ in range(count):
            action = rng.choice([env.action_space.sample(), rng.choice(HOSTILE), np.full(4, rng.choice(HOSTILE[3:12])),
                                 rng.randint(-10, 100), rng.uniform(-2, 2)])
            tally(f"actions ({env.engine.action_type.name})", lambda a=action, e=env: e.step(a), repr(action))
    for _ in range(count):
        (command, flag), value = rng.choice(CLI_FLAGS), str(rng.choice(HOSTILE))
        tally("command-line flags", lambda c=command, f=flag, v=value: cli_flag(c, f, v), f"{command} {flag} {value}")
    return tally.rows


def table(report: dict[str, Any]) -> str:
    lines = ["| check | figures |", "|---|---|"]
    for kind, row in report["kills"].items():
        lines.append(f"| kill -9 / resume ({kind}) | {row['kills']} kills survived; work lost per kill {row['lost']} "
                     f"(max {row['max_lost']}, interval {row['interval']}); final step {row['final_step']} of "
                     f"{row['expected_final']}; TensorBoard strictly increasing: "
                     f"{row['tensorboard_strictly_increasing']}; stale .tmp left: {row['stale_tmp_left']} |")
    soak_row = report["soak"]
    if soak_row is not None:
        lines.append(f"| soak | {soak_row['face_steps']:,} face steps ({soak_row['vector_steps']} x 64), RSS MiB "
                     f"{soak_row['rss_mb']}, growth after warm-up {soak_row['rss_growth_mb_after_warmup']} MiB |")
    for target, row in report["fuzz"].items():
        lines.append(f"| fuzz: {target} | {row['tried']} tried, {row['accepted']} accepted and worked, "
                     f"{row['refused']} refused in one line, {len(row['failures'])} failures |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    report: dict[str, Any] = {"machine": f"{os.cpu_count()} CPU cores", "kills": {}, "soak": None, "fuzz": {}}
    if "kills" in args.parts:
        with tempfile.TemporaryDirectory() as tmp:
            report["kills"] = {kind: kill_cycles(kind, args.kills, rng, Path(tmp)) for kind in ("pretrain", "ppo")}
    if "soak" in args.parts:
        report["soak"] = soak(args.soak_steps, np.random.default_rng(args.seed))
    if "fuzz" in args.parts:
        report["fuzz"] = fuzz(args.fuzz, rng)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--soak-steps", type=int, default=2000)
    parser.add_argument("--fuzz", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", nargs="+", choices=["kills", "soak", "fuzz"], default=["kills", "soak", "fuzz"])
    parser.add_argument("--out", type=Path, default=Path("outputs/reliability"))
    parsed = parser.parse_args()
    result = run(parsed)
    parsed.out.mkdir(parents=True, exist_ok=True)
    (parsed.out / "reliability.json").write_text(json.dumps(result, indent=2, default=str))
    print(table(result))
    failures = [f for row in result["fuzz"].values() for f in row["failures"]]
    print("\n".join(failures[:20]))
    sys.exit(1 if failures else 0)
