"""mlx.nn activations (spec/python-api.md section 27) in function and Module form against
float64 NumPy formulas: values per float dtype on seeded inputs, result dtypes (integer
inputs too), non-contiguous and empty inputs, NaN/inf, reuse of the compiled functions at
new shapes, gradients against central finite differences, and vmap against a loop."""
import math

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from conftest import assert_close

FLOATS = [mx.float16, mx.bfloat16, mx.float32]


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softplus(x):
    return np.logaddexp(x, 0)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_erf(x):
    return np.vectorize(math.erf)(x)


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


# name -> (NumPy reference, module class, module kwargs passed to both forms)
ACTS = {
    "sigmoid": (np_sigmoid, nn.Sigmoid, {}),
    "relu": (lambda x: np.maximum(x, 0), nn.ReLU, {}),
    "relu2": (lambda x: np.maximum(x, 0) ** 2, nn.ReLU2, {}),
    "relu6": (lambda x: np.clip(x, 0, 6), nn.ReLU6, {}),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), nn.LeakyReLU, {}),
    "log_sigmoid": (lambda x: -np_softplus(-x), nn.LogSigmoid, {}),
    "gelu": (lambda x: x * (1 + np_erf(x / np.sqrt(2))) / 2, nn.GELU, {}),
    "gelu_approx": (lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi)
                                                     * (x + 0.044715 * x**3))), None, {}),
    "gelu_fast_approx": (lambda x: x * np_sigmoid(1.702 * x), None, {}),
    "elu": (np_elu, nn.ELU, {}),
    "celu": (lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)), nn.CELU, {}),
    "selu": (lambda x: 1.0507 * np_elu(x, 1.67326), nn.SELU, {}),
    "silu": (lambda x: x * np_sigmoid(x), nn.SiLU, {}),
    "log_softmax": (lambda x: np.log(np_softmax(x)), nn.LogSoftmax, {}),
    "softmax": (np_softmax, nn.Softmax, {}),
    "softmin": (lambda x: np_softmax(-x), nn.Softmin, {}),
    "softplus": (np_softplus, nn.Softplus, {}),
    "softsign": (lambda x: x / (1 + np.abs(x)), nn.Softsign, {}),
    "mish": (lambda x: x * np.tanh(np_softplus(x)), nn.Mish, {}),
    "hardswish": (lambda x: x * np.clip(x + 3, 0, 6) / 6, nn.Hardswish, {}),
    "hard_tanh": (lambda x: np.clip(x, -1, 1), nn.HardTanh, {}),
    "hard_shrink": (lambda x: np.where(np.abs(x) > 0.5, x, 0), nn.HardShrink, {}),
    "softshrink": (lambda x: np.where(np.abs(x) > 0.5, x - np.sign(x) * 0.5, 0),
                   nn.Softshrink, {}),
    "tanh": (np.tanh, nn.Tanh, {}),
}

# Result dtype for int32 inputs, as printed by MLX 0.32 (float inputs keep their dtype).
INT32_RESULT = {"relu": mx.int32, "relu2": mx.int32, "hard_shrink": mx.int32}

# Kinks and discontinuities where finite differences do not apply.
KINKS = {"relu": [0], "relu2": [0], "relu6": [0, 6], "leaky_relu": [0], "elu": [0],
         "celu": [0], "selu": [0], "hardswish": [-3, 3], "hard_tanh": [-1, 1],
         "hard_shrink": [-0.5, 0.5], "softshrink": [-0.5, 0.5]}


def inputs(rng, shape, dtype, scale=3.0):
    x = (rng.normal(size=shape) * scale).astype(np.float32)
    return mx.array(x).astype(dtype), x.astype(np.float64)


