"""take_along_axis, put_along_axis and the scatter-add of their gradient on inputs large
enough to be split over the thread pool: every dtype and index dtype, first/middle/last axes,
transposed, sliced and broadcast operands, duplicate and out-of-range indices, checked
against NumPy and against per-position loops."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, DEVICE

INDEX_DTYPES = [mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64]
SHAPE = (37, 40, 61)  # 90k elements: several items per pool thread on every axis


def to_f64(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a).astype(np.complex128 if a.dtype == mx.complex64 else np.float64)


def sample(rng, shape, dt):
    if dt == mx.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dt in (mx.uint8, mx.uint16, mx.uint32, mx.uint64):
        return rng.integers(0, 200, shape)
    if dt == mx.complex64:
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    if dt in (mx.float16, mx.bfloat16, mx.float32, mx.float64):
        x = rng.standard_normal(shape)
        x.flat[:: 97] = np.nan
        x.flat[1:: 89] = -np.inf
        x.flat[2:: 83] = -0.0
        return x
    return rng.integers(-100, 100, shape)


def as_dt(x, dt):
    a = mx.array(x)
    return a.astype(dt)


def ref_of(x, dt):
    """x as the dtype holds it, in float64/complex128 (for exact comparisons)."""
    return to_f64(as_dt(x, dt))


def put_last_wins(base, idx, vals, axis):
    """put_along_axis applying the updates along `axis` in order (the last write wins)."""
    out = base.copy()
    for i in range(idx.shape[axis]):
        sl = [slice(None)] * idx.ndim
        sl[axis] = slice(i, i + 1)
        np.put_along_axis(out, idx[tuple(sl)], vals[tuple(sl)], axis=axis)
    return out


def _same(a, b):
    eq = a == b
    if a.dtype.kind in "fc":
        eq |= np.isnan(a) & np.isnan(b)
    return eq


def _written_from(got, base, dest, vals):
    """Each position written holds one of the values written there; the rest keep base."""
    got_f, base_f = got.reshape(-1), base.reshape(-1)
    written = np.zeros(got_f.size, bool)
    written[dest] = True
    hit = np.zeros(got_f.size, bool)
    np.logical_or.at(hit, dest, _same(got_f[dest], vals))
    assert np.all(hit[written])
    assert np.all(_same(got_f[~written], base_f[~written]))


def assert_put(got, base, idx, vals, axis):
    """The CPU applies duplicate indices in order (the last write wins); on the GPU their order
    is unspecified, as in MLX, so there any one of the written values may win."""
    if DEVICE != "gpu":
        np.testing.assert_array_equal(got, put_last_wins(base, idx, vals, axis))
        return
    coords = list(np.indices(idx.shape))
    coords[axis] = idx % base.shape[axis]
    dest = np.ravel_multi_index(coords, base.shape).reshape(-1)
    _written_from(got, base, dest, np.broadcast_to(vals, idx.shape).reshape(-1))


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_take_along_axis_large_every_dtype(rng, dt):
    x = sample(rng, SHAPE, dt)
    a, xr = as_dt(x, dt), ref_of(x, dt)
    for axis in [0, 1, 2, -1]:
        ishape = list(SHAPE)
        ishape[axis] = 23
        i = rng.integers(-SHAPE[axis], SHAPE[axis], ishape)
        got = mx.take_along_axis(a, mx.array(i), axis=axis)
        np.testing.assert_array_equal(to_f64(got), np.take_along_axis(xr, i % SHAPE[axis], axis))


@pytest.mark.parametrize("it", INDEX_DTYPES)
def test_take_along_axis_large_index_dtypes(rng, it):
    x = rng.standard_normal((300, 257)).astype(np.float32)
    hi = 127 if it in (mx.int8, mx.uint8) else 257
    lo = 0 if it in (mx.uint8, mx.uint16, mx.uint32, mx.uint64) else -hi
    for axis, n in [(1, 257), (0, 300)]:
        ishape = [300, 257]
        ishape[axis] = 150
        i = rng.integers(lo, min(hi, n), ishape)
        got = mx.take_along_axis(mx.array(x), mx.array(i).astype(it), axis=axis)
        np.testing.assert_array_equal(np.array(got), np.take_along_axis(x, i % n, axis))


def test_take_along_axis_large_strided_and_broadcast(rng):
    x = rng.standard_normal((400, 300)).astype(np.float32)
    a = mx.array(x)
    i = rng.integers(0, 400, (350, 300))
    np.testing.assert_array_equal(np.array(mx.take_along_axis(a.T, mx.array(i.T), 1)),
                                  np.take_along_axis(x.T, i.T, 1))
    np.testing.assert_array_equal(np.array(mx.take_along_axis(a[::2, 1::3], mx.array(i[:, :100] % 200), 0)),
                                  np.take_along_axis(x[::2, 1::3], i[:, :100] % 200, 0))
    row = rng.integers(0, 300, (1, 500))  # one index row broadcast over 400 rows
    np.testing.assert_array_equal(np.array(mx.take_along_axis(a, mx.array(row), 1)),
                                  np.take_along_axis(x, np.broadcast_to(row, (400, 500)), 1))
    x3 = rng.standard_normal((20, 30, 40)).astype(np.float32)  # dims that do not collapse
    i3 = rng.integers(0, 20, (40, 25, 30))
    got = mx.take_along_axis(mx.array(x3).transpose(2, 0, 1), mx.array(i3), 1)
    np.testing.assert_array_equal(np.array(got), np.take_along_axis(x3.transpose(2, 0, 1), i3, 1))


def test_take_along_axis_large_out_of_range_clamps(rng):
    x = rng.standard_normal((200, 300)).astype(np.float32)
    i = rng.integers(-1000, 1000, (200, 300))
    want = np.take_along_axis(x, np.clip(np.where(i < 0, i + 300, i), 0, 299), 1)
    for it in [mx.int32, mx.int64, mx.uint64]:
        ii = np.abs(i) if it == mx.uint64 else i
        w = want if it != mx.uint64 else np.take_along_axis(x, np.clip(ii, 0, 299), 1)
        np.testing.assert_array_equal(np.array(mx.take_along_axis(mx.array(x), mx.array(ii).astype(it), 1)), w)


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_put_along_axis_large_duplicates_every_dtype(rng, dt):
    x, v = sample(rng, SHAPE, dt), sample(rng, SHAPE, dt)
    xr, vr = ref_of(x, dt), ref_of(v, dt)
    for axis in [0, 1, 2, -1]:
        ishape = list(SHAPE)
        ishape[axis] = 9
        i = rng.integers(0, 4, ishape)  # many duplicates along each line
        vs = vr[tuple(slice(0, s) for s in ishape)]
        got = mx.put_along_axis(as_dt(x, dt), mx.array(i), as_dt(v, dt)[tuple(slice(0, s) for s in ishape)],
                                axis=axis)
        assert_put(to_f64(got), xr, i, vs, axis % 3)


@pytest.mark.parametrize("it", INDEX_DTYPES)
def test_put_along_axis_large_index_dtypes_and_strides(rng, it):
    x = rng.standard_normal((300, 257)).astype(np.float32)
    v = rng.standard_normal((300, 257)).astype(np.float32)
    hi = 127 if it in (mx.int8, mx.uint8) else 257
    lo = 0 if it in (mx.uint8, mx.uint16, mx.uint32, mx.uint64) else -hi
    i = rng.integers(lo, hi, (300, 120))
    got = mx.put_along_axis(mx.array(x), mx.array(i).astype(it), mx.array(v[:, :120]), axis=1)
    assert_put(np.array(got), x, i % 257, v[:, :120], 1)
    iT = rng.integers(lo, hi, (120, 300))  # transposed base, sliced updates
    w = rng.standard_normal((300, 240)).astype(np.float32)
    got = mx.put_along_axis(mx.array(x).T, mx.array(iT).astype(it), mx.array(w)[:, ::2].T, axis=0)
    assert_put(np.array(got), x.T, iT % 257, w[:, ::2].T, 0)


def test_put_along_axis_large_out_of_range_dropped(rng):
    x = rng.standard_normal((200, 300)).astype(np.float32)
    v = rng.standard_normal((200, 100)).astype(np.float32)
    i = rng.integers(-600, 600, (200, 100))
    keep = (i >= -300) & (i < 300)
    want = x.copy()
    for r in range(200):
        for c in range(100):
            if keep[r, c]:
                want[r, i[r, c] % 300] = v[r, c]
    r, c = np.nonzero(keep)
    for it in [mx.int32, mx.int64]:
        got = mx.put_along_axis(mx.array(x), mx.array(i).astype(it), mx.array(v), axis=1)
        if DEVICE == "gpu":  # duplicate order unspecified: see assert_put
            _written_from(np.array(got), x, np.ravel_multi_index((r, i[r, c] % 300), x.shape),
                          v[r, c])
        else:
            np.testing.assert_array_equal(np.array(got), want)


def test_take_along_axis_grad_sums_duplicates(rng):
    """The vjp of take_along_axis scatter-adds the cotangent: duplicates accumulate."""
    x = rng.standard_normal((150, 400)).astype(np.float32)
    for axis in [0, 1]:
        ishape = [150, 400]
        ishape[axis] = 300
        i = rng.integers(0, 5, ishape)
        ct = rng.standard_normal(ishape).astype(np.float32)
        _, (g,) = mx.vjp(lambda a: mx.take_along_axis(a, mx.array(i), axis), [mx.array(x)], [mx.array(ct)])
        want = np.zeros((150, 400), np.float64)
        if axis == 1:
            np.add.at(want, (np.arange(150)[:, None], i), ct)
        else:
            np.add.at(want, (i, np.arange(400)[None, :]), ct)
        np.testing.assert_allclose(np.array(g), want, rtol=1e-5, atol=1e-5)
