"""Quantized layers (spec/python-api.md section 26): QuantizedLinear and QuantizedEmbedding
hold frozen packed weights with their scales (and biases for the affine mode) and multiply
through mx.quantized_matmul; QQLinear quantizes its inputs too (mx.qqmm); nn.quantize swaps
the leaf modules that have to_quantized."""
import math
from typing import Callable, Optional, Union

import mlx.core as mx
from mlx.nn.layers.base import Module
from mlx.utils import tree_map_with_path

_DEFAULTS = {"affine": (64, 4), "mxfp4": (32, 4), "mxfp8": (32, 8), "nvfp4": (16, 4)}


def _defaults_for_mode(mode, group_size, bits):
    if mode not in _DEFAULTS:
        raise ValueError(f"Invalid quantization mode '{mode}'. "
                         f"Valid modes are: {', '.join(_DEFAULTS)}.")
    gs, b = _DEFAULTS[mode]
    return (group_size if group_size is not None else gs, bits if bits is not None else b)


def quantize(model: Module, group_size: Optional[int] = None, bits: Optional[int] = None, *,
             mode: str = "affine", quantize_input: bool = False,
             class_predicate: Optional[Callable[[str, Module], Union[bool, dict]]] = None):
    """Replaces in place every leaf module of ``model`` that has ``to_quantized`` (and that
    ``class_predicate(path, module)`` accepts; a dict it returns gives that module's
    to_quantized arguments)."""
    if class_predicate is None:
        class_predicate = lambda _, m: hasattr(m, "to_quantized")  # noqa: E731

    def maybe_quantize(path, m):
        chosen = class_predicate(path, m)
        if not chosen:
            return m
        if not hasattr(m, "to_quantized"):
            raise ValueError(f"Unable to quantize model of type {type(m)}")
        if isinstance(chosen, dict):
            return m.to_quantized(**chosen)
        kwargs = {"group_size": group_size, "bits": bits, "mode": mode}
        if quantize_input:
            kwargs["quantize_input"] = True
        return m.to_quantized(**kwargs)

    leaves = tree_map_with_path(maybe_quantize, model.leaf_modules(), is_leaf=Module.is_module)
    model.update_modules(leaves)


def _quantize_into(layer, w, mode, group_size, bits):
    q = mx.quantize(w, group_size, bits, mode=mode)
    layer.weight, layer.scales = q[0], q[1]
    if mode == "affine":
        layer.biases = q[2]


class QuantizedEmbedding(Module):
    """An Embedding whose table is quantized: rows are dequantized when looked up;
    ``as_linear`` multiplies by the table with quantized_matmul."""

    def __init__(self, num_embeddings: int, dims: int, group_size: Optional[int] = None,
                 bits: Optional[int] = None, mode: str = "affine"):
        super().__init__()
        self.group_size, self.bits = _defaults_for_mode(mode, group_size, bits)
        self.mode = mode
        scale = math.sqrt(1 / dims)
        w = mx.random.normal(shape=(num_embeddings, dims), scale=scale)
        _quantize_into(self, w, mode, self.group_size, self.bits)
        self.num_embeddings = num_embeddings
        self.dims = dims
        self.freeze()

    def __call__(self, x):
        return mx.dequantize(self["weight"][x], scales=self["scales"][x],
                             biases=self["biases"][x] if "biases" in self else None,
                             group_size=self.group_size, bits=self.bits, mode=self.mode)

    def as_linear(self, x):
        """``x @ dequantize(weight).T``: scores of x against every embedding."""
        return mx.quantized_matmul(x, self["weight"], scales=self["scales"],
                                   biases=self.get("biases"), transpose=True,
                                   group_size=self.group_size, bits=self.bits, mode=self.mode)

    def _extra_repr(self):
        return (f"{self.num_embeddings}, {self.dims}, group_size={self.group_size}, "
                f"bits={self.bits}, mode={self.mode}")

    @classmethod
    def from_embedding(cls, embedding_layer: Module, group_size: Optional[int] = None,
                       bits: Optional[int] = None, mode: str = "affine"):
        """A QuantizedEmbedding holding the quantized table of ``embedding_layer``."""
        num, dims = embedding_layer.weight.shape
        ql = cls(num, dims, group_size, bits, mode=mode)
        _quantize_into(ql, embedding_layer.weight, mode, ql.group_size, ql.bits)
        return ql


