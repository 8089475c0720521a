"""SICNN CNN_H / CNN_R, the A-softmax head, the IPFH coarse hallucinator and the identity losses."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F

from fh_gym.restorers import build_network, get_arch, load_network, save_network
from fh_gym.restorers.archs.sicnn_arch import CNNR, CNNR_LAYERS, CNNRFeatureMaps
from fh_gym.restorers.base import count_parameters
from fh_gym.restorers.losses import identity as id_losses

MY_NETWORKS = ("SICNNGenerator", "IPFHCoarseHallucinator", "CNNR", "AngularMarginHead")
TINY = {
    "SICNNGenerator": {"channels": 4, "growth_rate": 4, "dense_layers": 1, "deconv_channels": 4},
    "IPFHCoarseHallucinator": {"width": 2, "max_width": 8},
}


def perturb_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=gen))
    return model


# ----------------------------------------------------------------------------- generators


@pytest.mark.parametrize("name", ["SICNNGenerator", "IPFHCoarseHallucinator"])
@pytest.mark.parametrize("scale", [4, 8, 16])
def test_generator_shapes_and_untrained_is_bicubic(name, scale):
    net = build_network({"type": name, "scale": scale, **TINY[name]}, kind="generator")
    lr = torch.rand(2, 3, 128 // scale, 128 // scale)
    with torch.no_grad():
        out = net(lr)
    assert out.shape == (2, 3, 128, 128)
    torch.testing.assert_close(out, F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False))
    with torch.no_grad():
        assert perturb_(net)(lr).shape == (2, 3, 128, 128)


def test_sicnn_stages_follow_the_octaves_and_paper_variant_is_direct():
    for scale, stages in ((4, 2), (8, 3), (16, 4)):
        assert len(build_network({"type": "SICNNGenerator", "scale": scale}).stages) == stages
    direct = build_network({"type": "SICNNGenerator", "residual": False, **TINY["SICNNGenerator"]})
    assert direct(torch.rand(1, 3, 12, 14)).shape == (1, 3, 96, 112)  # the paper's 12x14 -> 96x112


def test_hourglass_side_outputs_and_size_check():
    net = perturb_(build_network({"type": "IPFHCoarseHallucinator", **TINY["IPFHCoarseHallucinator"]}))
    outs = net.forward_all(torch.rand(1, 3, 16, 16))
    assert set(outs) == {"stack1", "stack2", "out"}
    assert torch.equal(outs["out"], outs["stack2"])
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.rand(1, 3, 10, 10))


# ----------------------------------------------------------------------------- CNN_R


def test_cnnr_reproduces_table1_sizes_at_the_paper_input():
    net = CNNR(width=2, feature_dim=8, input_height=112, input_width=96)
    maps = net.feature_maps(torch.rand(1, 3, 112, 96))
    sizes = {name: tuple(m.shape[-2:]) for name, m in maps.items()}
    # Table 1 (W x H): Conv1b 92x108, pool1 46x54, Conv2 44x52, pool2 22x26, Conv3 20x24, pool3 10x12,
    # Conv4 8x10, pool4 4x5.
    assert sizes == {"conv1": (108, 92), "res1": (54, 46), "conv2": (52, 44), "res2": (26, 22),
                     "conv3": (24, 20), "res3": (12, 10), "conv4": (10, 8), "res4": (5, 4)}
    assert net.fc.in_features == 8 * 2 * 5 * 4


def test_cnnr_at_128_features_maps_and_size_errors():
    net = CNNR(width=2, feature_dim=8, blocks=[1, 1, 1, 1])
    x = torch.rand(3, 3, 128, 128)
    assert net(x).shape == (3, 8)
    assert net.fc.in_features == 16 * 6 * 6
    assert list(net.feature_maps(x)) == list(CNNR_LAYERS)
    assert list(net.feature_maps(x, upto="res1")) == ["conv1", "res1"]
    with pytest.raises(ValueError, match="built for 128x128 faces, got 96x96"):
        net(torch.rand(1, 3, 96, 96))
    resizing = CNNR(width=2, feature_dim=8, blocks=[1, 1, 1, 1], resize_input=True).eval()
    assert resizing(torch.rand(1, 3, 96, 96)).shape == (1, 8)
    with pytest.raises(ValueError, match="too small"):
        CNNR(input_height=20, input_width=20)


def test_cnnr_texture_view_accepts_tiny_windows():
    net = CNNR(width=2, feature_dim=8, blocks=[1, 1, 1, 1])
    for layer in ("conv1", "res1", "conv2"):
        side = CNNR.min_input_side(layer)
        assert CNNR.map_side(side, layer) == 1 and CNNR.map_side(side - 1, layer) == 0
    view = CNNRFeatureMaps(net, "res1")
    assert view(torch.rand(2, 3, 4, 4)).shape == (2, 2, 1, 1)  # a 32-pixel patch at x8, padded up
    assert view(torch.rand(2, 3, 48, 48)).shape == (2, 2, 22, 22)
    with pytest.raises(ValueError, match="unknown CNNR layer"):
        CNNRFeatureMaps(net, "fc7")


def test_parameter_counts_are_documented():
    counts = {
        "SICNNGenerator": count_parameters(build_network({"type": "SICNNGenerator"})),
        "IPFHCoarseHallucinator": count_parameters(build_network({"type": "IPFHCoarseHallucinator"})),
        "CNNR": count_parameters(CNNR()),
    }
    assert counts == {"SICNNGenerator": 181_283, "IPFHCoarseHallucinator": 1_422_250, "CNNR": 2_578_416}
    paper = {"SICNNGenerator": build_network({"type": "SICNNGenerator", "channels": 64, "growth_rate": 32,
                                              "dense_layers": 6, "deconv_channels": 128}),
             "CNNR": CNNR(width=64, feature_dim=512, feature_bn=False), "IPFHCoarseHallucinator": build_network(
                 {"type": "IPFHCoarseHallucinator", "width": 128})}
    paper_counts = {name: count_parameters(net) for name, net in paper.items()}
    assert paper_counts == {"SICNNGenerator": 2_349_827, "CNNR": 31_756_736, "IPFHCoarseHallucinator": 6_851_462}
    for name in counts:
        doc = inspect.getdoc(get_arch(name))
        assert f"{counts[name]:,}" in doc and f"{paper_counts[name]:,}" in doc, f"{name} docstring counts are stale"


@pytest.mark.parametrize("name", MY_NETWORKS)
def test_paper_attributes_and_plain_kwargs(name):
    cls = get_arch(name)
    assert isinstance(cls.paper, str) and cls.paper
    assert cls.paper_parameters is None or isinstance(cls.paper_parameters, int)
    for param in inspect.signature(cls).parameters.values():
        assert isinstance(param.default, (int, float, bool, str, tuple)), f"{name}.{param.name}"


@pytest.mark.parametrize("name", MY_NETWORKS)
def test_checkpoint_round_trip(name, tmp_path):
    small = {"SICNNGenerator": TINY["SICNNGenerator"], "IPFHCoarseHallucinator": TINY["IPFHCoarseHallucinator"],
             "CNNR": {"width": 2, "feature_dim": 8, "blocks": [1, 1, 1, 1], "num_classes": 5, "margin": 1.5},
             "AngularMarginHead": {"in_features": 8, "num_classes": 5}}[name]
    net = perturb_(build_network({"type": name, **small}))
    path = save_network(net, tmp_path / "net.pt", meta={"class_names": list("abcde")})
    loaded = load_network(path, expected={"type": name, **small})
    assert loaded.checkpoint_meta["class_names"] == list("abcde")
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    if name == "CNNR":
        assert loaded.head.margin == 1.5 and loaded.head.num_classes == 5


# ----------------------------------------------------------------------------- losses


def hand_a_softmax(norm: float, cosines: list[float], label: int, margin: float, lam: float = 0.0) -> float:
    """Cross-entropy of SphereFace's logits computed with the math module only."""
    theta = math.acos(cosines[label])
    k = min(math.floor(margin * theta / math.pi), math.ceil(margin) - 1)
    psi = (-1) ** k * math.cos(margin * theta) - 2 * k
    logits = [norm * c for c in cosines]
    logits[label] = norm * (lam * cosines[label] + psi) / (1 + lam)
    return -logits[label] + math.log(sum(math.exp(v) for v in logits))


