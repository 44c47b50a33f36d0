"""Embedding: a lookup table of ``num_embeddings`` vectors of size ``dims`` (rows start
N(0, 1/dims)); ``as_linear`` reuses the table as an output projection (tied weights)."""
import math
from typing import Optional

import mlx.core as mx
from mlx.nn.layers.base import Module


class Embedding(Module):
    """Maps integer ids to rows of ``weight`` (shape ``(num_embeddings, dims)``)."""

    def __init__(self, num_embeddings: int, dims: int):
        super().__init__()
        self.weight = mx.random.normal(shape=(num_embeddings, dims), scale=math.sqrt(1 / dims))

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

    def __call__(self, x):
        return self.weight[x]

    def as_linear(self, x):
        """``x @ weight.T``: scores of ``x`` against every embedding."""
        return x @ self.weight.T

    def to_quantized(self, group_size: Optional[int] = None, bits: Optional[int] = None,
                     mode: str = "affine", quantize_input: bool = False):
        """A QuantizedEmbedding approximating this layer."""
        from mlx.nn.layers import quantized
        if quantize_input:
            raise ValueError("Quantized input is not supported.")
        return quantized.QuantizedEmbedding.from_embedding(self, group_size, bits, mode)
