"""Reductions (spec/python-api.md section 8, spec/semantics.md 2.1 and 14): sum, prod, max,
min, all, any, mean, var, std, logsumexp, count_nonzero, argmax, argmin and softmax against
float64 NumPy references on seeded inputs of every dtype, over axis combinations of 3-D and
4-D contiguous and non-contiguous inputs, with result dtypes, edge cases (empty, NaN, inf),
MLX's exceptions, the array methods, and gradients against central finite differences."""
import math

import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, NP_DTYPES, tolerance

SIGNED = {mx.int8, mx.int16, mx.int32, mx.int64}
UNSIGNED = {mx.uint8, mx.uint16, mx.uint32, mx.uint64}
FLOATS = [mx.float16, mx.float32, mx.float64, mx.bfloat16]


# ---------------------------------------------------------------- helpers

def rand(rng, shape, dtype):
    """Seeded values of dtype (small integers so products stay meaningful)."""
    if dtype == mx.bool_:
        x = rng.random(shape) < 0.6
    elif dtype in SIGNED:
        x = rng.integers(-3, 4, shape)
    elif dtype in UNSIGNED:
        x = rng.integers(0, 4, shape)
    elif dtype == mx.complex64:
        x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    else:
        x = rng.standard_normal(shape)
    return mx.array(np.asarray(x).astype(NP_DTYPES.get(dtype, np.float32))).astype(dtype)


def values(a):
    """NumPy copy of an mx.array in a float64-or-wider reference type."""
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    x = np.array(a)
    if x.dtype == np.bool_:
        return x
    if np.issubdtype(x.dtype, np.complexfloating):
        return x.astype(np.complex128)
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float64)
    return x


def layouts(rng, shape, dtype):
    """The same logical shape as a contiguous array, a transpose, a strided slice and a
    broadcast view."""
    out = [("contiguous", rand(rng, shape, dtype))]
    out.append(("transposed", mx.transpose(rand(rng, shape[::-1], dtype))))
    big = rand(rng, tuple(2 * d + 1 for d in shape), dtype)
    out.append(("sliced", big[tuple(slice(1, None, 2) for _ in shape)][tuple(slice(None, d) for d in shape)]))
    small = rand(rng, (1,) + tuple(shape[1:]), dtype)
    out.append(("broadcast", mx.broadcast_to(small, shape)))
    return out


def sum_dtype(t):
    if t in (mx.bool_, mx.int8, mx.int16, mx.int32):
        return mx.int32
    if t in (mx.uint8, mx.uint16, mx.uint32):
        return mx.uint32
    return t


def float_dtype(t):
    return t if t in FLOATS or t == mx.complex64 else mx.float32


def np_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        return (axis % ndim,)
    return tuple(a % ndim for a in axis)


def wrap_int(ref, out_dtype):
    """Integer results wrap in the output width (the accumulator is 64-bit modular)."""
    return ref.astype(NP_DTYPES[out_dtype])


def check_float(got, ref, dtype, scale):
    """|got - ref| <= tol * scale elementwise, NaN where the reference is NaN."""
    rtol, _ = tolerance(dtype)
    g = values(got)
    ref = np.asarray(ref)
    assert g.shape == ref.shape, (g.shape, ref.shape)
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(g), nan)
    if dtype == mx.float16:  # beyond the range of float16: inf, and subnormal steps
        big = np.abs(ref) > 65504
        assert np.array_equal(g[big], np.sign(ref[big]) * np.inf)
        ref, g, nan = np.where(big, 0, ref), np.where(big, 0, g), nan | big
    floor = {mx.float16: 6e-8, mx.bfloat16: 1e-38}.get(dtype, 1e-300)
    err = np.abs(g - ref)[~nan]
    bound = (rtol * np.broadcast_to(scale, ref.shape) + floor)[~nan]
    assert np.all(err <= bound), f"max err {err.max() if err.size else 0} > {bound.min()}"


AXES_3D = [None, 0, 1, -1, (0, 2), (2, 0), (1, -1), (0, 1, 2), [], [-3]]
AXES_4D = [None, 3, -4, (0, 3), (1, 2), (0, 2, 3), (-1, -2, -3, -4)]


def reduce_cases(rng, dtype):
    for shape, axes_list in (((3, 4, 5), AXES_3D), ((2, 3, 4, 5), AXES_4D)):
        for name, x in layouts(rng, shape, dtype):
            for axis in axes_list:
                for keepdims in (False, True):
                    yield name, x, axis, keepdims