class QuantizedLinear(Module):
    """A Linear layer with a quantized weight: ``x @ dequantize(weight).T + bias`` computed
    by quantized_matmul; the quantized parameters are frozen (the float bias is not)."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True,
                 group_size: Optional[int] = None, bits: Optional[int] = None,
                 mode: str = "affine"):
        super().__init__()
        self.group_size, self.bits = _defaults_for_mode(mode, group_size, bits)
        self.mode = mode
        scale = math.sqrt(1 / input_dims)
        w = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        _quantize_into(self, w, mode, self.group_size, self.bits)
        if bias:
            self.bias = mx.zeros((output_dims,))
        self.freeze()

    def unfreeze(self, *args, **kwargs):
        """Unfreezes as Module does, keeping the quantized parameters frozen."""
        super().unfreeze(*args, **kwargs)
        self.freeze(recurse=False)

    def _extra_repr(self):
        out_dims, in_dims = self.weight.shape
        in_dims = in_dims * 32 // self.bits
        return (f"input_dims={in_dims}, output_dims={out_dims}, bias={'bias' in self}, "
                f"group_size={self.group_size}, bits={self.bits}, mode={self.mode}")

    def __call__(self, x):
        x = mx.quantized_matmul(x, self["weight"], scales=self["scales"],
                                biases=self.get("biases"), transpose=True,
                                group_size=self.group_size, bits=self.bits, mode=self.mode)
        if "bias" in self:
            x = x + self["bias"]
        return x

    @classmethod
    def from_linear(cls, linear_layer: Module, group_size: Optional[int] = None,
                    bits: Optional[int] = None, mode: str = "affine"):
        """A QuantizedLinear holding the quantized weight (and the bias) of ``linear_layer``."""
        out_dims, in_dims = linear_layer.weight.shape
        ql = cls(in_dims, out_dims, False, group_size, bits, mode=mode)
        _quantize_into(ql, linear_layer.weight, mode, ql.group_size, ql.bits)
        if "bias" in linear_layer:
            ql.bias = linear_layer.bias
        return ql


class QQLinear(Module):
    """A Linear layer without bias whose inputs and weight are both quantized (mx.qqmm, modes
    'nvfp4' and 'mxfp8'). In training mode the weight stays in floating point and is
    quantized on the fly, so it gets gradients; ``eval()`` stores it quantized with its
    scales and ``train()`` dequantizes it back."""

    def __init__(self, input_dims: int, output_dims: int, group_size: Optional[int] = None,
                 bits: Optional[int] = None, mode: str = "nvfp4"):
        super().__init__()
        self.group_size, self.bits = _defaults_for_mode(mode, group_size, bits)
        self.mode = mode
        scale = math.sqrt(1 / input_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        self._quantized = False

    def _extra_repr(self):
        out_dims, in_dims = self.weight.shape
        if self.weight.dtype == mx.uint32:
            in_dims = in_dims * 32 // self.bits
        return (f"input_dims={in_dims}, output_dims={out_dims}, "
                f"group_size={self.group_size}, bits={self.bits}, mode={self.mode}")

    def quantize(self):
        """Stores the weight quantized (with its scales); nothing when it already is."""
        if not self._quantized:
            self.weight, self.scales = mx.quantize(self.weight, self.group_size, self.bits,
                                                   mode=self.mode)
            self._quantized = True

    def dequantize(self):
        """Stores the weight in floating point again; nothing when it already is."""
        if self._quantized:
            self.weight = mx.dequantize(self.weight, scales=self.scales,
                                        group_size=self.group_size, bits=self.bits,
                                        mode=self.mode)
            self.__delattr__("scales")
            self._quantized = False

    def _set_training_mode(self, mode: bool):
        super()._set_training_mode(mode)
        if self._training:
            self.dequantize()
        else:
            self.quantize()

    def __call__(self, x):
        return mx.qqmm(x, self["weight"], scales=self.get("scales"), group_size=self.group_size,
                       bits=self.bits, mode=self.mode)

    @classmethod
    def from_linear(cls, linear_layer: Module, group_size: Optional[int] = None,
                    bits: Optional[int] = None, mode: str = "nvfp4"):
        """A QQLinear with the weight of ``linear_layer`` (which must have no bias), in the
        same training mode."""
        output_dims, input_dims = linear_layer.weight.shape
        if linear_layer.get("bias") is not None:
            raise NotImplementedError("QQLinear does not support bias yet.")
        ql = cls(input_dims, output_dims, group_size, bits, mode=mode)
        ql.weight = linear_layer.weight
        ql.train(linear_layer.training)
        return ql
