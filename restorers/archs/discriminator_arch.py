"""OFHNet's face discriminator (Sec. 3.1, Fig. 4): a global real/fake classifier of HR faces."""

from __future__ import annotations

from torch import Tensor, nn

from fh_gym.restorers.archs.common import conv2d
from fh_gym.restorers.registry import register_arch


@register_arch
class FaceDiscriminator(nn.Module):
    """OFHNet discriminator: six [conv, BN, ReLU] layers, then a conv, a dense layer and a sigmoid.

    Global, not patch-based: one real/fake score per image (Fig. 2: it "distinguishes real and generated
    complete HR output globally"). Our choices where the paper is silent: 3x3 stride-2 convs with widths
    ``base_width * (1, 2, 4, 8, 8, 8)`` (capped at ``max_width``), the last conv 3x3 keeping the width,
    an adaptive average pool to ``pool x pool`` before the dense layer (so any input size works; a
    128x128 face is already 2x2 after six stride-2 convs), and the sigmoid folded into the loss
    (:mod:`fh_gym.restorers.losses.adversarial`): ``forward`` returns logits. The paper's "pair of fake face
    image and its real image" is read as the usual real and fake batches (unconditional D).

    Size: 541,697 parameters at the defaults (the paper gives no count).

    Layout: (B, 3, H, W) in [0, 1] -> (B, 1) logits.

    Args:
        base_width: Width of the first conv.
        max_width: Cap on the conv widths.
        pool: Side of the pooled map fed to the dense layer.
    """

    kind = "aux"
    paper = "OFHNet, Sec. 3.1 (discriminative model) and Eq. 3"
    paper_parameters: int | None = None

    def __init__(self, base_width: int = 16, max_width: int = 128, pool: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for mult in (1, 2, 4, 8, 8, 8):
            width = min(max_width, base_width * mult)
            layers += [conv2d(cin, width, 3, stride=2), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            cin = width
        layers += [conv2d(cin, cin, 3), nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Linear(cin * pool * pool, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, faces: Tensor) -> Tensor:
        return self.net(faces)