# ---------------------------------------------------------------- sum / prod

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_sum_prod_every_dtype_axes_layouts(rng, dtype):
    for name, x, axis, keepdims in reduce_cases(rng, dtype):
        xv = values(x)
        ax = np_axes(axis, x.ndim)
        for op, npf in (("sum", np.sum), ("prod", np.prod)):
            got = getattr(mx, op)(x, axis=axis, keepdims=keepdims)
            if axis == []:  # MLX returns the input itself
                assert got.dtype == x.dtype and got.shape == x.shape
                continue
            out_t = sum_dtype(dtype)
            assert got.dtype == out_t, (op, name, axis)
            if dtype == mx.bool_ or dtype in SIGNED or dtype in UNSIGNED:
                wide = xv.astype(np.uint64 if dtype == mx.uint64 else np.int64)
                ref = wrap_int(npf(wide, axis=ax, keepdims=keepdims), out_t)
                np.testing.assert_array_equal(np.array(got), ref, err_msg=f"{op} {name} {axis}")
            else:
                ref = npf(xv, axis=ax, keepdims=keepdims)
                if op == "sum":
                    scale = np.sum(np.abs(xv), axis=ax, keepdims=keepdims)
                else:
                    n = math.prod(x.shape[a] for a in ax)
                    scale = (n + 1) * np.prod(np.abs(xv), axis=ax, keepdims=keepdims)
                check_float(got, ref, dtype, scale)


def test_sum_prod_results_and_identities():
    x = mx.array([[1, 2], [3, 4]], dtype=mx.int8)
    assert mx.sum(x).item() == 10 and mx.sum(x).dtype == mx.int32
    assert mx.prod(x).item() == 24 and mx.prod(x).dtype == mx.int32
    assert mx.sum(x, axis=[]).dtype == mx.int8
    assert mx.prod(mx.array([[3]], dtype=mx.int8), axis=0).dtype == mx.int32
    assert mx.sum(mx.array([255, 1], dtype=mx.uint8)).item() == 256
    assert mx.sum(mx.array([2**31 - 1, 1], dtype=mx.int32)).item() == -(2**31)
    assert mx.prod(mx.array([2**16, 2**16], dtype=mx.int32)).item() == 0
    assert mx.prod(mx.array([True, False])).dtype == mx.int32
    e = mx.zeros((0, 3))
    assert mx.sum(e).item() == 0 and mx.prod(e).item() == 1
    assert mx.prod(e, axis=0).tolist() == [1, 1, 1]
    assert mx.sum(e, axis=1).shape == (0,)
    assert mx.prod(mx.zeros((0, 3), dtype=mx.int16)).dtype == mx.int32
    c = mx.array([1 + 1j, 2j])
    assert mx.prod(c).item() == complex(-2, 2)


def test_float16_accumulates_in_float32():
    x = mx.full((4096,), 0.1, dtype=mx.float16)
    # naive float16 accumulation stalls at 256; float32 accumulation gives ~409.5
    assert abs(mx.sum(x).item() - 409.6) < 0.5
    assert abs(mx.mean(x).item() - 0.1) < 1e-3
    b = mx.full((3000,), 0.1, dtype=mx.bfloat16)
    assert abs(mx.sum(b).item() - 300.0) < 2.0
    ones = mx.ones((2048, 3), dtype=mx.float16)
    assert mx.sum(ones, axis=0).tolist() == [2048.0] * 3
    assert mx.mean(ones, axis=0).tolist() == [1.0] * 3


def test_long_reductions_both_strategies(rng):
    xn = rng.standard_normal((96, 700)).astype(np.float32)
    x = mx.array(xn)
    for axis in (0, 1, None):
        np.testing.assert_allclose(np.array(mx.sum(x, axis=axis)), xn.astype(np.float64).sum(axis=axis),
                                   rtol=1e-4, atol=1e-3)
        np.testing.assert_array_equal(np.array(mx.max(x, axis=axis)), xn.max(axis=axis))
        np.testing.assert_array_equal(np.array(mx.argmin(x, axis=axis)), xn.argmin(axis=axis))
    xt = mx.transpose(x)
    np.testing.assert_allclose(np.array(mx.sum(xt, axis=0)), xn.astype(np.float64).sum(axis=1),
                               rtol=1e-4, atol=1e-3)


# ---------------------------------------------------------------- max / min / all / any

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_max_min_all_any_every_dtype(rng, dtype):
    for name, x, axis, keepdims in reduce_cases(rng, dtype):
        xv = values(x)
        ax = np_axes(axis, x.ndim)
        for op, npf in (("max", np.max), ("min", np.min)):
            got = getattr(mx, op)(x, axis=axis, keepdims=keepdims)
            assert got.dtype == dtype
            if axis == []:
                assert got.shape == x.shape
                continue
            np.testing.assert_array_equal(values(got), npf(xv, axis=ax, keepdims=keepdims),
                                          err_msg=f"{op} {name} {axis}")
        for op, npf in (("all", np.all), ("any", np.any)):
            got = getattr(mx, op)(x, axis=axis, keepdims=keepdims)
            assert got.dtype == mx.bool_
            ref = (xv != 0) if axis == [] else npf(xv != 0, axis=ax, keepdims=keepdims)
            np.testing.assert_array_equal(np.array(got), ref, err_msg=f"{op} {name} {axis}")


