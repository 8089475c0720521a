"""The C-SRIP, OFHNet and SRGAN networks: registration, documented sizes, shapes at x4/x8/x16, checkpoints."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fh_gym import restorers
from fh_gym.restorers import build_network, load_network, save_network
from fh_gym.restorers.base import count_parameters
from fh_gym.restorers.config import ConfigError

#: Parameter counts at the default kwargs (x8 where a scale applies); the class docstrings quote them.
EXPECTED_PARAMS = {
    "CSRIPGenerator": 336_201,
    "SqueezeNetResidualRecognizer": 1_786_862,  # with num_classes=1000, width=1 (SqueezeNet's setting)
    "OFHNetInpainter": 87_140,
    "OFHNetUpsampler": 167_155,
    "OFHNetGenerator": 254_295,
    "OFHNetLandmarkNet": 689_830,
    "FaceDiscriminator": 541_697,
    "SRGANGenerator": 210_627,
    "SRGANDiscriminator": 1_474_609,
}
GENERATORS = ["CSRIPGenerator", "OFHNetUpsampler", "OFHNetGenerator", "SRGANGenerator"]
TINY = {
    "CSRIPGenerator": {"base_width": 16, "num_blocks": 1, "tail_width": 8, "side_width": 8},
    "OFHNetUpsampler": {"base_width": 16},
    "OFHNetGenerator": {"base_width": 16, "encoder_widths": [8, 8, 16, 16], "decoder_widths": [8, 8]},
    "SRGANGenerator": {"num_features": 8, "num_blocks": 1},
}


def _kwargs(name: str) -> dict:
    return {"num_classes": 1000} if name == "SqueezeNetResidualRecognizer" else {}


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_registered_documented_and_sized_as_documented(name):
    cls = restorers.get_arch(name)
    assert cls.kind == ("generator" if name in GENERATORS else "aux")
    assert isinstance(cls.paper, str) and cls.paper
    assert hasattr(cls, "paper_parameters")
    assert "Layout" in cls.__doc__ and "Args:" in cls.__doc__
    count = count_parameters(build_network({"type": name, **_kwargs(name)}))
    assert count == EXPECTED_PARAMS[name]
    assert f"{count:,}" in " ".join(cls.__doc__.split()), f"{name} docstring should quote {count:,}"


@pytest.mark.parametrize("scale", [4, 8, 16])
@pytest.mark.parametrize("name", GENERATORS)
def test_generator_shapes(name, scale):
    net = build_network({"type": name, "scale": scale, **TINY[name]}).eval()
    lr = torch.rand(2, 3, 128 // scale, 128 // scale)
    with torch.no_grad():
        hr = net(lr)
    assert hr.shape == (2, 3, 128, 128)
    assert float(hr.min()) >= 0.0 and float(hr.max()) <= 1.0


@pytest.mark.parametrize("scale", [4, 8, 16])
def test_csrip_side_outputs(scale):
    net = build_network({"type": "CSRIPGenerator", "scale": scale, **TINY["CSRIPGenerator"]}).eval()
    lr = torch.rand(2, 3, 128 // scale, 128 // scale)
    with torch.no_grad():
        outputs = net.forward_all(lr)
        final = net(lr)
    expected = [f"x{2 ** i}" for i in range(1, scale.bit_length())]
    assert list(outputs) == expected == net.output_keys
    for key, out in outputs.items():
        side = 128 // scale * int(key[1:])
        assert out.shape == (2, 3, side, side)
    assert torch.equal(outputs[f"x{scale}"], final)


@pytest.mark.parametrize("name", ["CSRIPGenerator", "SRGANGenerator", "OFHNetUpsampler"])
def test_untrained_image_skip_generators_start_at_bicubic(name):
    net = build_network({"type": name, **TINY[name]}).eval()
    lr = torch.rand(2, 3, 16, 16)
    bicubic = F.interpolate(lr, scale_factor=8, mode="bicubic", align_corners=False).clamp(0, 1)
    with torch.no_grad():
        assert torch.allclose(net(lr), bicubic, atol=1e-6)
        if name == "CSRIPGenerator":
            side = net.forward_all(lr)["x2"]
            assert torch.allclose(side, F.interpolate(lr, scale_factor=2, mode="bicubic").clamp(0, 1), atol=1e-6)


def test_paper_literal_variants_build_and_run():
    lr = torch.rand(1, 3, 16, 16)
    for block in ({"type": "CSRIPGenerator", **TINY["CSRIPGenerator"], "image_skip": False, "norm": False},
                  {"type": "SRGANGenerator", **TINY["SRGANGenerator"], "image_skip": False, "norm": False},
                  {"type": "OFHNetUpsampler", "base_width": 16, "image_skip": False}):
        out = build_network(block).eval()(lr)
        assert out.shape == (1, 3, 128, 128) and torch.isfinite(out).all()


def test_csrip_width_must_halve_evenly():
    with pytest.raises(ValueError, match="divisible by 16"):
        build_network({"type": "CSRIPGenerator", "scale": 16, "base_width": 24})


@pytest.mark.parametrize(("factor", "size"), [(2, 16), (2, 32), (4, 64), (8, 128), (16, 128)])
def test_residual_recognizer_shapes(factor, size):
    net = build_network({"type": "SqueezeNetResidualRecognizer", "num_classes": 7, "input_size": size,
                         "factor": factor, "width": 0.125}).eval()
    faces = torch.rand(2, 3, size, size)
    assert net(faces).shape == (2, 7)
    assert net.features(faces).shape == (2, net.feature_dim)
    assert net.sigma == pytest.approx((factor - 1) / 3)
    # Only the high-pass residual reaches the body: a brightness change leaves the logits unchanged.
    assert torch.allclose(net(faces), net(faces + 0.1), atol=1e-4)
    with pytest.raises(ValueError, match=f"input_size={size}"):
        net(torch.rand(1, 3, size * 2, size * 2))


def test_ofhnet_inpainter_replaces_only_the_masked_pixels():
    net = build_network({"type": "OFHNetInpainter"}).eval()
    lr = torch.rand(2, 3, 16, 16)
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:10, 3:9] = 1.0
    with torch.no_grad():
        out = net(lr, mask, return_all=True)
    keep = mask.expand_as(lr) < 0.5
    assert torch.equal(out["completed"][keep], lr[keep])
    assert torch.equal(out["completed"][~keep], out["raw"][~keep])
    assert out["mask_logits"].shape == (2, 1, 16, 16)
    no_mask = build_network({"type": "OFHNetInpainter", "predict_mask": False}).eval()
    assert no_mask(lr).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.rand(1, 3, 10, 10))


@pytest.mark.parametrize("points", [5, 68])
def test_landmark_net_shapes(points):
    net = build_network({"type": "OFHNetLandmarkNet", "num_points": points}).eval()
    for size in (64, 128):
        out = net(torch.rand(3, 3, size, size))
        assert out.shape == (3, points, 2)
    assert torch.allclose(out, torch.full_like(out, 0.5))  # untrained: the image centre


@pytest.mark.parametrize("name", ["FaceDiscriminator", "SRGANDiscriminator"])
@pytest.mark.parametrize("size", [64, 128])
def test_discriminator_shapes(name, size):
    net = build_network({"type": name}).eval()
    assert net(torch.rand(2, 3, size, size)).shape == (2, 1)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_checkpoint_round_trip(name, tmp_path):
    block = {"type": name, **TINY.get(name, {}), **({"num_classes": 5, "input_size": 32, "width": 0.125}
                                                    if name == "SqueezeNetResidualRecognizer" else {})}
    net = build_network(block)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = save_network(net, tmp_path / f"{name}.pt")
    loaded = load_network(path)
    assert type(loaded) is type(net)
    for (k, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    again = build_network({**block, "checkpoint": str(path)})
    assert torch.equal(next(again.parameters()), next(net.parameters()))
    if "scale" in block or name in GENERATORS:
        with pytest.raises(restorers.CheckpointError, match="scale"):
            build_network({"type": name, "scale": 4, "checkpoint": str(path)})


def test_unknown_kwarg_is_a_clear_error():
    with pytest.raises(ConfigError, match="base_width"):
        build_network({"type": "CSRIPGenerator", "widht": 3})
