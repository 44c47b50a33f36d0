"""Normalization layers over channels-last inputs: LayerNorm and RMSNorm (last axis),
GroupNorm (groups of channels), InstanceNorm (spatial axes per sample and channel) and
BatchNorm (batch statistics in training, running statistics in evaluation)."""
from typing import Tuple

import mlx.core as mx
from mlx.nn.layers.base import Module

_HALF = (mx.float16, mx.bfloat16)


def _promoted(dtype, *params):
    """The dtype of ``dtype`` combined with the dtypes of the (optional) parameters."""
    for p in params:
        if p is not None and p.dtype != dtype:
            dtype = (mx.zeros((), dtype=dtype) + mx.zeros((), dtype=p.dtype)).dtype
    return dtype


def _layer_norm(x, weight, bias, eps):
    """Normalize over the last axis (statistics in float32 for half inputs), then scale and
    shift; the result has the promoted dtype of x and the parameters."""
    out_dtype = _promoted(x.dtype, weight, bias)
    xc = x.astype(mx.float32) if x.dtype in _HALF else x
    mean = mx.mean(xc, axis=-1, keepdims=True)
    var = mx.var(xc, axis=-1, keepdims=True)
    y = ((xc - mean) * mx.rsqrt(var + eps)).astype(out_dtype)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.astype(out_dtype)


def _check_eps(name, eps):
    if eps <= 0.0:
        raise ValueError(f"[{name}] 'eps' must be positive but got {eps}.")


class LayerNorm(Module):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last axis (``dims``
    features); ``affine=False`` drops weight and bias, ``bias=False`` the bias."""

    def __init__(self, dims: int, eps: float = 1e-5, affine: bool = True, bias: bool = True):
        super().__init__()
        _check_eps("LayerNorm", eps)
        if affine:
            self.weight = mx.ones((dims,))
            if bias:
                self.bias = mx.zeros((dims,))
        self.eps = eps
        self.dims = dims

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        return mx.fast.layer_norm(x, self.get("weight"), self.get("bias"), self.eps)


class RMSNorm(Module):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last axis."""

    def __init__(self, dims: int, eps: float = 1e-5):
        super().__init__()
        _check_eps("RMSNorm", eps)
        self.weight = mx.ones((dims,))
        self.eps = eps

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"

    def __call__(self, x):
        return mx.fast.rms_norm(x, self["weight"], self.eps)


class GroupNorm(Module):
    """Normalize each sample over its spatial positions and a group of channels. Channel
    ``c`` belongs to group ``c % num_groups``; with ``pytorch_compatible`` groups are
    consecutive channels as in PyTorch."""

    def __init__(self, num_groups: int, dims: int, eps: float = 1e-5, affine: bool = True,
                 pytorch_compatible: bool = False):
        super().__init__()
        _check_eps("GroupNorm", eps)
        if num_groups <= 0:
            raise ValueError(f"The number of groups ({num_groups}) must be a positive "
                             "integer.")
        if dims <= 0:
            raise ValueError(f"The number of features ({dims}) must be a positive integer.")
        if dims % num_groups != 0:
            raise ValueError(f"The number of features ({dims}) must be evenly divisible by "
                             f"the number of groups ({num_groups}).")
        if affine:
            self.bias = mx.zeros((dims,))
            self.weight = mx.ones((dims,))
        self.num_groups = num_groups
        self.dims = dims
        self.eps = eps
        self.pytorch_compatible = pytorch_compatible

    def _extra_repr(self):
        return (f"{self.num_groups}, {self.dims}, eps={self.eps}, "
                f"affine={'weight' in self}, pytorch_compatible={self.pytorch_compatible}")

    def _consecutive_groups(self, x):
        batch, *rest, dims = x.shape
        g = self.num_groups
        size = dims // g
        y = x.reshape(batch, -1, g, size).transpose(0, 2, 1, 3).reshape(batch, g, -1)
        y = _layer_norm(y, None, None, self.eps)
        return y.reshape(batch, g, -1, size).transpose(0, 2, 1, 3).reshape(batch, *rest, dims)

    def _strided_groups(self, x):
        batch, *rest, dims = x.shape
        y = x.reshape(batch, -1, self.num_groups)
        mean = mx.mean(y, axis=1, keepdims=True)
        var = mx.var(y, axis=1, keepdims=True)
        return ((y - mean) * mx.rsqrt(var + self.eps)).reshape(batch, *rest, dims)

    def __call__(self, x):
        y = self._consecutive_groups(x) if self.pytorch_compatible else self._strided_groups(x)
        return self.weight * y + self.bias if "weight" in self else y