@pytest.mark.parametrize("dtype", [mx.float16, mx.float32, mx.float64, mx.bfloat16], ids=str)
def test_max_min_propagate_nan(dtype):
    nan = float("nan")
    x = mx.array([[1.0, nan, 3.0], [nan, 0.0, 2.0], [5.0, 4.0, nan], [1.0, 2.0, 3.0]]).astype(dtype)
    for op in (mx.max, mx.min):
        r = op(x, axis=1)
        assert [math.isnan(v) for v in r.tolist()] == [True, True, True, False]
        c = op(x, axis=0)
        assert all(math.isnan(v) for v in c.tolist())
        assert math.isnan(op(x).item())
        # the transpose walks the other strategy
        assert [math.isnan(v) for v in op(mx.transpose(x), axis=0).tolist()] == [True, True, True, False]
    assert mx.all(mx.array([1.0, nan])).item() and mx.any(mx.array([0.0, nan])).item()


def test_max_min_inf_and_complex():
    inf = float("inf")
    x = mx.array([-inf, -inf])
    assert mx.max(x).item() == -inf and mx.min(mx.array([inf, inf])).item() == inf
    c = mx.array([1 + 1j, 2j, 1 + 0j])
    assert mx.min(c).item() == 2j and mx.max(c).item() == 1 + 1j
    assert not mx.all(mx.array([1 + 1j, 0j])).item()


def test_max_min_empty_raise():
    e = mx.zeros((0, 3))
    with pytest.raises(ValueError, match=r"\[max\].*axis 0 with size 0"):
        mx.max(e)
    with pytest.raises(ValueError, match=r"\[min\]"):
        mx.min(e, axis=0)
    with pytest.raises(ValueError, match="axis 1 with size 0"):
        mx.max(mx.zeros((3, 0)), axis=(0, 1))
    assert mx.max(e, axis=1).shape == (0,)
    assert mx.min(mx.zeros((2, 0, 3)), axis=(0, 2)).shape == (0,)
    assert mx.max(e, axis=[]).shape == (0, 3)
    assert mx.all(e).item() is True and mx.any(e).item() is False


# ---------------------------------------------------------------- mean / var / std

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_mean_var_std_every_dtype(rng, dtype):
    for name, x, axis, keepdims in reduce_cases(rng, dtype):
        xv = values(x).astype(np.complex128 if dtype == mx.complex64 else np.float64)
        ax = np_axes(axis, x.ndim) if axis != [] else ()
        got = mx.mean(x, axis=axis, keepdims=keepdims)
        assert got.dtype == float_dtype(dtype)
        ref = xv if axis == [] else np.mean(xv, axis=ax, keepdims=keepdims)
        check_float(got, ref, got.dtype, np.mean(np.abs(xv), axis=ax, keepdims=keepdims) + 1e-6)
        for ddof in (0, 1):
            v = mx.var(x, axis=axis, keepdims=keepdims, ddof=ddof)
            sd = mx.std(x, axis=axis, keepdims=keepdims, ddof=ddof)
            real_t = mx.float32 if dtype == mx.complex64 else float_dtype(dtype)
            assert v.dtype == real_t and sd.dtype == real_t
            n = math.prod(x.shape[a] for a in ax)
            if n - ddof <= 0:
                continue
            dev = np.abs(xv - np.mean(xv, axis=ax, keepdims=True)) ** 2
            vref = np.sum(dev, axis=ax, keepdims=keepdims) / (n - ddof)
            msq = np.mean(np.abs(xv) ** 2, axis=ax, keepdims=keepdims) * n / (n - ddof)
            check_float(v, vref, real_t, 8 * msq + 1e-6)
            check_float(sd, np.sqrt(vref), real_t, 8 * np.sqrt(msq) + 1e-3 * (real_t != mx.float64))


def test_var_ddof_edges_and_empty():
    a = mx.array([[1.0, 2.0], [3.0, 4.0]])
    assert mx.var(a, ddof=4).item() == float("inf")
    assert mx.var(a, ddof=3).item() == 5.0
    assert mx.var(a, ddof=-1).item() == 1.0
    assert mx.var(a, axis=1, ddof=2).tolist() == [float("inf")] * 2
    assert mx.var(mx.array([1, 2, 3], dtype=mx.int32), ddof=1).item() == 1.0
    assert abs(mx.var(mx.array([1 + 1j, 2 - 1j])).item() - 1.25) < 1e-6
    assert mx.mean(mx.array([1 + 1j, 2 - 1j])).item() == 1.5 + 0j
    assert math.isnan(mx.mean(mx.zeros((0, 3))).item())
    assert all(math.isnan(v) for v in mx.std(mx.zeros((0, 3)), axis=0).tolist())
    assert mx.mean(mx.array([1, 2], dtype=mx.int8), axis=[]).dtype == mx.float32
    assert mx.var(a, axis=[]).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert mx.mean(mx.array([True, False, True])).dtype == mx.float32
    m = mx.mean(mx.array([1, 2, 3], dtype=mx.int32), keepdims=True)
    assert m.shape == (1,) and m.item() == 2.0


# ---------------------------------------------------------------- axis errors and forms

