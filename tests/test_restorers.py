"""Contract tests of every registered patch restorer, the Attention-FH extractor and the IPFH downsampler."""

from __future__ import annotations

import functools
import inspect

import pytest
import torch
import torch.nn.functional as F

from fh_gym import restorers
from fh_gym.restorers import CheckpointError, RepairContext, build_network, build_restorer, load_network, save_network
from fh_gym.restorers.archs.attention_fh_arch import AttentionFHFeatureExtractor
from fh_gym.restorers.archs.common import LRStackEmbedding, SubPixelDeconv, box_bounds, deconv_geometry, stage_widths
from fh_gym.restorers.base import count_parameters
from fh_gym.restorers.config import ConfigError

PATCH_RESTORERS = restorers.list_archs("patch")

#: Exact parameter counts at the default kwargs (x8). The class docstrings quote the same numbers.
EXPECTED_PARAMS = {
    "AttentionFHEnhancer": 156_914,
    "EDSRLite": 128_319,
    "ESPCN": 109_952,
    "FSRCNN": 82_619,
    "GLN": 272_365,
    "IPFHLocalRestorer": 5_027,
    "UNet": 26_264,
    "VDSR": 11_819,
}

SHAPE_CASES = [(scale, window) for scale in (4, 8, 16) for window in (32, 48, 64)] + [(8, 80)]


