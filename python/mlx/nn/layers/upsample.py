"""Spatial resizing of channels-last inputs (N, *spatial, C) by a scale factor per spatial
axis: nearest neighbour, linear and cubic interpolation (optionally antialiased when
shrinking). Interpolation is separable: one axis at a time, each output position a
weighted sum of a few input positions (taps) along that axis."""
import math
from typing import Literal, Tuple, Union

import mlx.core as mx
from mlx.nn.layers.base import Module


def _axis_view(v, axis, ndim):
    """Shape a per-position vector of spatial ``axis`` to broadcast against (N, ..., C)."""
    shape = [1] * ndim
    shape[axis + 1] = -1
    return v.reshape(shape)


def _source_positions(n, scale, align_corners):
    """The (fractional) input coordinate of each of the int(scale * n) outputs."""
    m = int(scale * n)
    i = mx.arange(m, dtype=mx.float32)
    if align_corners:
        return i * ((n - 1) / max(m - 1, 1))
    step = 1 / scale
    return i * step - ((m - 1) * step - n + 1) / 2


def _nearest_positions(n, scale):
    m = int(scale * n)
    i = mx.arange(m, dtype=mx.float32)
    if m > n:
        return mx.round((i + 0.5) * (n / m) - 0.5).astype(mx.uint32)
    return (i * (n / m)).astype(mx.uint32)


def _linear_taps(n, scale, align_corners):
    pos = mx.clip(_source_positions(n, scale, align_corners), 0, n - 1)
    lo, hi = mx.floor(pos), mx.ceil(pos)
    frac = pos - lo
    return [(lo, 1 - frac), (hi, frac)]


def _cubic_taps(n, scale, align_corners):
    # Keys' cubic convolution with a = -0.75 (as PyTorch's bicubic).
    a = -0.75
    pos = _source_positions(n, scale, align_corners)
    base = mx.floor(pos)
    taps = []
    for offset in (0, 1, -1, 2):
        grid = base + offset
        d = mx.abs(pos - grid)
        if offset in (0, 1):
            w = ((a + 2.0) * d - (a + 3.0)) * d * d + 1
        else:
            w = (((d - 5) * d + 8) * d - 4) * a
        taps.append((mx.clip(grid, 0, n - 1), w))
    return taps


def _triangle(d):
    return mx.maximum(1.0 - d, 0.0)


def _keys_cubic(d):
    a = -0.5
    inner = ((a + 2.0) * d - (a + 3.0)) * d * d + 1
    outer = (((d - 5) * d + 8) * d - 4) * a
    return mx.where(d <= 1.0, inner, mx.where(d <= 2.0, outer, 0.0))


def _antialiased_taps(kernel, radius):
    """Taps of a filter widened by 1/scale when shrinking, normalized to sum to one."""
    def taps_fn(n, scale, align_corners):
        pos = _source_positions(n, scale, align_corners)
        widen = 1.0 / scale if scale < 1 else 1.0
        reach = math.ceil(radius * widen) + 1
        base = mx.floor(pos)
        grids, weights = [], []
        for k in range(1 - reach, reach):
            grid = base + k
            w = kernel(mx.abs(pos - grid) / widen)
            weights.append(mx.where((grid >= 0) & (grid < n), w, 0.0))
            grids.append(grid)
        total = sum(weights)
        total = mx.where(total > 0, total, 1.0)
        return [(mx.clip(g, 0, n - 1), w / total) for g, w in zip(grids, weights)]
    return taps_fn


def _check_scales(x, scale_factor):
    if x.ndim - 2 != len(scale_factor):
        raise ValueError("A scale needs to be provided for each spatial dimension")


def _check_antialias(align_corners, antialias):
    if antialias and align_corners:
        raise ValueError("[Upsample] antialias=True with align_corners=True is not supported. "
                         "Use align_corners=False for antialiased interpolation.")


