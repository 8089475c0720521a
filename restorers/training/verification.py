"""Face-verification scoring: pair cosines, ROC AUC and the LFW k-fold threshold protocol.

Used by the identity-net recipe (validation pairs built from a batch) and by ``fh-gym verify`` (LFW view-2
pairs). Scores are cosine similarities: higher means "same person". Pure NumPy on (P,) arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass
class VerificationResult:
    """Accuracy of a same/different decision by thresholding pair scores.

    Attributes:
        accuracy: Mean held-out accuracy over the folds.
        std: Standard deviation of the fold accuracies (LFW reports mean +- std).
        fold_accuracies: (K,) per-fold accuracy.
        thresholds: (K,) threshold chosen on the other folds for each fold.
        auc: Area under the ROC curve over all pairs.
        pairs: Number of pairs; ``positives`` of them same-person.
    """

    paper: ClassVar[str] = "LFW 10-fold verification protocol (Huang et al. 2007)"
    paper_parameters: ClassVar[int | None] = None

    accuracy: float
    std: float
    fold_accuracies: np.ndarray
    thresholds: np.ndarray
    auc: float
    pairs: int
    positives: int


def _check(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    same = np.asarray(same, dtype=bool).ravel()
    if scores.shape != same.shape or scores.size == 0:
        raise ValueError(f"need one same/different label per score, got {scores.size} scores and {same.size} labels")
    return scores, same


def roc_auc(scores: np.ndarray, same: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney probability that a same pair outscores a different pair;
    ties count one half). NaN without both kinds of pairs."""
    scores, same = _check(scores, same)
    positives, negatives = int(same.sum()), int((~same).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[same].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold ``t`` maximising the accuracy of ``score >= t`` on these pairs (midpoint between
    neighbouring scores; the smallest such midpoint on ties)."""
    scores, same = _check(scores, same)
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2.0, [values[-1] + 1e-6]])
    # Accuracy of every candidate at once: count the same pairs at or above and different pairs below.
    pos_sorted = np.sort(scores[same])
    neg_sorted = np.sort(scores[~same])
    true_pos = len(pos_sorted) - np.searchsorted(pos_sorted, candidates, side="left")
    true_neg = np.searchsorted(neg_sorted, candidates, side="left")
    return float(candidates[int(np.argmax(true_pos + true_neg))])


def accuracy_at(scores: np.ndarray, same: np.ndarray, threshold: float) -> float:
    scores, same = _check(scores, same)
    return float(np.mean((scores >= threshold) == same))


def kfold_verification(scores: np.ndarray, same: np.ndarray, folds: np.ndarray | int = 10) -> VerificationResult:
    """The standard LFW protocol: for each fold, pick the best threshold on the other folds and measure the
    accuracy on this one; report mean and standard deviation over folds.

    Args:
        scores: (P,) similarity of each pair.
        same: (P,) True for same-person pairs.
        folds: (P,) fold id of each pair (LFW view 2 has 10 folds of 300 + 300 pairs), or a number of
            contiguous folds to cut the pairs into.

    Returns:
        A :class:`VerificationResult`.
    """
    scores, same = _check(scores, same)
    if np.isscalar(folds):
        count = int(folds)
        if count < 2 or count > len(scores):
            raise ValueError(f"need 2 <= folds <= pairs, got {count} folds for {len(scores)} pairs")
        fold_ids = np.arange(len(scores)) * count // len(scores)
    else:
        fold_ids = np.asarray(folds).ravel()
        if fold_ids.shape != scores.shape:
            raise ValueError(f"need one fold id per pair, got {fold_ids.size} for {scores.size} pairs")
    accuracies, thresholds = [], []
    for fold in np.unique(fold_ids):
        held_out = fold_ids == fold
        if held_out.all():
            raise ValueError("k-fold verification needs at least two folds")
        threshold = best_threshold(scores[~held_out], same[~held_out])
        thresholds.append(threshold)
        accuracies.append(accuracy_at(scores[held_out], same[held_out], threshold))
    acc = np.asarray(accuracies)
    return VerificationResult(accuracy=float(acc.mean()), std=float(acc.std()), fold_accuracies=acc,
                              thresholds=np.asarray(thresholds), auc=roc_auc(scores, same), pairs=len(scores),
                              positives=int(same.sum()))


def batch_pairs(labels: np.ndarray, max_negatives_per_positive: int | None = 1,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verification pairs inside a labelled batch: every same-label pair, and different-label pairs.

    Args:
        labels: (N,) identity labels.
        max_negatives_per_positive: Keep at most this many different pairs per same pair (a seeded random
            choice; 1 balances the classes so accuracy is meaningful); None keeps all.
        seed: Seed of that choice.

    Returns:
        ``(first, second, same)`` index arrays (P,) and the (P,) bool labels, same pairs first.
    """
    labels = np.asarray(labels).ravel()
    first, second = np.triu_indices(len(labels), k=1)
    same = labels[first] == labels[second]
    pos, neg = np.flatnonzero(same), np.flatnonzero(~same)
    if max_negatives_per_positive is not None and len(pos):
        keep = min(len(neg), max_negatives_per_positive * len(pos))
        neg = np.sort(np.random.default_rng(seed).choice(neg, size=keep, replace=False))
    chosen = np.concatenate([pos, neg])
    return first[chosen], second[chosen], same[chosen]
