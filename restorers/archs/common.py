"""Blocks shared by several patch restorers: input embedding, upsampling stages, residual blocks, global maps.

Layout: NCHW float tensors. "LR grid" means the window resized to the LR size without interpolation
(space-to-depth, :meth:`fh_gym.restorers.base.RepairContext.lr_stack`), i.e. ``w/s x w/s`` cells for a window
of side ``w`` at scale ``s``. Most restorers here work on that grid and only upsample at the end, which
keeps a 48x48 repair at x8 to a few MFLOPs (the engine runs one repair per face per step on CPU).

This module is not an ``*_arch.py`` file, so importing ``restorers.archs`` does not register anything here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.base import RepairContext

ACTIVATIONS = ("relu", "lrelu", "prelu", "tanh")


def conv2d(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Conv2d:
    """A ``kernel_size`` convolution with "same" padding (halves the size exactly when ``stride=2``)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)


def make_activation(name: str, channels: int) -> nn.Module:
    """``relu``, ``lrelu`` (slope 0.2, as LapSRN), ``prelu`` (one slope per channel, as FSRCNN) or ``tanh``."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if name == "prelu":
        return nn.PReLU(channels)
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")


def num_stages(scale: int) -> int:
    """Number of x2 upsampling (or stride-2 downsampling) stages for a power-of-two ``scale``."""
    return int(math.log2(scale))


def stage_widths(first: int, last: int, count: int) -> list[int]:
    """Channel widths of ``count`` stages, geometrically interpolated from ``first`` to ``last``.

    Used to generalise the papers' fixed stage lists to any scale: Attention-FH's two x4 stages are
    ``stage_widths(32, 8, 2) == [32, 8]``; at x8 the same call with 3 stages gives ``[32, 16, 8]``.
    A single stage gets ``last``.
    """
    if count < 1:
        raise ValueError(f"need at least one stage, got {count}")
    if count == 1:
        return [int(last)]
    ratio = last / first
    return [max(1, round(first * ratio ** (i / (count - 1)))) for i in range(count)]


def lr_coords(ctx: RepairContext) -> Tensor:
    """(B, 2, w/s, w/s) normalised (y, x) image position of the centre of each LR-grid cell of the window."""
    return F.avg_pool2d(ctx.coords, ctx.scale)


def sample_at(feature_map: Tensor, coords: Tensor) -> Tensor:
    """Bilinearly sample a full-image feature map at window positions, so it is aligned with the window.

    Args:
        feature_map: (B, C, h, w) map covering the whole image (any resolution).
        coords: (B, 2, H', W') normalised (y, x) positions in [-1, 1], pixel centres with the
            ``align_corners=False`` convention (as the engine's ``window_coords``).

    Returns:
        (B, C, H', W') features; positions outside the image take the border value.
    """
    grid = coords.permute(0, 2, 3, 1).flip(-1)  # grid_sample wants (x, y) last
    return F.grid_sample(feature_map, grid.to(feature_map.dtype), mode="bilinear", padding_mode="border",
                         align_corners=False)


def box_bounds(mask: Tensor, coords: Tensor) -> Tensor:
    """(B, 4) normalised (y_min, x_min, y_max, x_max) of the masked pixel centres; zeros for an empty mask.

    The window is an axis-aligned crop, so y only varies along rows and x along columns: reducing the mask
    to its row and column profiles is ~10x cheaper than a masked min / max over the whole coordinate map.
    """
    rows = mask.amax(dim=3)[:, 0] > 0.5  # (B, h): rows holding part of the box
    cols = mask.amax(dim=2)[:, 0] > 0.5  # (B, w)
    ys, xs = coords[:, 0, :, 0], coords[:, 1, 0, :]
    bounds = torch.stack([torch.where(rows, ys, 2.0).amin(1), torch.where(cols, xs, 2.0).amin(1),
                          torch.where(rows, ys, -2.0).amax(1), torch.where(cols, xs, -2.0).amax(1)], dim=1)
    return torch.where(rows.any(1, keepdim=True), bounds, torch.zeros_like(bounds))


class LRStackEmbedding(nn.Module):
    """A learned linear map from the LR-grid input stack (plus optional extra LR-grid maps) to ``out_channels``.

    Mathematically a 1x1 convolution of ``ctx.lr_stack()`` (``10 s^2 + 5`` channels: 645 at x8, 2565 at
    x16), computed as a ``s x s`` stride-``s`` convolution of ``ctx.window_stack()`` plus a 1x1
    convolution of the LR pixels, cell coordinates and extras: same parameters and FLOPs, but the wide
    stack is never materialised (~8x faster at batch 64 on CPU). A 5x5 convolution straight on the stack
    would cost ~75 MFLOPs per 48x48 window at x8; this embedding costs ~0.7 MFLOPs for 16 channels
    and keeps every input pixel.

    Args:
        scale: The super-resolution factor (kernel and stride of the window projection).
        out_channels: Embedding width.
        extra_channels: Channels of extra maps concatenated to the LR-grid inputs (already on the LR grid).
    """

    def __init__(self, scale: int, out_channels: int, extra_channels: int = 0) -> None:
        super().__init__()
        self.window_proj = nn.Conv2d(RepairContext.WINDOW_STACK_CHANNELS, out_channels, scale, stride=scale)
        self.grid_proj = nn.Conv2d(3 + 2 + extra_channels, out_channels, 1, bias=False)  # LR, coords, extras

    def forward(self, ctx: RepairContext, *extra: Tensor) -> Tensor:
        grid = torch.cat([ctx.lr, lr_coords(ctx), *extra], dim=1)
        return self.window_proj(ctx.window_stack()) + self.grid_proj(grid)


def deconv_geometry(kernel: int, stride: int) -> tuple[int, int]:
    """(padding, output_padding) making a transposed conv output exactly ``stride`` times its input."""
    padding = -(-(kernel - stride) // 2)  # ceil((k - s) / 2)
    return padding, 2 * padding - (kernel - stride)


class SubPixelDeconv(nn.Module):
    """``nn.ConvTranspose2d(in, out, kernel_size, stride)`` with an output exactly ``stride`` times its input.

    Same parameters (``weight`` (in, out, k, k) and ``bias`` (out), initialised as ``nn.ConvTranspose2d``)
    and same output as ``F.conv_transpose2d(x, weight, bias, stride, padding, output_padding)`` with the
    :func:`deconv_geometry` padding, but computed as a small convolution on the input grid producing
    ``out * stride^2`` channels followed by ``PixelShuffle(stride)`` (a transposed convolution *is* a
    sub-pixel convolution, Shi et al. 2016). For large kernels and strides PyTorch's CPU transposed
    convolution is much slower: FSRCNN's 16x16 stride-8 deconvolution at batch 64 takes ~24 ms natively
    vs ~5 ms here (x16: ~56 vs ~4.5 ms). For 2x2 and 3x3 stride-2 kernels the native layer is about as
    fast, so :class:`DeconvStages` and the U-Net keep ``nn.ConvTranspose2d``. The sub-pixel form also
    multiplies the kernel's zero taps, so FLOP counters report more multiply-adds than the transposed
    convolution has (FSRCNN x8: ~9.8 vs ~5.9 MFLOPs).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Side of the transposed kernel.
        stride: Upsampling factor.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        reference = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=stride)
        self.weight, self.bias = reference.weight, reference.bias
        self.stride, self.kernel_size = int(stride), int(kernel_size)
        padding, _ = deconv_geometry(kernel_size, stride)
        # Output pixel a*s + r gathers input a + delta through kernel tap u = r + padding - delta*s.
        self.radius = max((kernel_size - 1 - padding) // stride, (stride - 1 + padding) // stride)
        side = 2 * self.radius + 1
        taps = torch.full((stride, stride, side, side), kernel_size * kernel_size, dtype=torch.long)
        for ry in range(stride):
            for rx in range(stride):
                for ty in range(side):
                    for tx in range(side):
                        uy = ry + padding - (ty - self.radius) * stride
                        ux = rx + padding - (tx - self.radius) * stride
                        if 0 <= uy < kernel_size and 0 <= ux < kernel_size:
                            taps[ry, rx, ty, tx] = uy * kernel_size + ux
        self.register_buffer("taps", taps.view(stride * stride, side * side), persistent=False)
        self._cache: tuple[tuple, Tensor, Tensor] | None = None

    def subpixel_weight(self) -> Tensor:
        """The (out * s^2, in, K, K) convolution weight equivalent to the transposed kernel."""
        out_channels, in_channels = self.weight.shape[1], self.weight.shape[0]
        flat = self.weight.transpose(0, 1).reshape(out_channels, in_channels, -1)
        flat = F.pad(flat, (0, 1))  # index k*k is a zero tap
        gathered = flat[:, :, self.taps]  # (out, in, s^2, K^2)
        side = 2 * self.radius + 1
        return gathered.permute(0, 2, 1, 3).reshape(-1, in_channels, side, side)

    def _weight_and_bias(self) -> tuple[Tensor, Tensor]:
        # Without autograd (env stepping) reuse the gathered weight until an optimiser changes the parameters:
        # the gather costs more than the convolution itself at batch 1.
        trainable = torch.is_grad_enabled() and (self.weight.requires_grad or self.bias.requires_grad)
        if trainable or self.weight.is_inference():  # inference tensors have no version counter
            return self.subpixel_weight(), self.bias.repeat_interleave(self.stride * self.stride)
        key = (self.weight._version, self.bias._version, self.weight.data_ptr(), self.bias.data_ptr(),
               self.weight.device, self.weight.dtype)
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, self.subpixel_weight(), self.bias.repeat_interleave(self.stride * self.stride))
        return self._cache[1], self._cache[2]

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self._weight_and_bias()
        return F.pixel_shuffle(F.conv2d(x, weight, bias, padding=self.radius), self.stride)


