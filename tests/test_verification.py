"""Verification metrics (ROC AUC, k-fold thresholds), LFW pairs parsing and the ``fh-gym verify`` command."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fh_gym.agents.cli.main import main
from fh_gym.agents.cli.verify import distinct_tails
from fh_gym.data.base import FaceDataset
from fh_gym.identity_eval import (
    LFWPair,
    balance_folds,
    identity_similarity,
    parse_lfw_pairs,
    restrict_pairs,
    split_pairs,
    spread_subset,
    verify_pairs,
)
from fh_gym.restorers import save_network
from fh_gym.restorers.archs.sicnn_arch import CNNR
from fh_gym.restorers.checkpoint import remember_config
from fh_gym.restorers.training.verification import (
    batch_pairs,
    best_threshold,
    kfold_verification,
    paired_difference,
    roc_auc,
)

# ----------------------------------------------------------------------------- metrics


def brute_force_auc(scores: np.ndarray, same: np.ndarray) -> float:
    wins = [1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(scores[same], scores[~same])]
    return float(np.mean(wins))


def test_roc_auc_against_brute_force_and_edge_cases():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(60), 1)  # many ties
    same = rng.random(60) < 0.4
    assert roc_auc(scores, same) == pytest.approx(brute_force_auc(scores, same))
    assert roc_auc(np.array([0.9, 0.8, 0.1]), np.array([True, True, False])) == 1.0
    assert roc_auc(np.array([0.1, 0.9]), np.array([True, False])) == 0.0
    assert np.isnan(roc_auc(np.array([0.1, 0.9]), np.array([True, True])))


def test_best_threshold_maximises_accuracy():
    scores = np.array([0.9, 0.7, 0.4, 0.6, 0.2, 0.1])
    same = np.array([True, True, True, False, False, False])
    t = best_threshold(scores, same)
    # One error (0.4 or 0.6) is unavoidable; of the equally good splits the smallest midpoint is kept.
    assert t == pytest.approx(0.3)
    assert np.mean((scores >= t) == same) == pytest.approx(5 / 6)


def test_kfold_verification_known_answer():
    # 10 folds x (10 same + 10 different). Same pairs score 0.8 except one per fold at 0.1; different
    # pairs score 0.2. Any threshold in (0.2, 0.8] is best, so every fold scores 19/20 = 95%.
    scores, same, folds = [], [], []
    for fold in range(10):
        scores += [0.8] * 9 + [0.1] + [0.2] * 10
        same += [True] * 10 + [False] * 10
        folds += [fold] * 20
    result = kfold_verification(np.array(scores), np.array(same), np.array(folds))
    assert result.accuracy == pytest.approx(0.95)
    assert result.std == pytest.approx(0.0)
    assert result.pairs == 200 and result.positives == 100
    assert np.all((result.thresholds > 0.2) & (result.thresholds <= 0.8))
    assert result.auc == pytest.approx(0.9)  # the 10 low same pairs lose to all 100 different pairs
    contiguous = kfold_verification(np.array(scores), np.array(same), 10)
    assert contiguous.accuracy == pytest.approx(0.95)


def test_paired_difference_counts_discordant_pairs_and_bootstraps_the_auc():
    # 10 folds x (10 same + 10 different); row a misses one same pair a fold (0.1), row b misses none:
    # b is right on 10 pairs a gets wrong and on no pair that a alone gets right.
    folds = np.repeat(np.arange(10), 20)
    same = np.tile([True] * 10 + [False] * 10, 10)
    a_scores = np.where(same, 0.8, 0.2)
    a_scores[np.arange(10) * 20 + 9] = 0.1
    b_scores = np.where(same, 0.8, 0.2)
    a, b = kfold_verification(a_scores, same, folds), kfold_verification(b_scores, same, folds)
    assert a.correct.sum() == 190 and b.correct.all()
    d = paired_difference(a, b, resamples=200, seed=1)
    assert (d.b_only, d.a_only) == (10, 0)
    assert d.accuracy == pytest.approx(0.05)
    diff = np.zeros(200)
    diff[np.arange(10) * 20 + 9] = 1.0
    assert d.accuracy_ci == pytest.approx(1.96 * diff.std(ddof=1) / np.sqrt(200))
    assert d.auc == pytest.approx(0.1)  # 1.0 - 0.9
    assert 0.0 < d.auc_ci[0] <= 0.1 <= d.auc_ci[1] <= 0.2
    same_again = paired_difference(a, a, resamples=50)
    assert (same_again.accuracy, same_again.accuracy_ci, same_again.auc) == (0.0, 0.0, 0.0)
    assert same_again.auc_ci == (0.0, 0.0)
    with pytest.raises(ValueError, match="same pairs"):
        paired_difference(a, kfold_verification(b_scores[:100], same[:100], 5))


def test_split_pairs_caps_balances_and_keeps_folds_person_disjoint():
    counts = {f"P{k:02d}": k % 5 + 1 for k in range(40)}  # 1..5 images a person
    names = [f"{name}/{name}_{i:04d}.jpg" for name, n in counts.items() for i in range(1, n + 1)]
    pairs = split_pairs(names, same_per_person=3, folds=4, seed=7)
    assert pairs == split_pairs(names, same_per_person=3, folds=4, seed=7)
    same = [p for p in pairs if p.same]
    # every person gives min(C(n, 2), 3) same pairs: 8 people each with n = 2 (1 pair), 3 (3), 4 (3), 5 (3)
    assert len(same) == 8 * (1 + 3 + 3 + 3)
    assert len(pairs) == 2 * len(same)
    folds_of: dict[str, set[int]] = {}
    for p in pairs:
        assert 1 <= p.index1 <= counts[p.name1] and 1 <= p.index2 <= counts[p.name2]
        for name in (p.name1, p.name2):
            folds_of.setdefault(name, set()).add(p.fold)
    assert all(len(f) == 1 for f in folds_of.values())  # nobody in two folds
    for fold in range(4):
        in_fold = [p for p in pairs if p.fold == fold]
        assert sum(p.same for p in in_fold) * 2 == len(in_fold)
    assert len({(p.name1, p.index1, p.index2) for p in same}) == len(same)  # no same pair twice
    with pytest.raises(ValueError, match="Name/Name_NNNN.jpg"):
        split_pairs(["P00/other_0001.jpg", *names])
    with pytest.raises(ValueError, match="at least 20 people"):
        split_pairs(names[:10], folds=10)


def test_batch_pairs_balances_and_finds_all_positives():
    labels = np.array([0, 0, 1, 1, 1, 2])
    first, second, same = batch_pairs(labels)
    assert same.sum() == 4 and (~same).sum() == 4
    assert np.all((labels[first] == labels[second]) == same)
    _, _, all_same = batch_pairs(labels, max_negatives_per_positive=None)
    assert len(all_same) == 15


# ----------------------------------------------------------------------------- LFW pairs


def test_parse_pairs_with_header_and_folds(tmp_path):
    lines = ["2\t1", "A\t1\t2", "A\t1\tB\t1", "C\t2\t3", "B\t1\tC\t1"]
    path = tmp_path / "pairs.txt"
    path.write_text("\n".join(lines) + "\n")
    pairs = parse_lfw_pairs(path)
    assert pairs == [LFWPair("A", 1, "A", 2, 0), LFWPair("A", 1, "B", 1, 0), LFWPair("C", 2, "C", 3, 1),
                     LFWPair("B", 1, "C", 1, 1)]
    assert [p.same for p in pairs] == [True, False, True, False]
    assert LFWPair.image_name("A", 7) == "A/A_0007.jpg"
    # Without a header (restricted file), folds start where a same pair follows a different pair.
    path.write_text("\n".join([*lines[1:], "D 1 2", "E 1 3"]) + "\n")
    assert [p.fold for p in parse_lfw_pairs(path)] == [0, 0, 1, 1, 2, 2]
    assert restrict_pairs(pairs, {"B"}) == [pairs[0], pairs[2]]
    assert spread_subset(pairs, 2) == [pairs[0], pairs[3]] and spread_subset(pairs, None) == pairs
    unbalanced = [*pairs, LFWPair("A", 2, "C", 1, 1), LFWPair("A", 3, "C", 2, 1), LFWPair("D", 1, "D", 2, 2)]
    balanced = balance_folds(unbalanced)
    assert [(p.fold, p.same) for p in balanced] == [(0, True), (0, False), (1, True), (1, False)]
    path.write_text("A 1 2\nA 1 B\n")
    with pytest.raises(ValueError, match=r"pairs.txt:2: expected"):
        parse_lfw_pairs(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        parse_lfw_pairs(tmp_path / "missing.txt")


def test_real_lfw_pairs_file(shared_data):
    path = shared_data / "lfw_pairs.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    pairs = parse_lfw_pairs(path)
    assert len(pairs) > 5000
    folds = np.array([p.fold for p in pairs])
    same = np.array([p.same for p in pairs])
    assert sorted(set(folds.tolist())) == list(range(10))  # LFW view 2 has 10 folds
    for fold in range(10):
        assert 200 < same[folds == fold].sum() <= 300 and 200 < (~same[folds == fold]).sum() <= 300
    root = shared_data / "lfw-deepfunneled"
    for pair in pairs[:: len(pairs) // 20]:
        assert (root / LFWPair.image_name(pair.name1, pair.index1)).is_file()
        assert (root / LFWPair.image_name(pair.name2, pair.index2)).is_file()


# ----------------------------------------------------------------------------- verification of faces


class MeanColour(nn.Module):
    """A perfect 'identity network' for the toy faces below: the mean colour is the person."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3)) - 0.5


