"""Helpers shared by test_shape.py, test_layout.py and test_matmul.py: random inputs of every
dtype built from NumPy, non-contiguous views holding the same values, exact comparison, and
gradient checks against central finite differences in float64 (on the CPU stream, where
float64 lives)."""
import numpy as np

import mlx.core as mx
from conftest import NP_DTYPES, assert_close

FLOATS = [mx.float16, mx.float32, mx.float64, mx.bfloat16]


def rand_np(rng, shape, dtype):
    """Random values representable in dtype (NumPy, in a NumPy dtype that holds them)."""
    if dtype == mx.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    if dtype in (mx.uint8, mx.uint16, mx.uint32, mx.uint64):
        return rng.integers(0, 200, shape).astype(NP_DTYPES[dtype])
    if dtype in (mx.int8, mx.int16, mx.int32, mx.int64):
        return rng.integers(-100, 100, shape).astype(NP_DTYPES[dtype])
    if dtype == mx.complex64:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    x = rng.standard_normal(shape)
    if dtype == mx.bfloat16:  # values exact in bfloat16
        return mx_to_np(mx.array(x.astype(np.float32)).astype(mx.bfloat16))
    return x.astype(NP_DTYPES[dtype])


def np_to_mx(x, dtype):
    if dtype == mx.bfloat16:
        return mx.array(np.asarray(x, np.float32)).astype(mx.bfloat16)
    if dtype == mx.float64:
        with mx.stream(mx.cpu):
            return mx.array(np.asarray(x, np.float64), dtype=mx.float64)
    return mx.array(np.asarray(x, NP_DTYPES[dtype]))


def mx_to_np(x):
    if x.dtype == mx.bfloat16:
        x = x.astype(mx.float32)
    return np.array(x)


def strided_copy(x_np, dtype, kind):
    """An mx view with the values of x_np that is not row-contiguous: 'T' a transposed
    array, 'slice' every other element of a larger array, 'bcast' a broadcast when x_np's
    leading axis repeats one row. Plain construction for 'plain'."""
    if kind == "plain" or x_np.ndim == 0:
        return np_to_mx(x_np, dtype)
    if kind == "T":
        return np_to_mx(np.ascontiguousarray(x_np.T), dtype).T
    if kind == "slice":
        big = np.repeat(x_np, 2, axis=-1)
        return np_to_mx(big, dtype)[..., ::2]
    raise ValueError(kind)


def assert_same(actual, expected, dtype=None):
    """Exact comparison (data movement ops): dtype, shape and every value (NaN == NaN)."""
    if dtype is not None:
        assert actual.dtype == dtype, (actual.dtype, dtype)
    got = mx_to_np(actual)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if got.dtype.kind == "c":
        np.testing.assert_array_equal(got, expected.astype(got.dtype))
    else:
        np.testing.assert_array_equal(got, expected.astype(got.dtype, copy=False))


def finite_diff(f_np, x, eps=1e-6):
    """Central differences of a scalar function of a float64 array."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f_np(x + e) - f_np(x - e)) / (2 * eps)
    return g


def check_grad(op, x_np, rng, atol=1e-6, rtol=1e-6):
    """mx.grad and mx.jvp of sum(op(x) * w) (w random) against central differences."""
    with mx.stream(mx.cpu):
        out_shape = op(mx.array(x_np, dtype=mx.float64)).shape
        w = mx.array(rng.standard_normal(out_shape), dtype=mx.float64)

        def f(x):
            return (op(x) * w).sum()

        def f_np(x):
            return float(np.array(f(mx.array(x, dtype=mx.float64))))

        x = mx.array(x_np, dtype=mx.float64)
        g = mx.grad(f)(x)
        fd = finite_diff(f_np, x_np)
        np.testing.assert_allclose(np.array(g), fd, rtol=rtol, atol=atol)
        t_np = rng.standard_normal(x_np.shape)
        _, (jv,) = mx.jvp(f, [x], [mx.array(t_np, dtype=mx.float64)])
        np.testing.assert_allclose(float(np.array(jv)), float(np.sum(fd * t_np)), rtol=1e-5,
                                   atol=1e-6)


def check_grad_n(op, xs_np, rng, atol=1e-6, rtol=1e-6):
    """Gradients of sum(op(*xs) * w) with respect to every argument."""
    with mx.stream(mx.cpu):
        xs = [mx.array(x, dtype=mx.float64) for x in xs_np]
        w = mx.array(rng.standard_normal(op(*xs).shape), dtype=mx.float64)

        def f(*args):
            return (op(*args) * w).sum()

        grads = mx.grad(f, argnums=tuple(range(len(xs))))(*xs)
        for i, x_np in enumerate(xs_np):
            def f_i(xi, i=i):
                args = list(xs)
                args[i] = mx.array(xi, dtype=mx.float64)
                return float(np.array(f(*args)))

            np.testing.assert_allclose(np.array(grads[i]), finite_diff(f_i, x_np), rtol=rtol,
                                       atol=atol)


__all__ = ["FLOATS", "rand_np", "np_to_mx", "mx_to_np", "strided_copy", "assert_same",
           "finite_diff", "check_grad", "check_grad_n", "assert_close"]
