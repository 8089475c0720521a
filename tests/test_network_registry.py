"""Every registered network builds from a YAML block and maps inputs to the documented shapes at x4/x8/x16."""

from __future__ import annotations

import pytest
import torch
import yaml

from fh_gym.restorers.base import RepairContext
from fh_gym.restorers.build import build_network
from fh_gym.restorers.registry import ARCHS, list_archs

SIZE = 128  # HR side
BATCH = 2


def patch_context(scale: int, window: int) -> RepairContext:
    torch.manual_seed(0)
    mask = torch.zeros(BATCH, 1, window, window)
    mask[..., 8:window - 8, 8:window - 8] = 1
    coords = torch.rand(BATCH, 2, window, window) * 2 - 1
    return RepairContext(current=torch.rand(BATCH, 3, window, window), start=torch.rand(BATCH, 3, window, window),
                         lr=torch.rand(BATCH, 3, window // scale, window // scale), mask=mask, coords=coords,
                         image=torch.rand(BATCH, 3, SIZE, SIZE), start_image=torch.rand(BATCH, 3, SIZE, SIZE),
                         scale=scale)


def hr() -> torch.Tensor:
    return torch.rand(BATCH, 3, SIZE, SIZE)


#: auxiliary networks: (YAML extra keys, input maker, expected output shape)
AUX = {
    "AngularMarginHead": ("in_features: 32, num_classes: 7",
                          lambda s: (torch.randn(BATCH, 32), torch.tensor([0, 6])), (BATCH, 7)),
    "BoxPoolingSelector": ("", lambda s: (torch.rand(BATCH, 12, SIZE, SIZE),
                                          torch.tensor([[0, 0, 32, 32], [16, 16, 32, 32], [40, 10, 50, 30]])),
                           (BATCH, 3, 1)),
    "CNNR": ("", lambda s: hr(), (BATCH, 256)),
    "FaceDiscriminator": ("", lambda s: hr(), (BATCH, 1)),
    "GaborTextureFeatures": ("", lambda s: hr(), (BATCH, 16, SIZE, SIZE)),
    "IPFHDualDownsampler": ("scale: {s}", lambda s: hr(), lambda s: (BATCH, 3, SIZE // s, SIZE // s)),
    "OFHNetInpainter": ("", lambda s: torch.rand(BATCH, 3, SIZE // s, SIZE // s),
                        lambda s: (BATCH, 3, SIZE // s, SIZE // s)),
    "OFHNetLandmarkNet": ("num_points: 5", lambda s: hr(), (BATCH, 5, 2)),
    "SRGANDiscriminator": ("", lambda s: hr(), (BATCH, 1)),
    "SqueezeNetResidualRecognizer": ("num_classes: 11, factor: {s}", lambda s: hr(), (BATCH, 11)),
}
SCALES = (4, 8, 16)


def first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):
        return next(iter(out.values()))
    return out[0]


def test_every_registered_network_is_covered_here():
    uncovered = set(list_archs("aux")) - set(AUX)
    assert not uncovered, f"add the new auxiliary networks to AUX: {sorted(uncovered)}"


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", list_archs())
def test_builds_from_yaml_and_has_the_expected_output_shape(name, scale):
    kind = ARCHS.get(name).kind
    extra = AUX[name][0].format(s=scale) if kind == "aux" else f"scale: {scale}"
    block = yaml.safe_load(f"{{type: {name}{', ' + extra if extra else ''}}}")
    net = build_network(block).eval()
    with torch.no_grad():
        if kind == "patch":
            window = 64 if scale == 16 else 48
            out, expected = net(patch_context(scale, window)), (BATCH, 3, window, window)
        elif kind == "generator":
            out, expected = net(torch.rand(BATCH, 3, SIZE // scale, SIZE // scale)), (BATCH, 3, SIZE, SIZE)
        else:
            _, make_input, shape = AUX[name]
            inputs = make_input(scale)
            out = net(*inputs) if isinstance(inputs, tuple) else net(inputs)
            expected = shape(scale) if callable(shape) else shape
    assert tuple(first_tensor(out).shape) == expected
    assert torch.isfinite(first_tensor(out)).all()
