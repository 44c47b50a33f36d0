"""Activation functions of mlx.nn in function form (element-wise ones compiled once with
mx.compile(shapeless=True)) and in Module form (a layer calling the function, holding its
hyper-parameters, PReLU its learned slope)."""
import math
from functools import partial
from typing import Any

import mlx.core as mx
from mlx.nn.layers.base import Module

_shapeless = partial(mx.compile, shapeless=True)

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@_shapeless
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return mx.sigmoid(x)


@_shapeless
def relu(x):
    """``max(x, 0)``."""
    return mx.maximum(x, 0)


@_shapeless
def relu2(x):
    """``max(x, 0) ** 2``."""
    return mx.square(mx.maximum(x, 0))


@_shapeless
def relu6(x):
    """``min(max(x, 0), 6)``."""
    return mx.minimum(mx.maximum(x, 0), 6.0)


@_shapeless
def leaky_relu(x, negative_slope=0.01):
    """``max(negative_slope * x, x)``."""
    return mx.maximum(negative_slope * x, x)


@_shapeless
def log_softmax(x, axis=-1):
    """``x - logsumexp(x, axis)``, shifted by the (gradient-free) maximum first."""
    shifted = x - mx.stop_gradient(mx.max(x, axis=axis, keepdims=True))
    return shifted - mx.logsumexp(shifted, axis=axis, keepdims=True)


@_shapeless
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x), axis)``."""
    return mx.softmax(x, axis=axis)


@_shapeless
def softmin(x, axis=-1):
    """``softmax(-x, axis)``."""
    return mx.softmax(-x, axis=axis)


@_shapeless
def elu(x, alpha=1.0):
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    return mx.where(x > 0, x, alpha * (mx.exp(x) - 1))


@_shapeless
def softplus(x):
    """``log(1 + exp(x))``."""
    return mx.logaddexp(x, 0)


@_shapeless
def softsign(x):
    """``x / (1 + |x|)``."""
    return mx.divide(x, 1 + mx.abs(x))


@_shapeless
def softshrink(x, lambd: float = 0.5):
    """``x - sign(x) * lambd`` where ``|x| > lambd``, else 0."""
    return mx.where(mx.abs(x) > lambd, x - mx.sign(x) * lambd, 0)


@_shapeless
def celu(x, alpha=1.0):
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``."""
    return mx.maximum(x, 0.0) + alpha * (mx.exp(mx.minimum(x, 0.0) / alpha) - 1)


@_shapeless
def silu(x):
    """``x * sigmoid(x)``."""
    return x * mx.sigmoid(x)


@_shapeless
def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return -mx.logaddexp(-x, 0)


@_shapeless
def gelu(x) -> mx.array:
    """``x * Phi(x)`` with the exact Gaussian CDF ``Phi``."""
    return x * (1 + mx.erf(x / _SQRT_2)) / 2


@_shapeless
def gelu_approx(x):
    """The tanh approximation of :func:`gelu`."""
    return 0.5 * x * (1 + mx.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))


@_shapeless
def gelu_fast_approx(x):
    """The sigmoid approximation ``x * sigmoid(1.702 x)`` of :func:`gelu`."""
    return x * mx.sigmoid(1.702 * x)


def glu(x: mx.array, axis: int = -1) -> mx.array:
    """Gated linear unit: split ``x`` in two halves ``a, b`` along ``axis``; ``a * sigmoid(b)``."""
    a, b = mx.split(x, indices_or_sections=2, axis=axis)
    return a * mx.sigmoid(b)


@_shapeless
def step(x: mx.array, threshold: float = 0.0):
    """1 where ``x >= threshold``, else 0."""
    return mx.where(x >= threshold, 1, 0)


@_shapeless
def selu(x):
    """Scaled ELU: ``1.0507 * elu(x, 1.67326)``."""
    return mx.where(x > 0, x, 1.67326 * (mx.exp(x) - 1)) * 1.0507


@_shapeless
def prelu(x: mx.array, alpha: mx.array) -> mx.array:
    """``max(0, x) + alpha * min(0, x)``."""
    return mx.maximum(0, x) + alpha * mx.minimum(0, x)


@_shapeless
def mish(x: mx.array) -> mx.array:
    """``x * tanh(softplus(x))``."""
    return x * mx.tanh(mx.logaddexp(x, 0))