REDUCERS = [mx.sum, mx.prod, mx.max, mx.min, mx.all, mx.any, mx.mean, mx.var, mx.std,
            mx.logsumexp, mx.count_nonzero]


@pytest.mark.parametrize("op", REDUCERS, ids=lambda f: f.__name__)
def test_axis_errors(op):
    a = mx.ones((2, 3))
    with pytest.raises(IndexError):
        op(a, axis=2)
    with pytest.raises(IndexError):
        op(a, axis=-3)
    with pytest.raises(IndexError):
        op(a, axis=(0, 5))
    with pytest.raises(ValueError, match="Duplicate axes"):
        op(a, axis=(0, 0))
    with pytest.raises(ValueError, match="Duplicate axes"):
        op(a, axis=(1, -1))
    with pytest.raises(TypeError):
        op(a, axis="0")
    with pytest.raises(TypeError):
        op(a=a)  # positional-only


def test_axis_forms_agree(rng):
    x = rand(rng, (2, 3, 4), mx.float32)
    ref = mx.sum(x, axis=(0, 2))
    for axis in ([0, 2], (2, 0), (-3, -1), [-1, 0]):
        assert mx.array_equal(mx.sum(x, axis=axis), ref) if hasattr(mx, "array_equal") else \
            np.array_equal(np.array(mx.sum(x, axis=axis)), np.array(ref))
    assert mx.sum(x, 1).shape == (2, 4)
    assert mx.sum(x, 1, True).shape == (2, 1, 4)
    assert mx.sum(mx.array(3.0)).item() == 3.0 and mx.max(mx.array(3.0), axis=[]).item() == 3.0
    assert mx.sum(mx.array(3.0), axis=None, keepdims=True).shape == ()


def test_sum_first_parameter_is_named_array():
    x = mx.array([1.0, 2.0])
    assert mx.sum(array=x).item() == 3.0
    assert mx.sum(x, keepdims=True, axis=0).shape == (1,)


# ---------------------------------------------------------------- count_nonzero

def test_count_nonzero(rng):
    assert mx.count_nonzero(mx.array([[1, 0], [0, 0]])).item() == 1
    r = mx.count_nonzero(mx.array([[1, 0], [3, 0]]), axis=1, keepdims=True)
    assert r.dtype == mx.int32 and r.tolist() == [[1], [1]]
    assert mx.count_nonzero(mx.array([1.0, float("nan")])).item() == 2
    assert mx.count_nonzero(mx.array([1.0, 0.0]), 0).item() == 1  # axis positional
    with pytest.raises(TypeError):
        mx.count_nonzero(mx.array([1.0]), 0, True)  # keepdims is keyword-only
    for dtype in ALL_DTYPES:
        x = rand(rng, (3, 4, 5), dtype)
        ref = np.count_nonzero(values(x), axis=(0, 2))
        got = mx.count_nonzero(x, axis=(0, 2))
        assert got.dtype == mx.int32
        np.testing.assert_array_equal(np.array(got), ref)


# ---------------------------------------------------------------- argmax / argmin

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_argmax_argmin_every_dtype(rng, dtype):
    for shape in ((3, 4, 5), (2, 3, 4, 5)):
        for name, x in layouts(rng, shape, dtype):
            xv = values(x)
            if dtype == mx.complex64:  # NumPy orders complex lexicographically too
                pass
            for op, npf in (("argmax", np.argmax), ("argmin", np.argmin)):
                for axis in (None,) + tuple(range(-x.ndim, x.ndim)):
                    for keepdims in (False, True):
                        got = getattr(mx, op)(x, axis=axis, keepdims=keepdims)
                        assert got.dtype == mx.uint32
                        ref = npf(xv, axis=axis, keepdims=keepdims)
                        np.testing.assert_array_equal(np.array(got), ref,
                                                      err_msg=f"{op} {name} {axis} {keepdims}")


def test_argmax_ties_nan_and_shapes():
    nan = float("nan")
    assert mx.argmax(mx.array([3, 3, 1])).item() == 0
    assert mx.argmin(mx.array([1, 0, 0])).item() == 1
    assert mx.argmax(mx.array([1.0, nan, 3.0, nan])).item() == 1
    assert mx.argmin(mx.array([1.0, nan, 0.0])).item() == 1
    assert mx.argmax(mx.array([1 + 1j, 1 + 2j, 0 + 5j])).item() == 1
    x = mx.array([[1.0, 5.0], [7.0, 2.0]])
    assert mx.argmax(x, axis=0, keepdims=True).tolist() == [[1, 0]]
    assert mx.argmax(x, keepdims=True).shape == (1, 1)
    assert mx.argmax(x).shape == ()
    assert mx.argmax(mx.array(5.0)).item() == 0
    assert mx.argmax(mx.ones((2, 1)), axis=1).tolist() == [0, 0]
    assert mx.argmin(mx.array([[nan, 1.0], [2.0, nan]]), axis=0).tolist() == [0, 1]
    assert mx.argmax(mx.array([[nan, 1.0], [2.0, nan]]).T, axis=1).tolist() == [0, 1]


