"""Every misuse of issue 12 ends in one line naming the problem and a non-zero exit, never a traceback.

One table row per item of the issue (numbered as there): the command line, the exit status and what the
message must say (the key or flag, the value and what is allowed). Library-level items (values given to the env,
the action types, a stepped-before-reset env) have their own table.
"""

from __future__ import annotations

import json
import zipfile

import cv2
import gymnasium as gym
import numpy as np
import pytest
import torch

from fh_gym.agents.cli.main import main
from fh_gym.envs.config import make_config
from fh_gym.envs.face_repair import FaceRepairEnv
from fh_gym.restorers.config import ConfigError

TINY_DATA = ["--set", "data.identities=24", "--set", "data.images_per_identity=3"]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    """(exit status, stderr) of ``fh-gym argv`` run in-process (argparse errors exit through SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture
def lr_face(tmp_path):
    path = tmp_path / "lr" / "face.png"
    path.parent.mkdir()
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    return path


@pytest.fixture
def agent_without_algo(tmp_path):
    path = tmp_path / "no_algo.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fh_gym.json", json.dumps({"format": "fh-gym/sb3-agent-v1", "env_id": "x"}))
        archive.writestr("data", "{}")
    return path


# (issue item, argv, exit status, what stderr must contain); "{tmp}" is the test's folder, "{lr}" an LR face
CLI_CASES = [
    ("3 --timesteps 0", ["train", "--algo", "ppo", "--timesteps", "0"], 2,
     "argument --timesteps: invalid value 0 (expected an integer >= 1"),
    ("3 --timesteps -5", ["train", "--algo", "ppo", "--timesteps", "-5"], 2, "argument --timesteps: invalid value -5"),
    ("3 --max-images 0", ["compare", "--max-images", "0"], 2,
     "argument --max-images: invalid value 0 (expected an integer >= 1"),
    ("3 pretrain --steps -3", ["pretrain-restorer", "--steps", "-3"], 2,
     "argument --steps: invalid value -3 (expected an integer >= 1"),
    ("3 hallucinate --batch-size -1", ["hallucinate", "{lr}", "--batch-size", "-1"], 2,
     "argument --batch-size: invalid value -1"),
    ("3 hallucinate --batch-size 0", ["hallucinate", "{lr}", "--batch-size", "0"], 2,
     "argument --batch-size: invalid value 0"),
    ("3 --set-algo total_timesteps=0", ["train", "--algo", "a2c", "--set-algo", "total_timesteps=0", "--out", "{tmp}"],
     2, "invalid a2c.total_timesteps: 0 (expected an integer >= 1"),
    ("4 repair.margin=-8", ["compare", "--set", "repair.margin=-8"], 2,
     "invalid repair.margin: -8 (expected an integer >= 0)"),
    ("4 render.scale=0", ["record", "--set", "render.scale=0"], 2, "invalid render.scale: 0 (expected an integer >= 1"),
    ("4 horizon '16'", ["compare", "--set", "horizon='16'"], 2, "invalid horizon: '16' (expected an integer >= 1"),
    ("4 horizon 16.7", ["compare", "--set", "horizon=16.7"], 2, "invalid horizon: 16.7 (expected an integer >= 1"),
    ("4 horizon true", ["compare", "--set", "horizon=true"], 2, "invalid horizon: True (expected an integer >= 1"),
    ("4 horizon null", ["compare", "--set", "horizon=null"], 2, "invalid horizon: None (expected an integer >= 1"),
    ("4 horizon list", ["compare", "--set", "horizon=[16]"], 2, "invalid horizon: [16] (expected an integer >= 1"),
    ("4 horizon .inf", ["compare", "--set", "horizon=.inf"], 2, "invalid horizon: inf (expected an integer >= 1"),
    ("4 stride 8.5", ["compare", "--set", "action.stride=8.5"], 2,
     "invalid action.stride: 8.5 (expected an integer >= 1"),
    ("4 --set-algo n_steps=abc", ["train", "--algo", "ppo", "--set-algo", "n_steps=abc", "--out", "{tmp}"], 2,
     "invalid ppo.n_steps: 'abc' (expected an integer >= 1"),
    ("4 hallucinate --device tpu", ["hallucinate", "{lr}", "--device", "tpu"], 2,
     "argument --device: invalid value 'tpu' (expected cpu, cuda, cuda:N, mps or auto)"),
    ("4 hallucinate device=tpu", ["hallucinate", "{lr}", "--set", "device=tpu"], 2, "invalid device: 'tpu'"),
    ("4 hallucinate degradation.scale=0", ["hallucinate", "{lr}", "--set", "degradation.scale=0"], 2,
     "invalid degradation.scale: 0 (expected an integer >= 2)"),
    ("5 agent zip without algo", ["compare", "--strategies", "even", "--agent", "{agent}"], 2, "names no 'algo'"),
    ("5 --fps 0", ["record", "--fps", "0"], 2, "argument --fps: invalid value 0 (expected a number > 0)"),
    ("5 --out is a file", ["compare", "--out", "{file}"], 2, "is a file, not a folder"),
    ("5 --restorer a text file", ["compare", "--strategies", "even", "--restorer", "{file}"], 2,
     "file.txt: not a torch checkpoint (neither torch's zip format nor a pickle of tensors)"),
    ("cli --threads after the command", ["train", "--list", "--threads", "0"], 2,
     "argument --threads: invalid value 0"),
    ("cli unknown flag", ["compare", "--facez", "3"], 2,
     "fh-gym compare: error: unrecognized arguments: --facez 3 (see fh-gym compare --help)"),
    ("cli no abbreviations", ["verify", "--data", "lfw", "--recognizer", "dlib"], 2,
     "fh-gym verify: error: unrecognized arguments: --data lfw"),  # it was read as --data-root
    ("cli --set not YAML", ["eval", "--set", "action={'type': 'box'"], 2,
     "--set action: \"{'type': 'box'\" is not a YAML value (expected ',' or '}'"),
    ("cli --set-algo not YAML", ["train", "--algo", "ppo", "--set-algo", "policy_kwargs.net_arch=[64", "--out",
                                 "{tmp}"], 2, "--set-algo policy_kwargs.net_arch: '[64' is not a YAML value"),
] + ([] if torch.cuda.is_available() else [  # commands that built their networks before checking the device
    (f"cli {cmd[0]} --device cuda", [*cmd, "--device", "cuda"], 2, "device 'cuda' requested but CUDA is not available")
    for cmd in (["eval", "--strategies", "even", "--faces", "2"], ["compare", "--strategies", "even", "--faces", "2"],
                ["hallucinate", "{lr}"], ["bench"], ["demo"])])


@pytest.mark.parametrize("item,argv,status,message", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_misuse_is_one_line(item, argv, status, message, tmp_path, monkeypatch, capsys, lr_face,
                                agent_without_algo):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("not a folder")
    paths = {"{tmp}": str(tmp_path / "runs"), "{lr}": str(lr_face), "{agent}": str(agent_without_algo),
             "{file}": str(tmp_path / "file.txt")}
    code, err = run_cli([paths.get(a, a) for a in argv], capsys)
    assert code == status, err
    assert message in err, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "a run folder was left"


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="invalid horizon"):
        main(["compare", "--set", "horizon=16.7", "--debug"])
    with pytest.raises(ConfigError, match="invalid horizon"):
        main(["--debug", "compare", "--set", "horizon=16.7"])


def test_threads_after_the_command_is_used(monkeypatch, capsys):
    import torch

    before = torch.get_num_threads()
    try:
        assert main(["train", "--list", "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_help_shows_checkpoint_every_and_out_defaults(capsys):
    for command, default in (("train", "runs"), ("pretrain-restorer", "runs/restorer"), ("compare", "outputs/compare"),
                             ("eval", "outputs/eval"), ("record", "outputs/videos"), ("demo", "outputs/demo"),
                             ("hallucinate", "outputs/hallucinate"), ("train-generator", "runs/<name>")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert f"(default: {default}" in text, command
        if command in ("train", "pretrain-restorer", "train-generator"):
            assert "--checkpoint-every" in text, command


# (issue item, env config overrides, what the ConfigError must say) — the env path (gymnasium.make, the engine)
ENV_CASES = [
    ("4 margin", {"repair": {"margin": -8}}, "invalid repair.margin: -8"),
    ("4 render.scale", {"render": {"scale": 0}}, "invalid render.scale: 0"),
    ("4 horizon str", {"horizon": "16"}, "invalid horizon: '16'"),
    ("4 horizon float", {"horizon": 16.7}, "invalid horizon: 16.7"),
    ("4 horizon bool", {"horizon": True}, "invalid horizon: True"),
    ("4 stride", {"action": {"stride": 8.5}}, "invalid action.stride: 8.5"),
    ("4 degradation.scale", {"degradation": {"scale": 0}}, "invalid degradation.scale: 0"),
    ("4 blur .inf", {"degradation": {"blur_sigma": float("inf")}}, "invalid degradation.blur_sigma: inf"),
    ("4 device", {"device": "tpu"}, "invalid device: 'tpu'"),
    ("3 max_images", {"data": {"max_images": 0}}, "invalid data.max_images: 0"),
    ("3 identities", {"data": {"identities": 24.5}}, "invalid data.identities: 24.5"),
    ("4 restorer kwarg", {"restorer": {"type": "FSRCNN", "d": 5.5}}, "invalid restorer.d: 5.5"),
    ("4 horizon too big", {"horizon": 2**63}, "invalid horizon: 9223372036854775808 (expected an integer >= 1 and"),
    ("4 mask_repeats", {"action": {"mask_repeats": 1}}, "invalid action.mask_repeats: 1 (expected true or false)"),
]


@pytest.mark.parametrize("item,overrides,message", ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_env_values_are_checked_on_every_path(item, overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        make_config(overrides, "dense_x8")
    with pytest.raises(ConfigError, match="invalid"):
        gym.make("FaceRepair-Dense-x8-v0", config=overrides)


def test_an_integral_float_is_the_integer_it_equals():
    assert make_config({"horizon": 16.0}, "dense_x8")["horizon"] == 16
    assert isinstance(make_config({"horizon": 16.0}, "dense_x8")["horizon"], int)


@pytest.fixture(scope="module")
def tiny_env():
    env = FaceRepairEnv({"data": {"type": "synthetic", "identities": 24, "images_per_identity": 3}, "horizon": 4},
                        variant="dense_x8")
    yield env
    env.close()


def test_stepping_before_reset_is_refused(tiny_env):
    with pytest.raises(RuntimeError, match=r"step\(\) before reset\(\)"):
        tiny_env.step(0)


@pytest.mark.parametrize("action", [np.inf, -np.inf, np.nan, 2.5, 10_000, -1])
def test_a_bad_grid_action_is_refused_with_its_value(tiny_env, action):
    tiny_env.reset(seed=0)
    with pytest.raises(ValueError, match="grid action") as info:
        tiny_env.step(np.float64(action) if isinstance(action, float) else action)
    assert "-9223372036854775808" not in str(info.value)