def toy_dataset() -> FaceDataset:
    colours = {"A": (250, 40, 40), "B": (40, 250, 40), "C": (40, 40, 250)}
    images, identities, names = [], [], []
    for person, (name, colour) in enumerate(colours.items()):
        for i in range(1, 4):
            image = torch.tensor(colour, dtype=torch.uint8).view(3, 1, 1).expand(3, 16, 16).clone()
            image[:, :2, :2] = 0  # not quite uniform
            images.append(image)
            identities.append(person)
            names.append(LFWPair.image_name(name, i))
    return FaceDataset(images=torch.stack(images), identities=np.array(identities), identity_names=list(colours),
                       names=names)


def test_verify_pairs_on_a_toy_with_a_known_answer():
    dataset = toy_dataset()
    pairs = [LFWPair("A", 1, "A", 2, 0), LFWPair("A", 1, "B", 1, 0), LFWPair("B", 2, "B", 3, 1),
             LFWPair("B", 1, "C", 1, 1), LFWPair("C", 1, "C", 3, 2), LFWPair("C", 2, "A", 3, 2),
             LFWPair("Z", 1, "Z", 2, 2)]  # Z has no images: left out
    sources = {"HR": lambda hr: hr, "grey": lambda hr: hr.mean(dim=1, keepdim=True).expand_as(hr)}
    results = verify_pairs(MeanColour(), dataset, pairs, sources)
    assert results["HR"].pairs == 6 and results["HR"].positives == 3
    assert results["HR"].accuracy == 1.0 and results["HR"].auc == 1.0
    # All grey faces have the same features: nothing to tell apart, chance level.
    assert results["grey"].auc == 0.5 and results["grey"].accuracy == pytest.approx(0.5)


