"""Transformation rules filled in after the first pass: AsStrided's vjp (a scatter-add of
the cotangent through the strided view) and jvp against float64 finite differences and a
NumPy reference, vmap of both against a loop, and View, which has no derivative in MLX."""
import numpy as np
import pytest

import mlx.core as mx

from conftest import assert_close


def F(a):
    return mx.array(np.asarray(a), dtype=mx.float64)

# (input size, shape, strides, offset): overlapping windows, gaps, negative strides, empty
VIEWS = [
    (6, (3, 3), (1, 1), 1),
    (12, (2, 3), (6, 2), 0),
    (6, (2, 2), (-1, 1), 3),
    (5, (5,), (0,), 2),
    (8, (0, 3), (1, 1), 1),
    (24, (2, 2, 3), (12, 1, 4), 0),
    (1, (), (), 0),
]


def np_as_strided_vjp(n, shape, strides, offset, cot):
    """Every output element adds its cotangent to the flat input element it reads."""
    g = np.zeros(n)
    for pos in np.ndindex(*shape):
        g[offset + sum(i * s for i, s in zip(pos, strides))] += cot[pos]
    return g


@pytest.mark.parametrize("n, shape, strides, offset", VIEWS)
def test_as_strided_vjp_matches_scatter(n, shape, strides, offset, rng):
    x = rng.standard_normal(n)
    cot = rng.standard_normal(shape)
    f = lambda a: mx.as_strided(a, shape, strides, offset)
    (out,), (g,) = mx.vjp(f, [F(x)], [F(cot)])
    assert g.shape == (n,) and g.dtype == mx.float64
    assert_close(g, np_as_strided_vjp(n, shape, strides, offset, cot))


@pytest.mark.parametrize("n, shape, strides, offset", VIEWS[:6])
def test_as_strided_grad_finite_differences(n, shape, strides, offset, rng):
    x = rng.standard_normal(n)
    w = F(rng.standard_normal(shape))
    f = lambda a: (mx.sin(mx.as_strided(a, shape, strides, offset)) * w).sum()
    g = np.array(mx.grad(f)(F(x)))
    eps = 1e-6
    fd = np.zeros(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = eps
        fd[i] = (f(F(x + e)).item() - f(F(x - e)).item()) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_as_strided_jvp_finite_differences(rng):
    x = rng.standard_normal(10)
    t = rng.standard_normal(10)
    f = lambda a: mx.exp(mx.as_strided(a, (4, 3), (2, 1), 1))
    _, (jt,) = mx.jvp(f, [F(x)], [F(t)])
    eps = 1e-6
    fd = (np.array(f(F(x + eps * t))) - np.array(f(F(x - eps * t)))) / (2 * eps)
    np.testing.assert_allclose(np.array(jt), fd, rtol=1e-6, atol=1e-8)


def test_as_strided_grad_of_non_contiguous_input(rng):
    """The op flattens its input first: a transposed input is read in row-major order."""
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((4, 3))
    f = lambda a: (mx.as_strided(a.T, (4, 3), (3, 1), 0) * F(w)).sum()
    g = mx.grad(f)(F(x))
    assert_close(g, w.T)


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16, mx.float32, mx.float64])
def test_as_strided_vjp_dtypes(dtype, rng):
    x = rng.standard_normal(7).astype(np.float32)
    cot = rng.standard_normal((3, 3)).astype(np.float32)
    xa = F(x).astype(dtype)
    ca = F(cot).astype(dtype)
    _, (g,) = mx.vjp(lambda a: mx.as_strided(a, (3, 3), (2, 1), 0), [xa], [ca])
    assert g.dtype == dtype
    ref = np_as_strided_vjp(7, (3, 3), (2, 1), 0, np.array(ca.astype(mx.float32)).astype(np.float64))
    assert_close(g, ref)


