"""The size- and layout-dependent paths of the CUDA reductions and softmax (reduce.cu,
softmax.cu) against float64 NumPy references: long 1-D reductions split over blocks (aligned
and misaligned starts), many long rows (a warp per row), column reductions with contiguous
outputs (vector loads, partial vectors, splits over rows) and without, and softmax/logsumexp
rows held in registers (every width class, partial vectors, padded rows, NaN and infinite
rows) or not (too long, misaligned). Runs on either device."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import NP_DTYPES

FLOATS = [mx.float32, mx.bfloat16, mx.float16, mx.float64]
# relative tolerance of a result rounded to dtype
ROUND = {mx.float32: 1e-6, mx.bfloat16: 8e-3, mx.float16: 1e-3, mx.float64: 1e-13}


def rand(rng, shape, dtype):
    if dtype == mx.bool_:
        x = rng.random(shape) < 0.999
    elif dtype in (mx.int8, mx.int32, mx.int64):
        x = rng.integers(-3, 4, shape)
    elif dtype == mx.uint8:
        x = rng.integers(0, 200, shape)
    elif dtype == mx.complex64:
        x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    else:
        x = rng.standard_normal(shape)
    return mx.array(np.asarray(x).astype(NP_DTYPES.get(dtype, np.float32))).astype(dtype)


def np64(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    x = np.array(a)
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float64)
    if np.issubdtype(x.dtype, np.complexfloating):
        return x.astype(np.complex128)
    return x


def check_sum(got, x, axis, dtype):
    """A float sum: error within the accumulation bound plus the output's rounding."""
    ref = np64(x).sum(axis=axis)
    mag = np.abs(np64(x)).sum(axis=axis)
    g = np64(got)
    acc_eps = 1e-12 if dtype == mx.float64 else 1e-6
    assert np.all(np.abs(g - ref) <= acc_eps * mag + ROUND[dtype] * np.abs(ref) + 1e-30), (
        np.max(np.abs(g - ref)))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("start", [0, 1])
def test_long_full_sum(rng, dtype, start):
    x = rand(rng, (2**21 + 7,), dtype)[start:]
    check_sum(mx.sum(x), x, None, dtype)
    assert np64(mx.max(x)) == np64(x).max()
    assert np64(mx.min(x)) == np64(x).min()


@pytest.mark.parametrize("dtype", [mx.int32, mx.int8, mx.uint8, mx.bool_, mx.int64])
def test_long_full_reduce_ints(rng, dtype):
    x = rand(rng, (2**20 + 5,), dtype)
    ref = np64(x)
    np.testing.assert_array_equal(np.array(mx.sum(x)), ref.sum(dtype=np.int64))
    np.testing.assert_array_equal(np.array(mx.max(x)), ref.max())
    np.testing.assert_array_equal(np.array(mx.min(x)), ref.min())
    assert bool(mx.all(x)) == bool(ref.all()) and bool(mx.any(x)) == bool(ref.any())


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_many_long_rows(rng, dtype):
    x = rand(rng, (4500, 4096), dtype)
    check_sum(mx.sum(x, axis=1), x, 1, dtype)
    np.testing.assert_array_equal(np64(mx.max(x, axis=1)), np64(x).max(axis=1))
    y = x[:, 3:4099 - 8]  # rows that start unaligned
    check_sum(mx.sum(y, axis=1), y, 1, dtype)


@pytest.mark.parametrize("dtype", FLOATS + [mx.complex64])
@pytest.mark.parametrize("shape,cols", [((2048, 1000), None), ((3000, 1040), 1030),
                                        ((5, 4096), None), ((70000, 8), None),
                                        ((300, 1003), None)])
def test_column_sums(rng, dtype, shape, cols):
    x = rand(rng, shape, dtype)
    if cols is not None:  # padded rows: the last vector of outputs is partial
        x = x[:, :cols]
    got = mx.sum(x, axis=0)
    if dtype == mx.complex64:
        ref = np64(x).sum(axis=0)
        np.testing.assert_allclose(np.array(got), ref, rtol=1e-4, atol=1e-3)
    else:
        check_sum(got, x, 0, dtype)
        np.testing.assert_array_equal(np64(mx.max(x, axis=0)), np64(x).max(axis=0))


