"""OFHNet's facial landmark detection network (Sec. 3.1, Fig. 4; the first-level CNN of its ref. [25])."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.registry import register_arch


@register_arch
class OFHNetLandmarkNet(nn.Module):
    """Coordinate-regression landmark CNN used, frozen, by OFHNet's semantic structure loss (Eq. 5).

    OFHNet adopts "the first level CNN of [25]" trained with a Euclidean objective and 68 points, and uses
    only its last layer (the coordinates) in Eq. 5. We follow the classic first-level cascade design
    (Sun et al. 2013, F1): four conv layers with max-pools between them, a hidden FC layer and an FC
    output of ``2 * num_points`` coordinates. Our choices: BN + ReLU instead of absolute-tanh, RGB input
    resized (antialiased bilinear) to ``input_size``, and outputs as normalised (x, y) in [0, 1]
    (``restorers.losses.landmark``: ``(x + 0.5) / W``), initialised at the image centre.
    Any number of points: 5 on our data (synthetic faces, CelebA), 68 as the paper.

    Size: 689,830 parameters at the defaults (5 points); the paper gives no count.

    Layout: (B, 3, H, W) faces in [0, 1], any H, W -> (B, num_points, 2) normalised (x, y).

    Args:
        num_points: Landmarks K (5 on fh-gym data, 68 in the paper).
        input_size: Side the face is resized to (Sun et al.'s F1 uses 39; we use 64).
        widths: Filters of the four conv layers (F1: 20, 40, 60, 80).
        hidden: Width of the hidden FC layer (F1: 120).
    """

    kind = "aux"
    paper = "OFHNet, Sec. 3.1 + Eq. 5 (landmark net = first level CNN of its ref. [25])"
    paper_parameters: int | None = None

    def __init__(self, num_points: int = 5, input_size: int = 64,
                 widths: tuple[int, ...] | list[int] = (20, 40, 60, 80), hidden: int = 120) -> None:
        super().__init__()
        if num_points < 1 or input_size < 16 or len(widths) != 4:
            raise ValueError(f"OFHNetLandmarkNet needs num_points >= 1, input_size >= 16 and 4 widths, got "
                             f"num_points={num_points}, input_size={input_size}, widths={list(widths)}")
        self.num_points, self.input_size = int(num_points), int(input_size)
        layers: list[nn.Module] = []
        cin, size = 3, self.input_size
        for i, (width, kernel) in enumerate(zip(widths, (5, 3, 3, 3))):
            layers += [nn.Conv2d(cin, width, kernel, padding=kernel // 2), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            cin = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * size * size, hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, 2 * self.num_points))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.constant_(self.head[-1].bias, 0.5)  # start at the image centre

    def forward(self, faces: Tensor) -> Tensor:
        if faces.ndim != 4 or faces.shape[1] != 3:
            raise ValueError(f"OFHNetLandmarkNet expects (B, 3, H, W) faces, got {tuple(faces.shape)}")
        if faces.shape[-1] != self.input_size or faces.shape[-2] != self.input_size:
            faces = F.interpolate(faces, size=(self.input_size, self.input_size), mode="bilinear",
                                  align_corners=False, antialias=True)
        return self.head(self.features(faces)).view(-1, self.num_points, 2)
