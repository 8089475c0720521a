"""``fh-gym finetune-restorer``: episode-level restorer fine-tuning with an identity term (issue 10)."""

from __future__ import annotations

import pytest
import torch

import fh_gym.agents.identity_finetune as identity_finetune
from fh_gym.agents.cli.main import main
from fh_gym.agents.identity_finetune import finetune_restorer, loss_config
from fh_gym.envs.face_repair import make_config
from fh_gym.restorers import load_network
from fh_gym.restorers.build import build_network
from fh_gym.restorers.checkpoint import save_network
from fh_gym.restorers.config import ConfigError

ENV = make_config({"data": {"type": "synthetic", "split": "train", "max_images": 16}, "horizon": 4})


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    net = build_network({"type": "CNNR", "width": 2, "feature_dim": 8, "blocks": [1, 1, 1, 1]}, kind="aux",
                        init_seed=0).eval()
    return str(save_network(net, tmp_path_factory.mktemp("judge") / "judge.pt"))


def _weights(path):
    return torch.cat([p.detach().flatten() for p in load_network(path, kind="patch").parameters()])


def test_the_identity_term_changes_the_update_and_the_file_records_it(tmp_path, judge):
    base = {"steps": 1, "batch_size": 2, "identity_net": judge, "lr": 1e-3}
    plain = finetune_restorer(ENV, {**base, "identity_weight": 0.0}, tmp_path / "plain", progress=False)
    aware = finetune_restorer(ENV, {**base, "identity_weight": 50.0}, tmp_path / "aware", progress=False)
    again = finetune_restorer(ENV, {**base, "identity_weight": 0.0}, tmp_path / "again", progress=False)
    assert torch.equal(_weights(plain["restorer"]), _weights(again["restorer"]))  # seeded
    assert not torch.equal(_weights(plain["restorer"]), _weights(aware["restorer"]))
    assert "losses/restorer_image" in aware and aware["steps"] == 1
    meta = load_network(aware["restorer"], kind="patch").checkpoint_meta
    assert meta["frontend"] == "Bicubic" and meta["identity_net"] == judge and meta["identity_weight"] == 50.0
    assert meta["finetuned_from"] == "weights:syn_x8"


def test_without_an_identity_net_the_loss_has_no_identity_term():
    cfg = {"identity_net": None, "identity_weight": 0.5}
    assert loss_config(cfg)["image"]["identity"] == 0.0 and loss_config(cfg)["identity_net"] is None


def test_the_command_resumes_and_rejects_bad_settings(tmp_path, judge, capsys):
    flags = ["finetune-restorer", "--set", "horizon=4", "--max-images", "16", "--identity-net", judge,
             "--batch-size", "2", "--checkpoint-every", "1", "--out", str(tmp_path / "run"), "--quiet"]
    assert main([*flags, "--steps", "1"]) == 0
    assert main([*flags, "--steps", "2"]) == 0
    assert "(steps 2)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:  # argparse: one line naming the flag and the choices
        main([*flags, "--steps", "2", "--strategy", "greedy"])
    assert exit_info.value.code == 2 and "invalid value 'greedy' (expected one of" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown config key 'finetune-restorer.identity_wieght'; valid keys"):
        finetune_restorer(ENV, {"identity_wieght": 1.0}, tmp_path / "bad", progress=False)


def test_the_identity_net_may_be_shipped_weights_by_name():
    cfg = {"identity_net": "CNNR:lfw_dlib", "identity_weight": 0.5}
    assert loss_config(cfg)["identity_net"] == {"type": "CNNR", "weights": "lfw_dlib"}
    assert loss_config({**cfg, "identity_net": "runs/x/identity_net.pt"})["identity_net"] == {
        "type": "CNNR", "checkpoint": "runs/x/identity_net.pt"}


def test_restorer_file_follows_every_checkpoint_of_an_unfinished_run(tmp_path, monkeypatch):
    played = identity_finetune.play_episodes
    calls = []

    def crash_on_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return played(*args, **kwargs)

    monkeypatch.setattr(identity_finetune, "play_episodes", crash_on_the_second_batch)
    settings = {"steps": 3, "batch_size": 2, "identity_net": None, "checkpoint_every": 1}
    with pytest.raises(RuntimeError, match="killed"):
        finetune_restorer(ENV, settings, tmp_path / "run", progress=False)
    restorer = load_network(tmp_path / "run" / "restorer.pt", kind="patch")
    assert (restorer.checkpoint_meta["step"], restorer.checkpoint_meta["total_steps"]) == (1, 3)
    assert torch.equal(_weights(tmp_path / "run" / "restorer.pt"), _weights(tmp_path / "run" / "last.pt"))
    monkeypatch.setattr(identity_finetune, "play_episodes", played)
    result = finetune_restorer(ENV, settings, tmp_path / "run", progress=False)
    assert load_network(result["restorer"], kind="patch").checkpoint_meta["step"] == 3
