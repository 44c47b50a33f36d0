"""Dropout layers, active only in training mode: each element (Dropout) or each whole
channel of a channels-last image (Dropout2d) or volume (Dropout3d) is kept with probability
1 - p and scaled by 1 / (1 - p)."""
import mlx.core as mx
from mlx.nn.layers.base import Module


class _DropoutBase(Module):
    def __init__(self, p: float = 0.5):
        super().__init__()
        if p < 0 or p >= 1:
            raise ValueError(f"The dropout probability {p} is not in [0, 1)")
        self._p_1 = 1 - p

    def _extra_repr(self) -> str:
        return f"p={1 - self._p_1}"

    def _drop(self, x, mask_shape):
        if self._p_1 == 1 or not self.training:
            return x
        mask = mx.random.bernoulli(p=self._p_1, shape=mask_shape)
        return (mask * x) * (1 / self._p_1)


class Dropout(_DropoutBase):
    """Zero each element with probability ``p`` during training."""

    def __call__(self, x: mx.array) -> mx.array:
        return self._drop(x, x.shape)


def _channel_mask_shape(x, spatial, ndims):
    if x.ndim not in ndims:
        raise ValueError(f"Received input with {x.ndim} dimensions. Expected "
                         f"{ndims[0]} or {ndims[1]} dimensions.")
    shape = list(x.shape)
    for axis in range(-spatial - 1, -1):
        shape[axis] = 1
    return shape


class Dropout2d(_DropoutBase):
    """Zero whole channels of ``(N, H, W, C)`` or ``(H, W, C)`` inputs with probability
    ``p`` during training."""

    def __call__(self, x: mx.array) -> mx.array:
        return self._drop(x, _channel_mask_shape(x, 2, (3, 4)))


class Dropout3d(_DropoutBase):
    """Zero whole channels of ``(N, D, H, W, C)`` or ``(D, H, W, C)`` inputs with
    probability ``p`` during training."""

    def __call__(self, x: mx.array) -> mx.array:
        return self._drop(x, _channel_mask_shape(x, 3, (4, 5)))
