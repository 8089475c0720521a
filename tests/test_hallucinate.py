"""``fh-gym hallucinate`` and trained agents in ``fh-gym compare`` / ``record``."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
from sb3_helpers import tiny_context

from fh_gym.agents.cli.main import main
from fh_gym.agents.registry import get_algo
from fh_gym.agents.sb3.checkpoint import save_agent
from fh_gym.agents.sb3.train import build_model, make_vec_env

DATA_FLAGS = ["--set", "data.identities=24", "--set", "data.images_per_identity=3"]


@pytest.fixture(scope="module")
def agent_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("agent")
    ctx = tiny_context(folder, "ppo", horizon=16)
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("ppo"), env, ctx.algo_config, ctx.env_config, seed=0)  # untrained is enough here
    meta = {"algo": "ppo", "env_id": ctx.env_id, "env_config": ctx.env_config, "hyperparams": ctx.algo_config,
            "seed": 0}
    return save_agent(model, folder / "final.zip", meta)


def _lr_folder(tmp_path, sizes=((16, 16), (16, 16))):
    folder = tmp_path / "lr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k, (h, w) in enumerate(sizes):
        cv2.imwrite(str(folder / f"face{k}.png"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return folder


def test_hallucinate_with_an_agent_writes_hr_pngs(tmp_path, agent_file, capsys):
    out = tmp_path / "out"
    rc = main(["hallucinate", str(_lr_folder(tmp_path)), "--agent", str(agent_file), "--out", str(out),
               "--save-steps"])
    assert rc == 0
    # trained on synthetic faces (syn_x8 repairs); a user's faces are real: lfw_x8, and the tool says so
    printed = capsys.readouterr().out
    assert "repairing with AttentionFHEnhancer weights:lfw_x8" in printed
    assert "note: the agent was trained with the restorer of weights:syn_x8; these repairs use weights:lfw_x8" \
        in printed
    for k in range(2):
        image = cv2.imread(str(out / f"face{k}.png"))
        assert image.shape == (128, 128, 3)
        assert (out / f"face{k}_step00.png").is_file() and (out / f"face{k}_step16.png").is_file()


def test_hallucinate_with_a_strategy_resizes_other_sizes(tmp_path, capsys):
    folder = _lr_folder(tmp_path, sizes=((16, 16), (40, 32)))
    out = tmp_path / "out"
    assert main(["hallucinate", str(folder), "--strategy", "even", "--out", str(out), "--video"]) == 0
    assert "face1.png: 32x40 resized to 16x16 with area interpolation" in capsys.readouterr().out
    assert cv2.imread(str(out / "face1.png")).shape == (128, 128, 3)
    assert (out / "face0.mp4").stat().st_size > 0


def test_hallucinate_errors_are_clear(tmp_path, capsys):
    folder = _lr_folder(tmp_path, sizes=((20, 20),))
    assert main(["hallucinate", str(folder), "--strict-size", "--out", str(tmp_path / "o")]) == 2
    assert "takes 16x16 LR faces" in capsys.readouterr().err
    assert main(["hallucinate", str(folder), "--strategy", "greedy", "--out", str(tmp_path / "o")]) == 2
    assert "ground truth" in capsys.readouterr().err
    assert main(["hallucinate", str(tmp_path / "missing.png"), "--out", str(tmp_path / "o")]) == 2


def test_compare_includes_the_agent_row(tmp_path, agent_file):
    out = tmp_path / "cmp"
    rc = main(["compare", *DATA_FLAGS, "--agent", str(agent_file), "--strategies", "random", "--faces", "4",
               "--out", str(out)])
    assert rc == 0
    with open(out / "compare.csv") as fh:
        names = [row["strategy"] for row in csv.DictReader(fh)]
    assert names == ["bicubic", "random", "ppo-final"]


def test_record_runs_an_agent(tmp_path, agent_file):
    rc = main(["record", *DATA_FLAGS, "--agent", str(agent_file), "--episodes", "1", "--out", str(tmp_path)])
    assert rc == 0
    assert (tmp_path / "ppo-final_000.mp4").stat().st_size > 0


@pytest.fixture(scope="module")
def finetuned_agent_file(tmp_path_factory):
    """An agent file carrying its own (jointly fine-tuned) restorer, and another restorer checkpoint."""
    import torch

    from fh_gym.engine.core import build_scaled
    from fh_gym.restorers.checkpoint import network_payload, save_network

    folder = tmp_path_factory.mktemp("finetuned")
    ctx = tiny_context(folder, "ppo", horizon=4)
    env, _ = make_vec_env(ctx, ctx.algo_config)
    model = build_model(get_algo("ppo"), env, ctx.algo_config, ctx.env_config, seed=0)
    meta = {"algo": "ppo", "env_id": ctx.env_id, "env_config": ctx.env_config, "hyperparams": ctx.algo_config,
            "seed": 0}
    torch.manual_seed(0)
    restorers = []
    for _ in range(2):  # two restorers that repair differently
        restorer = build_scaled(ctx.env_config["restorer"], "patch", 8)
        with torch.no_grad():
            for p in restorer.parameters():
                p.add_(0.05 * torch.randn_like(p))
        restorers.append(restorer)
    agent = save_agent(model, folder / "final.zip", meta, finetune_state={"network": network_payload(restorers[0])})
    return agent, save_network(restorers[1], folder / "other.pt")


def test_hallucinate_repairs_with_the_agents_own_restorer_even_with_restorer_flag(tmp_path, finetuned_agent_file,
                                                                                 capsys):
    """The one restorer rule (as compare / record): the agent's own restorer wins over --restorer, with a note.
    (Until issue 7, hallucinate let --restorer replace it.)"""
    agent, other = finetuned_agent_file
    folder = _lr_folder(tmp_path)
    assert main(["hallucinate", str(folder), "--agent", str(agent), "--out", str(tmp_path / "own")]) == 0
    assert "restorer trained with the agent" in capsys.readouterr().out
    assert main(["hallucinate", str(folder), "--agent", str(agent), "--restorer", str(other),
                 "--out", str(tmp_path / "both")]) == 0
    assert f"--restorer {other} is not used" in capsys.readouterr().out
    own, both = (cv2.imread(str(tmp_path / kind / "face0.png")) for kind in ("own", "both"))
    assert np.array_equal(own, both)
    # A strategy has no restorer of its own: --restorer is the one that repairs.
    for name, flags in (("env", []), ("flag", ["--restorer", str(other)])):
        assert main(["hallucinate", str(folder), "--out", str(tmp_path / name), *flags]) == 0
    env, flag = (cv2.imread(str(tmp_path / kind / "face0.png")) for kind in ("env", "flag"))
    assert not np.array_equal(env, flag)
