"""Scans (spec/python-api.md section 8): cumsum, cumprod, cummax, cummin and logcumsumexp,
forward/reverse, inclusive/exclusive, along every axis of 3-D/4-D contiguous and
non-contiguous inputs of every dtype and over the flattened array, against float64 NumPy
references; result dtypes (cumsum of bool is int32, dtype=), NaN/inf, empty and 0-d
inputs, errors, the array methods, and gradients against central finite differences."""
import math

import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, NP_DTYPES, tolerance
from test_reduce import SIGNED, UNSIGNED, finite_diff, layouts, rand, values

INF = float("inf")


# ---------------------------------------------------------------- references

def identity(kind, np_dtype):
    if kind == "cumsum":
        return 0
    if kind == "cumprod":
        return 1
    if kind == "logcumsumexp":
        return -np.inf
    big = kind == "cummin"
    if np_dtype == np.bool_:
        return big
    if np.issubdtype(np_dtype, np.integer):
        info = np.iinfo(np_dtype)
        return info.max if big else info.min
    if np.issubdtype(np_dtype, np.complexfloating):
        return complex(np.inf, np.inf) if big else complex(-np.inf, -np.inf)
    return np.inf if big else -np.inf


def np_inclusive(kind, x, axis):
    if kind == "cumsum":
        return np.cumsum(x, axis=axis)
    if kind == "cumprod":
        return np.cumprod(x, axis=axis)
    if kind == "logcumsumexp":
        if np.issubdtype(x.dtype, np.complexfloating):
            return np.log(np.cumsum(np.exp(x), axis=axis))
        with np.errstate(invalid="ignore", over="ignore"):
            return np.logaddexp.accumulate(x, axis=axis)
    if np.issubdtype(x.dtype, np.complexfloating):  # lexicographic, as MLX
        out = x.copy()
        xm = np.moveaxis(out, axis, 0)
        for k in range(1, xm.shape[0]):
            prev, cur = xm[k - 1], xm[k]
            take_prev = (prev.real > cur.real) | ((prev.real == cur.real) & (prev.imag > cur.imag))
            if kind == "cummin":
                take_prev = (prev.real < cur.real) | ((prev.real == cur.real) & (prev.imag < cur.imag))
            xm[k] = np.where(take_prev, prev, cur)
        return out
    op = np.maximum if kind == "cummax" else np.minimum  # NaN-propagating, as MLX
    return op.accumulate(x, axis=axis)


def np_scan(kind, x, axis, reverse, inclusive):
    """Reference scan of x (already in the result's reference dtype)."""
    if axis is None:
        x, axis = x.reshape(-1), 0
    if reverse:
        x = np.flip(x, axis)
    r = np_inclusive(kind, x, axis)
    if not inclusive:
        r = np.moveaxis(r, axis, 0)
        first = np.full((1,) + r.shape[1:], identity(kind, r.dtype), dtype=r.dtype)
        r = np.moveaxis(np.concatenate([first, r[:-1]], axis=0), 0, axis)
    if reverse:
        r = np.flip(r, axis)
    return r


def expected_dtype(kind, t):
    if kind == "cumsum" and t == mx.bool_:
        return mx.int32
    if kind == "logcumsumexp" and t not in (mx.float16, mx.float32, mx.float64, mx.bfloat16,
                                            mx.complex64):
        return mx.float32
    return t


