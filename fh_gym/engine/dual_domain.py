"""IPFH's dual-domain patch terms and their set-up (texture features, LR-domain mapping), in one place.

The env's ``ipfh`` reward (Eq. 10) and the IPFH agent's restorer loss (Eq. 16) compute the same terms:
HR-domain MSE + Gram texture of the repaired window against the truth, and the same in the LR domain (the
repaired window brought down to the LR grid against the LR input), over the box only. :class:`DualDomain`
builds the two networks this needs from the config blocks both share, and evaluates the terms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.degradations import downsample_bicubic
from fh_gym.engine.networks import NetworkBuilder, frozen
from fh_gym.restorers.archs.sicnn_arch import CNNR, CNNRFeatureMaps
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.losses.texture import GramTexture

#: the default texture features phi (a fixed Gabor bank; IPFH uses its recognition network's maps)
DEFAULT_TEXTURE_FEATURES = {"type": "GaborTextureFeatures"}


def build_texture_features(networks: NetworkBuilder, block: Mapping[str, Any]) -> nn.Module:
    """The Gram-texture feature network of a ``texture_features`` block.

    ``{type: CNNR, checkpoint: ..., layer: res1}`` gives the identity network's conv maps at ``layer``
    (IPFH takes its texture features from the recognition network); any other block (default
    ``{type: GaborTextureFeatures}``) is built as an ``aux`` network.
    """
    block = dict(block)
    layer = block.pop("layer", None)
    net = networks(block, kind="aux").eval()
    if layer is None:
        return net
    if not isinstance(net, CNNR):
        raise ConfigError(f"texture_features.layer is only for CNNR identity networks, not {block.get('type')}")
    return CNNRFeatureMaps(net, str(layer)).eval()


def dual_domain_patch_losses(restored: Tensor, hr: Tensor, lr: Tensor, mask: Tensor, scale: int,
                             texture: GramTexture, downsample: Callable[[Tensor], Tensor]) -> dict[str, Tensor]:
    """IPFH Eq. 10 / 16 terms per window, (B,) each, over the box only: HR-domain MSE and Gram texture of the
    restored windows vs the HR truth, and the same in the LR domain (``downsample(restored)`` vs ``lr``,
    weighted by the fraction of each LR pixel inside the box). Differentiable in ``restored``.

    Args:
        restored, hr: (B, 3, w, w) windows in [0, 1]; lr: (B, 3, w/s, w/s); mask: (B, 1, w, w) box mask.
    """
    area = mask.sum(dim=(1, 2, 3)).clamp(min=1.0)
    mse = ((restored - hr) ** 2 * mask).sum(dim=(1, 2, 3)) / (3 * area)
    lr_restored = downsample(restored)
    lr_mask = F.avg_pool2d(mask, scale)
    lr_area = lr_mask.sum(dim=(1, 2, 3)).clamp(min=1e-6)
    lr_mse = ((lr_restored - lr) ** 2 * lr_mask).sum(dim=(1, 2, 3)) / (3 * lr_area)
    return {"mse": mse, "texture": texture.distance(restored, hr, mask), "lr_mse": lr_mse,
            "lr_texture": texture.distance(lr_restored, lr, lr_mask)}


class DualDomain:
    """The texture distance and the HR -> LR mapping of IPFH's dual-domain terms (both networks fixed).

    Args:
        networks: Builds the blocks with the engine's scale and device.
        texture_features: Block of the feature network phi of the Gram matrices (None: the Gabor bank;
            ``{type: CNNR, checkpoint: ..., layer: res1}``: the identity network's maps, as the paper).
        lr_domain: ``"resize"`` (antialiased bicubic; IPFH Table X "down-sampling") or a network block such
            as ``{type: IPFHDualDownsampler, checkpoint: ...}`` (Table X "convolution").
        where: The config block named in errors (``"reward"``, ``"restorer_loss"``).

    Attributes:
        texture: The :class:`GramTexture` distance; down: the LR-domain network (None for ``"resize"``).
    """

    def __init__(self, networks: NetworkBuilder, texture_features: Mapping[str, Any] | None = None,
                 lr_domain: str | Mapping[str, Any] = "resize", where: str = "reward") -> None:
        self.scale = networks.scale
        self.down: nn.Module | None = None
        if lr_domain != "resize":
            if not isinstance(lr_domain, Mapping):
                raise ConfigError(f"{where}.lr_domain must be 'resize' or a network block, got {lr_domain!r}")
            self.down = frozen(networks(lr_domain, kind="aux"))
        features = build_texture_features(networks, texture_features or DEFAULT_TEXTURE_FEATURES)
        self.texture = GramTexture(frozen(features))

    def downsample(self, hr: Tensor) -> Tensor:
        """HR images or windows brought down to the LR grid."""
        return downsample_bicubic(hr, self.scale) if self.down is None else self.down(hr)

    def patch_terms(self, restored: Tensor, hr: Tensor, lr: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """:func:`dual_domain_patch_losses` with this set-up: ``mse``, ``texture``, ``lr_mse``, ``lr_texture``."""
        return dual_domain_patch_losses(restored, hr, lr, mask, self.scale, self.texture, self.downsample)
