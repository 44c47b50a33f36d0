"""Tensor-parallel and fully sharded layers over an mx.distributed group: linear layers whose
weight is split across the group (by output rows or by input columns), helpers that shard a
Linear / QuantizedLinear or any module's parameters, and FSDP-style parameter sharding."""

import math
from functools import lru_cache
from typing import Callable, Optional, Union

import mlx.core as mx
from mlx.nn.layers.base import Module
from mlx.nn.layers.linear import Linear
from mlx.utils import tree_flatten, tree_map_with_path, tree_unflatten

_SHARDINGS = ("all-to-sharded", "sharded-to-all")


def _global_group(group):
    return group if group is not None else mx.distributed.init()


@lru_cache
def sum_gradients(group):
    """The identity whose vjp all-sums the cotangent over group (the identity itself on a
    group of one process)."""
    if group.size() == 1:
        return lambda x: x

    @mx.custom_function
    def identity(x):
        return x

    @identity.vjp
    def identity(x, cotangent, output):
        return mx.distributed.all_sum(cotangent, group=group)

    return identity


def _split(w, parts, axis):
    """mx.split, where parts may also be a list of fractions of the axis length."""
    if isinstance(parts, int) or isinstance(parts[0], int):
        return mx.split(w, parts, axis=axis)
    n = w.shape[axis]
    return mx.split(w, [int(f * n) for f in parts], axis=axis)


def _shard(parameters, predicate: Callable, group=None):
    """A copy of the parameter tree where every array for which predicate(path, array) gives an
    axis (or (axis, segments)) keeps this rank's slice of each segment along that axis."""
    group = _global_group(group)
    n, rank = group.size(), group.rank()

    def shard_one(path, w):
        if not isinstance(w, mx.array):
            return w
        spec = predicate(path, w)
        if spec is None:
            return w
        if isinstance(spec, int):
            axis, segments = spec, 1
        elif isinstance(spec, tuple):
            axis, segments = spec
        else:
            raise ValueError("The sharding function should return int or tuple[int, list]")
        pieces = [_split(seg, n, axis)[rank] for seg in _split(w, segments, axis)]
        return mx.contiguous(mx.concatenate(pieces, axis=axis))

    return tree_map_with_path(shard_one, parameters)


def _all_to_sharded(segments):
    # weights split by output rows (axis -2 of a matrix), biases along their only axis
    def predicate(path, w):
        if path.endswith("bias"):
            return -1, segments
        return max(w.ndim - 2, 0), segments

    return predicate


def _sharded_to_all(segments):
    # weights split by input columns; the bias is added once after the all-sum
    def predicate(path, w):
        if path.endswith("bias"):
            return None
        return -1, segments

    return predicate


def _check_sharding(sharding):
    if sharding not in _SHARDINGS:
        raise ValueError(
            f"Sharding type {sharding=} not supported, choose one of 'all-to-sharded' or "
            "'sharded-to-all'"
        )


def shard_inplace(
    module: Module,
    sharding: Union[str, Callable],
    *,
    segments: Union[int, list] = 1,
    group: Optional[mx.distributed.Group] = None,
):
    """Replace module's parameters by their shards. sharding is "all-to-sharded",
    "sharded-to-all" or a callable (path, weight) -> axis, (axis, segments) or None."""
    if isinstance(sharding, str):
        _check_sharding(sharding)
        make = _all_to_sharded if sharding == "all-to-sharded" else _sharded_to_all
        sharding = make(segments)
    module.update(_shard(module.parameters(), sharding, group))


def shard_linear(
    module: Module,
    sharding: str,
    *,
    segments: Union[int, list] = 1,
    group: Optional[mx.distributed.Group] = None,
):
    """A new sharded layer made from a Linear or QuantizedLinear: AllToSharded* for
    "all-to-sharded", ShardedToAll* for "sharded-to-all"."""
    _check_sharding(sharding)
    if isinstance(module, Linear):
        cls = AllToShardedLinear if sharding == "all-to-sharded" else ShardedToAllLinear
        return cls.from_linear(module, segments=segments, group=group)
    cls = QuantizedAllToShardedLinear if sharding == "all-to-sharded" else QuantizedShardedToAllLinear
    return cls.from_quantized_linear(module, segments=segments, group=group)


def _uniform_weight(input_dims, shape):
    bound = math.sqrt(1.0 / input_dims)
    return mx.random.uniform(low=-bound, high=bound, shape=shape)