KINDS = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def check_scan(kind, x, axis, reverse, inclusive):
    got = getattr(mx, kind)(x, axis=axis, reverse=reverse, inclusive=inclusive)
    t = expected_dtype(kind, x.dtype)
    assert got.dtype == t, (kind, x.dtype, got.dtype)
    xv = values(x)
    n = x.size if axis is None else x.shape[axis]
    if t == mx.bool_ or t in SIGNED or t in UNSIGNED:
        # integers wrap in their own width: compute in 64 bits, keep the low bits
        npt = NP_DTYPES[t]
        if kind in ("cumsum", "cumprod"):
            wide = xv.astype(np.uint64 if t in UNSIGNED else np.int64)
            ref = np_scan(kind, wide, axis, reverse, inclusive).astype(npt)
        else:
            ref = np_scan(kind, xv.astype(npt), axis, reverse, inclusive)
        np.testing.assert_array_equal(np.array(got), ref, err_msg=f"{kind} {axis} {reverse} {inclusive}")
        return
    if kind in ("cummax", "cummin"):
        ref = np_scan(kind, xv, axis, reverse, inclusive)
        np.testing.assert_array_equal(values(got), ref, err_msg=f"{kind} {axis}")
        return
    ref = np_scan(kind, xv.astype(np.complex128 if t == mx.complex64 else np.float64), axis,
                  reverse, inclusive)
    rtol, _ = tolerance(t)
    g = values(got)
    if kind == "cumsum":
        scale = np_scan("cumsum", np.abs(xv).astype(np.float64), axis, reverse, inclusive)
    elif kind == "cumprod":
        scale = (n + 1) * np_scan("cumprod", np.abs(xv).astype(np.float64), axis, reverse, inclusive)
    else:
        scale = np.abs(ref) + 1.0
        if t == mx.complex64:  # the imaginary part is an angle (mod 2 pi)
            g, ref = g.real, ref.real
    fin = np.isfinite(ref)
    if t == mx.float16:  # subnormal steps, and overflow past the float16 range
        scale = scale + 6e-8 / rtol
        over = fin & (np.abs(ref) > 65504)
        assert np.array_equal(g[over], np.sign(ref[over]) * np.inf)
        fin &= ~over
    assert np.array_equal(np.isfinite(g), fin), f"{kind} finiteness"
    with np.errstate(invalid="ignore"):
        err = np.abs(g - ref)
    np.testing.assert_array_less(err[fin], (rtol * scale)[fin] + 1e-300,
                                 err_msg=f"{kind} {axis} {reverse} {inclusive}")


# ---------------------------------------------------------------- values

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_scans_every_dtype_axis_direction(rng, kind, dtype):
    for shape in ((3, 4, 5), (2, 3, 2, 4)):
        for name, x in layouts(rng, shape, dtype):
            for axis in (None,) + tuple(range(-x.ndim, x.ndim)):
                for reverse in (False, True):
                    for inclusive in (True, False):
                        check_scan(kind, x, axis, reverse, inclusive)


@pytest.mark.parametrize("kind", KINDS)
def test_long_scans_both_strategies(rng, kind):
    x = mx.array((rng.standard_normal((70, 600)) * 0.1 + 1.0).astype(np.float32))
    for axis in (0, 1):
        for reverse in (False, True):
            for inclusive in (True, False):
                for v in (x, mx.transpose(mx.transpose(x))):
                    check_scan(kind, v, axis, reverse, inclusive)
    check_scan(kind, mx.transpose(x), 0, True, False)


def test_scan_results_match_mlx():
    a = mx.array([[1, 2, 3], [4, 5, 6]])
    assert mx.cumsum(a).tolist() == [1, 3, 6, 10, 15, 21]
    assert mx.cumsum(a, 1, reverse=True).tolist() == [[6, 5, 3], [15, 11, 6]]
    assert mx.cumsum(a, 1, inclusive=False).tolist() == [[0, 1, 3], [0, 4, 9]]
    assert mx.cumsum(a, 1, reverse=True, inclusive=False).tolist() == [[5, 3, 0], [11, 6, 0]]
    assert mx.cumprod(a, 1, inclusive=False).tolist() == [[1, 1, 2], [1, 4, 20]]
    lo, hi = -(2**31), 2**31 - 1
    assert mx.cummax(a, 1, inclusive=False).tolist() == [[lo, 1, 2], [lo, 4, 5]]
    assert mx.cummin(a, 1, inclusive=False).tolist() == [[hi, 1, 1], [hi, 4, 4]]
    assert mx.cumsum(a, axis=None, reverse=True).tolist() == [21, 20, 18, 15, 11, 6]
    r = mx.logcumsumexp(mx.array([0.0, 1.0, 2.0]), inclusive=False).tolist()
    assert r[0] == -INF and r[1] == 0.0 and abs(r[2] - math.log(1 + math.e)) < 1e-6
    assert mx.cummax(mx.array([3.0, 1, 2]), reverse=True, inclusive=False).tolist() == [2.0, 2.0, -INF]
    assert mx.cummin(mx.array([3, 1, 2], dtype=mx.uint8), inclusive=False).tolist() == [255, 3, 1]
    assert mx.cummax(mx.array([True, False]), inclusive=False).tolist() == [False, True]
    assert mx.cummax(mx.array([1 + 2j, 3j, 1 + 3j])).tolist() == [1 + 2j, 1 + 2j, 1 + 3j]
    c = mx.logcumsumexp(mx.array([1 + 1j, 2j])).tolist()
    assert abs(c[1] - complex(1.21357, 1.25271)) < 1e-4


