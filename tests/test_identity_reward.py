"""The IPFH identity reward terms (L_f, L_id) with a small trained identity network, and CNN_R texture features."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import fh_gym  # noqa: F401  (registers the envs)
from fh_gym.data import build_dataset
from fh_gym.engine.identity import IdentityTerms
from fh_gym.envs.slots import reward_terms
from fh_gym.restorers import build_network, save_network
from fh_gym.restorers.archs.sicnn_arch import CNNRFeatureMaps
from fh_gym.restorers.losses.identity import a_softmax_loss, cosine_similarity
from fh_gym.restorers.training.identity_training import RecognitionLoss

DATA = {"type": "synthetic", "identities": 24, "images_per_identity": 3, "split": "train"}
BLOCK = {"type": "CNNR", "width": 2, "feature_dim": 16, "blocks": [1, 1, 1, 1]}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny CNN_R + A-softmax head trained a few steps on the training people, with its class names.

    Only the first half of the people are classes, so the other half exercise the cosine fallback.
    """
    dataset = build_dataset(DATA)
    people = sorted(set(dataset.identities.tolist()))
    classes = people[: len(people) // 2]
    torch.manual_seed(0)
    net = build_network({**BLOCK, "num_classes": len(classes), "margin": 1.5}, kind="aux")
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    index = np.flatnonzero(np.isin(dataset.identities, classes))
    labels = torch.tensor([classes.index(p) for p in dataset.identities[index]])
    images = dataset.hr_float(index)
    loss_fn = RecognitionLoss(net)
    for _ in range(3):
        loss = loss_fn(images, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    names = [dataset.identity_names[p] for p in classes]
    path = save_network(net, tmp_path_factory.mktemp("idnet") / "identity_net.pt", meta={"class_names": names})
    return path, set(names)


def ipfh_env(checkpoint_path, form: str = "absolute", texture: bool = True) -> gym.Env:
    reward = {"type": "ipfh", "form": form,
              "identity_net": {"type": "CNNR", "checkpoint": str(checkpoint_path), "margin": 1.5}}
    if texture:
        reward["texture_features"] = {"type": "CNNR", "checkpoint": str(checkpoint_path), "layer": "res1"}
    return gym.make("fh_gym/FaceRepair-IPFH-v0", config={"data": DATA, "horizon": 3, "reward": reward})


def run_episode(env: gym.Env, seed: int, options: dict | None = None) -> list[tuple[float, dict]]:
    env.reset(seed=seed, options=options)
    env.action_space.seed(seed)
    steps = []
    for _ in range(3):
        _, reward, terminated, _, info = env.step(env.action_space.sample())
        steps.append((reward, reward_terms(info)))
    assert terminated
    return steps


def test_identity_terms_appear_at_T_and_sum_to_the_reward(checkpoint):
    path, class_names = checkpoint
    env = ipfh_env(path)
    engine = env.unwrapped.engine
    kinds = set()
    for seed in range(8):  # faces of trained and of untrained people
        steps = run_episode(env, seed)
        for t, (reward, terms) in enumerate(steps):
            assert {"feature", "identity", "mse", "texture", "visual_mse"} <= set(terms)
            assert reward == pytest.approx(sum(terms.values()), rel=1e-5, abs=1e-5)
            if t < 2:
                assert terms["feature"] == 0.0 and terms["identity"] == 0.0
        final = steps[-1][1]
        assert final["feature"] < 0 and final["identity"] <= 0  # losses become negative rewards
        # The terms are -scale * L for L computed here from the final image and the truth.
        slots = engine.all_slots()
        net, scale = engine.reward_fn._identity.net, engine.reward_fn.scale
        with torch.no_grad():
            f_hat, f_true = net(engine.current[slots]), net(engine.hr[slots])
        assert final["feature"] == pytest.approx(-scale * float((f_hat - f_true).norm()), rel=1e-4)
        person = engine.dataset.identity_names[engine.dataset.identities[engine.face_index[0]]]
        kinds.add(person in class_names)
        if person in class_names:
            label = torch.tensor([net.checkpoint_meta["class_names"].index(person)])
            expected = float(a_softmax_loss(f_hat, net.head.weight.detach(), label, 1.5, 0.0))
            assert expected > 0.01  # an A-softmax loss, not a cosine distance of nearly equal features
        else:
            expected = float(1 - cosine_similarity(f_hat, f_true))
        assert final["identity"] == pytest.approx(-scale * expected, rel=1e-4)
    assert kinds == {True, False}, "the seeds should draw people with and without a class"


def test_faces_without_a_known_person_use_the_cosine_distance(checkpoint):
    path, _ = checkpoint
    env = ipfh_env(path, texture=False)
    hr = (np.random.default_rng(0).random((128, 128, 3)) * 255).astype(np.uint8)
    final = run_episode(env, 0, options={"hr": hr})[-1][1]
    engine = env.unwrapped.engine
    terms = engine.reward_fn._identity
    assert int(terms.labels[0]) == -1
    with torch.no_grad():
        cos = cosine_similarity(terms.net(engine.current[:1]), terms.net(engine.hr[:1]))
    assert final["identity"] == pytest.approx(-engine.reward_fn.scale * float(1 - cos), rel=1e-4)


def test_delta_form_with_identity_terms(checkpoint):
    path, _ = checkpoint
    env = ipfh_env(path, form="delta", texture=False)
    steps = run_episode(env, 1)
    assert {"feature", "identity"} <= set(steps[-1][1])
    assert all(reward == pytest.approx(sum(t.values()), rel=1e-5, abs=1e-5) for reward, t in steps)


def test_texture_features_from_the_identity_net(checkpoint):
    path, _ = checkpoint
    engine = ipfh_env(path).unwrapped.engine
    phi = engine.reward_fn._phi.features
    assert isinstance(phi, CNNRFeatureMaps) and phi.layer == "res1"
    lr_window = torch.rand(2, 3, 6, 6)  # the reward's LR-domain texture runs on LR windows
    assert phi(lr_window).shape[:2] == (2, 2)


def test_identity_terms_reject_a_head_with_mismatched_class_names(tmp_path):
    net = build_network({**BLOCK, "num_classes": 3}, kind="aux")
    path = save_network(net, tmp_path / "bad.pt", meta={"class_names": ["a", "b"]})
    env = gym.make("fh_gym/FaceRepair-IPFH-v0", config={"data": DATA, "horizon": 3})
    with pytest.raises(ValueError, match="3 classes but 2 class names"):
        engine = env.unwrapped.engine
        IdentityTerms(engine.networks, engine.view, {"type": "CNNR", "checkpoint": str(path)})


def test_compare_reports_the_identity_cosine(checkpoint, tmp_path, capsys):
    from fh_gym.agents.cli.main import main

    path, _ = checkpoint
    code = main(["compare", "--strategies", "even", "--faces", "2", "--batch-size", "2", "--set", "horizon=2",
                 "--identity-net", str(path), "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = [cell.strip() for cell in next(line for line in lines if "ID cosine" in line).strip("|").split("|")]
    row = [cell.strip() for cell in next(line for line in lines if line.startswith("| even")).strip("|").split("|")]
    mean = float(row[header.index("ID cosine")].split("±")[0])
    assert -1.0 <= mean <= 1.0


def test_compare_takes_shipped_identity_weights_by_name(tmp_path, capsys):
    from fh_gym.agents.cli.main import main

    code = main(["compare", "--strategies", "even", "--faces", "2", "--batch-size", "2", "--set", "horizon=2",
                 "--identity-net", "CNNR:lfw_dlib", "--out", str(tmp_path)])  # as --recognizer takes them
    assert code == 0 and "ID cosine" in capsys.readouterr().out
