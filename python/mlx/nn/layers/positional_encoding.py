"""Positional encodings: rotary (RoPE), sinusoidal and ALiBi attention biases."""
import math
from typing import Optional

import mlx.core as mx
from mlx.nn.layers.base import Module


class RoPE(Module):
    """Rotary positional encoding (RoFormer): rotates pairs of features by angles that grow
    with the position. The default rotates feature i with feature i + dims/2; traditional
    rotates consecutive pairs.

    Args:
        dims (int): the features rotated; the rest pass through unchanged.
        traditional (bool): consecutive pairs instead of halves. Default: ``False``.
        base (float): base of the angular frequencies. Default: ``10000``.
        scale (float): multiplies the positions. Default: ``1.0``.
    """

    def __init__(self, dims: int, traditional: bool = False, base: float = 10000,
                 scale: float = 1.0):
        super().__init__()
        self.dims = dims
        self.traditional = traditional
        self.base = base
        self.scale = scale

    def _extra_repr(self):
        return f"{self.dims}, traditional={self.traditional}"

    def __call__(self, x, offset: int = 0):
        return mx.fast.rope(x, self.dims, traditional=self.traditional, base=self.base,
                            scale=self.scale, offset=offset)


class SinusoidalPositionalEncoding(Module):
    """Sinusoidal positional encoding ("Attention Is All You Need"): each input value x
    becomes [sin(x * f), cos(x * f)] over dims / 2 frequencies f spaced geometrically from
    max_freq down to min_freq.

    Args:
        dims (int): size of the embedding (positive, even).
        min_freq (float): the lowest frequency. Default: ``0.0001``.
        max_freq (float): the highest frequency. Default: ``1``.
        scale (float, optional): multiplies the embedding. Default: ``sqrt(2 / dims)``.
        cos_first (bool): [cos; sin] instead of [sin; cos]. Default: ``False``.
        full_turns (bool): frequencies times 2 pi. Default: ``False``.
    """

    def __init__(self, dims: int, min_freq: float = 0.0001, max_freq: float = 1,
                 scale: Optional[float] = None, cos_first: bool = False,
                 full_turns: bool = False):
        super().__init__()
        if dims <= 0 or dims % 2 != 0:
            raise ValueError("[SinusoidalPositionalEncoding] dims must be positive and even but "
                             f"got {dims}.")
        half = dims // 2
        # position 0 gets max_freq, the last min_freq (log-linear in between)
        t = mx.array([1.0]) if half == 1 else 1 - mx.arange(0, half) / (half - 1)
        lo, hi = math.log(min_freq), math.log(max_freq)
        self._sigmas = mx.exp(t * (hi - lo) + lo)
        if full_turns:
            self._sigmas = self._sigmas * (2 * math.pi)
        self.scale = scale if scale is not None else (2 / dims) ** 0.5
        self.cos_first = cos_first

    def __call__(self, x):
        y = x[..., None] * self._sigmas
        parts = [mx.cos(y), mx.sin(y)] if self.cos_first else [mx.sin(y), mx.cos(y)]
        y = mx.concatenate(parts, axis=-1)
        return y * self.scale if self.scale != 1 else y


class ALiBi(Module):
    """Attention with Linear Biases: adds -slope_h * |i - j| to the attention scores of head
    h, query i and key j, with geometric slopes per head."""

    @staticmethod
    def create_alibi_matrix(q_sequence_length: int, k_sequence_length: int, num_heads: int,
                            offset: int = 0, dtype: mx.Dtype = mx.float32) -> mx.array:
        """The (1, num_heads, q_sequence_length - offset, k_sequence_length) bias."""
        q = mx.arange(offset, q_sequence_length)
        k = mx.arange(0, k_sequence_length)
        distance = -mx.abs(mx.expand_dims(q[:, None] - k[None, :], axis=(0, 1)))
        slopes = ALiBi.create_alibi_slope(num_heads=num_heads, dtype=dtype)
        return (distance * slopes).astype(dtype)

    @staticmethod
    def create_alibi_slope(num_heads: int, dtype: mx.Dtype = mx.float32) -> mx.array:
        """Slopes 2^(-8 i / n) for a power-of-two n heads; otherwise those of the nearest
        lower power of two followed by every other slope of the next power. Shape
        (num_heads, 1, 1)."""

        def slopes(n):
            if math.log2(n).is_integer():
                first = 2 ** (-(2 ** -(math.log2(n) - 3)))
                return [first ** (i + 1) for i in range(n)]
            p = 2 ** math.floor(math.log2(n))
            return slopes(p) + slopes(2 * p)[0::2][: n - p]

        return mx.expand_dims(mx.array(slopes(num_heads), dtype=dtype), axis=(-1, -2))

    def __call__(self, attention_scores: mx.array, offset: int = 0,
                 mask: Optional[mx.array] = None) -> mx.array:
        bias = ALiBi.create_alibi_matrix(
            q_sequence_length=attention_scores.shape[-2] + offset,
            k_sequence_length=attention_scores.shape[-1],
            num_heads=attention_scores.shape[1], offset=offset, dtype=attention_scores.dtype)
        if mask is not None:
            bias = bias + mask
        return attention_scores + bias