@pytest.mark.parametrize("dtype", [mx.int32, mx.int8, mx.uint8, mx.bool_, mx.int64])
def test_column_reduce_ints(rng, dtype):
    x = rand(rng, (4099, 520), dtype)
    ref = np64(x)
    np.testing.assert_array_equal(np.array(mx.sum(x, axis=0)), ref.sum(axis=0, dtype=np.int64))
    np.testing.assert_array_equal(np.array(mx.max(x, axis=0)), ref.max(axis=0))
    np.testing.assert_array_equal(np.array(mx.min(x, axis=0)), ref.min(axis=0))
    np.testing.assert_array_equal(np.array(mx.all(x, axis=0)), ref.all(axis=0))
    np.testing.assert_array_equal(np.array(mx.any(x, axis=0)), ref.any(axis=0))


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_column_sums_3d(rng, dtype):
    x = rand(rng, (64, 128, 96), dtype)
    check_sum(mx.sum(x, axis=0), x, 0, dtype)
    check_sum(mx.sum(x, axis=(0, 1)), x, (0, 1), dtype)
    y = x[:, :, 8:]  # outputs at an offset, rows still aligned
    check_sum(mx.sum(y, axis=0), y, 0, dtype)
    z = x[:, :, 1:]  # misaligned outputs: the scalar column kernel
    check_sum(mx.sum(z, axis=0), z, 0, dtype)
    p = x.astype(mx.float32) * 0.01 + 1.0
    np.testing.assert_allclose(np.array(mx.prod(p, axis=0)), np64(p).prod(axis=0), rtol=1e-4)


def softmax_ref(x):
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


def lse_ref(x):
    m = x.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]


SM_TOL = {mx.float32: (1e-5, 1e-7), mx.bfloat16: (1e-2, 1e-4), mx.float16: (2e-3, 1e-5),
          mx.float64: (1e-12, 1e-15)}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [1, 7, 8, 17, 33, 64, 129, 256, 1000, 1024, 2047, 4096, 8192,
                               8200, 16384, 32768, 32776])
def test_softmax_widths(rng, dtype, n):
    x = rand(rng, (3, n), dtype) * 3
    xr = np64(x)
    rtol, atol = SM_TOL[dtype]
    for precise in (False, True):
        np.testing.assert_allclose(np64(mx.softmax(x, axis=-1, precise=precise)),
                                   softmax_ref(xr), rtol=rtol, atol=atol)
    np.testing.assert_allclose(np64(mx.logsumexp(x, axis=-1)), lse_ref(xr), rtol=rtol,
                               atol=atol * 10)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_partial_and_padded_rows(rng, dtype):
    rtol, atol = SM_TOL[dtype]
    one = rand(rng, (1, 1001), dtype)  # one row whose last vector is partial
    padded = rand(rng, (5, 1040), dtype)[:, :1001]  # aligned row starts, partial vectors
    shifted = rand(rng, (5, 1040), dtype)[:, 1:1001]  # misaligned: three-pass kernel
    batched = rand(rng, (2, 3, 4, 520), dtype)[:, :, :, :512]
    for x in (one, padded, shifted, batched):
        np.testing.assert_allclose(np64(mx.softmax(x, axis=-1)), softmax_ref(np64(x)),
                                   rtol=rtol, atol=atol)
        np.testing.assert_allclose(np64(mx.logsumexp(x, axis=-1)), lse_ref(np64(x)),
                                   rtol=rtol, atol=atol * 10)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [3, 24, 100, 2000, 8192])
def test_softmax_special_rows(rng, dtype, n):
    """Rows with a NaN, an infinity or only -inf between ordinary rows (several rows share
    a warp when they are short)."""
    x = rng.standard_normal((37, n)).astype(np.float32)
    x[3, n // 2] = np.nan
    x[4, n - 1] = np.inf
    x[5, :] = -np.inf
    x[6, 1::2] = -np.inf
    x[7, :] = np.nan
    x[8, 0] = np.inf
    x[8, n - 1] = np.nan
    x[9, 0] = -np.inf
    x[9, n - 1] = np.nan
    a = mx.array(x).astype(dtype)
    sm = np64(mx.softmax(a, axis=-1))
    lse = np64(mx.logsumexp(a, axis=-1))
    bad = [3, 4, 5, 7, 8, 9]
    assert np.all(np.isnan(sm[bad]))
    assert np.isnan(lse[3]) and lse[4] == np.inf and lse[5] == -np.inf
    assert np.isnan(lse[7]) and np.isnan(lse[8]) and np.isnan(lse[9])
    good = [i for i in range(37) if i not in bad]
    xr = np64(a)[good]
    rtol, atol = SM_TOL[dtype]
    np.testing.assert_allclose(sm[good], softmax_ref(xr), rtol=rtol, atol=atol)
    np.testing.assert_allclose(lse[good], lse_ref(xr), rtol=rtol, atol=atol * 10)
    assert np.all(sm[6, 1::2] == 0)