def test_argmax_errors():
    with pytest.raises(ValueError, match=r"\[argmax\] Cannot argmax reduce zero size array"):
        mx.argmax(mx.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"\[argmin\]"):
        mx.argmin(mx.zeros((0, 3)), axis=1)
    with pytest.raises(IndexError):
        mx.argmax(mx.ones((2, 3)), axis=2)
    with pytest.raises(IndexError):
        mx.argmin(mx.array(5.0), axis=0)
    with pytest.raises(TypeError):
        mx.argmax(mx.ones((2, 3)), axis=(0, 1))


# ---------------------------------------------------------------- logsumexp

def np_logsumexp(x, axis, keepdims):
    with np.errstate(invalid="ignore", over="ignore"):
        return np.logaddexp.reduce(x, axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_logsumexp_every_dtype(rng, dtype):
    for name, x, axis, keepdims in reduce_cases(rng, dtype):
        if axis == []:
            continue
        got = mx.logsumexp(x, axis=axis, keepdims=keepdims)
        t = float_dtype(dtype)
        assert got.dtype == t
        xv = values(x).astype(np.complex128 if dtype == mx.complex64 else np.float64)
        ax = np_axes(axis, x.ndim)
        if dtype == mx.complex64:
            ref = np.log(np.sum(np.exp(xv), axis=ax, keepdims=keepdims))
            g = np.array(got).astype(np.complex128)
            np.testing.assert_allclose(g.real, ref.real, rtol=1e-4, atol=1e-4)
            continue
        ref = np_logsumexp(xv, ax, keepdims)
        check_float(got, ref, t, np.abs(ref) + 1.0)


def test_logsumexp_infinities_and_paths():
    inf, nan = float("inf"), float("nan")
    rows = mx.array([[-inf, -inf, -inf], [inf, 1.0, 2.0], [inf, -inf, 0.0], [1.0, nan, 2.0],
                     [1000.0, 1000.0, -1000.0]])
    for x in (rows, mx.transpose(mx.transpose(rows))):
        r = mx.logsumexp(x, axis=1).tolist()  # primitive path (last axis)
        c = mx.logsumexp(mx.transpose(x), axis=0).tolist()  # composed path
        for got in (r, c):
            assert got[0] == -inf and got[1] == inf and got[2] == inf and math.isnan(got[3])
            assert abs(got[4] - (1000.0 + math.log(2.0))) < 1e-3
    assert mx.logsumexp(mx.array([[-inf, -inf], [1.0, 2.0]]), axis=0).tolist() == [1.0, 2.0]
    assert mx.logsumexp(mx.array(2.0)).item() == 2.0
    assert mx.logsumexp(mx.array([[1, 2]], dtype=mx.int8), axis=[]).dtype == mx.float32
    assert mx.logsumexp(mx.ones((1, 3))).shape == ()
    assert mx.logsumexp(mx.ones((1, 1, 3)), axis=(1, 2)).shape == (1,)
    assert mx.logsumexp(mx.ones((1, 3)), axis=(0, 1), keepdims=True).shape == (1, 1)
    h = mx.logsumexp(mx.ones((100000,), dtype=mx.float16))
    assert h.dtype == mx.float16 and abs(h.item() - (1 + math.log(100000))) < 0.02
    with pytest.raises(ValueError, match=r"\[logsumexp\] Received empty array"):
        mx.logsumexp(mx.zeros((0, 3)))
    with pytest.raises(ValueError, match="non-empty axes"):
        mx.logsumexp(mx.array(2.0), axis=0)


# ---------------------------------------------------------------- softmax

def np_softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


@pytest.mark.parametrize("dtype", [mx.float16, mx.float32, mx.float64, mx.bfloat16], ids=str)
@pytest.mark.parametrize("precise", [False, True])
def test_softmax_floats(rng, dtype, precise):
    for shape, axes in (((3, 4, 5), [None, -1, 2, 0, (1, 2), (0, 1, 2)]),
                        ((2, 3, 4, 5), [-1, (2, 3), (0, 3), None])):
        for name, x in layouts(rng, shape, dtype):
            for axis in axes:
                got = mx.softmax(x, axis=axis, precise=precise)
                assert got.dtype == dtype
                ref = np_softmax(values(x), np_axes(axis, x.ndim))
                check_float(got, ref, dtype, 2 * np.abs(ref) + 1e-3)


def test_softmax_dtypes_and_edges():
    inf = float("inf")
    x = mx.array([[1, 0], [1, 1]])
    assert mx.softmax(x, axis=-1).dtype == mx.float32
    assert np.allclose(np.array(mx.softmax(x, axis=-1)), np_softmax(np.array([[1.0, 0], [1, 1]]), 1))
    # the composed path returns the input dtype, as MLX
    assert mx.softmax(x, axis=0).dtype == mx.int32 and mx.softmax(x).dtype == mx.int32
    assert mx.softmax(mx.array([True, False])).dtype == mx.float32
    b = mx.softmax(mx.array([[True, False], [True, True]]), axis=0)
    assert b.dtype == mx.bool_ and b.tolist() == [[True, True], [True, True]]
    u = mx.softmax(mx.array([[3, 1], [1, 3]], dtype=mx.uint8), axis=0)  # no wrap-around
    assert u.dtype == mx.uint8 and u.tolist() == [[0, 0], [0, 0]]
    assert all(math.isnan(v) for v in mx.softmax(mx.array([-inf, -inf])).tolist())
    assert all(math.isnan(v) for v in mx.softmax(mx.array([inf, 1.0])).tolist())
    r = mx.softmax(mx.array([-inf, 0.0, -inf])).tolist()
    assert r == [0.0, 1.0, 0.0]
    assert mx.softmax(mx.array(2.0)).item() == 1.0
    assert mx.softmax(mx.zeros((0, 3))).shape == (0, 3)
    assert mx.softmax(mx.array([[1.0, 0], [1, 1]]), axis=[]).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    c = mx.softmax(mx.array([1 + 1j, 2j]))
    ref = np.exp(np.array([1 + 1j, 2j]) - (1 + 1j))
    ref = ref / ref.sum()
    np.testing.assert_allclose(np.array(c), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(IndexError):
        mx.softmax(mx.array([1.0, 2.0]), axis=3)
    with pytest.raises(ValueError, match="Duplicate axes"):
        mx.softmax(mx.array([1.0, 2.0]), axis=(0, 0))
    with pytest.raises(ValueError, match="non-empty axes"):
        mx.softmax(mx.array(1.0), axis=0)
    with pytest.raises(TypeError):
        mx.softmax(mx.array([1.0]), -1, True)  # precise is keyword-only


def test_softmax_precise_float16_large_rows(rng):
    xn = (rng.standard_normal((4, 5000)) * 4).astype(np.float16)
    for precise in (False, True):
        got = np.array(mx.softmax(mx.array(xn), axis=-1, precise=precise).astype(mx.float32))
        ref = np_softmax(xn.astype(np.float64), 1)
        np.testing.assert_allclose(got, ref, rtol=2e-3, atol=1e-6)
        np.testing.assert_allclose(got.sum(axis=1), np.ones(4), rtol=5e-3)


# ---------------------------------------------------------------- methods

def test_array_methods(rng):
    x = rand(rng, (3, 4), mx.float32)
    xv = values(x)
    assert np.allclose(np.array(x.prod(axis=1)), xv.prod(axis=1), rtol=1e-5)
    assert np.array_equal(np.array(x.max(0, True)), xv.max(0, keepdims=True))
    assert np.array_equal(np.array(x.min()), xv.min())
    assert np.allclose(np.array(x.mean(axis=(0, 1))), xv.mean(), rtol=1e-5)
    assert np.allclose(np.array(x.var(1, False, 1)), xv.var(1, ddof=1), rtol=1e-5)
    assert np.allclose(np.array(x.std(ddof=1)), xv.std(ddof=1), rtol=1e-5)
    assert np.allclose(np.array(x.logsumexp(axis=-1)), np_logsumexp(xv, 1, False), rtol=1e-5)
    assert x.all().item() == bool(np.all(xv != 0)) and x.any(keepdims=True).shape == (1, 1)
    assert x.argmax(axis=1).tolist() == xv.argmax(1).tolist()
    assert x.argmin().item() == xv.argmin()
    assert x.argmin(1, True).shape == (3, 1)
    with pytest.raises(TypeError):
        x.var(1, False, 1, 2)


# ---------------------------------------------------------------- gradients

def finite_diff(f, x, eps=1e-4):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def check_grad(fmx, fnp, xn, rtol=2e-3, atol=2e-3):
    g = mx.grad(fmx)(mx.array(xn.astype(np.float32)))
    np.testing.assert_allclose(np.array(g), finite_diff(fnp, xn), rtol=rtol, atol=atol)


def check_jvp(fmx, fnp, xn, tn, rtol=2e-3, atol=2e-3):
    _, (jv,) = mx.jvp(fmx, [mx.array(xn.astype(np.float32))], [mx.array(tn.astype(np.float32))])
    eps = 1e-4
    ref = (fnp(xn + eps * tn) - fnp(xn - eps * tn)) / (2 * eps)
    np.testing.assert_allclose(np.array(jv), ref, rtol=rtol, atol=atol)


GRAD_AXES = [None, 0, 2, (0, 2), (1, 2), -2]


@pytest.mark.parametrize("axis", GRAD_AXES, ids=str)
def test_grads_vs_finite_differences(rng, axis):
    xn = rng.uniform(0.5, 1.5, (2, 3, 4))
    w = rng.standard_normal(np.sum(xn, axis=np_axes(axis, 3)).shape)
    ax = np_axes(axis, 3)
    wm = mx.array(w.astype(np.float32))
    cases = [
        (lambda x: mx.sum(x, axis=axis), lambda x: np.sum(x, axis=ax)),
        (lambda x: mx.prod(x, axis=axis), lambda x: np.prod(x, axis=ax)),
        (lambda x: mx.max(x, axis=axis), lambda x: np.max(x, axis=ax)),
        (lambda x: mx.min(x, axis=axis), lambda x: np.min(x, axis=ax)),
        (lambda x: mx.mean(x, axis=axis), lambda x: np.mean(x, axis=ax)),
        (lambda x: mx.var(x, axis=axis), lambda x: np.var(x, axis=ax)),
        (lambda x: mx.std(x, axis=axis, ddof=1), lambda x: np.std(x, axis=ax, ddof=1)),
        (lambda x: mx.logsumexp(x, axis=axis), lambda x: np_logsumexp(x, ax, False)),
    ]
    for fm, fn in cases:
        check_grad(lambda x: (fm(x) * wm).sum(), lambda x: float(np.sum(fn(x) * w)), xn)
        check_jvp(fm, fn, xn, rng.standard_normal(xn.shape))
    sm_axis = -1 if axis is None else axis
    sax = np_axes(sm_axis, 3)
    wv = rng.standard_normal(xn.shape)
    wsm = mx.array(wv.astype(np.float32))
    check_grad(lambda x: (mx.softmax(x, axis=sm_axis) * wsm).sum(),
               lambda x: float(np.sum(np_softmax(x, sax) * wv)), xn)
    check_jvp(lambda x: mx.softmax(x, axis=sm_axis), lambda x: np_softmax(x, sax), xn,
              rng.standard_normal(xn.shape))


def test_prod_gradient_with_zeros():
    for xs in ([1.0, 0.0, 3.0, 0.0], [1.0, 0.0, 3.0, 2.0], [0.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0]):
        x = mx.array(xs)
        g = mx.grad(lambda v: mx.prod(v))(x).tolist()
        ref = [float(np.prod(np.delete(np.array(xs), i))) for i in range(4)]
        assert g == ref
        _, (jv,) = mx.jvp(lambda v: mx.prod(v), [x], [mx.ones((4,))])
        assert jv.item() == sum(ref)
    x = mx.array([[1.0, 0.0], [0.0, 0.0], [2.0, 3.0]])
    g = mx.grad(lambda v: mx.prod(v, axis=(0, 1)))(x).tolist()
    assert g == [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    g = mx.grad(lambda v: mx.prod(v, axis=1).sum())(x).tolist()
    assert g == [[0.0, 1.0], [0.0, 0.0], [3.0, 2.0]]


def test_max_min_gradient_ties():
    x = mx.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    g = mx.grad(lambda v: mx.max(v, axis=1).sum())(x).tolist()
    assert g == [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]]
    _, (jv,) = mx.jvp(lambda v: mx.max(v, axis=1), [x], [mx.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])])
    assert jv.tolist() == [2.0, 4.0]  # the first arg-maximum, as MLX
    _, (jv,) = mx.jvp(lambda v: mx.min(v), [mx.array([2.0, 1.0, 1.0])], [mx.array([1.0, 2.0, 3.0])])
    assert jv.item() == 2.0