@pytest.mark.parametrize("name", sorted(ACTS))
@pytest.mark.parametrize("dtype", FLOATS)
def test_values(name, dtype, rng):
    ref, _, _ = ACTS[name]
    x, xn = inputs(rng, (3, 7), dtype)
    xn = np.array(x.astype(mx.float32)).astype(np.float64)  # the rounded inputs
    out = getattr(nn, name)(x)
    assert out.dtype == dtype
    rtol, atol = {mx.float16: (4e-3, 4e-3), mx.bfloat16: (3e-2, 3e-2),
                  mx.float32: (1e-5, 1e-5)}[dtype]
    got = np.array(out.astype(mx.float32)).astype(np.float64)
    np.testing.assert_allclose(got, ref(xn), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_module_form_and_int_inputs(name, rng):
    ref, cls, kw = ACTS[name]
    x, xn = inputs(rng, (2, 5), mx.float32)
    if cls is not None:
        layer = cls(**kw)
        assert isinstance(layer, nn.Module)
        assert layer.parameters() == {}
        assert_close(layer(x), ref(xn))
    xi = mx.array(np.arange(-4, 4, dtype=np.int32).reshape(2, 4))
    out = getattr(nn, name)(xi)
    assert out.dtype == INT32_RESULT.get(name, mx.float32)
    np.testing.assert_allclose(np.array(out).astype(np.float64),
                               ref(np.arange(-4, 4).reshape(2, 4).astype(np.float64)),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_new_shapes_noncontiguous_empty(name, rng):
    """The compiled forms are traced once and reused at other shapes and layouts."""
    ref, _, _ = ACTS[name]
    fn = getattr(nn, name)
    for shape in [(4,), (2, 3), (3, 1, 5)]:
        x, xn = inputs(rng, shape, mx.float32)
        assert_close(fn(x), ref(xn))
    x, xn = inputs(rng, (5, 4), mx.float32)
    assert_close(fn(x.T), ref(xn.T))
    assert_close(fn(x[::2, 1:]), ref(xn[::2, 1:]))
    # traced already, so (as in MLX) the replay at an empty shape skips logsumexp's
    # refusal of empty inputs
    assert fn(mx.zeros((0, 3))).shape == (0, 3)


def test_special_values():
    x = mx.array([np.inf, -np.inf, np.nan, 0.0])
    np.testing.assert_array_equal(np.array(nn.relu(x)), [np.inf, 0, np.nan, 0])
    np.testing.assert_array_equal(np.array(nn.sigmoid(x)), [1, 0, np.nan, 0.5])
    np.testing.assert_allclose(np.array(nn.softplus(x))[[0, 1, 3]], [np.inf, 0, np.log(2.0)],
                               rtol=1e-6)
    assert np.isnan(np.array(nn.softplus(x))[2])
    np.testing.assert_array_equal(np.array(nn.hard_tanh(x))[[0, 1, 3]], [1, -1, 0])
    big = mx.array([[1000.0, 0.0, -1000.0]])
    np.testing.assert_allclose(np.array(nn.log_softmax(big)), [[0, -1000, -2000]])
    np.testing.assert_allclose(np.array(nn.softmax(big)), [[1, 0, 0]])


def test_parameterized_functions(rng):
    x, xn = inputs(rng, (4, 6), mx.float32)
    assert_close(nn.leaky_relu(x, 0.3), np.where(xn > 0, xn, 0.3 * xn))
    assert_close(nn.leaky_relu(x, negative_slope=0.1), np.where(xn > 0, xn, 0.1 * xn))
    assert_close(nn.LeakyReLU(0.2)(x), np.where(xn > 0, xn, 0.2 * xn))
    assert_close(nn.elu(x, 0.5), np_elu(xn, 0.5))
    assert_close(nn.ELU(alpha=2.0)(x), np_elu(xn, 2.0))
    assert_close(nn.celu(x, alpha=2.0), np.maximum(xn, 0) + 2 * np.expm1(np.minimum(xn, 0) / 2))
    assert_close(nn.CELU(0.5)(x), np.maximum(xn, 0) + 0.5 * np.expm1(np.minimum(xn, 0) / 0.5))
    assert_close(nn.softshrink(x, 1.5), np.where(np.abs(xn) > 1.5, xn - np.sign(xn) * 1.5, 0))
    assert_close(nn.Softshrink(lambd=1.0)(x),
                 np.where(np.abs(xn) > 1.0, xn - np.sign(xn), 0))
    assert_close(nn.hard_shrink(x, lambd=2.0), np.where(np.abs(xn) > 2, xn, 0))
    assert_close(nn.HardShrink(1.0)(x), np.where(np.abs(xn) > 1, xn, 0))
    assert_close(nn.hard_tanh(x, -0.5, 2.0), np.clip(xn, -0.5, 2.0))
    assert_close(nn.hard_tanh(x, min_val=0.0, max_val=1.0), np.clip(xn, 0, 1))
    for axis in [0, 1, -2]:
        assert_close(nn.softmax(x, axis=axis), np_softmax(xn, axis))
        assert_close(nn.softmin(x, axis), np_softmax(-xn, axis))
        assert_close(nn.log_softmax(x, axis=axis), np.log(np_softmax(xn, axis)))


def test_step():
    x = mx.array([-1.0, 0.0, 0.5, 2.0])
    out = nn.step(x)
    assert out.dtype == mx.int32
    np.testing.assert_array_equal(np.array(out), [0, 1, 1, 1])
    np.testing.assert_array_equal(np.array(nn.step(x, 1.0)), [0, 0, 0, 1])
    np.testing.assert_array_equal(np.array(nn.step(x, threshold=0.5)), [0, 0, 1, 1])
    np.testing.assert_array_equal(np.array(nn.Step(0.1)(x)), [0, 0, 1, 1])
    assert nn.Step(threshold=0.7).threshold == 0.7


def test_gelu_module_variants(rng):
    x, xn = inputs(rng, (3, 4), mx.float32)
    assert_close(nn.GELU()(x), ACTS["gelu"][0](xn))
    for approx in ["precise", "tanh"]:
        assert_close(nn.GELU(approx=approx)(x), ACTS["gelu_approx"][0](xn))
    assert_close(nn.GELU("fast")(x), ACTS["gelu_fast_approx"][0](xn))
    with pytest.raises(ValueError, match="The approximation should be in"):
        nn.GELU("bad")


def test_glu(rng):
    x, xn = inputs(rng, (4, 6), mx.float32)
    assert_close(nn.glu(x), xn[:, :3] * np_sigmoid(xn[:, 3:]))
    assert_close(nn.glu(x, axis=0), xn[:2] * np_sigmoid(xn[2:]))
    assert_close(nn.GLU(axis=0)(x), xn[:2] * np_sigmoid(xn[2:]))
    assert_close(nn.GLU()(x), xn[:, :3] * np_sigmoid(xn[:, 3:]))
    with pytest.raises(ValueError):
        nn.glu(mx.zeros((3, 5)))


def test_prelu(rng):
    x, xn = inputs(rng, (4, 3), mx.float32)
    layer = nn.PReLU()
    assert layer.weight.shape == (1,) and layer.weight.item() == 0.25
    assert_close(layer(x), np.maximum(xn, 0) + 0.25 * np.minimum(xn, 0))
    layer = nn.PReLU(num_parameters=3, init=0.1)
    alpha = np.array([0.1, 0.2, 0.3])
    layer.weight = mx.array(alpha.astype(np.float32))
    assert_close(layer(x), np.maximum(xn, 0) + alpha * np.minimum(xn, 0))
    assert_close(nn.prelu(x, mx.array([0.5])), np.maximum(xn, 0) + 0.5 * np.minimum(xn, 0))
    # the slope is learned: its gradient is sum(min(x, 0)) per channel
    grads = nn.value_and_grad(layer, lambda inp: layer(inp).sum())(x)[1]
    np.testing.assert_allclose(np.array(grads["weight"]), np.minimum(xn, 0).sum(0),
                               rtol=1e-5)


def away_from_kinks(x, name):
    for k in KINKS.get(name, []):
        close = np.abs(x - k) < 0.05
        x = np.where(close, k + 0.1, x)
    return x


@pytest.mark.parametrize("name", sorted(ACTS))
def test_grad_finite_differences(name, rng):
    ref, _, _ = ACTS[name]
    fn = getattr(nn, name)
    xn = away_from_kinks(rng.normal(size=(3, 4)) * 2, name)
    w = rng.normal(size=(3, 4))
    x = mx.array(xn, dtype=mx.float64)
    # softmax family: a weighted sum so the gradient is not identically zero
    g = mx.grad(lambda a: (fn(a) * mx.array(w, dtype=mx.float64)).sum())(x)
    eps = 1e-6
    num = np.zeros_like(xn)
    for idx in np.ndindex(xn.shape):
        hi, lo = xn.copy(), xn.copy()
        hi[idx] += eps
        lo[idx] -= eps
        num[idx] = ((ref(hi) * w).sum() - (ref(lo) * w).sum()) / (2 * eps)
    np.testing.assert_allclose(np.array(g), num, rtol=1e-5, atol=1e-7)
    # forward mode agrees with reverse mode along a random direction
    v = rng.normal(size=xn.shape)
    _, tangents = mx.jvp(lambda a: (fn(a) * mx.array(w, dtype=mx.float64)).sum(), [x],
                         [mx.array(v, dtype=mx.float64)])
    np.testing.assert_allclose(tangents[0].item(), (num * v).sum(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["silu", "gelu", "softplus", "log_softmax", "mish", "tanh"])
def test_second_order(name, rng):
    fn = getattr(nn, name)
    xn = rng.normal(size=(5,))
    x = mx.array(xn, dtype=mx.float64)
    dfn = mx.grad(lambda a: fn(a).sum())
    h = mx.grad(lambda a: dfn(a).sum())(x)
    eps = 1e-5
    num = (np.array(dfn(mx.array(xn + eps, dtype=mx.float64)))
           - np.array(dfn(mx.array(xn - eps, dtype=mx.float64)))) / (2 * eps)
    if name == "log_softmax":  # couplings across the axis: compare the diagonal sum
        return np.testing.assert_allclose(np.array(h).sum(), num.sum(), atol=1e-5)
    np.testing.assert_allclose(np.array(h), num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["relu", "gelu", "softmax", "log_softmax", "silu", "glu",
                                  "hard_tanh"])
def test_vmap_matches_loop(name, rng):
    fn = getattr(nn, name)
    x, _ = inputs(rng, (4, 3, 6), mx.float32)
    for axis in [0, 1]:
        out = mx.vmap(fn, in_axes=axis)(x)
        loop = mx.stack([fn(x[i] if axis == 0 else x[:, i]) for i in range(x.shape[axis])])
        np.testing.assert_allclose(np.array(out), np.array(loop), rtol=1e-6, atol=1e-6)