def _separable(x, scale_factor, taps_fn, align_corners):
    _check_scales(x, scale_factor)
    for axis, (n, s) in enumerate(zip(x.shape[1:-1], scale_factor)):
        parts = [mx.take(x, idx.astype(mx.uint32), axis=axis + 1)
                 * _axis_view(w, axis, x.ndim)
                 for idx, w in taps_fn(n, s, align_corners)]
        x = sum(parts)
    return x


def upsample_nearest(x: mx.array, scale_factor: Tuple):
    """Nearest-neighbour resize; integer factors repeat each element."""
    _check_scales(x, scale_factor)
    if tuple(map(int, scale_factor)) == tuple(scale_factor):
        n, *spatial, c = x.shape
        expanded = [n]
        for size in spatial:
            expanded += [size, 1]
        repeated = [n]
        for size, s in zip(spatial, scale_factor):
            repeated += [size, int(s)]
        y = mx.broadcast_to(x.reshape(*expanded, c), (*repeated, c))
        return y.reshape(n, *(size * int(s) for size, s in zip(spatial, scale_factor)), c)
    for axis, (size, s) in enumerate(zip(x.shape[1:-1], scale_factor)):
        x = mx.take(x, _nearest_positions(size, s), axis=axis + 1)
    return x


def upsample_linear(x: mx.array, scale_factor: Tuple, align_corners: bool = False,
                    antialias: bool = False):
    """(Multi-)linear resize; ``antialias`` widens the triangle filter when shrinking."""
    _check_antialias(align_corners, antialias)
    taps = _antialiased_taps(_triangle, 1.0) if antialias else _linear_taps
    return _separable(x, scale_factor, taps, align_corners)


def upsample_cubic(x: mx.array, scale_factor: Tuple, align_corners: bool = False,
                   antialias: bool = False):
    """(Multi-)cubic resize; ``antialias`` uses a widened a=-0.5 cubic filter."""
    _check_antialias(align_corners, antialias)
    taps = _antialiased_taps(_keys_cubic, 2.0) if antialias else _cubic_taps
    return _separable(x, scale_factor, taps, align_corners)


class Upsample(Module):
    """Resize the spatial axes of channels-last inputs by ``scale_factor`` (one number or
    one per spatial axis) with ``mode`` 'nearest', 'linear' or 'cubic'."""

    def __init__(self, scale_factor: Union[float, Tuple],
                 mode: Literal["nearest", "linear", "cubic"] = "nearest",
                 align_corners: bool = False, antialias: bool = False):
        super().__init__()
        if mode not in ["nearest", "linear", "cubic"]:
            raise ValueError(f"[Upsample] Got unsupported upsampling algorithm: {mode}")
        if antialias and mode == "nearest":
            raise ValueError("[Upsample] Antialiasing is not supported for nearest neighbor "
                             "upsampling")
        if isinstance(scale_factor, (list, tuple)):
            scale_factor = tuple(float(s) for s in scale_factor)
        else:
            scale_factor = float(scale_factor)
        _check_antialias(align_corners, antialias)
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.antialias = antialias

    def _extra_repr(self) -> str:
        text = (f"scale_factor={self.scale_factor}, mode={self.mode!r}, "
                f"align_corners={self.align_corners}")
        return text + (", antialias=True" if self.antialias else "")

    def __call__(self, x: mx.array) -> mx.array:
        dims = x.ndim - 2
        if dims <= 0:
            raise ValueError("[Upsample] The input should have at least 1 spatial dimension "
                             f"which means it should be at least 3D but {x.ndim}D was "
                             "provided")
        scale = self.scale_factor
        if isinstance(scale, tuple):
            if len(scale) != dims:
                raise ValueError(f"[Upsample] One scale per spatial dimension is required but "
                                 f"scale_factor={scale} and the number of spatial dimensions "
                                 f"were {dims}")
        else:
            scale = (scale,) * dims
        if self.mode == "nearest":
            return upsample_nearest(x, scale)
        if self.mode == "linear":
            return upsample_linear(x, scale, self.align_corners, self.antialias)
        return upsample_cubic(x, scale, self.align_corners, self.antialias)