def test_argmax_gradient_is_zero():
    x = mx.array([[1.0, 3.0], [2.0, 0.0]])
    g = mx.grad(lambda v: (mx.argmax(v, axis=1).astype(mx.float32) * v[:, 0]).sum())(x)
    assert g.tolist() == [[1.0, 0.0], [0.0, 0.0]]
    _, (jv,) = mx.jvp(lambda v: mx.argmax(v, axis=1), [x], [mx.ones_like(x)])
    assert jv.tolist() == [0, 0] and jv.dtype == mx.uint32
    _, (vj,) = mx.vjp(lambda v: mx.argmin(v), [x], [mx.array(1, dtype=mx.uint32)])
    assert vj.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_logsumexp_softmax_gradient_edges():
    g = mx.grad(lambda v: mx.logsumexp(v))(mx.array([1.0, -float("inf")]))
    assert g.tolist() == [1.0, 0.0]
    g = mx.grad(lambda v: mx.softmax(v)[0])(mx.array([1.0, 2.0])).tolist()
    assert abs(g[0] - 0.196612) < 1e-5 and abs(g[1] + 0.196612) < 1e-5


def test_second_derivatives(rng):
    xn = rng.uniform(0.5, 1.5, (5,))
    x = mx.array(xn.astype(np.float32))

    def hess_diag(f):
        return mx.grad(lambda v: mx.grad(f)(v).sum())(x)

    # d2/dx2 of sum(prod) row: derivative of (prod/x_i) summed over i
    def np_grad_sum(fn, v):
        return finite_diff(fn, v).sum()

    for fm, fn in ((lambda v: mx.prod(v), lambda v: np.prod(v)),
                   (lambda v: mx.logsumexp(v), lambda v: np_logsumexp(v, 0, False)),
                   (lambda v: mx.softmax(v)[1], lambda v: np_softmax(v, 0)[1])):
        got = np.array(hess_diag(fm))
        ref = finite_diff(lambda v: np_grad_sum(fn, v), xn, eps=1e-3)
        np.testing.assert_allclose(got, ref, rtol=2e-2, atol=2e-2)


