"""Factorised categorical distributions over the engine's discrete action spaces.

``grid`` actions (IPFH) are one categorical over the patch locations; ``box`` actions (Attention-FH
size-free attention, Sec. 3.2) are four independent categoricals over ``(x, y, ratio, scale)`` given the
policy state, so the log-probability of an action is the sum of its factors' log-probabilities.
Action masks follow sb3-contrib: one boolean per choice, factors concatenated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import Tensor

from fh_gym.restorers.config import ConfigError

#: logit given to masked-out choices (finite, so entropies and gradients stay finite)
MASKED_LOGIT = -1e9


@dataclass(frozen=True)
class ActionSpec:
    """The sizes of the factors of a discrete action space.

    Attributes:
        sizes: Choices per factor (``[n]`` for ``Discrete(n)``, ``nvec`` for ``MultiDiscrete``).
        multi: True for ``MultiDiscrete`` (actions are (B, K) rows), False for ``Discrete`` ((B,)).
    """

    sizes: tuple[int, ...]
    multi: bool

    @classmethod
    def from_space(cls, space: spaces.Space) -> ActionSpec:
        if isinstance(space, spaces.Discrete):
            return cls((int(space.n),), False)
        if isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
            return cls(tuple(int(n) for n in space.nvec), True)
        raise ConfigError(f"the paper agents need a discrete action space (action.type grid or box), got {space}")

    @property
    def total(self) -> int:
        """Length of the concatenated logits / one-hot encoding / action mask."""
        return int(sum(self.sizes))

    def to_numpy(self, actions: Tensor) -> np.ndarray:
        """(B, K) long actions -> what the engine takes ((B,) for ``Discrete``)."""
        arr = actions.detach().cpu().numpy().astype(np.int64)
        return arr if self.multi else arr[:, 0]

    def from_numpy(self, actions: np.ndarray, device: torch.device | str = "cpu") -> Tensor:
        """Engine actions -> (B, K) long tensor."""
        arr = np.asarray(actions, dtype=np.int64)
        return torch.as_tensor(arr.reshape(len(arr), len(self.sizes)), device=device)

    @property
    def positions(self) -> int:
        """Number of distinct positions: the cells of ``Discrete``, the ``(x, y)`` pairs of ``MultiDiscrete``."""
        return self.sizes[0] * self.sizes[1] if self.multi and len(self.sizes) >= 2 else self.sizes[0]

    def position_index(self, actions: Tensor) -> Tensor:
        """(B,) position of each action (B, K) in ``[0, positions)``."""
        if self.multi and len(self.sizes) >= 2:
            return actions[:, 0] * self.sizes[1] + actions[:, 1]
        return actions[:, 0]

    def one_hot(self, actions: Tensor) -> Tensor:
        """(B, K) long -> (B, total) float: the concatenated one-hot codes of the factors."""
        parts = [F.one_hot(actions[:, k], n).to(torch.float32) for k, n in enumerate(self.sizes)]
        return torch.cat(parts, dim=1)


class FactorisedCategorical:
    """Independent categoricals, one per factor, from concatenated logits.

    Args:
        logits: (B, spec.total) unnormalised log-probabilities.
        spec: The factor sizes.
        mask: Optional (B, spec.total) bool, True where a choice is allowed (env action masks).
        position_mask: Optional (B, spec.positions) bool over the *positions* (the grid cell, or the
            ``(x, y)`` pair of a box action): False forbids a position (Attention-FH Sec. 1: "all the
            previously determined regions are also recorded to avoid duplicated selection"). For box
            actions the x and y factors are then one joint categorical ``p(x) p(y)`` renormalised over
            the allowed pairs.
        A factor (or the joint position) whose choices are all masked keeps its logits (never empty).
    """

    def __init__(self, logits: Tensor, spec: ActionSpec, mask: Tensor | None = None,
                 position_mask: Tensor | None = None) -> None:
        if logits.shape[-1] != spec.total:
            raise ValueError(f"expected {spec.total} logits per face, got {logits.shape[-1]}")
        self.spec = spec
        parts = list(logits.split(list(spec.sizes), dim=1))
        if mask is not None:
            masks = mask.to(torch.bool).split(list(spec.sizes), dim=1)
            parts = [_masked(p, m) for p, m in zip(parts, masks, strict=True)]
        self.joint = position_mask is not None and spec.multi and len(spec.sizes) >= 2
        if self.joint:
            lp0, lp1 = F.log_softmax(parts[0], dim=1), F.log_softmax(parts[1], dim=1)
            pair = (lp0[:, :, None] + lp1[:, None, :]).flatten(1)
            parts = [_masked(pair, position_mask.to(torch.bool)), *parts[2:]]
        elif position_mask is not None:
            parts[0] = _masked(parts[0], position_mask.to(torch.bool))
        self.log_probs = [F.log_softmax(p, dim=1) for p in parts]

    def _to_internal(self, actions: Tensor) -> Tensor:
        if not self.joint:
            return actions
        return torch.cat([actions[:, :1] * self.spec.sizes[1] + actions[:, 1:2], actions[:, 2:]], dim=1)

    def _to_actions(self, internal: Tensor) -> Tensor:
        if not self.joint:
            return internal
        n1 = self.spec.sizes[1]
        return torch.cat([internal[:, :1] // n1, internal[:, :1] % n1, internal[:, 1:]], dim=1)

    def probs(self) -> list[Tensor]:
        return [lp.exp() for lp in self.log_probs]

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """(B, K) actions drawn with ``generator`` (seeded per update, so a resumed run draws the same)."""
        draws = [torch.multinomial(p.detach().cpu(), 1, generator=generator).squeeze(1) for p in self.probs()]
        return self._to_actions(torch.stack(draws, dim=1).to(self.log_probs[0].device))

    def sample_numpy(self, rng: np.random.Generator) -> Tensor:
        """(B, K) actions drawn by inverse CDF from a NumPy generator (the actors' ``rng``)."""
        draws = []
        for p in self.probs():
            cdf = p.detach().double().cpu().cumsum(dim=1).numpy()
            u = rng.random((len(cdf), 1)) * cdf[:, -1:]
            draws.append(np.minimum((cdf < u).sum(axis=1), cdf.shape[1] - 1))
        return self._to_actions(torch.as_tensor(np.stack(draws, axis=1), device=self.log_probs[0].device))

    def mode(self) -> Tensor:
        """(B, K) most probable choice per factor (the paper's deterministic test-time policy)."""
        return self._to_actions(torch.stack([lp.argmax(dim=1) for lp in self.log_probs], dim=1))

    def log_prob(self, actions: Tensor) -> Tensor:
        """(B,) sum over factors of the log-probability of ``actions`` (B, K)."""
        internal = self._to_internal(actions)
        picked = [lp.gather(1, internal[:, k:k + 1]).squeeze(1) for k, lp in enumerate(self.log_probs)]
        return torch.stack(picked, dim=1).sum(dim=1)

    def entropy(self) -> Tensor:
        """(B,) sum of the factors' entropies."""
        return torch.stack([-(lp.exp() * lp).sum(dim=1) for lp in self.log_probs], dim=1).sum(dim=1)


def _masked(logits: Tensor, allowed: Tensor) -> Tensor:
    """Masked-out choices get ``MASKED_LOGIT``; a row with nothing allowed is left as it is."""
    keep = allowed | ~allowed.any(dim=1, keepdim=True)
    return logits.masked_fill(~keep, MASKED_LOGIT)