class AllToShardedLinear(Module):
    """A linear layer holding output_dims / group.size() rows of the weight: each process
    computes its slice of the output from the full input (gradients of the input are summed
    over the group)."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True,
                 group: Optional[mx.distributed.Group] = None):
        super().__init__()
        self.group = _global_group(group)
        n = self.group.size()
        if output_dims % n != 0:
            raise ValueError(f"Cannot shard the output of size {output_dims} across {n} devices.")
        self.weight = _uniform_weight(input_dims, (output_dims // n, input_dims))
        if bias:
            self.bias = _uniform_weight(input_dims, (output_dims // n,))

    def _extra_repr(self) -> str:
        rows, cols = self.weight.shape
        return f"input_dims={cols}, output_dims={rows * self.group.size()}, bias={'bias' in self}"

    def __call__(self, x: mx.array) -> mx.array:
        x = sum_gradients(self.group)(x)
        if "bias" in self:
            return mx.addmm(self["bias"], x, self["weight"].T)
        return x @ self["weight"].T

    @classmethod
    def from_linear(cls, linear_layer: Module, *, segments: Union[int, list] = 1,
                    group: Optional[mx.distributed.Group] = None):
        group = _global_group(group)
        out_dims, in_dims = linear_layer.weight.shape
        layer = cls(in_dims, out_dims, hasattr(linear_layer, "bias"), group)
        layer.update(_shard(linear_layer.parameters(), _all_to_sharded(segments), group))
        return layer


class ShardedToAllLinear(Module):
    """A linear layer holding input_dims / group.size() columns of the weight: each process
    multiplies its slice of the input and the partial products are summed over the group, so
    every process ends with the full output."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True,
                 group: Optional[mx.distributed.Group] = None):
        super().__init__()
        self.group = _global_group(group)
        n = self.group.size()
        if input_dims % n != 0:
            raise ValueError(f"The input of size {input_dims} cannot be sharded across {n} devices.")
        self.weight = _uniform_weight(input_dims, (output_dims, input_dims // n))
        if bias:
            self.bias = _uniform_weight(input_dims, (output_dims,))

    def _extra_repr(self) -> str:
        rows, cols = self.weight.shape
        return f"input_dims={cols * self.group.size()}, output_dims={rows}, bias={'bias' in self}"

    def __call__(self, x: mx.array) -> mx.array:
        x = mx.distributed.all_sum(x @ self["weight"].T, group=self.group)
        if "bias" in self:
            x = x + self["bias"]
        return x

    @classmethod
    def from_linear(cls, linear_layer: Module, *, segments: Union[int, list] = 1,
                    group: Optional[mx.distributed.Group] = None):
        group = _global_group(group)
        out_dims, in_dims = linear_layer.weight.shape
        layer = cls(in_dims, out_dims, hasattr(linear_layer, "bias"), group)
        layer.update(_shard(linear_layer.parameters(), _sharded_to_all(segments), group))
        return layer


class _QuantizedSharded(Module):
    """Shared parts of the quantized sharded linears: a frozen quantized weight of the given
    (per-process) shape, an optional zero bias and the quantized product."""

    def _setup(self, input_dims, weight_shape, bias_dims, bias, group_size, bits, mode):
        self.group_size, self.bits, self.mode = group_size, bits, mode
        w = _uniform_weight(input_dims, weight_shape)
        self.weight, self.scales, *rest = mx.quantize(w, group_size, bits, mode=mode)
        self.biases = rest[0] if rest else None
        if bias:
            self.bias = mx.zeros((bias_dims,))
        self.freeze()

    def unfreeze(self, *args, **kwargs):
        """Unfreezes contained layers; this layer's own parameters stay frozen."""
        super().unfreeze(*args, **kwargs)
        self.freeze(recurse=False)

    def _qmatmul(self, x):
        return mx.quantized_matmul(
            x, self["weight"], scales=self["scales"], biases=self.get("biases"), transpose=True,
            group_size=self.group_size, bits=self.bits, mode=self.mode)

    def _repr_dims(self, in_mult, out_mult):
        rows, packed = self.weight.shape
        in_dims = (packed * 32) // self.bits * in_mult
        return (f"input_dims={in_dims}, output_dims={rows * out_mult}, bias={'bias' in self}, "
                f"group_size={self.group_size}, bits={self.bits}, mode={self.mode}")

    @classmethod
    def _from_quantized(cls, layer, predicate, group):
        group = _global_group(group)
        out_dims, packed = layer.weight.shape
        new = cls(
            (packed * 32) // layer.bits, out_dims, hasattr(layer, "bias"),
            group_size=layer.group_size, bits=layer.bits, mode=getattr(layer, "mode", "affine"),
            group=group)
        new.update(_shard(layer.parameters(), predicate, group))
        return new


class QuantizedAllToShardedLinear(_QuantizedSharded):
    """The quantized AllToShardedLinear (parameters frozen, as QuantizedLinear's)."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True,
                 group_size: int = 64, bits: int = 4, mode: str = "affine",
                 group: Optional[mx.distributed.Group] = None):
        super().__init__()
        self.group = _global_group(group)
        n = self.group.size()
        if output_dims % n != 0:
            raise ValueError(f"Cannot shard the output of size {output_dims} across {n} devices.")
        self._setup(input_dims, (output_dims // n, input_dims), output_dims // n, bias,
                    group_size, bits, mode)

    def _extra_repr(self) -> str:
        return self._repr_dims(1, self.group.size())

    def __call__(self, x: mx.array) -> mx.array:
        x = self._qmatmul(sum_gradients(self.group)(x))
        if "bias" in self:
            x = x + self["bias"]
        return x

    @classmethod
    def from_quantized_linear(cls, quantized_linear_layer: Module, *,
                              segments: Union[int, list] = 1,
                              group: Optional[mx.distributed.Group] = None):
        return cls._from_quantized(quantized_linear_layer, _all_to_sharded(segments), group)


class QuantizedShardedToAllLinear(_QuantizedSharded):
    """The quantized ShardedToAllLinear (parameters frozen, as QuantizedLinear's)."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True,
                 group_size: int = 64, bits: int = 4, mode: str = "affine",
                 group: Optional[mx.distributed.Group] = None):
        super().__init__()
        self.group = _global_group(group)
        n = self.group.size()
        if input_dims % n != 0:
            raise ValueError(f"The input of size {input_dims} cannot be sharded across {n} devices.")
        self._setup(input_dims, (output_dims, input_dims // n), output_dims, bias,
                    group_size, bits, mode)

    def _extra_repr(self) -> str:
        return self._repr_dims(self.group.size(), 1)

    def __call__(self, x: mx.array) -> mx.array:
        x = mx.distributed.all_sum(self._qmatmul(x), group=self.group)
        if "bias" in self:
            x = x + self["bias"]
        return x

    @classmethod
    def from_quantized_linear(cls, quantized_linear_layer: Module, *,
                              segments: Union[int, list] = 1,
                              group: Optional[mx.distributed.Group] = None):
        return cls._from_quantized(quantized_linear_layer, _sharded_to_all(segments), group)


# ---- FSDP-style sharding: every parameter split along axis 0, gathered for each call ----

def _gather_function(group, full_shapes, shard_sizes, compute_dtype):
    n = group.size()
    bounds = [0]
    for size in shard_sizes:
        bounds.append(bounds[-1] + size)
    cuts = bounds[1:-1]
    shard_shapes = [(s[0] // n,) + tuple(s[1:]) for s in full_shapes]

    def cast(x, dtype):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)

    @mx.custom_function
    def gather(shards):
        flat = mx.concatenate([cast(s.reshape(1, -1), compute_dtype) for s in shards], axis=1)
        full = mx.distributed.all_gather(flat, group=group)
        return [p.reshape(s) for p, s in zip(mx.split(full, cuts, axis=1), full_shapes)]

    @gather.vjp
    def gather(shards, cotangents, outputs):
        full = mx.concatenate([c.reshape(n, -1) for c in cotangents], axis=1)
        mine = mx.distributed.sum_scatter(full, group=group) / n
        parts = mx.split(mine, cuts, axis=1)
        return [cast(p.reshape(s), x.dtype) for p, s, x in zip(parts, shard_shapes, shards)]

    return gather


def _shardable(module, key, value):
    if isinstance(value, FullyShardedModule):
        return False
    return Module.valid_parameter_filter(module, key, value)


class FullyShardedModule(Module):
    """Wraps module so each process stores only its slice (along axis 0) of every parameter;
    the full parameters are all-gathered for each call and their gradients reduce-scattered."""

    def __init__(self, module: Module, group: Optional[mx.distributed.Group] = None,
                 compute_dtype: Optional[mx.Dtype] = None):
        super().__init__()
        group = _global_group(group)
        n = group.size()
        params = module.filter_and_map(_shardable)
        flat = tree_flatten(params)
        for path, a in flat:
            if a.ndim == 0:
                raise ValueError(f"Cannot shard parameter '{path}' because it is a scalar.")
            if a.shape[0] % n != 0:
                raise ValueError(
                    f"Cannot shard parameter '{path}' with shape {a.shape} across {n} devices: "
                    f"axis 0 must be divisible by {n}.")
        object.__setattr__(self, "_paths", [p for p, _ in flat])
        full_shapes = [a.shape for _, a in flat]
        shard_sizes = [a.size // n for _, a in flat]
        module.update(_shard(params, lambda path, w: 0, group))
        self.module = module
        self._gather_fn = _gather_function(group, full_shapes, shard_sizes, compute_dtype)

    def _extra_repr(self) -> str:
        return f"num_sharded_params={len(self._paths)}"

    def _gathered_call(self, fn, *args, **kwargs):
        shards_tree = self.module.filter_and_map(_shardable)
        fulls = self._gather_fn([a for _, a in tree_flatten(shards_tree)])
        self.module.update(tree_unflatten(list(zip(self._paths, fulls))))
        try:
            return fn(*args, **kwargs)
        finally:
            self.module.update(shards_tree)

    def __call__(self, *args, **kwargs):
        return self._gathered_call(self.module, *args, **kwargs)

    def as_linear(self, *args, **kwargs):
        return self._gathered_call(self.module.as_linear, *args, **kwargs)


def fully_shard(module: Module, *, group: Optional[mx.distributed.Group] = None,
                compute_dtype: Optional[mx.Dtype] = None) -> Module:
    """module wrapped in a FullyShardedModule; module itself on a group of one process, when
    it is already wrapped, or when it has no parameter to shard."""
    group = _global_group(group)
    if group.size() == 1 or isinstance(module, FullyShardedModule):
        return module
    wrapped = FullyShardedModule(module, group=group, compute_dtype=compute_dtype)
    return wrapped if wrapped._paths else module
