"""sort, argsort, partition, argpartition and topk (spec/python-api.md section 9) against NumPy:
every dtype, axes (negative, None = flattened), non-contiguous inputs, stability, NaN placement
(last, as MLX), complex ordering, kth semantics as NumPy, errors, and gradients."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES


def to_np(a):
    if a.dtype == mx.bfloat16:
        return np.array(a.astype(mx.float32))
    return np.array(a)


def sample(rng, shape, dt):
    """Values with many ties (stability matters) that are exact in every dtype."""
    if dt == mx.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dt in (mx.uint8, mx.uint16, mx.uint32, mx.uint64):
        return rng.integers(0, 9, shape)
    if dt == mx.complex64:
        return rng.integers(-3, 3, shape) + 1j * rng.integers(-3, 3, shape)
    return rng.integers(-6, 6, shape) * (0.5 if dt in (mx.float16, mx.float32, mx.float64, mx.bfloat16) else 1)


def as_np(x, dt):
    return np.asarray(x, dtype=np.complex64 if dt == mx.complex64 else None)


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_sort_argsort_every_dtype(rng, dt):
    x = as_np(sample(rng, (5, 7, 6), dt), dt)
    a = mx.array(x).astype(dt)
    for axis in [0, 1, 2, -1, -2, None]:
        s = mx.sort(a, axis=axis)
        i = mx.argsort(a, axis=axis)
        assert s.dtype == dt and i.dtype == mx.uint32
        ref_i = np.argsort(x, axis=axis, kind="stable")
        ref_s = np.sort(x, axis=axis, kind="stable")
        np.testing.assert_array_equal(np.array(i), ref_i)
        np.testing.assert_array_equal(to_np(s), ref_s)


def test_sort_default_axis_and_layouts(rng):
    x = rng.standard_normal((6, 5, 4)).astype(np.float32)
    a = mx.array(x)
    np.testing.assert_array_equal(np.array(mx.sort(a)), np.sort(x, -1))
    for view, ref in [(a.T, x.T), (a[::-1, ::2], x[::-1, ::2]), (mx.swapaxes(a, 0, 1), np.swapaxes(x, 0, 1))]:
        for axis in [0, 1, 2]:
            np.testing.assert_array_equal(np.array(mx.sort(view, axis)), np.sort(ref, axis))
            np.testing.assert_array_equal(np.array(mx.argsort(view, axis)), np.argsort(ref, axis, kind="stable"))
    b = mx.broadcast_to(mx.array(x[:1]), (3, 5, 4))
    np.testing.assert_array_equal(np.array(mx.sort(b, axis=1)), np.sort(np.broadcast_to(x[:1], (3, 5, 4)), 1))
    big = rng.standard_normal((3, 5000)).astype(np.float32)
    np.testing.assert_array_equal(np.array(mx.argsort(mx.array(big))), np.argsort(big, -1, kind="stable"))


def test_nan_and_special_ordering():
    x = np.array([3, np.nan, 1, -np.inf, 2, np.nan, np.inf, -0.0, 0.0, -np.nan], np.float32)
    s = mx.sort(mx.array(x))
    np.testing.assert_array_equal(np.array(s)[:7], [-np.inf, -0.0, 0.0, 1, 2, 3, np.inf])
    assert np.isnan(np.array(s)[7:]).all()
    assert mx.argsort(mx.array(x)).tolist() == [3, 7, 8, 2, 4, 0, 6, 1, 5, 9]
    assert mx.argsort(mx.array([0.0, -0.0, 0.0, -0.0])).tolist() == [0, 1, 2, 3]
    for dt in [mx.float16, mx.bfloat16, mx.float64]:
        s = mx.sort(mx.array(x).astype(dt))
        assert np.isnan(to_np(s)[7:]).all() and to_np(s)[0] == -np.inf
    c = mx.array(np.array([1 + 2j, 1 - 1j, 5j, complex(np.nan, 0), -1 + 9j], np.complex64))
    assert mx.argsort(c).tolist() == [4, 2, 1, 0, 3]
    assert mx.sort(mx.array([True, False, True])).tolist() == [False, True, True]


def check_partition(x, kth, axis, part, idx):
    """NumPy's kth semantics: part[kth] is the sorted value, smaller (or equal) before it,
    larger (or equal) after; idx is a permutation consistent with part."""
    n = x.shape[axis]
    k = kth % n
    ref = np.sort(x, axis=axis)
    p = np.moveaxis(part, axis, -1)
    r = np.moveaxis(ref, axis, -1)
    np.testing.assert_array_equal(p[..., k], r[..., k])
    assert (p[..., :k] <= p[..., k:k + 1]).all() and (p[..., k + 1:] >= p[..., k:k + 1]).all()
    np.testing.assert_array_equal(np.sort(p, -1), r)
    np.testing.assert_array_equal(np.take_along_axis(x, idx.astype(np.int64), axis), part)
    srt = np.sort(np.moveaxis(idx, axis, -1), -1)
    assert (srt == np.arange(n)).all()


@pytest.mark.parametrize("dt", [mx.uint8, mx.int16, mx.int32, mx.int64, mx.float16, mx.float32, mx.float64, mx.bfloat16])
def test_partition_argpartition(rng, dt):
    for shape, axis in [((9, 40), 1), ((40, 3), 0), ((5, 6, 7), -2), ((300,), 0)]:
        x = np.asarray(sample(rng, shape, dt)).astype(np.float64)
        if dt in (mx.float16, mx.float32, mx.float64, mx.bfloat16):
            x = x + rng.integers(0, 4, shape) * 0.125
        a = mx.array(x).astype(dt)
        n = shape[axis]
        for kth in [0, 1, n // 2, n - 1, -1, -n]:
            p = to_np(mx.partition(a, kth, axis=axis)).astype(np.float64)
            i = np.array(mx.argpartition(a, kth, axis=axis))
            check_partition(x, kth, axis, p, i)
    x = rng.standard_normal(50).astype(np.float32)
    assert mx.argpartition(mx.array(x), 3).dtype == mx.uint32
    m = mx.array(x.reshape(5, 10))
    p = np.array(mx.partition(m, 7, axis=None))
    check_partition(x, 7, 0, p, np.array(mx.argpartition(m, 7, axis=None)))
    p = np.array(mx.partition(m.T, 2))
    check_partition(x.reshape(5, 10).T, 2, 1, p, np.array(mx.argpartition(m.T, 2)))


def test_partition_many_ties_and_nans(rng):
    x = rng.integers(0, 2, 5000).astype(np.float32)
    x[::97] = np.nan
    a = mx.array(x)
    for kth in [0, 2500, 4990, 4999]:
        p = np.array(mx.partition(a, kth))
        ref = np.sort(x)
        assert (np.isnan(p[kth]) and np.isnan(ref[kth])) or p[kth] == ref[kth]
        np.testing.assert_array_equal(np.sort(p), ref)


@pytest.mark.parametrize("dt", [mx.int32, mx.uint16, mx.float32, mx.float16, mx.bfloat16, mx.float64])
def test_topk(rng, dt):
    x = np.asarray(sample(rng, (6, 30), dt)).astype(np.float64)
    a = mx.array(x).astype(dt)
    for axis in [0, 1, -1]:
        n = x.shape[axis]
        for k in [0, 1, 5, n]:
            t = mx.topk(a, k, axis=axis)
            shape = list(x.shape)
            shape[axis] = k
            assert t.shape == tuple(shape) and t.dtype == dt
            ref = np.sort(x, axis=axis)
            ref = np.take(ref, np.arange(n - k, n), axis=axis)
            np.testing.assert_array_equal(np.sort(to_np(t).astype(np.float64), axis=axis), ref)
    t = mx.topk(a, 4, axis=None)
    np.testing.assert_array_equal(np.sort(to_np(t).astype(np.float64)), np.sort(x.ravel())[-4:])
    assert mx.topk(a, 3).shape == (6, 3)


def test_empty_and_scalar_inputs():
    e = mx.zeros((0, 3))
    assert mx.sort(e, axis=0).shape == (0, 3)
    assert mx.argsort(e, axis=0).dtype == mx.uint32
    assert mx.sort(e, axis=1).shape == (0, 3)
    assert mx.topk(mx.zeros((2, 3)), 3, axis=1).shape == (2, 3)
    assert mx.topk(e, 0, axis=0).shape == (0, 3)
    assert mx.sort(mx.array(3), axis=None).tolist() == [3]
    assert mx.argsort(mx.array(3.0), axis=None).tolist() == [0]


def test_errors():
    a = mx.zeros((3, 4))
    with pytest.raises(IndexError, match="out of bounds"):
        mx.sort(a, axis=2)
    with pytest.raises(IndexError):
        mx.argsort(a, axis=-3)
    with pytest.raises(IndexError):
        mx.sort(mx.array(3))
    with pytest.raises(IndexError):
        mx.partition(a, 1, axis=5)
    for kth in [4, -5]:
        with pytest.raises(ValueError, match="invalid kth"):
            mx.partition(a, kth)
        with pytest.raises(ValueError, match="invalid kth"):
            mx.argpartition(a, kth)
    with pytest.raises(ValueError, match="invalid kth"):
        mx.partition(mx.zeros((0, 3)), 0, axis=0)
    for k in [5, -1]:
        with pytest.raises(ValueError, match="invalid k="):
            mx.topk(a, k)
    with pytest.raises(TypeError):
        mx.sort(a, axis=[0, 1])
    with pytest.raises(TypeError):
        mx.topk(a)
    assert mx.topk(a, k=2, axis=0).shape == (2, 4)
    assert mx.partition(a, kth=1, axis=1).shape == (3, 4)


# ---- gradients ----

def finite_diff(f, x, eps=1e-3):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def test_grad_sort_partition_topk(rng):
    x = rng.permutation(20).reshape(4, 5).astype(np.float64) * 0.37 + rng.standard_normal((4, 5)) * 0.01
    w = rng.standard_normal((4, 5))
    W = mx.array(w, mx.float32)

    cases = [
        (lambda v: float(np.sum(w * np.sort(v, 1) ** 2)), lambda v: (W * mx.sort(v, 1) * mx.sort(v, 1)).sum()),
        (lambda v: float(np.sum(w[:, :1] * np.sort(v, 0)[:, :1])), lambda v: (W[:, :1] * mx.sort(v, 0)[:, :1]).sum()),
        (lambda v: float(np.sum(np.sort(v, axis=None)[-3:] * w.ravel()[:3])),
         lambda v: (mx.sort(v, axis=None)[-3:] * W.reshape(-1)[:3]).sum()),
        (lambda v: float(np.sum(np.sort(v, 1)[:, -2:] ** 2)),
         lambda v: (mx.topk(v, 2, axis=1) * mx.topk(v, 2, axis=1)).sum()),
        (lambda v: float(np.sum(np.sort(v, 1)[:, 2] * w[:, 0])),
         lambda v: (mx.partition(v, 2, axis=1)[:, 2] * W[:, 0]).sum()),
    ]
    for f_np, f_mx in cases:
        g = mx.grad(f_mx)(mx.array(x, mx.float32))
        np.testing.assert_allclose(np.array(g), finite_diff(f_np, x), rtol=2e-3, atol=2e-3)
    g = mx.grad(lambda v: (mx.argsort(v).astype(mx.float32) * v).sum())(mx.array(x, mx.float32))
    np.testing.assert_array_equal(np.array(g), np.argsort(x, -1).astype(np.float32))


def test_jvp_sort():
    x = mx.array([3.0, 1.0, 2.0])
    out, (t,) = mx.jvp(lambda v: [mx.sort(v)], [x], [mx.array([10.0, 20.0, 30.0])])
    assert out[0].tolist() == [1.0, 2.0, 3.0] and t.tolist() == [20.0, 30.0, 10.0]
    out, (t,) = mx.jvp(lambda v: [mx.topk(v, 1)], [x], [mx.array([10.0, 20.0, 30.0])])
    assert out[0].tolist() == [3.0] and t.tolist() == [10.0]


@pytest.mark.parametrize("dt", [mx.uint8, mx.int32, mx.int64, mx.float16, mx.float32, mx.float64, mx.bfloat16])
def test_searchsorted(rng, dt):
    a = np.sort(rng.integers(0, 20, 30)).astype(np.float64)
    v = rng.integers(0 if dt == mx.uint8 else -2, 23, (4, 5)).astype(np.float64)
    if dt in (mx.float16, mx.float32, mx.float64, mx.bfloat16):
        v = v + 0.5 * rng.integers(0, 2, v.shape)
    for side in ["left", "right"]:
        got = mx.searchsorted(mx.array(a).astype(dt), mx.array(v).astype(dt), side=side)
        assert got.dtype == mx.uint32 and got.shape == v.shape
        np.testing.assert_array_equal(np.array(got), np.searchsorted(a, v, side=side))
    assert mx.searchsorted(mx.array(a).astype(dt), mx.array(v).astype(dt)).tolist() == np.searchsorted(a, v).tolist()


def test_searchsorted_forms_and_errors():
    s = mx.array([1.0, 2.0, 2.0, 3.0])
    assert mx.searchsorted(s, mx.array([2, 0, 5, 2.5])).tolist() == [1, 0, 4, 3]
    assert mx.searchsorted(s, mx.array([2, 0, 5]), side="right").tolist() == [3, 0, 4]
    assert mx.searchsorted(mx.array([1, 2, 2, 3]), mx.array([2.5])).tolist() == [3]  # promoted
    assert mx.searchsorted(mx.array([1.0, float("nan")]), mx.array([float("nan"), 5.0])).tolist() == [1, 1]
    assert mx.searchsorted(s[::-1][::-1], mx.array([[2.0], [3.0]])).tolist() == [[1], [3]]
    assert mx.searchsorted(mx.zeros((0,)), mx.array([1.0])).tolist() == [0]
    with pytest.raises(ValueError, match="must be 1-D"):
        mx.searchsorted(mx.zeros((2, 2)), mx.array([1.0]))
    with pytest.raises(ValueError, match="Invalid side"):
        mx.searchsorted(s, mx.array([1.0]), side="middle")
    with pytest.raises(TypeError):
        mx.searchsorted(s, mx.array([1.0]), side=1)
    with pytest.raises(TypeError):
        mx.searchsorted(sorted_sequence=s, values=mx.array([1.0]))


# ---- long rows (the radix sort: 8- and 11-bit digits, rows split over the thread pool) ----

REAL_DTYPES = [d for d in ALL_DTYPES if d != mx.complex64]
NP_OF = {mx.bool_: np.bool_, mx.uint8: np.uint8, mx.uint16: np.uint16, mx.uint32: np.uint32,
         mx.uint64: np.uint64, mx.int8: np.int8, mx.int16: np.int16, mx.int32: np.int32,
         mx.int64: np.int64, mx.float16: np.float16, mx.float32: np.float32,
         mx.float64: np.float64, mx.bfloat16: np.float32}


def full_range(rng, n, dt, specials=True):
    """n values over the whole range of dt (bfloat16: float32 values exact in bfloat16), with
    +-inf, NaNs of both signs, -0.0 and 0.0 sprinkled in for floats when specials."""
    t = NP_OF[dt]
    if dt == mx.bool_:
        return rng.integers(0, 2, n).astype(bool)
    if np.issubdtype(t, np.integer):
        info = np.iinfo(t)
        return rng.integers(info.min, info.max, n, dtype=t, endpoint=True)
    if dt == mx.bfloat16:
        x = (rng.standard_normal(n) * np.exp(rng.uniform(-30, 30, n))).astype(np.float32)
        x = (x.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    else:
        x = (rng.standard_normal(n) * np.exp(rng.uniform(-8, 8, n))).astype(t)
    if specials:
        pos = rng.choice(n, 60, replace=False)
        x[pos[:10]] = np.inf
        x[pos[10:20]] = -np.inf
        x[pos[20:30]] = np.nan
        x[pos[30:40]] = -np.nan
        x[pos[40:50]] = -0.0
        x[pos[50:]] = 0.0
    return x


def bits(x):
    """Raw bits, so -0.0 / 0.0 and NaN payloads are compared exactly."""
    x = np.ascontiguousarray(x)
    return x.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


def mx_of(x, dt):
    return mx.array(x, dtype=mx.float64) if dt == mx.float64 else mx.array(x).astype(dt)


@pytest.mark.parametrize("dt", REAL_DTYPES)
@pytest.mark.parametrize("n", [1, 2, 47, 49, 300, 5000, 70000, 200000])
def test_long_rows_every_dtype(rng, dt, n):
    """Values bit for bit and indices as NumPy's stable argsort (MLX's order: -0.0 == 0.0 in
    input order, NaNs of any sign last in input order)."""
    for specials in ([False, True] if np.issubdtype(NP_OF[dt], np.floating) else [False]):
        x = full_range(rng, n, dt, specials and n >= 300)
        a = mx_of(x, dt)
        ref_i = np.argsort(x, kind="stable")
        np.testing.assert_array_equal(np.array(mx.argsort(a)), ref_i)
        got = np.array(mx.sort(a).astype(mx.float32)) if dt == mx.bfloat16 else np.array(mx.sort(a))
        want = x[ref_i]
        if dt == mx.bfloat16:  # what the input holds: every NaN converts to 0x7FC0, as in MLX
            want = np.array(mx.array(want).astype(mx.bfloat16).astype(mx.float32))
        np.testing.assert_array_equal(bits(got), bits(want))


def test_million_rows_against_numpy(rng):
    x = rng.standard_normal(10**6).astype(np.float32)
    a = mx.array(x)
    np.testing.assert_array_equal(np.array(mx.sort(a)), np.sort(x))
    np.testing.assert_array_equal(np.array(mx.argsort(a)), np.argsort(x, kind="stable"))
    y = rng.integers(-2**62, 2**62, 10**6)
    np.testing.assert_array_equal(np.array(mx.sort(mx.array(y))), np.sort(y))
    np.testing.assert_array_equal(np.array(mx.argsort(mx.array(y))), np.argsort(y, kind="stable"))
    z = rng.integers(0, 3, 10**6).astype(np.int8)  # heavy ties: stability over the pool
    np.testing.assert_array_equal(np.array(mx.argsort(mx.array(z))), np.argsort(z, kind="stable"))
    d = rng.standard_normal(10**6)
    d[::1000] = -0.0
    got = np.array(mx.sort(mx.array(d, dtype=mx.float64)))
    np.testing.assert_array_equal(bits(got), bits(d[np.argsort(d, kind="stable")]))


@pytest.mark.parametrize("dt", [mx.float32, mx.int16, mx.float64, mx.uint64, mx.bfloat16])
def test_long_multi_row_and_strided_axis(rng, dt):
    x = full_range(rng, 3 * 70000, dt, specials=False).reshape(3, 70000)
    a = mx_of(x, dt)
    for view, ref in [(a, x), (a.T, x.T), (a[:, ::-3], x[:, ::-3]), (a[::-1], x[::-1])]:
        for axis in [0, 1]:
            ref_i = np.argsort(ref, axis=axis, kind="stable")
            np.testing.assert_array_equal(np.array(mx.argsort(view, axis=axis)), ref_i)
            got = mx.sort(view, axis=axis)
            got = np.array(got.astype(mx.float32)) if dt == mx.bfloat16 else np.array(got)
            np.testing.assert_array_equal(bits(got), bits(np.take_along_axis(ref, ref_i, axis)))
    many = full_range(rng, 400 * 300, dt, specials=False).reshape(400, 300)  # rows over the pool
    np.testing.assert_array_equal(np.array(mx.argsort(mx_of(many, dt), axis=0)),
                                  np.argsort(many, axis=0, kind="stable"))


@pytest.mark.parametrize("dt", REAL_DTYPES)
def test_partition_long_rows(rng, dt):
    n = 20000
    x = full_range(rng, n, dt, specials=False)
    if np.issubdtype(NP_OF[dt], np.floating):
        x[rng.choice(n, 50, replace=False)] = np.nan
    a = mx_of(x, dt)
    order = np.argsort(x, kind="stable")
    rank = np.empty(n, np.int64)  # position of each element in MLX's order (ties: same rank)
    xs = x[order]
    same = np.concatenate([[False], (xs[1:] == xs[:-1]) | (np.isnan(xs[1:]) & np.isnan(xs[:-1]))])
    r = np.arange(n)
    r[same] = 0
    rank[order] = np.maximum.accumulate(r)
    for kth in [0, 1, n // 3, n - 2, n - 1]:
        i = np.array(mx.argpartition(a, kth)).astype(np.int64)
        assert (np.sort(i) == np.arange(n)).all()
        rk = rank[i]
        assert rk[kth] == rank[order[kth]]
        assert (rk[:kth] <= rk[kth]).all() and (rk[kth + 1:] >= rk[kth]).all()
        p = mx.partition(a, kth)
        p = np.array(p.astype(mx.float32)) if dt == mx.bfloat16 else np.array(p)
        np.testing.assert_array_equal(np.sort(p), np.sort(x))
        assert p[kth] == x[order[kth]] or (np.isnan(p[kth]) and np.isnan(x[order[kth]]))
        np.testing.assert_array_equal(bits(p), bits(x[np.array(mx.argpartition(a, kth))]))


def test_vmap_sort_matches_loop(rng):
    x = mx.array(rng.standard_normal((4, 3000)).astype(np.float32))
    v = mx.vmap(lambda r: mx.argsort(r))(x)
    loop = mx.stack([mx.argsort(x[i]) for i in range(4)])
    assert mx.array_equal(v, loop).item()
