"""tril and triu (spec/python-api.md section 9) against NumPy: dtypes, offsets, batches, errors
and gradients; also diagonal and diag (section D's) on the same inputs, every dtype."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES


def to_np(a):
    return np.array(a.astype(mx.float32)) if a.dtype == mx.bfloat16 else np.array(a)


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_diagonal_diag_every_dtype(rng, dt):
    x = rng.integers(0, 2, (3, 4, 5)) if dt == mx.bool_ else rng.integers(0, 30, (3, 4, 5))
    a = mx.array(x).astype(dt)
    for off, ax1, ax2 in [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (2, 1, 2), (-3, 2, 0), (0, -1, -2), (9, 0, 1)]:
        got = mx.diagonal(a, off, ax1, ax2)
        assert got.dtype == dt
        np.testing.assert_array_equal(to_np(got), np.diagonal(x, off, ax1, ax2).astype(to_np(got).dtype))
    m = x[0]
    for k in [-4, -1, 0, 2, 7]:
        np.testing.assert_array_equal(to_np(mx.diag(mx.array(m).astype(dt), k)), np.diag(m, k).astype(to_np(a).dtype))
        v = x[0, 0]
        np.testing.assert_array_equal(to_np(mx.diag(mx.array(v).astype(dt), k)), np.diag(v, k).astype(to_np(a).dtype))


def test_diagonal_forms_and_errors(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    a = mx.array(x)
    np.testing.assert_array_equal(np.array(a.diagonal(1)), np.diagonal(x, 1))
    np.testing.assert_array_equal(np.array(a.diagonal(offset=-2, axis1=1, axis2=0)), np.diagonal(x, -2, 1, 0))
    np.testing.assert_array_equal(np.array(a.diag(k=-1)), np.diag(x, -1))
    np.testing.assert_array_equal(np.array(mx.diagonal(a.T, 0, 0, 1)), np.diagonal(x.T))
    assert mx.diagonal(mx.zeros((0, 3, 2)), 0, 1, 2).shape == (0, 2)
    with pytest.raises(ValueError, match="at least two dimensions"):
        mx.diagonal(mx.zeros((3,)))
    with pytest.raises(ValueError, match="same axis"):
        mx.diagonal(a, 0, 1, 1)
    with pytest.raises(IndexError, match="axis2"):
        mx.diagonal(a, 0, 0, 3)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        mx.diag(mx.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        mx.diag(mx.array(1))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_tril_triu(rng, dt):
    x = rng.integers(0, 2, (2, 3, 5)) if dt == mx.bool_ else rng.integers(1, 30, (2, 3, 5))
    a = mx.array(x).astype(dt)
    for k in [-5, -1, 0, 1, 3, 9]:
        for f_mx, f_np in [(mx.tril, np.tril), (mx.triu, np.triu)]:
            got = f_mx(a, k)
            assert got.dtype == dt
            np.testing.assert_array_equal(to_np(got), f_np(x, k).astype(to_np(got).dtype))
    assert mx.tril(x=a, k=2).shape == (2, 3, 5)
    with pytest.raises(ValueError, match="at least 2-D"):
        mx.tril(mx.zeros((3,)))
    with pytest.raises(ValueError, match="at least 2-D"):
        mx.triu(mx.array(1.0))


def test_gradients(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    w = rng.standard_normal((4, 5)).astype(np.float32)
    g = mx.grad(lambda v: (mx.diagonal(v, 1) * mx.diagonal(v, 1)).sum())(mx.array(x))
    ref = np.zeros_like(x)
    for i in range(4):
        ref[i, i + 1] = 2 * x[i, i + 1]
    np.testing.assert_allclose(np.array(g), ref, rtol=1e-6)
    g = mx.grad(lambda v: (mx.tril(v, -1) * mx.array(w)).sum())(mx.array(x))
    np.testing.assert_allclose(np.array(g), np.tril(w, -1))
    v = rng.standard_normal(3).astype(np.float32)
    g = mx.grad(lambda u: (mx.diag(u, 1) * mx.array(w[:4, :4])).sum())(mx.array(v))
    np.testing.assert_allclose(np.array(g), np.diag(w[:4, :4], 1), rtol=1e-6)