def make_context(batch: int = 2, window: int = 48, scale: int = 8, image_size: int = 128,
                 seed: int = 0) -> RepairContext:
    """A random but consistent repair: LR-aligned window inside the image, box inside the window."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, image_size, image_size, generator=gen)
    start_image = torch.rand(batch, 3, image_size, image_size, generator=gen)
    cells = (image_size - window) // scale
    tops = torch.randint(0, cells + 1, (batch, 2), generator=gen) * scale
    current = torch.stack([image[i, :, y:y + window, x:x + window] for i, (y, x) in enumerate(tops.tolist())])
    start = torch.stack([start_image[i, :, y:y + window, x:x + window] for i, (y, x) in enumerate(tops.tolist())])
    mask = torch.zeros(batch, 1, window, window)
    for i in range(batch):
        y0, x0 = torch.randint(0, window // 4, (2,), generator=gen).tolist()
        side = int(torch.randint(window // 4, window // 2 + 1, (1,), generator=gen))
        mask[i, :, y0:y0 + side, x0:x0 + side] = 1.0
    pixels = torch.arange(window, dtype=torch.float32)
    coords = torch.stack([torch.stack(torch.meshgrid((y + pixels + 0.5) / image_size * 2 - 1,
                                                     (x + pixels + 0.5) / image_size * 2 - 1, indexing="ij"))
                          for y, x in tops.tolist()])
    return RepairContext(current=current, start=start, lr=F.avg_pool2d(current, scale), mask=mask,
                         coords=coords, image=image, start_image=start_image, scale=scale)


@functools.cache
def untrained(name: str, scale: int) -> torch.nn.Module:
    """Cached untrained restorer (tests that change weights build their own)."""
    return build_restorer({"type": name, "scale": scale})


def perturbed(name: str, seed: int = 0) -> torch.nn.Module:
    """A restorer whose weights are all non-trivial (zero-initialised layers included)."""
    model = build_restorer({"type": name, "scale": 8})
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.02 * torch.randn(param.shape, generator=gen))
    return model


# ----------------------------------------------------------------------------- every patch restorer


def test_the_paper_restorers_are_registered():
    assert set(EXPECTED_PARAMS) <= set(PATCH_RESTORERS)
    assert restorers.get_arch("IPFHDualDownsampler").kind == "aux"


@pytest.mark.parametrize("name", PATCH_RESTORERS)
@pytest.mark.parametrize(("scale", "window"), SHAPE_CASES)
def test_output_is_the_window_and_untrained_is_identity(name, scale, window):
    ctx = make_context(batch=2, window=window, scale=scale)
    with torch.no_grad():
        out = untrained(name, scale)(ctx)
    assert out.shape == ctx.current.shape
    assert torch.equal(out, ctx.current), "the last layer of the residual branch must be zero-initialised"


@pytest.mark.parametrize("name", PATCH_RESTORERS)
@pytest.mark.parametrize("image_size", [96, 120])
def test_any_image_size(name, image_size):
    ctx = make_context(batch=2, window=48, scale=8, image_size=image_size)
    with torch.no_grad():
        assert perturbed(name)(ctx).shape == ctx.current.shape


@pytest.mark.parametrize("name", PATCH_RESTORERS)
def test_gradients_reach_every_layer_after_one_step(name):
    torch.manual_seed(0)
    model = build_restorer({"type": name, "scale": 8})
    ctx = make_context(batch=2)
    target = (ctx.current + 0.2 * (ctx.start - ctx.current)).detach()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):  # zero-initialised last layer: earlier layers get gradients from the 2nd pass on
        optimiser.zero_grad()
        F.mse_loss(model(ctx), target).backward()
        optimiser.step()
    first_name, first = next(iter(model.named_parameters()))
    assert first.grad is not None and first.grad.abs().sum() > 0, f"no gradient reaches {first_name}"
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, f"parameters without gradient: {dead}"


@pytest.mark.parametrize("name", PATCH_RESTORERS)
def test_checkpoint_round_trip(name, tmp_path):
    model = perturbed(name)
    block = dict(model.arch_config)
    path = save_network(model, tmp_path / f"{name}.pt")
    ctx = make_context(batch=2, seed=1)
    with torch.no_grad():
        expected = model(ctx)
        assert not torch.equal(expected, ctx.current)
        assert torch.equal(load_network(path, expected=block, kind="patch")(ctx), expected)
        assert torch.equal(build_restorer({**block, "checkpoint": str(path)})(ctx), expected)


@pytest.mark.parametrize("name", PATCH_RESTORERS)
def test_checkpoint_of_another_architecture_or_kwargs_is_refused(name, tmp_path):
    path = save_network(untrained(name, 8), tmp_path / "net.pt")
    other = next(n for n in PATCH_RESTORERS if n != name)
    with pytest.raises(CheckpointError, match=f"(?s)holds .*'{name}'.*does not match.*'{other}'.*type"):
        load_network(path, expected={"type": other}, kind="patch")
    with pytest.raises(CheckpointError, match=r"differs in \['scale'\]"):
        load_network(path, expected={"type": name, "scale": 4}, kind="patch")


@pytest.mark.parametrize("name", PATCH_RESTORERS)
def test_unknown_kwarg_lists_the_valid_keys(name):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['widht'\].*valid keys: .*scale"):
        build_restorer({"type": name, "widht": 3})


@pytest.mark.parametrize("name", PATCH_RESTORERS)
def test_wrong_scale_is_refused(name):
    with pytest.raises(ValueError, match="built for x8"):
        untrained(name, 8)(make_context(window=32, scale=4))


@pytest.mark.parametrize("name", PATCH_RESTORERS)
def test_constructor_kwargs_are_plain_yaml_types(name):
    for param in inspect.signature(restorers.get_arch(name)).parameters.values():
        assert type(param.default) in (int, float, bool, str), f"{name}.{param.name} = {param.default!r}"


@pytest.mark.parametrize("name", PATCH_RESTORERS)
def test_parameter_count_is_exact_and_documented(name):
    if name not in EXPECTED_PARAMS:
        pytest.skip(f"{name} is not one of the paper restorers this file pins")
    count = count_parameters(untrained(name, 8))
    assert count == EXPECTED_PARAMS[name]
    assert f"{count:,}" in inspect.getdoc(restorers.get_arch(name)), "docstring parameter count is stale"


# ----------------------------------------------------------------------------- specific networks


def test_attention_fh_feature_extractor_sizes():
    for size, flat in ((128, 2048), (96, 1152)):
        extractor = AttentionFHFeatureExtractor(input_size=size)
        assert extractor.fc.in_features == flat
        assert extractor(torch.rand(3, 3, size, size)).shape == (3, 64)
    assert count_parameters(AttentionFHFeatureExtractor()) == 138_136
    with pytest.raises(ValueError, match="expects"):
        AttentionFHFeatureExtractor(input_size=96)(torch.rand(1, 3, 128, 128))


def test_attention_fh_uses_the_agent_state_when_configured():
    model = build_restorer({"type": "AttentionFHEnhancer", "state_dim": 512})
    ctx = make_context(batch=2)
    with pytest.raises(ValueError, match="global_state"):
        model(ctx)
    ctx.global_state = torch.rand(2, 512)
    assert model(ctx).shape == ctx.current.shape


def test_ipfh_holistic_image_features_variant():
    model = build_restorer({"type": "IPFHLocalRestorer", "align_image_features": False, "width": 4})
    ctx = make_context(batch=2, window=64)
    assert torch.equal(model(ctx), ctx.current)


@pytest.mark.parametrize("scale", [4, 8, 16])
def test_dual_downsampler_starts_as_average_pooling(scale):
    net = build_network({"type": "IPFHDualDownsampler", "scale": scale}, kind="aux")
    hr = torch.rand(2, 3, 32, 32)
    lr = net(hr)
    assert lr.shape == (2, 3, 32 // scale, 32 // scale)
    torch.testing.assert_close(lr, F.avg_pool2d(hr, scale))
    assert net(torch.rand(1, 3, 128, 96)).shape == (1, 3, 128 // scale, 96 // scale)
    with pytest.raises(ValueError, match="multiples"):
        net(torch.rand(1, 3, 30, 32))


def test_dual_downsampler_sizes_and_kind():
    assert count_parameters(build_network({"type": "IPFHDualDownsampler"})) == 9_763
    assert count_parameters(build_network({"type": "IPFHDualDownsampler", "width": 64})) == 149_635
    with pytest.raises(ConfigError, match="not a patch network"):
        build_restorer({"type": "IPFHDualDownsampler"})


# ----------------------------------------------------------------------------- shared blocks


@pytest.mark.parametrize(("kernel", "stride"), [(16, 8), (32, 16), (9, 4), (9, 2), (3, 2), (2, 2)])
def test_subpixel_deconv_equals_transposed_convolution(kernel, stride):
    layer = SubPixelDeconv(5, 3, kernel, stride)
    x = torch.randn(2, 5, 4, 6)
    padding, output_padding = deconv_geometry(kernel, stride)
    reference = F.conv_transpose2d(x, layer.weight, layer.bias, stride=stride, padding=padding,
                                   output_padding=output_padding)
    assert reference.shape[-2:] == (4 * stride, 6 * stride)
    torch.testing.assert_close(layer(x), reference, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # the cached inference weight follows in-place updates
        layer(x)
        layer.weight.mul_(2.0)
        torch.testing.assert_close(layer(x) - layer.bias.view(1, -1, 1, 1),
                                   2 * (reference - layer.bias.view(1, -1, 1, 1)), atol=1e-5, rtol=1e-5)


def test_lr_stack_layout_and_embedding_equivalence():
    ctx = make_context(batch=2, window=48, scale=8)
    parts = [F.pixel_unshuffle(t, 8) for t in (ctx.current * ctx.mask, ctx.current, ctx.start, ctx.mask)]
    stack = ctx.lr_stack()
    assert torch.equal(stack, torch.cat([*parts, ctx.lr, F.avg_pool2d(ctx.coords, 8)], dim=1))
    assert stack.shape[1] == RepairContext.lr_stack_channels(8)
    embed = LRStackEmbedding(8, 4)
    # The strided window projection is a 1x1 conv of the stack's space-to-depth channels.
    weight = torch.cat([embed.window_proj.weight.flatten(1), embed.grid_proj.weight.flatten(1)], dim=1)
    expected = F.conv2d(stack, weight[:, :, None, None], embed.window_proj.bias)
    torch.testing.assert_close(embed(ctx), expected, atol=1e-5, rtol=1e-5)


def test_box_bounds_and_stage_widths():
    ctx = make_context(batch=1, window=48)
    ctx.mask.zero_()
    ctx.mask[..., 8:40, 4:20] = 1.0
    ys, xs = ctx.coords[0, 0, :, 0], ctx.coords[0, 1, 0, :]
    torch.testing.assert_close(box_bounds(ctx.mask, ctx.coords)[0], torch.stack([ys[8], xs[4], ys[39], xs[19]]))
    assert torch.equal(box_bounds(torch.zeros_like(ctx.mask), ctx.coords), torch.zeros(1, 4))
    assert stage_widths(32, 8, 2) == [32, 8]
    assert stage_widths(32, 8, 3) == [32, 16, 8]
    assert stage_widths(32, 8, 1) == [8]