@_shapeless
def hardswish(x):
    """``x * min(max(x + 3, 0), 6) / 6``."""
    return x * mx.minimum(mx.maximum(x + 3, 0), 6) / 6


@_shapeless
def hard_tanh(x, min_val=-1.0, max_val=1.0):
    """``x`` clipped to ``[min_val, max_val]``."""
    return mx.minimum(mx.maximum(x, min_val), max_val)


@_shapeless
def hard_shrink(x, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0."""
    return mx.where(mx.abs(x) > lambd, x, 0)


def tanh(x):
    """Hyperbolic tangent."""
    return mx.tanh(x)


def _calls(fn):
    """Class decorator: a parameter-free activation layer whose call is ``fn(x)``."""
    def decorate(cls):
        cls.__call__ = lambda self, x: fn(x)
        return cls
    return decorate


class GLU(Module):
    """Gated linear unit layer over ``axis`` (see :func:`glu`)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def __call__(self, x) -> Any:
        return glu(x=x, axis=self.axis)


@_calls(sigmoid)
class Sigmoid(Module):
    """Layer form of :func:`sigmoid`."""


@_calls(mish)
class Mish(Module):
    """Layer form of :func:`mish`."""


@_calls(relu)
class ReLU(Module):
    """Layer form of :func:`relu`."""


@_calls(relu2)
class ReLU2(Module):
    """Layer form of :func:`relu2`."""


@_calls(relu6)
class ReLU6(Module):
    """Layer form of :func:`relu6`."""


class LeakyReLU(Module):
    """Layer form of :func:`leaky_relu`."""

    def __init__(self, negative_slope=1e-2):
        super().__init__()
        self._negative_slope = negative_slope

    def __call__(self, x):
        return leaky_relu(x, self._negative_slope)


class ELU(Module):
    """Layer form of :func:`elu`."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return elu(x, self._alpha)


@_calls(softmax)
class Softmax(Module):
    """Layer form of :func:`softmax` over the last axis."""


@_calls(softplus)
class Softplus(Module):
    """Layer form of :func:`softplus`."""


@_calls(softsign)
class Softsign(Module):
    """Layer form of :func:`softsign`."""


class Softshrink(Module):
    """Layer form of :func:`softshrink`."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return softshrink(x, self.lambd)


class CELU(Module):
    """Layer form of :func:`celu`."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return celu(x, self._alpha)


@_calls(silu)
class SiLU(Module):
    """Layer form of :func:`silu`."""


@_calls(log_softmax)
class LogSoftmax(Module):
    """Layer form of :func:`log_softmax` over the last axis."""


@_calls(log_sigmoid)
class LogSigmoid(Module):
    """Layer form of :func:`log_sigmoid`."""


class PReLU(Module):
    """:func:`prelu` with a learned slope ``weight`` of ``num_parameters`` entries
    (initialized to ``init``), broadcast against the last axis of the input."""

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.weight = mx.full([num_parameters], init)

    def __call__(self, x: mx.array):
        return prelu(x, self.weight)


class GELU(Module):
    """Layer form of :func:`gelu`; ``approx`` 'precise' or 'tanh' selects
    :func:`gelu_approx`, 'fast' :func:`gelu_fast_approx`."""

    def __init__(self, approx="none"):
        super().__init__()
        allowed = ["none", "precise", "tanh", "fast"]
        if approx not in allowed:
            raise ValueError(
                f"The approximation should be in {allowed} but '{approx}' was given")
        self._approx = approx

    def __call__(self, x):
        if self._approx == "none":
            return gelu(x)
        if self._approx == "fast":
            return gelu_fast_approx(x)
        return gelu_approx(x)


@_calls(tanh)
class Tanh(Module):
    """Layer form of :func:`tanh`."""


@_calls(hardswish)
class Hardswish(Module):
    """Layer form of :func:`hardswish`."""


class Step(Module):
    """Layer form of :func:`step`."""

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = threshold

    def __call__(self, x: mx.array):
        return step(x, self.threshold)


@_calls(selu)
class SELU(Module):
    """Layer form of :func:`selu`."""


@_calls(hard_tanh)
class HardTanh(Module):
    """Layer form of :func:`hard_tanh` on ``[-1, 1]``."""


class HardShrink(Module):
    """Layer form of :func:`hard_shrink`."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def __call__(self, x):
        return hard_shrink(x, self.lambd)


@_calls(softmin)
class Softmin(Module):
    """Layer form of :func:`softmin` over the last axis."""
