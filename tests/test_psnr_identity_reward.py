"""The ``psnr_identity`` reward: dense PSNR gain plus the step's gain in identity cosine, both telescoping."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import fh_gym  # noqa: F401  (registers the envs)
from fh_gym.envs.slots import reward_terms
from fh_gym.restorers import build_network, save_network
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.losses.identity import cosine_similarity

DATA = {"type": "synthetic", "identities": 24, "images_per_identity": 3, "split": "test"}


@pytest.fixture(scope="module")
def headless(tmp_path_factory):
    torch.manual_seed(0)
    net = build_network({"type": "CNNR", "width": 2, "feature_dim": 16, "blocks": [1, 1, 1, 1], "num_classes": 0},
                        kind="aux")
    with torch.no_grad():  # untrained biases swamp the features (every cosine 1.0): without them images differ
        for name, parameter in net.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
    return save_network(net.eval(), tmp_path_factory.mktemp("idnet") / "identity_net.pt")


def identity_env(checkpoint, weight: float = 10.0, horizon: int = 4) -> gym.Env:
    reward = {"type": "psnr_identity", "identity_weight": weight,
              "identity_net": {"type": "CNNR", "checkpoint": str(checkpoint)}}
    return gym.make("fh_gym/FaceRepair-Identity-x8-v0", config={"data": DATA, "horizon": horizon, "reward": reward})


def psnr(image: torch.Tensor, hr: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((image.double() - hr.double()) ** 2).mean()))


def test_terms_telescope_to_the_episodes_psnr_and_cosine_gains(headless):
    env = identity_env(headless, weight=7.0)
    engine = env.unwrapped.engine
    net = engine.reward_fn._identity.net
    for seed in range(3):
        env.reset(seed=seed)
        env.action_space.seed(seed)
        start, hr = engine.current[:1].clone(), engine.hr[:1].clone()
        totals = {"psnr_gain": 0.0, "identity_gain": 0.0}
        terminated = False
        while not terminated:
            _, reward, terminated, _, info = env.step(env.action_space.sample())
            terms = reward_terms(info)
            assert set(terms) == {"psnr_gain", "identity_gain"}
            assert reward == pytest.approx(sum(terms.values()), abs=1e-5)
            for name in totals:
                totals[name] += terms[name]
        final = engine.current[:1]
        with torch.no_grad():
            cos_final = float(cosine_similarity(net(final), net(hr)))
            cos_start = float(cosine_similarity(net(start), net(hr)))
        assert totals["identity_gain"] == pytest.approx(7.0 * (cos_final - cos_start), abs=1e-4)
        assert totals["psnr_gain"] == pytest.approx(psnr(final, hr) - psnr(start, hr), abs=1e-3)
        assert abs(totals["identity_gain"]) > 1e-4  # the repairs moved the identity features


def test_faces_without_truth_get_no_identity_term(headless):
    env = identity_env(headless, horizon=2)
    lr = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    env.reset(seed=0, options={"lr": lr})
    _, _, _, _, info = env.step(env.action_space.sample())
    assert reward_terms(info)["identity_gain"] == 0.0


def test_bad_identity_weight_is_refused(headless):
    with pytest.raises(ConfigError, match="identity_weight must be a number >= 0"):
        identity_env(headless, weight=-1.0)


def test_the_registered_id_judges_with_the_shipped_distilled_recogniser():
    from fh_gym.restorers.weights import resolve_default

    env = gym.make("fh_gym/FaceRepair-Identity-x8-v0", config={"data": DATA, "horizon": 2})
    net = env.unwrapped.engine.reward_fn._identity.net
    assert net.weights_source == "weights:lfw_dlib" and getattr(net, "head", None) is None
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.action_space.sample())
    terms = reward_terms(info)
    assert set(terms) == {"psnr_gain", "identity_gain"} and reward == pytest.approx(sum(terms.values()), abs=1e-5)
    # by name only: `weights: default` still means the A-softmax CNN_R
    assert resolve_default("CNNR", None, {"data": {"type": "lfw"}}).name == "lfw"
