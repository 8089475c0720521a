"""Face batches with a teacher recogniser's embeddings, for distilling a recogniser (recipe ``identity-distill``).

The teacher (dlib's descriptor by default: ~66 ms a face on one core) is far too slow to run at every training
step, so its embeddings of every training face are computed once, in *views* of the face, and cached in the run
folder (``teacher_targets.pt``, one tensor per view, written atomically every chunk: a killed run resumes the
labelling where it stopped, and a run with one more view labels only that one). A batch then draws random
(face, view) pairs and returns the view's image with its cached embedding.

Views (each a deterministic function of the HR face, so the cached embedding matches the image exactly):

* ``hr``: the HR face;
* ``flip``: the HR face mirrored left-right (a recogniser is not exactly flip-invariant);
* ``bicubic``: bicubic upsampling of the face's LR version under the recipe's degradation, drawn from a
  generator seeded by the face's index: what an identity term sees of an unrepaired face, so the student
  also learns the teacher on blurred faces;
* ``jitter``: the HR face under a random similarity transform and photometric change (the ranges of
  :mod:`fh_gym.restorers.training.face_jitter` at strength 1), drawn from a generator seeded by the face's
  index: more distinct images for the student per teacher-labelled face, which dlib, aligning faces with its
  landmarks, largely shrugs off (our choice);
  ``jitter2`` and ``jitter3`` are further independent draws of the same change (more teacher labels a face).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from fh_gym.degradations import upsample_bicubic
from fh_gym.identity.recognizers import Recognizer
from fh_gym.restorers.checkpoint import atomic_torch_save, safe_load
from fh_gym.restorers.training.face_jitter import jitter_parameters, warp_faces
from fh_gym.restorers.training.recipe import PairBatch
from fh_gym.samplers.image_pairs import PairSampler

#: the jitter views and the draw each seeds its generator with (``[face index, draw]``)
JITTER_DRAWS = {"jitter": 1, "jitter2": 2, "jitter3": 3}
#: the views a teacher target can be computed on
TEACHER_VIEWS = ("hr", "flip", "bicubic", *JITTER_DRAWS)
#: the cache file's name in a run folder
TEACHER_CACHE = "teacher_targets.pt"
#: the cache's format tag (a checkpoint-style dict, read with ``weights_only=True``)
TARGETS_FORMAT = "fh-gym/teacher-targets-v2"
#: the first format (one (N, V, D) tensor of a fixed view list); read and converted
TARGETS_FORMAT_V1 = "fh-gym/teacher-targets-v1"
#: faces labelled between two writes of the cache
CHUNK = 256


def jittered(hr: Tensor, indices: np.ndarray, draw: int = 1) -> Tensor:
    """A jitter view (see the module docstring; ``draw`` of :data:`JITTER_DRAWS`) of the faces ``hr``
    (B, 3, S, S) at dataset ``indices``."""
    return warp_faces(hr, [jitter_parameters(np.random.default_rng([int(index), draw])) for index in indices])


class TeacherPairSampler(PairSampler):
    """A :class:`PairSampler` whose batches carry the teacher's unit embeddings (``PairBatch.teacher``).

    Args:
        teacher: The recogniser to distil.
        views: Which of :data:`TEACHER_VIEWS` to label and train on.
        cache: The cache file (``None``: keep the labels in memory only).
        progress: Show a progress bar while labelling.
        **kwargs: :class:`PairSampler`'s arguments.
    """

    def __init__(self, teacher: Recognizer, views: list[str] | tuple[str, ...], cache: Path | None = None,
                 progress: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        unknown = [v for v in views if v not in TEACHER_VIEWS]
        if unknown or not views:
            raise ValueError(f"teacher views must be some of {', '.join(TEACHER_VIEWS)}, got {list(views)}")
        self.teacher = teacher
        self.views = tuple(views)
        #: (N, V, D) unit embeddings of every face in every view
        self.targets = self._label(cache, progress)
        #: the mean subtracted from the targets by :meth:`center` (None: raw targets)
        self.target_mean: Tensor | None = None

    def center(self, *others: TeacherPairSampler) -> Tensor:
        """Subtract the mean target of this sampler's faces from its targets and ``others``' and renormalise.

        A recogniser's unit embeddings share a large common direction (dlib's: cosine ~0.84 between two
        different people of LFW); a cosine loss on them is mostly satisfied by that direction alone (a student
        that maps every face to it scores cosine ~0.88 against every target and verifies at chance). Centred
        targets keep only what tells people apart; distances between them rank pairs as the teacher's do.
        Returns the mean (D,) (the checkpoint records it).
        """
        mean = self.targets.mean(dim=(0, 1))
        for sampler in (self, *others):
            sampler.targets = F.normalize(sampler.targets - mean, dim=-1)
        self.target_mean = mean
        return mean

    def view_images(self, indices: np.ndarray, view: str) -> Tensor:
        """(B, 3, S, S) images of ``view`` of the faces at ``indices``."""
        hr = self.dataset.hr_float(indices, self.device)
        if view == "hr":
            return hr
        if view == "flip":
            return hr.flip(-1)
        if view in JITTER_DRAWS:
            return jittered(hr, indices, JITTER_DRAWS[view])
        lows = [self.degrade(hr[k:k + 1], np.random.default_rng(int(i))).lr for k, i in enumerate(indices)]
        return upsample_bicubic(torch.cat(lows).to(self.device), self.scale).clamp(0, 1)

    def _label(self, cache: Path | None, progress: bool) -> Tensor:
        record = {"format": TARGETS_FORMAT, "teacher": self.teacher.name, "names": list(self.dataset.names)}
        per_view: dict[str, Tensor] = {}
        if cache is not None and cache.is_file():
            stored = safe_load(cache)
            if stored.get("format") == TARGETS_FORMAT_V1:  # (N, V, D) of a view list, all faces labelled
                stored = {**stored, "format": TARGETS_FORMAT,
                          "views": {v: stored["targets"][:, k] for k, v in enumerate(stored["views"])}}
            if {k: stored.get(k) for k in record} != record:
                raise ValueError(f"{cache} holds another teacher or face list: remove it or use another --out")
            per_view = dict(stored["views"])
        total = len(self.dataset) * len(self.views)
        initial = sum(min(len(per_view.get(v, ())), len(self.dataset)) for v in self.views)
        bar = tqdm(total=total, initial=initial, desc=f"{self.teacher.name} targets", disable=not progress)
        for view in self.views:
            done = per_view.get(view, torch.zeros(0, 0))
            while len(done) < len(self.dataset):
                indices = np.arange(len(done), min(len(done) + CHUNK, len(self.dataset)))
                with torch.no_grad():
                    chunk = self.teacher.embed(self.view_images(indices, view)).cpu()
                done = torch.cat([done, chunk]) if len(done) else chunk
                per_view[view] = done
                if cache is not None:
                    atomic_torch_save({**record, "views": per_view}, cache)
                bar.update(len(indices))
        bar.close()
        if not len(self.dataset):
            return torch.zeros(0, len(self.views), 0)
        return torch.stack([per_view[v][: len(self.dataset)] for v in self.views], 1)

    def labelled_batch(self, indices: np.ndarray, views: np.ndarray, rng: np.random.Generator) -> PairBatch:
        """The faces at ``indices`` in the views ``views`` (indices into :attr:`views`) with their targets."""
        images = torch.empty(len(indices), 3, self.dataset.image_size, self.dataset.image_size, device=self.device)
        for v, view in enumerate(self.views):
            rows = np.flatnonzero(views == v)
            if len(rows):
                images[torch.from_numpy(rows).to(self.device)] = self.view_images(indices[rows], view)
        pairs = self.batch(indices, rng)
        teacher = self.targets[torch.from_numpy(indices), torch.from_numpy(views)].to(self.device)
        return PairBatch(hr=images, lr=pairs.lr, identities=pairs.identities, teacher=teacher)

    def __call__(self, batch_size: int) -> PairBatch:
        """``batch_size`` random (face, view) pairs with the teacher's embedding of each."""
        indices = self.rng.integers(len(self.dataset), size=batch_size)
        return self.labelled_batch(indices, self.rng.integers(len(self.views), size=batch_size), self.rng)

    def fixed(self, count: int, seed: int = 12345) -> PairBatch:
        """A reproducible batch of up to ``count`` distinct faces in the ``hr`` view (or the first view)."""
        rng = np.random.default_rng(seed)
        indices = self.fixed_indices(count, rng)
        view = self.views.index("hr") if "hr" in self.views else 0
        return self.labelled_batch(indices, np.full(len(indices), view), rng)