def test_scan_dtypes():
    assert mx.cumsum(mx.array([True, True, False])).tolist() == [1, 2, 2]
    assert mx.cumsum(mx.array([True, True])).dtype == mx.int32
    assert mx.cumprod(mx.array([True, True, False])).tolist() == [True, True, False]
    assert mx.cumprod(mx.array([True])).dtype == mx.bool_
    assert mx.cumsum(mx.array([100, 100], dtype=mx.int8)).tolist() == [100, -56]
    assert mx.cumsum(mx.array([1], dtype=mx.uint8)).dtype == mx.uint8
    for t in (mx.bool_, mx.int8, mx.uint32, mx.int64):
        assert mx.logcumsumexp(mx.array([1, 0]).astype(t)).dtype == mx.float32
    assert mx.logcumsumexp(mx.array([1.0], dtype=mx.float16)).dtype == mx.float16
    # dtype= casts first
    assert mx.cumsum(mx.array([100, 100], dtype=mx.int8), dtype=mx.int32).tolist() == [100, 200]
    assert mx.cumsum(mx.array([1.5, 2.5]), dtype=mx.int32).tolist() == [1, 3]
    assert mx.cumsum(mx.array([True, True]), dtype=mx.bool_).dtype == mx.int32
    r = mx.cumsum(mx.array([True, True]), dtype=mx.int8)
    assert r.dtype == mx.int8 and r.tolist() == [1, 2]
    r = mx.cumprod(mx.array([[1, 2, 3], [4, 5, 6]]), 0, dtype=mx.float16)
    assert r.dtype == mx.float16 and r.tolist() == [[1, 2, 3], [4, 10, 18]]


def test_scan_nan_inf():
    nan = float("nan")
    r = mx.cummax(mx.array([1.0, nan, 0.0, 5.0])).tolist()
    assert r[0] == 1.0 and all(math.isnan(v) for v in r[1:])
    r = mx.cummin(mx.array([1.0, nan, 0.0])).tolist()
    assert r[0] == 1.0 and math.isnan(r[1]) and math.isnan(r[2])
    assert mx.logcumsumexp(mx.array([-INF, -INF, 2.0])).tolist() == [-INF, -INF, 2.0]
    assert mx.logcumsumexp(mx.array([INF, 1.0, 2.0])).tolist() == [INF, INF, INF]
    r = mx.logcumsumexp(mx.array([1.0, nan, 2.0])).tolist()
    assert r[0] == 1.0 and math.isnan(r[1]) and math.isnan(r[2])
    r = mx.logcumsumexp(mx.array([1000.0, 1000.0, -1000.0])).tolist()
    assert abs(r[1] - (1000 + math.log(2))) < 1e-3 and abs(r[2] - r[1]) < 1e-3
    assert mx.cumsum(mx.array([INF, -INF, 1.0])).tolist()[0] == INF
    assert math.isnan(mx.cumsum(mx.array([INF, -INF, 1.0])).tolist()[1])


def test_scan_float16_accumulates_in_float32():
    x = mx.full((4096,), 0.1, dtype=mx.float16)
    assert abs(mx.cumsum(x)[-1].item() - 409.6) < 0.5  # naive float16 stops at 256
    b = mx.full((2000,), 0.1, dtype=mx.bfloat16)
    assert abs(mx.cumsum(b)[-1].item() - 200.0) < 2.0


