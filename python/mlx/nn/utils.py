"""Transformations over a model's parameters: value_and_grad and checkpoint differentiate
or rematerialize a function with respect to a Module's trainable parameters; the gradient
helpers average or clip gradient trees across the processes of a distributed group."""
from functools import wraps
from typing import Any, Callable, Optional

import mlx.core as mx

from ..utils import tree_flatten, tree_map, tree_reduce, tree_unflatten
from .layers.base import Module


def _with_parameters(module: Module, fn: Callable) -> Callable:
    """``fn`` as a function of the module's parameters first: they are set on the module
    (as the transformation's tracers) before ``fn`` runs."""
    def call(params, *args, **kwargs):
        module.update(params)
        return fn(*args, **kwargs)
    return call


def value_and_grad(model: Module, fn: Callable):
    """A function returning ``(fn(*args, **kwargs), grads)`` where ``grads`` is the gradient
    of ``fn`` with respect to ``model.trainable_parameters()`` (a tree of the same shape)."""
    value_grad = mx.value_and_grad(_with_parameters(model, fn))

    @wraps(fn)
    def wrapped(*args, **kwargs):
        return value_grad(model.trainable_parameters(), *args, **kwargs)

    return wrapped


def checkpoint(module: Module, fn: Optional[Callable] = None):
    """``fn`` (default: the module itself) with gradient checkpointing over the module's
    trainable parameters and its inputs: intermediates are recomputed in the backward pass."""
    if fn is None:
        fn = module
    checkpointed = mx.checkpoint(_with_parameters(module, fn))

    @wraps(fn)
    def wrapped(*args, **kwargs):
        return checkpointed(module.trainable_parameters(), *args, **kwargs)

    return wrapped


def _size_groups(sizes, itemsize, limit):
    """Consecutive index groups whose byte size reaches ``limit`` (the last may be smaller)."""
    groups, current, nbytes = [], [], 0
    for i, n in enumerate(sizes):
        current.append(i)
        nbytes += n * itemsize
        if nbytes >= limit:
            groups.append(current)
            current, nbytes = [], 0
    if current:
        groups.append(current)
    return groups


def average_gradients(gradients: Any, group: Optional["mx.distributed.Group"] = None,
                      all_reduce_size: int = 32 * 1024**2,
                      communication_stream: Optional[mx.Stream] = None,
                      communication_type: Optional[mx.Dtype] = None):
    """The mean over the processes of ``group`` (default: the global group) of a gradient
    tree. Small arrays of one dtype are concatenated into batches of about
    ``all_reduce_size`` bytes, one ``all_sum`` per batch (``<= 0``: one per array).
    ``communication_type`` casts the arrays for the exchange and back afterwards."""
    group = group or mx.distributed.init()
    n = group.size()
    if n == 1:
        return gradients

    def reduce_one(x):
        dtype = x.dtype
        if communication_type is not None:
            x = x.astype(communication_type)
        x = mx.distributed.all_sum(x, group=group, stream=communication_stream)
        return (x / n).astype(dtype) if communication_type is not None else x / n

    if all_reduce_size <= 0:
        return tree_map(reduce_one, gradients)

    flat = tree_flatten(gradients)
    if len(flat) == 0:
        return gradients
    dtypes = [g.dtype for _, g in flat]
    if any(dt != dtypes[0] for dt in dtypes):
        return average_gradients(gradients, group, 0, communication_stream,
                                 communication_type)
    itemsize = (communication_type or dtypes[0]).size
    sizes = [g.size for _, g in flat]
    out = []
    for members in _size_groups(sizes, itemsize, all_reduce_size):
        joined = reduce_one(mx.concatenate([flat[i][1].reshape(-1) for i in members]))
        offsets, total = [], 0
        for i in members[:-1]:
            total += sizes[i]
            offsets.append(total)
        parts = mx.split(joined, offsets)
        out.extend((flat[i][0], part.reshape(flat[i][1].shape))
                   for i, part in zip(members, parts))
    return tree_unflatten(out)


def clip_grad_norm_sharded(gradients: Any, max_norm: float,
                           group: Optional["mx.distributed.Group"] = None):
    """Clip gradients sharded over ``group`` to a global norm of at most ``max_norm``.
    Returns ``(clipped local shard, global norm)``."""
    local = tree_reduce(lambda acc, g: acc + g.square().sum(), gradients, 0.0)
    norm = mx.sqrt(mx.distributed.all_sum(local, group=group))
    scale = mx.minimum(max_norm / (norm + 1e-6), 1.0)
    return tree_map(lambda g: g * scale, gradients), norm
