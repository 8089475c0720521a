"""Identity evaluation: SICNN identity similarity and LFW-pairs face verification of hallucinated faces.

* :func:`identity_similarity` — cosine of identity features of SR vs HR (SICNN Sec. 4.2 "identity recovery",
  IPFH Eq. 19), the ``identity`` column of ``fh-gym compare --identity-net``.
* :func:`parse_lfw_pairs` — LFW view-2 pairs (``Name i j`` same person, ``Name1 i Name2 j`` different), with
  their folds; :func:`verify_pairs` — the standard 10-fold verification protocol on HR faces, bicubic
  upsampling and any generator's outputs; :func:`verify_lfw` runs the whole protocol of
  ``docs/evaluation.md`` (leave out the identity net's people, re-balance the folds, verify, tabulate) for
  ``fh-gym verify`` and the generator benchmark; :func:`format_paired` tabulates rows' paired differences.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fh_gym.data.base import FaceDataset
from fh_gym.data.paths import shared_data_dir
from fh_gym.degradations import Degradation, upsample_bicubic
from fh_gym.episodes import Actor
from fh_gym.identity.recognizers import Recognizer
from fh_gym.inference import hallucinate, inference_config
from fh_gym.restorers.losses.identity import cosine_similarity
from fh_gym.restorers.pixels import quantize_hwc
from fh_gym.restorers.training.identity_training import embed as identity_features
from fh_gym.restorers.training.verification import VerificationResult, kfold_verification, paired_difference


@torch.no_grad()
def identity_similarity(sr: Tensor, hr: Tensor, net: nn.Module) -> Tensor:
    """(B,) cosine similarity of the identity features of hallucinated faces ``sr`` and their truth ``hr``
    (both (B, 3, H, W) in [0, 1]; ``sr`` is clamped) — SICNN's identity-recovery score."""
    if sr.shape != hr.shape:
        raise ValueError(f"SR and HR batches must have the same shape, got {tuple(sr.shape)} and {tuple(hr.shape)}")
    device = next(net.parameters()).device
    return cosine_similarity(identity_features(net, sr.clamp(0, 1).to(device)),
                             identity_features(net, hr.to(device))).cpu()


@dataclass(frozen=True)
class LFWPair:
    """One verification pair: image ``index1`` of ``name1`` and image ``index2`` of ``name2`` (1-based, as
    LFW numbers them), in fold ``fold``."""

    name1: str
    index1: int
    name2: str
    index2: int
    fold: int

    @property
    def same(self) -> bool:
        return self.name1 == self.name2

    @staticmethod
    def image_name(name: str, index: int) -> str:
        """The LFW file of image ``index`` of ``name``, relative to the root (``Name/Name_0003.jpg``)."""
        return f"{name}/{name}_{index:04d}.jpg"