def test_scan_empty_and_scalar():
    for kind in KINDS:
        f = getattr(mx, kind)
        assert f(mx.zeros((0, 3)), 0).shape == (0, 3)
        assert f(mx.zeros((2, 0)), 0).shape == (2, 0)
        assert f(mx.zeros((0,))).shape == (0,)
        r = f(mx.array(3.0))
        assert r.shape == (1,)
        with pytest.raises(IndexError, match=rf"\[{kind}\] Axis 0 is out of bounds for array with 0 dimensions"):
            f(mx.array(3.0), axis=0)
    assert mx.cumsum(mx.array(3)).tolist() == [3]


@pytest.mark.parametrize("kind", KINDS)
def test_scan_errors(kind):
    f = getattr(mx, kind)
    a = mx.ones((2, 3))
    with pytest.raises(IndexError, match=rf"\[{kind}\] Axis 2 is out of bounds for array with 2 dimensions"):
        f(a, 2)
    with pytest.raises(IndexError):
        f(a, -3)
    with pytest.raises(TypeError):
        f(a, (0, 1))
    with pytest.raises(TypeError):
        f(a, 0, True)  # reverse is keyword-only
    with pytest.raises(TypeError):
        f(a=a)  # positional-only
    with pytest.raises(TypeError):
        f(a, 0.5)


