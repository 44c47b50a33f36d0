"""Gathers and scatters of whole rows (the per-row copy, the prefetch and the split of scatters
over the thread pool by destination rows) against NumPy: every dtype, negative and duplicate
indices, non-contiguous tables and updates, and scatter reductions whose order matters."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, DEVICE

# The CPU kernels apply duplicate-row updates in update order (exact serial rounding, the
# last write wins); GPU kernels update concurrently, so there only the values are checked.
SERIAL = DEVICE == "cpu"


def table(rng, shape, dt):
    x = rng.integers(-50, 50, shape)
    if dt == mx.bool_:
        x = x > 0
    elif dt in (mx.uint8, mx.uint16, mx.uint32, mx.uint64):
        x = np.abs(x)
    elif dt == mx.complex64:
        x = x + 1j * rng.integers(-5, 5, shape)
    return mx.array(x).astype(dt), x


def bf16_round(v):
    b = np.asarray(v, np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000
    return b.astype(np.uint32).view(np.float32)


def to_np(a):
    return np.array(a.astype(mx.float32)) if a.dtype == mx.bfloat16 else np.array(a)


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_take_rows_every_dtype(rng, dt):
    a, x = table(rng, (3000, 40), dt)
    idx = rng.integers(-3000, 3000, 5000)
    for ix in [idx.astype(np.int32), idx.astype(np.int64)]:
        np.testing.assert_array_equal(to_np(a[mx.array(ix)]), x[ix])
        np.testing.assert_array_equal(to_np(mx.take(a, mx.array(ix), axis=0)), x[ix])
    u = np.abs(idx).astype(np.uint16) % 3000
    np.testing.assert_array_equal(to_np(a[mx.array(u)]), x[u])


def test_take_rows_layouts(rng):
    a, x = table(rng, (2000, 16, 4), mx.float32)
    idx = rng.integers(0, 2000, (50, 40))
    np.testing.assert_array_equal(np.array(a[mx.array(idx)]), x[idx])  # 2-d index array
    np.testing.assert_array_equal(np.array(a[:, ::2][mx.array(idx[0])]), x[:, ::2][idx[0]])
    t = mx.swapaxes(a, 0, 1)  # rows not contiguous
    np.testing.assert_array_equal(np.array(mx.take(t, mx.array(idx[1] % 16), axis=0)),
                                  np.swapaxes(x, 0, 1)[idx[1] % 16])
    ix = mx.array(rng.integers(0, 2000, 3000))[::3]  # strided index array
    np.testing.assert_array_equal(np.array(a[ix]), x[np.array(ix)])
    np.testing.assert_array_equal(np.array(a[mx.array([], mx.int32)]), x[np.array([], int)])


@pytest.mark.parametrize("dt", [mx.float32, mx.float64, mx.int32, mx.int64, mx.float16, mx.bfloat16, mx.uint8])
def test_scatter_rows_with_duplicates(rng, dt):
    a, x = table(rng, (1000, 64), dt)
    idx = rng.integers(-1000, 1000, 4000)  # about four updates per row
    u, ux = table(rng, (4000, 64), dt)
    ixm = mx.array(idx)
    exp = x.copy()
    np.add.at(exp, idx, ux)
    got = to_np(a.at[ixm].add(u))
    if not SERIAL and dt in (mx.float16, mx.bfloat16, mx.float32):
        np.testing.assert_allclose(got.astype(np.float64), exp.astype(np.float64),
                                   rtol=2e-2 if dt != mx.float32 else 1e-5, atol=0.5)
    else:
        if dt == mx.bfloat16:  # rounded to bfloat16 after every update, in update order
            exp = x.astype(np.float32)
            for i, r in enumerate(idx):
                exp[r] = bf16_round(exp[r] + ux[i])
        elif dt in (mx.float16, mx.uint8):
            exp = to_np(mx.array(exp).astype(dt))  # wrapped / rounded like the dtype
        np.testing.assert_array_equal(got, exp)
    for op, uf in [("maximum", np.maximum), ("minimum", np.minimum)]:
        e = x.copy()
        uf.at(e, idx, ux)
        np.testing.assert_array_equal(to_np(getattr(a.at[ixm], op)(u)), e)
    e = x.copy()
    e[idx] = ux  # duplicates: the last update wins (serially; else one of them)
    b = mx.array(a)
    b[ixm] = u
    if SERIAL:
        np.testing.assert_array_equal(to_np(b), e)
    else:
        got = to_np(b)  # each element comes from one of the updates of its row
        for r in np.unique(idx % 1000)[:50]:
            cand = ux[np.nonzero(idx % 1000 == r)[0]]
            assert ((cand == got[r][None, :]) | (np.isnan(cand) & np.isnan(got[r][None, :]))).any(0).all()


def test_scatter_rows_float_order(rng):
    """Sums of float32 rows in update order: exactly the serial loop's rounding."""
    x = rng.standard_normal((500, 32)).astype(np.float32)
    ux = (rng.standard_normal((6000, 32)) * 1e4).astype(np.float32)
    idx = rng.integers(0, 500, 6000)
    exp = x.copy()
    for i, r in enumerate(idx):
        exp[r] += ux[i]
    got = np.array(mx.array(x).at[mx.array(idx)].add(mx.array(ux)))
    if SERIAL:
        np.testing.assert_array_equal(got, exp)
    else:
        np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1.0)
    got = np.array(mx.array(x).at[mx.array(idx)].multiply(mx.array(ux[:, :1] * 0 + 1.0001)))
    exp = x.copy()
    np.multiply.at(exp, idx, np.float32(1.0001))
    np.testing.assert_allclose(got, exp, rtol=1e-6)


def test_scatter_rows_layouts_and_windows(rng):
    x = rng.standard_normal((300, 8, 16)).astype(np.float32)
    ux = rng.standard_normal((16, 8, 3000)).astype(np.float32)
    upd = mx.transpose(mx.array(ux), (2, 1, 0))  # non-contiguous updates
    idx = rng.integers(0, 300, 3000)
    exp = x.copy()
    np.add.at(exp, idx, np.transpose(ux, (2, 1, 0)))
    np.testing.assert_allclose(np.array(mx.array(x).at[mx.array(idx)].add(upd)), exp, rtol=1e-5, atol=1e-5)
    i2 = rng.integers(0, 8, 3000)  # two index arrays: windows are 1 x 1 x 16
    e2 = x.copy()
    np.add.at(e2, (idx, i2), np.transpose(ux, (2, 1, 0))[:, 0])
    got = mx.array(x).at[mx.array(idx), mx.array(i2)].add(upd[:, 0])
    np.testing.assert_allclose(np.array(got), e2, rtol=1e-5, atol=1e-5)


def test_scatter_rows_grad(rng):
    x = mx.array(rng.standard_normal((400, 64)).astype(np.float32))
    idx = mx.array(rng.integers(0, 400, 2000))
    w = mx.array(rng.standard_normal((400, 64)).astype(np.float32))
    u = mx.array(rng.standard_normal((2000, 64)).astype(np.float32))
    g = mx.grad(lambda v: (x.at[idx].add(v) * w).sum())(u)
    np.testing.assert_allclose(np.array(g), np.array(w)[np.array(idx)], rtol=1e-6)
    gt = mx.grad(lambda t: (t[idx] * u).sum())(x)
    exp = np.zeros((400, 64), np.float32)
    np.add.at(exp, np.array(idx), np.array(u))
    np.testing.assert_allclose(np.array(gt), exp, rtol=1e-4, atol=1e-4)