class InstanceNorm(Module):
    """Normalize each channel of each sample over the spatial axes of an ``(N, ..., C)``
    input; ``affine`` adds a learned per-channel scale and shift."""

    def __init__(self, dims: int, eps: float = 1e-5, affine: bool = False):
        super().__init__()
        _check_eps("InstanceNorm", eps)
        if affine:
            self.weight = mx.ones((dims,))
            self.bias = mx.zeros((dims,))
        self.dims = dims
        self.eps = eps

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x: mx.array) -> mx.array:
        if x.ndim < 3:
            raise ValueError("InstanceNorm expects inputs with at least 3 dimensions "
                             f"(N, ..., C) but the input has {x.ndim} dimensions.")
        n, c = x.shape[0], x.shape[-1]
        spatial = x.shape[1:-1]
        y = mx.moveaxis(x, -1, 1).reshape(n, c, -1)
        y = _layer_norm(y, None, None, self.eps)
        y = mx.moveaxis(y.reshape(n, c, *spatial), 1, -1)
        return self.weight * y + self.bias if "weight" in self else y


class BatchNorm(Module):
    """Normalize each feature (last axis) over all other axes of a 2-4 dimensional input.
    Training uses the batch statistics and, with ``track_running_stats``, updates
    ``running_mean``/``running_var`` (unbiased variance) with ``momentum``; evaluation uses
    the running statistics. The running statistics are never trainable."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        _check_eps("BatchNorm", eps)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = mx.ones((num_features,))
            self.bias = mx.zeros((num_features,))
        if track_running_stats:
            self.running_mean = mx.zeros((num_features,))
            self.running_var = mx.ones((num_features,))
            self.freeze(keys=["running_mean", "running_var"], recurse=False)

    def unfreeze(self, *args, **kwargs):
        super().unfreeze(*args, **kwargs)
        self.freeze(keys=["running_mean", "running_var"], recurse=False)
        return self

    def _extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={'weight' in self}, track_running_stats={self.track_running_stats}")

    def _calc_stats(self, x: mx.array, ddof: int = 0) -> Tuple[mx.array, mx.array]:
        axes = tuple(range(x.ndim - 1))
        return mx.mean(x, axis=axes), mx.var(x, axis=axes, ddof=ddof)

    def __call__(self, x: mx.array) -> mx.array:
        if x.ndim < 2 or x.ndim > 4:
            raise ValueError("Expected input tensor to have 2, 3 or 4 dimensions, but got "
                             f"{x.ndim}")
        if self.training:
            count = 1
            for size in x.shape[:-1]:
                count *= size
            if count == 1:
                raise ValueError("BatchNorm training requires more than one value per "
                                 "channel.")
        mean, var = self._calc_stats(x)
        if self.track_running_stats:
            if self.training:
                mu = self.momentum
                unbiased = self._calc_stats(x, ddof=1)[1]
                self.running_mean = (1 - mu) * self.running_mean + mu * mean
                self.running_var = (1 - mu) * self.running_var + mu * unbiased
            else:
                mean, var = self.running_mean, self.running_var
        y = (x - mean) * mx.rsqrt(var + self.eps)
        return self.weight * y + self.bias if "weight" in self else y