def test_several_judges_see_each_source_batch_made_once():
    dataset = toy_dataset()
    pairs = [LFWPair("A", 1, "A", 2, 0), LFWPair("A", 1, "B", 1, 0), LFWPair("B", 2, "B", 3, 1),
             LFWPair("B", 1, "C", 1, 1)]
    calls = []

    def counted(hr):
        calls.append(len(hr))
        return hr

    class Dark(MeanColour):  # a second judge that sees the faces darker: same ranking of the pairs
        def forward(self, x):
            return super().forward(x / 2)

    results = verify_pairs({"mean": MeanColour(), "dark": Dark()}, dataset, pairs, {"HR": counted}, batch_size=4)
    assert list(results) == ["HR, judged by mean", "HR, judged by dark"]
    assert calls == [4, 2]  # 6 distinct images, batches of 4: made once, not once per judge
    assert results["HR, judged by mean"].accuracy == results["HR, judged by dark"].accuracy == 1.0


def test_identity_similarity_is_one_for_identical_faces():
    net = CNNR(width=2, feature_dim=8, blocks=[1, 1, 1, 1])
    hr = torch.rand(3, 3, 128, 128)
    torch.testing.assert_close(identity_similarity(hr, hr, net), torch.ones(3))
    with pytest.raises(ValueError, match="same shape"):
        identity_similarity(hr[:2], hr, net)


