"""Channels-last max and average pooling over 1, 2 or 3 spatial axes: inputs are padded
(with -inf for max, 0 for average), cut into windows of ``kernel_size`` every ``stride``
(default: the kernel size) and each window is reduced."""
from itertools import product
from typing import Optional, Tuple, Union

import mlx.core as mx
from mlx.nn.layers.base import Module


def _per_axis(value, n, msg):
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(msg)
        return list(value)
    if not isinstance(value, int):
        raise ValueError(msg)
    return [value] * n


def _check_windows(x, window, strides):
    if x.ndim < 3:
        raise ValueError("To extract sliding windows at least 1 spatial dimension (3 total) is "
                         f"needed but the input only has {x.ndim} dimensions.")
    spatial = x.shape[1:-1]
    if not len(spatial) == len(window) == len(strides):
        raise ValueError(
            "To extract sliding windows the window shapes and strides must have the same "
            f"number of spatial dimensions as the signal but the signal has {len(spatial)} "
            f"dims and the window shape has {len(window)} and strides have {len(strides)}.")


def _tiles(x, window, strides):
    """For windows that tile the input (stride == window, sizes divisible): the shape
    (N, out_1, window_1, out_2, window_2, ..., C) that views ``x`` with each window axis next
    to its output axis, and those window axes; else None."""
    spatial = x.shape[1:-1]
    if not all(w == s and size % w == 0 for size, w, s in zip(spatial, window, strides)):
        return None
    split = [x.shape[0]]
    for size, w in zip(spatial, window):
        split += [size // w, w]
    return split + [x.shape[-1]], tuple(range(2, 2 * len(window) + 1, 2))


def _windows(x, window, strides):
    """View ``x`` (N, *spatial, C) as (N, *out_spatial, *window, C): a strided view that reads
    every window in place (windows may overlap)."""
    shape = x.shape
    row = [1] * len(shape)  # row-major element strides of x
    for d in range(len(shape) - 2, -1, -1):
        row[d] = row[d + 1] * shape[d + 1]
    out = [(size - w) // s + 1 for size, w, s in zip(shape[1:-1], window, strides)]
    view_shape = [shape[0], *out, *window, shape[-1]]
    view_strides = [row[0], *(r * s for r, s in zip(row[1:-1], strides)), *row[1:-1], row[-1]]
    return mx.as_strided(x, view_shape, view_strides)


def _pool_windows(x, reduce_fn, window, strides, axes):
    """reduce_fn over the (possibly overlapping) windows of x. The gradient is the one of the
    strided view (each window's gradient added into x, windows in row-major order), summed
    tap by tap instead of scattered element by element: for one element of x, the windows
    holding it come in row-major order exactly when the taps go in reverse, so every sum is
    formed in the same order."""
    out = [(size - w) // s + 1 for size, w, s in zip(x.shape[1:-1], window, strides)]

    @mx.custom_function
    def pool(a):
        return reduce_fn(_windows(a, window, strides), axes)

    @pool.vjp
    def pool_vjp(primals, cotangent, output):
        a = primals
        _, (dw,) = mx.vjp(lambda w: reduce_fn(w, axes), [_windows(a, window, strides)],
                          [cotangent])
        nd = len(window)
        # taps first: (*window, N, *out, C), each tap one contiguous block
        dw = mx.contiguous(mx.transpose(dw, [*range(nd + 1, 2 * nd + 1), *range(nd + 1),
                                             2 * nd + 1]))
        acc = mx.zeros(a.shape, dw.dtype)
        for tap in reversed(list(product(*(range(w) for w in window)))):
            index = (slice(None),) + tuple(
                slice(k, k + s * (m - 1) + 1, s) for k, s, m in zip(tap, strides, out))
            acc[index] = acc[index] + dw[tap]
        return acc

    return pool(x)


class _Pool(Module):
    _dims = 0

    def __init__(self, reduce_fn, pad_value, kernel_size, stride, padding):
        super().__init__()
        name = type(self).__name__
        count = "1 integer" if self._dims == 1 else f"{self._dims} integers"
        msg = "[{}] '{}' must be an integer or a tuple containing " + count
        kernel_size = _per_axis(kernel_size, self._dims, msg.format(name, "kernel_size"))
        stride = (kernel_size if stride is None
                  else _per_axis(stride, self._dims, msg.format(name, "stride")))
        padding = _per_axis(padding, self._dims, msg.format(name, "padding"))
        for what, values in (("kernel_size", kernel_size), ("stride", stride)):
            if any(v <= 0 for v in values):
                raise ValueError(f"[{name}] '{what}' must be positive but got "
                                 f"{tuple(values)}.")
        if any(p < 0 for p in padding):
            raise ValueError(f"[{name}] 'padding' must be non-negative but got "
                             f"{tuple(padding)}.")
        self._pooling_function = reduce_fn
        self._kernel_size = kernel_size
        self._stride = stride
        self._padding = [(p, p) for p in padding]
        self._padding_value = pad_value
        self._axes = tuple(range(-self._dims - 1, -1))

    def _extra_repr(self):
        return (f"kernel_size={tuple(self._kernel_size)}, stride={tuple(self._stride)}, "
                f"padding={tuple(p for p, _ in self._padding)}")

    def __call__(self, x):
        if any(p > 0 for p, _ in self._padding):
            x = mx.pad(x, [(0, 0)] + self._padding + [(0, 0)],
                       constant_values=self._padding_value)
        _check_windows(x, self._kernel_size, self._stride)
        tiles = _tiles(x, self._kernel_size, self._stride)
        if tiles is not None:
            # reduced in place: the same elements in the same order as the windows' view,
            # and the gradient comes back in x's own layout
            shape, axes = tiles
            return self._pooling_function(x.reshape(shape), axes)
        return _pool_windows(x, self._pooling_function, self._kernel_size, self._stride,
                             self._axes)


_NEG_INF = -float("inf")


class MaxPool1d(_Pool):
    """Max over windows of ``(N, L, C)`` inputs."""
    _dims = 1

    def __init__(self, kernel_size: Union[int, Tuple[int]],
                 stride: Optional[Union[int, Tuple[int]]] = None,
                 padding: Union[int, Tuple[int]] = 0):
        super().__init__(mx.max, _NEG_INF, kernel_size, stride, padding)


class AvgPool1d(_Pool):
    """Mean over windows of ``(N, L, C)`` inputs (padding counts as zeros)."""
    _dims = 1

    def __init__(self, kernel_size: Union[int, Tuple[int]],
                 stride: Optional[Union[int, Tuple[int]]] = None,
                 padding: Union[int, Tuple[int]] = 0):
        super().__init__(mx.mean, 0, kernel_size, stride, padding)


class MaxPool2d(_Pool):
    """Max over windows of ``(N, H, W, C)`` inputs."""
    _dims = 2

    def __init__(self, kernel_size: Union[int, Tuple[int, int]],
                 stride: Optional[Union[int, Tuple[int, int]]] = None,
                 padding: Optional[Union[int, Tuple[int, int]]] = 0):
        super().__init__(mx.max, _NEG_INF, kernel_size, stride, padding)


class AvgPool2d(_Pool):
    """Mean over windows of ``(N, H, W, C)`` inputs (padding counts as zeros)."""
    _dims = 2

    def __init__(self, kernel_size: Union[int, Tuple[int, int]],
                 stride: Optional[Union[int, Tuple[int, int]]] = None,
                 padding: Optional[Union[int, Tuple[int, int]]] = 0):
        super().__init__(mx.mean, 0, kernel_size, stride, padding)


class MaxPool3d(_Pool):
    """Max over windows of ``(N, D, H, W, C)`` inputs."""
    _dims = 3

    def __init__(self, kernel_size: Union[int, Tuple[int, int, int]],
                 stride: Optional[Union[int, Tuple[int, int, int]]] = None,
                 padding: Optional[Union[int, Tuple[int, int, int]]] = 0):
        super().__init__(mx.max, _NEG_INF, kernel_size, stride, padding)


class AvgPool3d(_Pool):
    """Mean over windows of ``(N, D, H, W, C)`` inputs (padding counts as zeros)."""
    _dims = 3

    def __init__(self, kernel_size: Union[int, Tuple[int, int, int]],
                 stride: Optional[Union[int, Tuple[int, int, int]]] = None,
                 padding: Optional[Union[int, Tuple[int, int, int]]] = 0):
        super().__init__(mx.mean, 0, kernel_size, stride, padding)