class DeconvStages(nn.Sequential):
    """LapSRN-style x2 stages: [3x3 stride-2 transposed conv, act, 3x3 conv, act] per width.

    Args:
        in_channels: Channels entering the first stage.
        widths: Output width of each stage; ``len(widths)`` stages upsample by ``2**len(widths)``.
        activation: Name for :func:`make_activation`.
    """

    def __init__(self, in_channels: int, widths: list[int], activation: str = "lrelu") -> None:
        layers: list[nn.Module] = []
        for width in widths:
            # padding=1, output_padding=1 doubles the side exactly. Native (not SubPixelDeconv): for a 3x3
            # kernel the sub-pixel form does 4x the multiply-adds and is no faster on CPU.
            layers += [nn.ConvTranspose2d(in_channels, width, 3, stride=2, padding=1, output_padding=1),
                       make_activation(activation, width), conv2d(width, width, 3),
                       make_activation(activation, width)]
            in_channels = width
        super().__init__(*layers)


class PixelShuffleStages(nn.Sequential):
    """Sub-pixel x2 stages (EDSR upsampler): [3x3 conv to 4*width, PixelShuffle(2), optional act].

    Args:
        in_channels: Channels entering the first stage.
        widths: Output width of each stage; ``len(widths)`` stages upsample by ``2**len(widths)``.
        activation: Name for :func:`make_activation`, or ``""`` for none (EDSR has none).
    """

    def __init__(self, in_channels: int, widths: list[int], activation: str = "") -> None:
        layers: list[nn.Module] = []
        for width in widths:
            layers += [conv2d(in_channels, 4 * width, 3), nn.PixelShuffle(2)]
            if activation:
                layers.append(make_activation(activation, width))
            in_channels = width
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """EDSR residual block without batch norm: ``x + res_scale * conv(relu(conv(x)))``.

    Args:
        channels: Feature width (kept).
        res_scale: Residual scaling (EDSR uses 0.1 for its wide models to stabilise training).
    """

    def __init__(self, channels: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(conv2d(channels, channels), nn.ReLU(inplace=True), conv2d(channels, channels))
        self.res_scale = float(res_scale)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.res_scale * self.body(x)


class GlobalMap(nn.Module):
    """An FC layer expanding a global state vector to a ``channels x grid x grid`` map over the whole image.

    This is Attention-FH's global context I_G ("expanding s_t ... by a fully connected layer followed by a
    reshaping operation", Sec. 3.3) and GLN's global detail stream. The map covers the full image, so it
    is sampled at the window's coordinates (:func:`sample_at`) to stay aligned wherever the window is and
    whatever the image size.

    Args:
        in_features: Size of the state vector.
        channels: Channels of the map.
        grid: Side of the map (16 = the LR grid of a 128x128 image at x8).
    """

    def __init__(self, in_features: int, channels: int, grid: int) -> None:
        super().__init__()
        self.channels, self.grid = int(channels), int(grid)
        self.fc = nn.Linear(in_features, self.channels * self.grid * self.grid)

    def forward(self, state: Tensor, coords: Tensor) -> Tensor:
        full = self.fc(state).view(-1, self.channels, self.grid, self.grid)
        return sample_at(full, coords)