def parse_lfw_pairs(path: str | os.PathLike) -> list[LFWPair]:
    """Read an LFW pairs file (``pairs.txt`` of view 2, or a restriction of it).

    Lines are whitespace-separated ``Name i j`` (same person) or ``Name1 i Name2 j`` (different people). An
    optional header of integers (the official ``10 300``: folds and pairs per kind per fold) is skipped.
    Folds: with a header and the full pair count, consecutive blocks of ``2 x 300``; otherwise (restricted
    files keep the official order: each fold's same pairs, then its different pairs) a new fold starts where
    a same pair follows a different pair.

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: For a malformed line (the message names the line number).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LFW pairs file not found: {path}")
    header: list[int] | None = None
    rows: list[tuple[str, int, str, int]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if not rows and header is None and all(t.isdigit() for t in tokens):
            header = [int(t) for t in tokens]
            continue
        try:
            if len(tokens) == 3:
                rows.append((tokens[0], int(tokens[1]), tokens[0], int(tokens[2])))
            elif len(tokens) == 4:
                rows.append((tokens[0], int(tokens[1]), tokens[2], int(tokens[3])))
            else:
                raise ValueError(f"{len(tokens)} fields")
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: expected 'Name i j' or 'Name1 i Name2 j', got {line!r} "
                             f"({exc})") from exc
    if not rows:
        raise ValueError(f"{path} holds no pairs")
    if header is not None and len(header) == 2 and len(rows) == header[0] * 2 * header[1]:
        folds = [i // (2 * header[1]) for i in range(len(rows))]
    else:
        folds, fold, previous_same = [], 0, True
        for name1, _, name2, _ in rows:
            same = name1 == name2
            if same and not previous_same:
                fold += 1
            folds.append(fold)
            previous_same = same
    return [LFWPair(n1, i1, n2, i2, f) for (n1, i1, n2, i2), f in zip(rows, folds)]


def split_pairs(image_names: Sequence[str], same_per_person: int = 10, folds: int = 10,
                seed: int = 0) -> list[LFWPair]:
    """Verification pairs drawn from a set of LFW images (e.g. every face of the people never seen in training),
    for more pairs than ``lfw_pairs.txt`` holds for those people.

    People are dealt into ``folds`` person-disjoint folds (a seeded permutation), as LFW's folds are; in each
    fold every person with two or more images gives up to ``same_per_person`` same-person pairs (a seeded
    choice among all of theirs, so a person with hundreds of photos does not dominate) and as many
    different-person pairs are drawn between two random people of the same fold.

    Args:
        image_names: ``Name/Name_NNNN.jpg`` paths (a dataset's ``names``).
        same_per_person: Cap on each person's same-person pairs.
        folds: Number of folds.
        seed: Seed of the folds and of both choices.

    Raises:
        ValueError: For a name not in LFW's layout, or too few people for the folds.
    """
    people: dict[str, list[int]] = {}
    for path in image_names:
        name, _, file = str(path).partition("/")
        stem = file.rsplit(".", 1)[0]
        if not stem.startswith(name + "_") or not stem[len(name) + 1:].isdigit():
            raise ValueError(f"split_pairs needs LFW image names 'Name/Name_NNNN.jpg', got {path!r}")
        people.setdefault(name, []).append(int(stem[len(name) + 1:]))
    if len(people) < 2 * folds:
        raise ValueError(f"split_pairs needs at least {2 * folds} people for {folds} folds, got {len(people)}")
    rng = np.random.default_rng(seed)
    names = sorted(people)
    order = rng.permutation(len(names))
    pairs: list[LFWPair] = []
    for fold in range(folds):
        members = [names[i] for i in order[fold::folds]]
        same: list[LFWPair] = []
        for name in members:
            images = sorted(people[name])
            combos = [(a, b) for i, a in enumerate(images) for b in images[i + 1:]]
            for k in sorted(rng.permutation(len(combos))[:same_per_person]):
                same.append(LFWPair(name, combos[k][0], name, combos[k][1], fold))
        different = []
        for _ in same:
            one, two = rng.choice(len(members), size=2, replace=False)
            first, second = members[one], members[two]
            different.append(LFWPair(first, int(rng.choice(people[first])), second,
                                     int(rng.choice(people[second])), fold))
        pairs += same + different
    return pairs


def restrict_pairs(pairs: Sequence[LFWPair], excluded_people: set[str]) -> list[LFWPair]:
    """The pairs whose two people are both outside ``excluded_people`` (e.g. the identity net's classes)."""
    return [p for p in pairs if p.name1 not in excluded_people and p.name2 not in excluded_people]


def spread_subset(pairs: Sequence[LFWPair], count: int | None) -> list[LFWPair]:
    """At most ``count`` pairs evenly spaced through ``pairs`` (the file lists each fold's same pairs before its
    different pairs, so its first lines are all same-person pairs)."""
    if count is None or count >= len(pairs):
        return list(pairs)
    return [pairs[int(i)] for i in np.linspace(0, len(pairs) - 1, max(int(count), 0)).round()]


def balance_folds(pairs: Sequence[LFWPair]) -> list[LFWPair]:
    """Per fold, as many different-person as same-person pairs (the larger kind evenly subsampled).

    LFW's folds are balanced (300 + 300), so chance accuracy is 50%; restricting the pairs to unseen people
    unbalances them (most same-person pairs involve people with many photos, who are often training people),
    and accuracy would then reward always answering the majority kind.
    """
    kept: list[LFWPair] = []
    for fold in sorted({p.fold for p in pairs}):
        same = [p for p in pairs if p.fold == fold and p.same]
        different = [p for p in pairs if p.fold == fold and not p.same]
        count = min(len(same), len(different))
        kept += spread_subset(same, count) + spread_subset(different, count)
    return kept


def pair_images(pairs: Sequence[LFWPair], dataset: FaceDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                        list[LFWPair]]:
    """Dataset indices of the pairs' images.

    Returns:
        ``(unique, first, second, found)``: the sorted unique dataset indices needed, and for each pair whose
        two images are in the dataset, the positions of its images in ``unique``; ``found`` are those pairs.
    """
    where = {name: i for i, name in enumerate(dataset.names)}
    found = [p for p in pairs if LFWPair.image_name(p.name1, p.index1) in where
             and LFWPair.image_name(p.name2, p.index2) in where]
    first = np.array([where[LFWPair.image_name(p.name1, p.index1)] for p in found], dtype=np.int64)
    second = np.array([where[LFWPair.image_name(p.name2, p.index2)] for p in found], dtype=np.int64)
    unique, inverse = np.unique(np.concatenate([first, second]), return_inverse=True)
    return unique, inverse[: len(found)], inverse[len(found):], found


#: ``fn(hr_batch) -> images`` producing the faces to verify from HR faces (identity, bicubic of the LR, a generator)
FaceSource = Callable[[Tensor], Tensor]


#: what judges a pair: an identity network (cosine of its features) or a Recognizer (cosine of unit embeddings)
Judge = nn.Module | Recognizer


def judged_name(source: str, judge: str, judges: int) -> str:
    """A result row's name: the face source alone with one judge, ``"<source>, judged by <judge>"`` with more."""
    return source if judges == 1 else f"{source}, judged by {judge}"


@torch.no_grad()
def verify_pairs(judges: Judge | Mapping[str, Judge], dataset: FaceDataset, pairs: Sequence[LFWPair],
                 sources: Mapping[str, FaceSource], batch_size: int = 64,
                 device: torch.device | str = "cpu") -> dict[str, VerificationResult]:
    """10-fold verification accuracy of each face source on ``pairs``, judged by each of ``judges``: identity
    networks (cosine of their features) or :class:`~fh_gym.identity.recognizers.Recognizer` s (cosine of their
    unit embeddings, e.g. dlib's descriptor); one judge or a ``{name: judge}`` mapping.

    Each source maps a batch of HR faces (B, 3, H, W) in [0, 1] to the faces whose identity features are
    compared (HR itself, bicubic upsampling of their LR version, a generator's output, the env's repairs...).
    Every batch of a source is made once and embedded by every judge (a source can be costly: an env's
    repairs). Pairs whose images are not in ``dataset`` are left out.

    Returns:
        ``{row: result}``, rows named by :func:`judged_name` in the order source, then judge.
    """
    named = dict(judges) if isinstance(judges, Mapping) else {"judge": judges}
    unique, first, second, found = pair_images(pairs, dataset)
    if not found:
        raise ValueError("none of the pairs' images is in the dataset (check the LFW root and the pairs file)")
    same = np.array([p.same for p in found])
    folds = np.array([p.fold for p in found])
    fold_arg = folds if len(np.unique(folds)) >= 2 else 10
    results = {}
    for source_name, source in sources.items():
        chunks: dict[str, list[Tensor]] = {name: [] for name in named}
        for lo in range(0, len(unique), batch_size):
            faces = source(dataset.hr_float(unique[lo:lo + batch_size], device)).clamp(0, 1)
            for name, judge in named.items():
                chunks[name].append(judge.embed(faces) if isinstance(judge, Recognizer)
                                    else identity_features(judge, faces))
        for name, parts in chunks.items():
            features = torch.cat(parts)
            scores = cosine_similarity(features[first], features[second]).cpu().numpy()
            results[judged_name(source_name, name, len(named))] = kfold_verification(scores, same, fold_arg)
    return results


def degrade_source(scale: int, seed: int, generator: nn.Module | None = None) -> FaceSource:
    """A face source: HR -> degraded LR -> bicubic or ``generator``. Every batch's degradation draws from a
    generator seeded with ``seed`` (the default bicubic degradation draws nothing)."""
    degradation = Degradation.from_config({"scale": scale})

    def source(hr: Tensor) -> Tensor:
        lr = degradation(hr, np.random.default_rng(seed)).lr.to(hr.device)
        with torch.no_grad():
            return upsample_bicubic(lr, scale) if generator is None else generator(lr)

    return source


def repair_source(env_config: Mapping[str, Any], actor: Actor, scale: int, seed: int) -> FaceSource:
    """A face source: HR -> degraded LR (uint8, as a user's LR file would be) -> the env's patch repair by
    ``actor`` (its front-end, restorer and T; :func:`fh_gym.inference.hallucinate`, no ground truth)."""
    config = inference_config(env_config)
    if int(config["degradation"]["scale"]) != int(scale):
        raise ValueError(f"the env repairs x{config['degradation']['scale']} faces but --scale is {scale}")
    degradation = Degradation.from_config({"scale": scale})

    def source(hr: Tensor) -> Tensor:
        lr = degradation(hr, np.random.default_rng(seed)).lr
        final = hallucinate(config, actor, quantize_hwc(lr).cpu().numpy(), seed=seed)["final"]
        return torch.from_numpy(np.ascontiguousarray(final)).permute(0, 3, 1, 2).float().div(255).to(hr.device)

    return source


def bicubic_row(scale: int) -> str:
    """The name of the bicubic row of :func:`verification_sources` (what ``--paired`` compares against)."""
    return f"bicubic x{scale}"


def verification_sources(scale: int, seed: int, generators: Mapping[str, nn.Module] | None = None
                         ) -> dict[str, FaceSource]:
    """The rows of a verification table: ``HR``, ``bicubic x<scale>`` and each generator's hallucinations."""
    sources: dict[str, FaceSource] = {"HR": lambda hr: hr, bicubic_row(scale): degrade_source(scale, seed)}
    for name, generator in (generators or {}).items():
        sources[name] = degrade_source(scale, seed, generator)
    return sources


def lfw_pairs_path(path: str | os.PathLike | None = None) -> Path:
    """``path``, or ``lfw_pairs.txt`` in the shared data folder.

    Raises:
        FileNotFoundError: If no path is given and there is no shared data folder.
    """
    if path is not None:
        return Path(path)
    base = shared_data_dir()
    if base is None:
        raise FileNotFoundError("no --pairs given and no shared data folder found (set FH_GYM_DATA)")
    return base / "lfw_pairs.txt"


@dataclass
class VerificationReport:
    """Verification results of each face source and how the pairs were chosen (see :func:`verify_lfw`)."""

    results: dict[str, VerificationResult]
    kept: int
    total: int
    excluded: int
    balanced: bool
    #: pairs the fold balancing and the ``max_pairs`` subset left out (after ``excluded``)
    unbalanced: int = 0
    beyond_max: int = 0

    def table(self) -> str:
        """Markdown table of accuracy (mean ± std over folds) and ROC AUC, with a note on the pairs used."""
        return format_table(self.results, self.kept, self.total, self.excluded, self.balanced, self.unbalanced,
                            self.beyond_max)


def verify_lfw(judges: Judge | Mapping[str, Judge], dataset: FaceDataset, pairs: Sequence[LFWPair],
               sources: Mapping[str, FaceSource], *,
               exclude_people: set[str] | None = None, balanced: bool = True, max_pairs: int | None = None,
               batch_size: int = 64, device: torch.device | str = "cpu") -> VerificationReport:
    """The LFW verification protocol of ``docs/evaluation.md``: leave out pairs with ``exclude_people`` (the
    identity net's training people), re-balance each fold (``balanced``), optionally keep ``max_pairs``
    spread over the folds, then verify every source on the pairs left with every judge (:func:`verify_pairs`)."""
    restricted = restrict_pairs(pairs, exclude_people) if exclude_people is not None else list(pairs)
    even = balance_folds(restricted) if balanced else restricted
    kept = spread_subset(even, max_pairs)
    results = verify_pairs(judges, dataset, kept, sources, batch_size=batch_size, device=device)
    return VerificationReport(results, len(kept), len(pairs), len(pairs) - len(restricted), balanced,
                              unbalanced=len(restricted) - len(even), beyond_max=len(even) - len(kept))


def format_table(results: Mapping[str, VerificationResult], kept: int, total: int, excluded: int,
                 balanced: bool = True, unbalanced: int = 0, beyond_max: int = 0) -> str:
    """Markdown table of verification results, with a note on how many of ``total`` pairs were used and why the
    others were not (``excluded``: the identity net's people; ``unbalanced``: fold balancing; ``beyond_max``:
    the ``--max-pairs`` subset)."""
    lines = ["| faces | pairs (same) | accuracy (mean ± std over folds) | ROC AUC |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r.pairs} ({r.positives}) | {100 * r.accuracy:.2f}% ± {100 * r.std:.2f} | "
                     f"{r.auc:.4f} |")
    dropped = [f"{excluded} with a person the identity net was trained on" if excluded else "",
               f"{unbalanced} to balance the folds" if unbalanced else "",
               f"{beyond_max} beyond --max-pairs" if beyond_max else ""]
    dropped = [d for d in dropped if d]
    note = (f"\n{kept} of {total} pairs used" + (f" (left out: {', '.join(dropped)})" if dropped else "")
            + ("; folds balanced (as many different- as same-person pairs, chance = 50%)" if balanced else "") + ".")
    return "\n".join(lines) + "\n" + note


def format_paired(results: Mapping[str, VerificationResult], comparisons: Sequence[tuple[str, str]],
                  seed: int = 0) -> str:
    """Markdown table of ``(reference, row)`` differences on the same pairs (row minus reference): accuracy
    with its paired 95% CI over pairs, the discordant pairs, and ROC AUC with a paired bootstrap 95% interval
    (:func:`~fh_gym.restorers.training.verification.paired_difference`)."""
    lines = ["| faces | against | accuracy (points, paired 95% CI over pairs) | pairs right only here / only there "
             "| ROC AUC (paired bootstrap 95%) |", "|---|---|---|---|---|"]
    for reference, row in comparisons:
        d = paired_difference(results[reference], results[row], seed=seed)
        lines.append(f"| {row} | {reference} | {100 * d.accuracy:+.2f} ± {100 * d.accuracy_ci:.2f} | "
                     f"{d.b_only} / {d.a_only} | {d.auc:+.4f} [{d.auc_ci[0]:+.4f}, {d.auc_ci[1]:+.4f}] |")
    return "\n".join(lines)
