"""Gram-matrix texture distance: re-exported from :mod:`fh_gym.restorers.losses.texture` (the one implementation)."""

from __future__ import annotations

from fh_gym.restorers.losses.texture import GramTexture

__all__ = ["GramTexture"]
