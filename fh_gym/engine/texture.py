"""Gram-matrix texture distance: re-exported from :mod:`restorers.losses.texture` (the one implementation)."""

from __future__ import annotations

from restorers.losses.texture import GramTexture

__all__ = ["GramTexture"]