@pytest.mark.parametrize("margin", [1.0, 1.5, 2.0, 4.0])
@pytest.mark.parametrize("lam", [0.0, 5.0])
def test_a_softmax_matches_the_hand_computation(margin, lam):
    features = torch.tensor([[3.0, 4.0], [-1.0, 0.5]], dtype=torch.float64)
    weight = torch.tensor([[2.0, 0.0], [0.0, 1.0], [-0.6, -0.8]], dtype=torch.float64)  # normalised inside
    labels = torch.tensor([0, 2])
    expected = []
    for row, label in zip(features.tolist(), labels.tolist()):
        norm = math.hypot(*row)
        units = [[1.0, 0.0], [0.0, 1.0], [-0.6, -0.8]]
        cosines = [(row[0] * u[0] + row[1] * u[1]) / norm for u in units]
        expected.append(hand_a_softmax(norm, cosines, label, margin, lam))
    losses = id_losses.a_softmax_loss(features, weight, labels, margin, lam, reduction="none")
    torch.testing.assert_close(losses, torch.tensor(expected, dtype=torch.float64))


def test_a_softmax_worked_example_values():
    # x = (3, 4), classes e1 and e2, label 0: cos = 0.6 (theta = 53.13 deg), ||x|| = 5.
    features, weight, labels = torch.tensor([[3.0, 4.0]]), torch.eye(2), torch.tensor([0])
    # m = 4: 4 theta = 212.5 deg -> k = 1, psi = -cos(4 theta) - 2 = -T4(0.6) - 2 = 0.8432 - 2 = -1.1568.
    logits = id_losses.a_softmax_logits(features, weight, labels, 4.0)
    torch.testing.assert_close(logits, torch.tensor([[-5.784, 4.0]]))
    torch.testing.assert_close(id_losses.a_softmax_loss(features, weight, labels, 4.0),
                               torch.tensor(math.log1p(math.exp(9.784))))
    # m = 1.5: 1.5 theta = 79.7 deg -> k = 0, psi = cos(1.5 theta) = 0.17888.
    torch.testing.assert_close(id_losses.a_softmax_logits(features, weight, labels, 1.5)[0, 0],
                               torch.tensor(5 * 0.178885), atol=1e-4, rtol=0)


