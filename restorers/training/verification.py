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
        scores: (P,) the pair scores, ``same`` their labels and ``correct`` whether each pair's held-out
            decision (its fold's threshold) was right: what :func:`paired_difference` compares.
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
    scores: np.ndarray | None = None
    same: np.ndarray | None = None
    correct: np.ndarray | None = None


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
    correct = np.zeros(len(scores), dtype=bool)
    for fold in np.unique(fold_ids):
        held_out = fold_ids == fold
        if held_out.all():
            raise ValueError("k-fold verification needs at least two folds")
        threshold = best_threshold(scores[~held_out], same[~held_out])
        thresholds.append(threshold)
        correct[held_out] = (scores[held_out] >= threshold) == same[held_out]
        accuracies.append(float(correct[held_out].mean()))
    acc = np.asarray(accuracies)
    return VerificationResult(accuracy=float(acc.mean()), std=float(acc.std()), fold_accuracies=acc,
                              thresholds=np.asarray(thresholds), auc=roc_auc(scores, same), pairs=len(scores),
                              positives=int(same.sum()), scores=scores, same=same, correct=correct)


@dataclass
class PairedDifference:
    """Row ``b`` minus row ``a`` on the same pairs (see :func:`paired_difference`).

    Attributes:
        accuracy: Mean over pairs of b's held-out correctness minus a's (in [-1, 1]); ``accuracy_ci`` its 95%
            half-width (normal approximation over pairs: McNemar's comparison of two paired proportions).
        auc: b's ROC AUC minus a's; ``auc_ci`` the (low, high) 95% percentile interval of a paired bootstrap
            over pairs (same and different pairs resampled separately, the same draws for both rows).
        b_only / a_only: Pairs only b / only a decided right (the discordant pairs behind ``accuracy``).
    """

    accuracy: float
    accuracy_ci: float
    auc: float
    auc_ci: tuple[float, float]
    b_only: int
    a_only: int


def paired_difference(a: VerificationResult, b: VerificationResult, resamples: int = 2000,
                      seed: int = 0) -> PairedDifference:
    """How much better ``b`` verifies than ``a`` on the same pairs, with paired 95% CIs over pairs.

    Per-pair differences are far tighter than the difference of two fold means (the same hard pairs fail
    for both rows): with 10 folds of ~60 pairs the fold standard deviation is several points. Both intervals
    treat pairs as independent; pairs that share a face or a person are not quite, so read them as slightly
    optimistic.

    Raises:
        ValueError: If either result lacks per-pair data or the two are not on the same pairs.
    """
    if any(r.scores is None or r.same is None or r.correct is None for r in (a, b)):
        raise ValueError("paired_difference needs results of kfold_verification (per-pair scores and decisions)")
    if not np.array_equal(a.same, b.same):
        raise ValueError(f"paired_difference needs the same pairs, got {a.pairs} and {b.pairs} pairs")
    diff = b.correct.astype(np.float64) - a.correct.astype(np.float64)
    half = 1.96 * float(diff.std(ddof=1)) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(a.same), np.flatnonzero(~a.same)
    draws = []
    for _ in range(resamples):
        pick = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        draws.append(roc_auc(b.scores[pick], b.same[pick]) - roc_auc(a.scores[pick], a.same[pick]))
    low, high = np.percentile(draws, [2.5, 97.5]) if draws else (float("nan"), float("nan"))
    return PairedDifference(accuracy=float(diff.mean()), accuracy_ci=half, auc=b.auc - a.auc,
                            auc_ci=(float(low), float(high)), b_only=int((diff > 0).sum()),
                            a_only=int((diff < 0).sum()))


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