def test_as_strided_grad_of_grad(rng):
    """The vjp is built from ops, so it differentiates again."""
    x = rng.standard_normal(6)
    v = rng.standard_normal(6)
    f = lambda a: (mx.as_strided(a, (3, 3), (1, 1), 1) ** 3).sum()
    hv = lambda a: (mx.grad(f)(a) * F(v)).sum()
    h = np.array(mx.grad(hv)(F(x)))
    # d/dx of sum_k v_k * sum_{windows reading k} 3 x_k^2 = v * 6 x * (number of reads)
    reads = np_as_strided_vjp(6, (3, 3), (1, 1), 1, np.ones((3, 3)))
    np.testing.assert_allclose(h, 6 * x * v * reads, rtol=1e-12, atol=1e-12)


def test_as_strided_vmap_of_grad_matches_loop(rng):
    xs = rng.standard_normal((4, 6))
    f = lambda a: (mx.as_strided(a, (3, 3), (1, 1), 1) ** 2).sum()
    got = mx.vmap(mx.grad(f))(F(xs))
    for b in range(4):
        assert_close(got[b], np.array(mx.grad(f)(F(xs[b]))))


def test_as_strided_grad_of_vmap_matches_loop(rng):
    xs = rng.standard_normal((3, 8))
    view = lambda r: mx.as_strided(r, (2, 3), (3, 1), 1)
    g = mx.grad(lambda a: (mx.vmap(view)(a) ** 2).sum())(F(xs))
    for b in range(3):
        gb = mx.grad(lambda r: (view(r) ** 2).sum())(F(xs[b]))
        assert_close(g[b], np.array(gb))


def test_view_has_no_derivative():
    """As in MLX, reinterpreting the bits has no vjp or jvp."""
    x = mx.arange(4, dtype=mx.float32)
    with pytest.raises(Exception, match="View"):
        mx.grad(lambda a: a.view(mx.int32).astype(mx.float32).sum())(x)
    with pytest.raises(Exception, match="View"):
        mx.jvp(lambda a: a.view(mx.int32), [x], [x])
    # a view to the same dtype is the identity and differentiates as one
    g = mx.grad(lambda a: a.view(mx.float32).sum())(x)
    assert_close(g, np.ones(4))


# ---- float64 softmax / logsumexp stay in float64 ----------------------------------------


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("shape", [(4, 50), (3, 1000), (2, 3, 20000), (1,), (5, 1)])
@pytest.mark.parametrize("precise", [False, True])
def test_softmax_float64_precision(shape, precise, rng):
    x = rng.standard_normal(shape) * 5
    for xs in (x, np.swapaxes(x, 0, -1)):  # contiguous and transposed rows
        got = mx.softmax(F(xs) if xs is x else F(x).swapaxes(0, -1), axis=-1, precise=precise)
        assert got.dtype == mx.float64
        np.testing.assert_allclose(np.array(got), _np_softmax(xs, -1), rtol=1e-13, atol=1e-300)
    # not the last axis: the composed form, also in float64
    got = mx.softmax(F(x), axis=0, precise=precise)
    np.testing.assert_allclose(np.array(got), _np_softmax(x, 0), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("shape", [(4, 50), (3, 1000), (2, 3, 20000)])
def test_logsumexp_float64_precision(shape, rng):
    x = rng.standard_normal(shape) * 5
    m = x.max(axis=-1, keepdims=True)
    ref = (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]
    got = mx.logsumexp(F(x), axis=-1)
    assert got.dtype == mx.float64
    np.testing.assert_allclose(np.array(got), ref, rtol=1e-14, atol=1e-14)
    ref0 = np.log(np.exp(x).sum(axis=0))
    np.testing.assert_allclose(np.array(mx.logsumexp(F(x), axis=0)), ref0, rtol=1e-14, atol=1e-14)


def test_softmax_float64_grad_precision(rng):
    x, w = rng.standard_normal((3, 7)), rng.standard_normal((3, 7))
    s = _np_softmax(x, -1)
    want = s * (w - (w * s).sum(-1, keepdims=True))
    for precise in (False, True):
        g = mx.grad(lambda a: (mx.softmax(a, axis=-1, precise=precise) * F(w)).sum())(F(x))
        np.testing.assert_allclose(np.array(g), want, rtol=1e-13, atol=1e-15)