# ---------------------------------------------------------------- trace (section D's op; checked here too)

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_trace_every_dtype(rng, dtype):
    for name, x in layouts(rng, (3, 4, 5), dtype):
        xv = values(x)
        for offset, a1, a2 in ((0, 0, 1), (1, 0, 1), (-2, 1, 2), (2, -1, 0), (7, 0, 2), (-1, 2, 1)):
            got = mx.trace(x, offset, a1, a2)
            assert got.dtype == sum_dtype(dtype)
            if dtype == mx.bool_ or dtype in SIGNED or dtype in UNSIGNED:
                wide = xv.astype(np.uint64 if dtype == mx.uint64 else np.int64)
                ref = np.trace(wide, offset, a1, a2).astype(NP_DTYPES[sum_dtype(dtype)])
                np.testing.assert_array_equal(np.array(got), ref)
            else:
                ref = np.trace(xv, offset, a1, a2)
                check_float(got, ref, dtype, np.trace(np.abs(xv), offset, a1, a2) + 1e-6)


def test_trace_dtype_edges_errors(rng):
    assert mx.trace(mx.ones((3, 3), dtype=mx.float16)).dtype == mx.float16
    assert mx.trace(mx.array([[float("inf"), 1.0], [2.0, 3.0]])).item() == float("inf")
    assert mx.trace(mx.array([[1.0, float("inf")], [2.0, 3.0]])).item() == 4.0
    assert mx.trace(mx.zeros((0, 3))).item() == 0.0
    assert mx.trace(mx.zeros((2, 0, 3))).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="at least two dimensions"):
        mx.trace(mx.ones((3,)))
    with pytest.raises(ValueError, match="cannot be the same axis"):
        mx.trace(mx.ones((3, 3)), axis1=0, axis2=-2)
    with pytest.raises(IndexError, match=r"Invalid axis1 3"):
        mx.trace(mx.ones((3, 3, 3)), axis1=3)
    xn = rng.standard_normal((3, 4))
    g = mx.grad(lambda v: mx.trace(v, 1))(mx.array(xn.astype(np.float32)))
    assert g.tolist() == np.eye(3, 4, 1).tolist()


