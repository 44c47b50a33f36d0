"""Affine layers: Identity, Linear (y = x W^T + b, W of shape (out, in)) and Bilinear
(y_i = x2^T W_i x1 + b_i). Weights start uniform in +-1/sqrt(input dims) as in MLX."""
import math
from typing import Any, Optional

import mlx.core as mx
from mlx.nn.layers.base import Module


class Identity(Module):
    """Returns its input; any constructor arguments are ignored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __call__(self, x: mx.array) -> mx.array:
        return x


def _uniform(scale, shape):
    return mx.random.uniform(low=-scale, high=scale, shape=shape)


class Linear(Module):
    """``y = x @ weight.T + bias`` with ``weight`` of shape ``(output_dims, input_dims)``;
    weight and bias start in ``U(-k, k)``, ``k = 1/sqrt(input_dims)``."""

    def __init__(self, input_dims: int, output_dims: int, bias: bool = True) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.weight = _uniform(scale, (output_dims, input_dims))
        if bias:
            self.bias = _uniform(scale, (output_dims,))

    def _extra_repr(self) -> str:
        out_dims, in_dims = self.weight.shape
        return f"input_dims={in_dims}, output_dims={out_dims}, bias={'bias' in self}"

    def __call__(self, x: mx.array) -> mx.array:
        if "bias" in self:
            return mx.addmm(self["bias"], x, self["weight"].T)
        return x @ self["weight"].T

    def to_quantized(self, group_size: Optional[int] = None, bits: Optional[int] = None,
                     mode: str = "affine", quantize_input: bool = False):
        """A quantized copy of this layer: QuantizedLinear, or QQLinear when the inputs are
        quantized too (only in the 'nvfp4' and 'mxfp8' modes)."""
        from mlx.nn.layers import quantized
        if quantize_input:
            if mode not in ["nvfp4", "mxfp8"]:
                raise ValueError("Quantized activations are only supported for 'nvfp4' and "
                                 f"'mxfp8' modes, got {mode}.")
            return quantized.QQLinear.from_linear(self, group_size, bits, mode)
        return quantized.QuantizedLinear.from_linear(self, group_size, bits, mode)


class Bilinear(Module):
    """``y_i = x2 @ weight[i] @ x1 + bias_i`` with ``weight`` of shape
    ``(output_dims, input2_dims, input1_dims)``; parameters start in ``U(-k, k)``,
    ``k = 1/sqrt(input1_dims)``."""

    def __init__(self, input1_dims: int, input2_dims: int, output_dims: int,
                 bias: bool = True) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / input1_dims)
        self.weight = _uniform(scale, (output_dims, input2_dims, input1_dims))
        if bias:
            self.bias = _uniform(scale, (output_dims,))

    def _extra_repr(self) -> str:
        out_dims, in2, in1 = self.weight.shape
        return (f"input1_dims={in1}, input2_dims={in2}, output_dims={out_dims}, "
                f"bias={'bias' in self}")

    def __call__(self, x1: mx.array, x2: mx.array) -> mx.array:
        out_dims, in2, in1 = self.weight.shape
        batch_shape = x1.shape[:-1]
        # (B, in1) @ (in1, out*in2) -> per output, the vector W_i x1 of size in2
        wx1 = x1.reshape(-1, in1) @ self.weight.reshape(out_dims * in2, in1).T
        wx1 = wx1.reshape(-1, out_dims, in2).swapaxes(-2, -1)
        y = (x2.reshape(-1, 1, in2) @ wx1).squeeze(1)
        y = y.reshape(*batch_shape, out_dims)
        if "bias" in self:
            y = y + self.bias
        return y
