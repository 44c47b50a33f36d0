"""Channels-last convolution layers Conv1d/2d/3d: weight (out, *kernel, in / groups) drawn
from U(-k, k) with k = 1/sqrt(in / groups * prod(kernel)), bias zeros."""
import math
from typing import Union

import mlx.core as mx
from mlx.nn.layers.base import Module


def _tuple(value, n):
    return (value,) * n if isinstance(value, int) else value


def _conv_weight(out_channels, kernel, in_per_group):
    scale = math.sqrt(1 / (in_per_group * math.prod(kernel)))
    return mx.random.uniform(low=-scale, high=scale,
                             shape=(out_channels, *kernel, in_per_group))


def _check_groups(in_channels, groups):
    if in_channels % groups != 0:
        raise ValueError(f"The number of input channels ({in_channels}) must be divisible "
                         f"by the number of groups ({groups})")


class _ConvNd(Module):
    _n = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias):
        super().__init__()
        _check_groups(in_channels, groups)
        n = self._n
        if n > 1:
            kernel_size, stride, padding = (_tuple(v, n) for v in (kernel_size, stride, padding))
            kernel = tuple(kernel_size)
        else:
            kernel = (kernel_size,)
        self.weight = _conv_weight(out_channels, kernel, in_channels // groups)
        if bias:
            self.bias = mx.zeros((out_channels,))
        self.padding = padding
        self.dilation = dilation
        self.stride = stride
        if self._n < 3:
            self.groups = groups

    def _kernel_repr(self):
        return self.weight.shape[1] if self._n == 1 else self.weight.shape[1:1 + self._n]

    def _extra_repr(self):
        groups = self.groups if self._n < 3 else 1
        text = (f"{self.weight.shape[-1] * groups}, {self.weight.shape[0]}, "
                f"kernel_size={self._kernel_repr()}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, ")
        if self._n < 3:
            text += f"groups={self.groups}, "
        return text + f"bias={'bias' in self}"

    def _conv(self, x):
        raise NotImplementedError

    def __call__(self, x):
        y = self._conv(x)
        return y + self.bias if "bias" in self else y


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, L, C_in)`` inputs (weight ``(C_out, K, C_in/groups)``)."""
    _n = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias)

    def _conv(self, x):
        return mx.conv1d(x, self.weight, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, H, W, C_in)`` inputs; int or pair arguments."""
    _n = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 dilation: Union[int, tuple] = 1, groups: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias)

    def _conv(self, x):
        return mx.conv2d(x, self.weight, self.stride, self.padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over ``(N, D, H, W, C_in)`` inputs; int or triple arguments."""
    _n = 3

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1, padding: Union[int, tuple] = 0,
                 dilation: Union[int, tuple] = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         1, bias)

    def _conv(self, x):
        return mx.conv3d(x, self.weight, self.stride, self.padding, self.dilation)