# ---------------------------------------------------------------- median

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_median_every_dtype(rng, dtype):
    for shape, axes in (((3, 4, 5), [None, 0, -1, (0, 2), (1,), (0, 1, 2)]),
                        ((2, 3, 2, 3), [None, 3, (1, 3), (0, 1, 2)])):
        for name, x in layouts(rng, shape, dtype):
            xv = values(x)
            for axis in axes:
                for keepdims in (False, True):
                    got = mx.median(x, axis=axis, keepdims=keepdims)
                    assert got.dtype == float_dtype(dtype)
                    ax = np_axes(axis, x.ndim)
                    if dtype == mx.complex64:  # lexicographic order: check the real part only
                        continue
                    ref = np.median(xv.astype(np.float64), axis=ax, keepdims=keepdims)
                    check_float(got, ref, float_dtype(dtype), np.abs(ref) + 1.0)


def test_median_edges_and_gradient(rng):
    a = mx.array([[3.0, 1.0, 2.0, 0.0], [5.0, 4.0, 9.0, 7.0]])
    assert mx.median(a).item() == 3.5
    assert mx.median(a, 1).tolist() == [1.5, 6.0]
    assert mx.median(a, 0, keepdims=True).tolist() == [[4.0, 2.5, 5.5, 3.5]]
    assert mx.median(a, (0, 1), True).shape == (1, 1)
    assert mx.median(a, []).tolist() == a.tolist()
    assert math.isnan(mx.median(mx.array([1.0, float("nan"), 3.0])).item())
    assert mx.median(mx.array([1, 2, 4, 8], dtype=mx.int8)).item() == 3.0
    assert mx.median(mx.array(3.0)).item() == 3.0
    assert mx.median(mx.array([True, False, True])).item() == 1.0
    assert mx.median(mx.array([1 + 1j, 2])).item() == 1.5 + 0.5j
    assert mx.median(mx.zeros((0, 3)), 1).shape == (0,)
    with pytest.raises(ValueError, match="Cannot take median along empty axis"):
        mx.median(mx.zeros((0, 3)), 0)
    with pytest.raises(IndexError, match=r"\[median\] axis 2 is out of bounds"):
        mx.median(a, 2)
    with pytest.raises(ValueError, match="duplicate axis"):
        mx.median(a, (0, 0))
    xn = rng.permutation(20).reshape(4, 5).astype(np.float64) / 3.0
    for axis in (None, 0, 1):
        ax = np_axes(axis, 2)
        w = rng.standard_normal(np.median(xn, axis=ax).shape)
        wm = mx.array(w.astype(np.float32))
        check_grad(lambda v: (mx.median(v, axis=axis) * wm).sum(),
                   lambda v: float(np.sum(np.median(v, axis=ax) * w)), xn)