@pytest.mark.lfw
def test_verify_command_on_lfw(shared_data, tmp_path, capsys):
    if not (shared_data / "lfw_pairs.txt").is_file():
        pytest.skip("lfw_pairs.txt not found")
    torch.manual_seed(0)
    net = remember_config(CNNR(width=2, feature_dim=8, blocks=[1, 1, 1, 1], num_classes=2),
                          {"type": "CNNR", "width": 2, "feature_dim": 8, "blocks": [1, 1, 1, 1], "num_classes": 2})
    first = parse_lfw_pairs(shared_data / "lfw_pairs.txt")[0]
    checkpoint = save_network(net, tmp_path / "id.pt", meta={"class_names": [first.name1, "Nobody"]})
    code = main(["verify", "--identity-net", str(checkpoint), "--max-pairs", "40", "--repair", "even",
                 "--repair", "centre_out", "--set", "horizon=2", "--paired"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| HR |" in out and "| bicubic x8 |" in out
    # Paired rows: each repair against bicubic, the second repair against the first; never HR.
    paired = out.split("Paired differences")[1].splitlines()
    rows = [line for line in paired if line.startswith("| ") and "repair" in line]
    assert len(rows) == 3
    assert rows[0].startswith("| even repair") and "| bicubic x8 |" in rows[0]
    assert rows[2].startswith("| centre_out repair") and "| even repair" in rows[2]
    assert not any(line.startswith("| HR") for line in paired)
    # the note accounts for every pair of the file: used + each reason for leaving one out = all
    note = re.search(r"(\d+) of (\d+) pairs used \(left out: (\d+) with a person the identity net was trained on, "
                     r"(\d+) to balance the folds, (\d+) beyond --max-pairs\)", out)
    assert note is not None, out
    kept, total, *dropped = map(int, note.groups())
    assert kept == 40 and kept + sum(dropped) == total and all(d > 0 for d in dropped)
    code = main(["verify", "--identity-net", str(checkpoint), "--pairs-from", "unseen", "--max-pairs", "20"])
    out = capsys.readouterr().out
    assert code == 0 and "20 of " in out and "| HR | 20 (" in out


def test_repair_rows_of_several_restorers_are_named_by_the_shortest_distinct_tails():
    paths = [Path("/runs/id/w0/restorer.pt"), Path("/runs/id/w0.2/restorer.pt"), Path("/other/best.pt")]
    assert distinct_tails(paths) == {paths[0]: "w0/restorer.pt", paths[1]: "w0.2/restorer.pt",
                                     paths[2]: "other/best.pt"}  # one depth for all: the rows line up
    assert distinct_tails([Path("a/r.pt"), Path("b/r.pt")]) == {Path("a/r.pt"): "a/r.pt", Path("b/r.pt"): "b/r.pt"}
    assert distinct_tails([]) == {}
