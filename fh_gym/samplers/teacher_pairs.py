"""Face batches with a teacher recogniser's embeddings, for distilling a recogniser (recipe ``identity-distill``).

The teacher (dlib's descriptor by default: ~66 ms a face on one core) is far too slow to run at every training
step, so its embeddings of every training face are computed once, in *views* of the face, and cached in the run
folder (``teacher_targets.pt``, written atomically every chunk: a killed run resumes the labelling where it
stopped). A batch then draws random (face, view) pairs and returns the view's image with its cached embedding.

Views (each a deterministic function of the HR face, so the cached embedding matches the image exactly):

* ``hr``: the HR face;
* ``flip``: the HR face mirrored left-right (a recogniser is not exactly flip-invariant);
* ``bicubic``: bicubic upsampling of the face's LR version under the recipe's degradation, drawn from a
  generator seeded by the face's index: what an identity term sees of an unrepaired face, so the student
  also learns the teacher on blurred faces.
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
from fh_gym.restorers.training.recipe import PairBatch
from fh_gym.samplers.image_pairs import PairSampler

#: the views a teacher target can be computed on
TEACHER_VIEWS = ("hr", "flip", "bicubic")
#: the cache file's name in a run folder
TEACHER_CACHE = "teacher_targets.pt"
#: the cache's format tag (a checkpoint-style dict, read with ``weights_only=True``)
TARGETS_FORMAT = "fh-gym/teacher-targets-v1"
#: faces labelled between two writes of the cache
CHUNK = 256


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
        lows = [self.degrade(hr[k:k + 1], np.random.default_rng(int(i))).lr for k, i in enumerate(indices)]
        return upsample_bicubic(torch.cat(lows).to(self.device), self.scale).clamp(0, 1)

    def _label(self, cache: Path | None, progress: bool) -> Tensor:
        record = {"format": TARGETS_FORMAT, "teacher": self.teacher.name, "views": list(self.views),
                  "names": list(self.dataset.names)}
        done: list[Tensor] = []
        if cache is not None and cache.is_file():
            stored = safe_load(cache)
            if {k: stored.get(k) for k in record} != record:
                raise ValueError(f"{cache} holds another teacher, views or face list: remove it or use another --out")
            done = [stored["targets"]]
        labelled = sum(len(t) for t in done)
        bar = tqdm(total=len(self.dataset), initial=labelled, desc=f"{self.teacher.name} targets", disable=not progress)
        while labelled < len(self.dataset):
            indices = np.arange(labelled, min(labelled + CHUNK, len(self.dataset)))
            with torch.no_grad():
                chunk = torch.stack([self.teacher.embed(self.view_images(indices, v)).cpu() for v in self.views], 1)
            done = [torch.cat([*done, chunk])]
            labelled += len(indices)
            if cache is not None:
                atomic_torch_save({**record, "targets": done[0]}, cache)
            bar.update(len(indices))
        bar.close()
        return done[0] if done else torch.zeros(0, len(self.views), 0)

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