@pytest.mark.parametrize("margin", [1.5, 2.5, 4.0])
def test_psi_is_continuous_and_decreasing(margin):
    theta = torch.linspace(0, math.pi, 20001, dtype=torch.float64)
    psi = id_losses.angular_margin_psi(torch.cos(theta), margin)
    assert psi[0] == pytest.approx(1.0, abs=1e-5)  # acos is clamped 1e-6 inside [-1, 1]
    assert bool((psi[1:] <= psi[:-1] + 1e-9).all())
    assert float((psi[1:] - psi[:-1]).abs().max()) < 1e-2  # no jump at the breakpoints k pi / m
    torch.testing.assert_close(id_losses.angular_margin_psi(torch.cos(theta), 1.0), torch.cos(theta))


def test_a_softmax_gradients_are_finite_at_the_poles():
    features = torch.tensor([[1.0, 0.0], [0.0, -2.0]], requires_grad=True)
    for margin in (1.5, 4.0):
        loss = id_losses.a_softmax_loss(features, torch.eye(2), torch.tensor([0, 1]), margin)
        (grad,) = torch.autograd.grad(loss, features)
        assert torch.isfinite(grad).all()


def test_head_annealing_schedule_and_iteration_counter():
    head = get_arch("AngularMarginHead")(in_features=2, num_classes=2)
    assert head.current_lambda() == 1000.0
    x, y = torch.tensor([[3.0, 4.0]]), torch.tensor([0])
    head.train()
    for _ in range(10):
        head.loss(x, y)
    assert int(head.iteration) == 10
    assert head.current_lambda() == pytest.approx(1000 / (1 + 0.12 * 10))
    head.eval()
    torch.testing.assert_close(head.loss(x, y), id_losses.a_softmax_loss(x, head.weight, y, 4.0, 0.0))
    assert int(head.iteration) == 10


def test_super_identity_loss_values():
    a = torch.tensor([[1.0, 0.0], [3.0, 4.0], [0.0, 2.0]])
    b = torch.tensor([[5.0, 0.0], [-3.0, -4.0], [1.0, 0.0]])
    torch.testing.assert_close(id_losses.super_identity_loss(a, b, reduction="none"), torch.tensor([0.0, 4.0, 2.0]))
    torch.testing.assert_close(id_losses.super_identity_loss(a, b), torch.tensor(2.0))
    cos = id_losses.cosine_similarity(a, b)
    torch.testing.assert_close(id_losses.super_identity_loss(a, b, reduction="none"), 2 - 2 * cos)


def test_feature_distance_values_and_shape_errors():
    a, b = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    torch.testing.assert_close(id_losses.feature_distance(a, b), torch.tensor([5.0, 0.0]))
    with pytest.raises(ValueError, match="same shape"):
        id_losses.super_identity_loss(a, torch.zeros(2, 3))