def test_scan_methods(rng):
    x = rand(rng, (3, 4), mx.float32)
    xv = values(x)
    np.testing.assert_allclose(np.array(x.cumsum(1, reverse=True)), np.flip(np.cumsum(np.flip(xv, 1), 1), 1),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(x.cumprod()), np.cumprod(xv.reshape(-1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.array(x.cummax(0)), np.maximum.accumulate(xv, 0))
    np.testing.assert_array_equal(np.array(x.cummin(axis=1, inclusive=True)), np.minimum.accumulate(xv, 1))
    np.testing.assert_allclose(np.array(x.logcumsumexp(axis=0)), np.logaddexp.accumulate(xv, 0), rtol=1e-5)
    with pytest.raises(TypeError):
        x.cummax(0, True)


# ---------------------------------------------------------------- gradients

def grad_case(kind, xn, axis, reverse, inclusive, w):
    f = getattr(mx, kind)
    wm = mx.array(w.astype(np.float32))

    def fmx(x):
        return (f(x, axis=axis, reverse=reverse, inclusive=inclusive) * wm).sum()

    def fnp(x):  # the -inf that starts an exclusive logcumsumexp is a constant
        r = np_scan(kind, x, axis, reverse, inclusive)
        return float(np.sum(np.where(np.isfinite(r), r, 0.0) * w))

    g = mx.grad(fmx)(mx.array(xn.astype(np.float32)))
    np.testing.assert_allclose(np.array(g), finite_diff(fnp, xn), rtol=2e-3, atol=2e-3,
                               err_msg=f"{kind} {axis} {reverse} {inclusive}")
    t = np.random.default_rng(0).standard_normal(xn.shape)
    _, (jv,) = mx.jvp(lambda x: f(x, axis=axis, reverse=reverse, inclusive=inclusive),
                      [mx.array(xn.astype(np.float32))], [mx.array(t.astype(np.float32))])
    eps = 1e-4
    with np.errstate(invalid="ignore"):
        ref = (np_scan(kind, xn + eps * t, axis, reverse, inclusive)
               - np_scan(kind, xn - eps * t, axis, reverse, inclusive)) / (2 * eps)
    fin = np.isfinite(ref)
    np.testing.assert_allclose(np.array(jv)[fin], ref[fin], rtol=2e-3, atol=2e-3,
                               err_msg=f"jvp {kind} {axis} {reverse} {inclusive}")


@pytest.mark.parametrize("kind", ["cumsum", "cumprod", "logcumsumexp"])
def test_scan_gradients_vs_finite_differences(rng, kind):
    xn = rng.uniform(0.5, 1.5, (3, 4))
    w = rng.standard_normal(xn.shape)
    for axis in (0, 1, -1):
        for reverse in (False, True):
            for inclusive in (True, False):
                grad_case(kind, xn, axis, reverse, inclusive, w)
    grad_case(kind, xn, None, True, True, w.reshape(-1))


def test_cumprod_gradients_with_zeros(rng):
    w = rng.standard_normal(6)
    for xs in ([2.0, 0.0, 3.0, 0.0, 5.0, 1.5], [0.0, 2.0, 3.0, 1.0, 0.5, 2.0],
               [2.0, 1.0, 3.0, 1.0, 0.5, 0.0], [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]):
        xn = np.array(xs)
        for reverse in (False, True):
            for inclusive in (True, False):
                grad_case("cumprod", xn, 0, reverse, inclusive, w)
    x = mx.array([2.0, 0.0, 3.0, 0.0, 5.0])
    w5 = mx.array([1.0, 2, 3, 4, 5])
    g = mx.grad(lambda v: (mx.cumprod(v) * w5).sum())(x)
    assert g.tolist() == [1.0, 22.0, 0.0, 0.0, 0.0]
    g = mx.grad(lambda v: (mx.cumprod(v, inclusive=False) * w5).sum())(x)
    assert g.tolist() == [2.0, 30.0, 0.0, 0.0, 0.0]  # as MLX


def test_logcumsumexp_gradient_with_infinities():
    x = mx.array([-INF, 0.0, 1.0])
    g = mx.grad(lambda v: mx.logcumsumexp(v).sum())(x).tolist()
    assert g[0] == 0.0 and all(math.isfinite(v) for v in g)
    _, (jv,) = mx.jvp(lambda v: mx.logcumsumexp(v, inclusive=False), [mx.array([0.0, 1.0])],
                      [mx.array([1.0, 1.0])])
    assert jv.tolist() == [0.0, 1.0]


def test_cummax_cummin_gradients_match_mlx_tie_rule():
    # output j takes its derivative from the last i <= j (scan order) with x_i == out_j
    def g(f, xs):
        w = mx.array([float(i) for i in range(1, len(xs) + 1)])
        return mx.grad(lambda v: (f(v) * w).sum())(mx.array(xs)).tolist()

    assert g(mx.cummax, [1.0, 1.0, 1.0]) == [1.0, 2.0, 3.0]
    assert g(mx.cummax, [1.0, 2.0, 1.0, 2.0, 3.0]) == [1.0, 5.0, 0.0, 4.0, 5.0]
    assert g(lambda v: mx.cummax(v, reverse=True), [1.0, 2.0, 1.0, 2.0, 3.0]) == [0.0, 0.0, 0.0, 0.0, 15.0]
    assert g(lambda v: mx.cummax(v, inclusive=False), [1.0, 2.0, 1.0, 2.0, 3.0]) == [2.0, 7.0, 0.0, 5.0, 0.0]
    assert g(mx.cummin, [3.0, 2.0, 2.0, 1.0, 5.0]) == [1.0, 2.0, 3.0, 9.0, 0.0]
    assert g(mx.cummax, [1.0, float("nan"), 2.0]) == [6.0, 0.0, 0.0]
    _, (jv,) = mx.jvp(mx.cummax, [mx.array([1.0, 0.0, 3.0, 2.0])], [mx.array([1.0, 2.0, 3.0, 4.0])])
    assert jv.tolist() == [1.0, 1.0, 3.0, 3.0]
    _, (jv,) = mx.jvp(lambda v: mx.cummin(v, inclusive=False, reverse=True),
                      [mx.array([1.0, 0.0, 3.0, 2.0])], [mx.array([1.0, 2.0, 3.0, 4.0])])
    assert jv.tolist() == [2.0, 4.0, 4.0, 0.0]
    h = mx.grad(lambda v: mx.cummax(v).sum())(mx.array([1.0, 3.0, 2.0], dtype=mx.float16))
    assert h.dtype == mx.float16 and h.tolist() == [1.0, 2.0, 0.0]


@pytest.mark.parametrize("kind", ["cummax", "cummin"])
def test_cummax_cummin_gradients_vs_finite_differences(rng, kind):
    xn = rng.permutation(24).reshape(4, 6) / 8.0 + rng.uniform(0, 0.01, (4, 6))
    w = rng.standard_normal(xn.shape)
    for axis in (0, 1):
        for reverse in (False, True):
            for inclusive in (True, False):
                grad_case(kind, xn, axis, reverse, inclusive, w)
    grad_case(kind, xn, None, False, True, w.reshape(-1))


def test_scan_second_derivative(rng):
    xn = rng.uniform(0.5, 1.5, (5,))
    x = mx.array(xn.astype(np.float32))
    for kind in ("cumprod", "logcumsumexp"):
        f = getattr(mx, kind)
        got = np.array(mx.grad(lambda v: mx.grad(lambda u: f(u).sum())(v).sum())(x))

        def first(v):
            return finite_diff(lambda u: float(np_scan(kind, u, 0, False, True).sum()), v).sum()

        np.testing.assert_allclose(got, finite_diff(first, xn, eps=1e-3), rtol=2e-2, atol=2e-2)
    # piecewise linear: the second derivative is zero (and computable)
    w = mx.array(np.arange(1.0, 6.0).astype(np.float32))
    h = mx.grad(lambda v: (mx.grad(lambda u: (mx.cummax(u) * w).sum())(v) * w).sum())(x)
    assert h.tolist() == [0.0] * 5


# ---------------------------------------------------------------- diff

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_diff_every_dtype(rng, dtype):
    for name, x in layouts(rng, (3, 4, 5), dtype):
        xv = values(x)
        for axis in (-1, 0, 1, -2):
            for n in (0, 1, 2, 4, 7):
                got = mx.diff(x, n, axis)
                assert got.dtype == dtype
                if dtype == mx.bool_:
                    ref = xv
                    for _ in range(n):
                        if ref.shape[axis] == 0:
                            break
                        ref = np.diff(ref, axis=axis)  # NumPy's bool diff is not_equal
                elif dtype in SIGNED or dtype in UNSIGNED:
                    ref = np.diff(xv.astype(np.int64), n=n, axis=axis).astype(NP_DTYPES[dtype])
                else:
                    ref = np.diff(xv, n=n, axis=axis)
                assert got.shape == ref.shape, (name, axis, n)
                if dtype in (mx.float16, mx.bfloat16):
                    np.testing.assert_allclose(values(got), ref, rtol=0, atol=(2**n) * 4e-2)
                else:
                    np.testing.assert_allclose(values(got), ref, rtol=1e-5, atol=1e-5)


def test_diff_edges_and_errors():
    a = mx.array([[1, 4, 9, 16], [2, 3, 5, 7]])
    assert mx.diff(a).tolist() == [[3, 5, 7], [1, 2, 2]]
    assert mx.diff(a, 2).tolist() == [[2, 2], [1, 0]]
    assert mx.diff(a, n=0).tolist() == a.tolist()
    assert mx.diff(a, n=5).shape == (2, 0)
    assert mx.diff(a, axis=0).tolist() == [[1, -1, -4, -9]]
    assert mx.diff(mx.array([True, False, True])).tolist() == [True, True]
    assert mx.diff(mx.zeros((0, 3)), axis=0).shape == (0, 3)
    with pytest.raises(ValueError, match=r"\[diff\] Order `n` must be non-negative"):
        mx.diff(a, n=-1)
    with pytest.raises(IndexError, match=r"\[diff\] Axis is out of bounds"):
        mx.diff(a, axis=2)
    with pytest.raises(IndexError):
        mx.diff(mx.array(3))
    with pytest.raises(TypeError):
        mx.diff(a=a)


def test_diff_gradient(rng):
    xn = rng.standard_normal((3, 5))
    w = rng.standard_normal((3, 3))
    wm = mx.array(w.astype(np.float32))
    g = mx.grad(lambda v: (mx.diff(v, 2, axis=1) * wm).sum())(mx.array(xn.astype(np.float32)))
    ref = finite_diff(lambda v: float(np.sum(np.diff(v, 2, axis=1) * w)), xn)
    np.testing.assert_allclose(np.array(g), ref, rtol=2e-3, atol=2e-3)
