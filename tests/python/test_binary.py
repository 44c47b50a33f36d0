"""Binary arithmetic, bitwise, logical and closeness functions (spec/python-api.md section 7,
spec/semantics.md sections 2, 2.1, 2.2, 3, 14) against NumPy in float64 and Python's integer
semantics: floor_divide, remainder, divmod, power/pow, logaddexp, arctan2/atan2, bitwise
and shifts, logical_and/or/xor, clip, array_equal, isclose, allclose; result dtypes, weak
scalars, broadcasting (size 0 included), strided inputs, NaN/inf, gradients against central
finite differences."""
import contextlib
import itertools
import math

import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, NP_DTYPES, tolerance

INT_DTYPES = [mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64]
SIGNED = [mx.int8, mx.int16, mx.int32, mx.int64]
FLOATS = [mx.float16, mx.float32, mx.float64, mx.bfloat16]
BITS = {mx.uint8: 8, mx.uint16: 16, mx.uint32: 32, mx.uint64: 64,
        mx.int8: 8, mx.int16: 16, mx.int32: 32, mx.int64: 64}


def on(dtype):
    """float64 runs only on CPU streams."""
    return mx.stream(mx.cpu) if dtype == mx.float64 else contextlib.nullcontext()


def to_np(x):
    """float64/complex128/int NumPy copy of an mx.array (bfloat16 through float32)."""
    if x.dtype == mx.bfloat16:
        x = x.astype(mx.float32)
    return np.array(x)


def make(values, dtype):
    """An mx.array of dtype from values, and the values as that dtype rounds them (float64
    for the floating dtypes)."""
    with on(dtype):
        v = np.asarray(values)
        if dtype == mx.bfloat16:
            a = mx.array(v.astype(np.float32)).astype(mx.bfloat16)
        else:
            a = mx.array(v.astype(NP_DTYPES[dtype]), dtype=dtype)
        ref = to_np(a)
    return a, ref.astype(np.float64) if dtype in FLOATS else ref


def wrap(v, dtype):
    """Python int v wrapped to the integer dtype (two's complement)."""
    bits = BITS[dtype]
    v &= (1 << bits) - 1
    if dtype in SIGNED and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


def rand_ints(rng, dtype, shape, lo=-100, hi=100):
    info = np.iinfo(NP_DTYPES[dtype])
    return rng.integers(max(lo, info.min), min(hi, info.max), size=shape, endpoint=True)


# ---------------------------------------------------------------------------------------
# floor_divide / remainder / divmod: integers follow Python's floor semantics


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_int_floor_divide_remainder_match_python(dtype, rng):
    x = rand_ints(rng, dtype, (6, 7))
    y = rand_ints(rng, dtype, (6, 7), -9, 9)
    y[y == 0] = 3
    a, b = mx.array(x.astype(NP_DTYPES[dtype])), mx.array(y.astype(NP_DTYPES[dtype]))
    q, r = mx.floor_divide(a, b), mx.remainder(a, b)
    assert q.dtype == dtype and r.dtype == dtype
    want_q = [[int(u) // int(v) for u, v in zip(ru, rv)] for ru, rv in zip(x, y)]
    want_r = [[int(u) % int(v) for u, v in zip(ru, rv)] for ru, rv in zip(x, y)]
    assert q.tolist() == want_q
    assert r.tolist() == want_r
    d = mx.divmod(a, b)
    assert isinstance(d, list) and len(d) == 2
    assert d[0].tolist() == want_q and d[1].tolist() == want_r


@pytest.mark.parametrize("dtype", SIGNED, ids=str)
def test_int_division_signs(dtype):
    a = mx.array([-7, 7, -7, 7, 0, -8, -1, 1], dtype=dtype)
    b = mx.array([2, 2, -2, -2, 3, 3, 5, -5], dtype=dtype)
    assert mx.floor_divide(a, b).tolist() == [-4, 3, 3, -4, 0, -3, -1, -1]
    assert mx.remainder(a, b).tolist() == [1, 1, -1, -1, 0, 1, 4, -4]


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_int_division_by_zero_and_overflow(dtype):
    # MLX: x // 0 is 0 and x % 0 is x (C would trap); MIN // -1 wraps, MIN % -1 is 0
    a = mx.array([5, 0, 9], dtype=dtype)
    zero = mx.zeros((3,), dtype=dtype)
    assert mx.floor_divide(a, zero).tolist() == [0, 0, 0]
    assert mx.remainder(a, zero).tolist() == [5, 0, 9]
    if dtype in SIGNED:
        lo = -(1 << (BITS[dtype] - 1))
        m = mx.array([lo], dtype=dtype)
        minus1 = mx.array([-1], dtype=dtype)
        assert mx.floor_divide(m, minus1).tolist() == [lo]
        assert mx.remainder(m, minus1).tolist() == [0]


def test_bool_division():
    t, f = mx.array([True, False, True]), mx.array([True, True, True])
    q = mx.floor_divide(t, f)
    r = mx.remainder(t, f)
    assert q.dtype == mx.bool_ and q.tolist() == [True, False, True]
    assert r.dtype == mx.bool_ and r.tolist() == [False, False, False]


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_float_floor_divide_remainder(dtype, rng):
    x = rng.uniform(-20, 20, (5, 8))
    y = rng.uniform(0.5, 6, (5, 8)) * rng.choice([-1, 1], (5, 8))
    a, xr = make(x, dtype)
    b, yr = make(y, dtype)
    qf = xr / yr
    frac = qf - np.floor(qf)
    keep = (frac > 0.05) & (frac < 0.95)  # away from integer boundaries: rounding-proof
    with on(dtype):
        q, r = mx.floor_divide(a, b), mx.remainder(a, b)
        dq, dr = mx.divmod(a, b)
        assert q.dtype == dtype and r.dtype == dtype and dq.dtype == dtype and dr.dtype == dtype
        qn, rn, dqn, drn = to_np(q), to_np(r), to_np(dq), to_np(dr)
    np.testing.assert_array_equal(qn[keep], np.floor(qf)[keep])
    np.testing.assert_array_equal(dqn[keep], np.floor(qf)[keep])
    rtol, atol = tolerance(dtype)
    want_r = np.remainder(xr, yr)
    scale = np.abs(yr) + np.abs(xr)
    assert np.all(np.abs(rn[keep] - want_r[keep]) <= 4 * rtol * scale[keep] + atol)
    assert np.all(np.abs(drn[keep] - want_r[keep]) <= 4 * rtol * scale[keep] + atol)
    assert np.all(np.sign(rn[rn != 0]) == np.sign(yr[rn != 0]))  # the divisor's sign


def test_float_division_edge_cases():
    inf, nan = math.inf, math.nan
    a = mx.array([-7.5, 7.0, -0.0, 5.0, 3.0, -3.0, inf, nan, 1.0])
    b = mx.array([2.0, 0.0, 2.0, -0.0, inf, inf, 2.0, 1.0, nan])
    r = mx.remainder(a, b).tolist()
    assert r[0] == 0.5 and math.isnan(r[1]) and r[2] == 0.0 and math.isnan(r[3])
    assert r[4] == 3.0 and r[5] == inf  # NumPy gives the same
    assert all(math.isnan(v) for v in r[6:])
    q = mx.floor_divide(a, b).tolist()
    assert q[0] == -4.0 and q[1] == inf and q[4] == 0.0 and q[5] == 0.0  # floor(a / b), not NumPy's -1
    assert all(math.isnan(v) for v in q[7:])


def test_division_dtypes_and_weak_scalars():
    assert mx.floor_divide(mx.array([7.5], mx.float16), mx.array([2], mx.int32)).dtype == mx.float16
    r = mx.floor_divide(mx.array([7], mx.int32), 2.0)
    assert r.dtype == mx.float32 and r.tolist() == [3.0]
    assert mx.floor_divide(7, 2).tolist() == 3 and mx.floor_divide(7, 2).dtype == mx.int32
    assert mx.floor_divide(-7, 2.0).tolist() == -4.0
    assert mx.remainder(-7, 2).tolist() == 1
    r = mx.remainder(mx.array([-7.5], mx.bfloat16), 2)
    assert r.dtype == mx.bfloat16 and r.item() == 0.5
    r = mx.remainder(mx.array([250, 7], mx.uint8), mx.array([-3, 3], mx.int8))
    assert r.dtype == mx.int16 and r.tolist() == [-2, 1]
    q = mx.floor_divide(mx.array([250, 7], mx.uint8), mx.array([-3, 3], mx.int8))
    assert q.dtype == mx.int16 and q.tolist() == [-84, 2]
    with pytest.raises(ValueError, match="overflow"):
        mx.remainder(mx.array([1], mx.uint8), 256)


def test_complex_division():
    z = mx.floor_divide(mx.array([1 + 2j]), mx.array([1 + 1j]))  # MLX: plain division
    assert z.dtype == mx.complex64 and z.item() == pytest.approx(1.5 + 0.5j)
    with pytest.raises(ValueError, match=r"\[remainder\] Complex type not supported"):
        mx.remainder(mx.array([3 + 2j]), mx.array([2 + 1j]))
    with pytest.raises(ValueError, match=r"\[divmod\] Complex type not supported"):
        mx.divmod(mx.array([1 + 1j]), 2)


# ---------------------------------------------------------------------------------------
# power


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_int_power_wraps(dtype, rng):
    x = rand_ints(rng, dtype, (20,), -9, 9)
    y = rand_ints(rng, dtype, (20,), 0, 40)
    a, b = mx.array(x.astype(NP_DTYPES[dtype])), mx.array(y.astype(NP_DTYPES[dtype]))
    p = mx.power(a, b)
    assert p.dtype == dtype
    assert p.tolist() == [wrap(int(u) ** int(v), dtype) for u, v in zip(x, y)]


@pytest.mark.parametrize("dtype", SIGNED, ids=str)
def test_int_negative_exponent_is_zero(dtype):
    p = mx.power(mx.array([1, -1, 0, 2, -1, 5], dtype), mx.array([-1, -3, -1, -1, -2, 0], dtype))
    assert p.tolist() == [0, 0, 0, 0, 0, 1]


def test_bool_power():
    p = mx.power(mx.array([True, False, True, False]), mx.array([False, False, True, True]))
    assert p.dtype == mx.bool_ and p.tolist() == [True, True, True, False]
    assert mx.power(mx.array([True]), 2).dtype == mx.int32  # weak int on bool -> int32


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_float_power(dtype, rng):
    x = rng.uniform(0.1, 3, (4, 6))
    y = rng.uniform(-3, 3, (4, 6))
    a, xr = make(x, dtype)
    b, yr = make(y, dtype)
    with on(dtype):
        p = mx.power(a, b)
        assert p.dtype == dtype
        got = to_np(p)
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(got, np.power(xr, yr), rtol=4 * rtol, atol=atol)


def test_float_power_edge_cases():
    p = mx.power(mx.array([0.0, -8.0, math.nan, 1.0, -2.0, 0.0, 2.0]),
                 mx.array([0.0, 1 / 3, 0.0, math.nan, 3.0, -1.0, -math.inf])).tolist()
    assert p[0] == 1.0 and math.isnan(p[1]) and p[2] == 1.0 and p[3] == 1.0
    assert p[4] == -8.0 and p[5] == math.inf and p[6] == 0.0


def test_complex_power(rng):
    z = rng.uniform(-2, 2, 10) + 1j * rng.uniform(-2, 2, 10)
    w = rng.uniform(-2, 2, 10) + 1j * rng.uniform(-2, 2, 10)
    p = mx.power(mx.array(z), mx.array(w))
    assert p.dtype == mx.complex64
    np.testing.assert_allclose(np.array(p), np.power(z.astype(np.complex64).astype(np.complex128),
                                                     w.astype(np.complex64).astype(np.complex128)),
                               rtol=1e-4, atol=1e-5)
    e = mx.power(mx.array([0j, 0j, 1j, 2 + 0j]), mx.array([0j, 1 + 0j, 2 + 0j, 0.5 + 0j])).tolist()
    assert math.isnan(e[0].real) and e[1] == 0
    assert e[2] == pytest.approx(-1, abs=1e-6) and e[3] == pytest.approx(math.sqrt(2))


def test_power_dtypes_and_alias():
    assert mx.pow is not None
    assert mx.pow(mx.array([2, 3]), 2).tolist() == [4, 9]
    assert mx.power(mx.array([2], mx.int32), 0.5).dtype == mx.float32
    assert mx.power(2, mx.array([2.0])).tolist() == [4.0]
    assert mx.power(mx.array([2.0], mx.float16), 3).dtype == mx.float16
    assert mx.power(mx.array([2], mx.uint8), mx.array([9], mx.uint8)).tolist() == [0]
    assert mx.power(mx.array([2], mx.uint64), mx.array([63], mx.uint64)).tolist() == [2**63]
    with pytest.raises(ValueError, match="overflow"):
        mx.power(mx.array([2], mx.uint8), 300)


# ---------------------------------------------------------------------------------------
# logaddexp, arctan2


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_logaddexp(dtype, rng):
    x = rng.uniform(-30, 30, (3, 7))
    y = x + rng.uniform(-5, 5, (3, 7))
    a, xr = make(x, dtype)
    b, yr = make(y, dtype)
    with on(dtype):
        r = mx.logaddexp(a, b)
        assert r.dtype == dtype
        got = to_np(r)
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(got, np.logaddexp(xr, yr), rtol=2 * rtol, atol=atol)


def test_logaddexp_edge_cases_and_types():
    inf, nan = math.inf, math.nan
    r = mx.logaddexp(mx.array([-inf, inf, nan, -inf, 1.0, 1e30, -1e30, inf]),
                     mx.array([-inf, inf, 1.0, 2.0, nan, 1e30, 5.0, -inf])).tolist()
    assert r[0] == -inf and r[1] == inf and math.isnan(r[2]) and r[3] == 2.0
    assert math.isnan(r[4]) and r[5] == pytest.approx(1e30) and r[6] == 5.0 and r[7] == inf
    assert mx.logaddexp(mx.array([1, 2]), mx.array([3, 4])).dtype == mx.float32
    assert mx.logaddexp(mx.array([True]), mx.array([False])).dtype == mx.float32
    assert mx.logaddexp(mx.array([1], mx.float16), mx.array([2], mx.int32)).dtype == mx.float16
    z = mx.logaddexp(mx.array([1 + 2j]), mx.array([1 + 1j]))
    assert z.dtype == mx.complex64
    want = np.log(np.exp(1 + 2j) + np.exp(1 + 1j))
    assert z.item() == pytest.approx(complex(want.real, want.imag), abs=1e-5)


@pytest.mark.parametrize("dtype", FLOATS + [mx.int32, mx.uint8], ids=str)
def test_arctan2(dtype, rng):
    if dtype in FLOATS:
        x, y = rng.uniform(-5, 5, (4, 5)), rng.uniform(-5, 5, (4, 5))
    else:
        x, y = rand_ints(rng, dtype, (4, 5), -9, 9), rand_ints(rng, dtype, (4, 5), -9, 9)
    a, xr = make(x, dtype)
    b, yr = make(y, dtype)
    with on(dtype):
        r = mx.arctan2(a, b)
        r2 = mx.atan2(a, b)
        out_t = dtype if dtype in FLOATS else mx.float32
        assert r.dtype == out_t and r2.dtype == out_t
        got = to_np(r)
    rtol, atol = tolerance(out_t)
    np.testing.assert_allclose(got, np.arctan2(xr.astype(np.float64), yr.astype(np.float64)),
                               rtol=2 * rtol, atol=2 * atol)


def test_arctan2_edge_cases():
    r = mx.arctan2(mx.array([0.0, -0.0, 0.0, -0.0, 1.0, math.inf]),
                   mx.array([0.0, 0.0, -0.0, -0.0, math.inf, math.inf])).tolist()
    want = np.arctan2([0.0, -0.0, 0.0, -0.0, 1.0, np.inf], [0.0, 0.0, -0.0, -0.0, np.inf, np.inf])
    for g, w in zip(r, want):
        assert g == pytest.approx(w, abs=1e-6) and math.copysign(1, g) == math.copysign(1, w)
    with pytest.raises(ValueError, match=r"\[arctan2\] Not supported for complex64"):
        mx.arctan2(mx.array([1 + 2j]), mx.array([1 + 1j]))


# ---------------------------------------------------------------------------------------
# bitwise and shifts


BITWISE = [(mx.bitwise_and, np.bitwise_and), (mx.bitwise_or, np.bitwise_or),
           (mx.bitwise_xor, np.bitwise_xor)]


@pytest.mark.parametrize("dtype", INT_DTYPES + [mx.bool_], ids=str)
@pytest.mark.parametrize("fn,ref", BITWISE, ids=["and", "or", "xor"])
def test_bitwise(fn, ref, dtype, rng):
    if dtype == mx.bool_:
        x, y = rng.integers(0, 2, (5, 6)).astype(bool), rng.integers(0, 2, (5, 6)).astype(bool)
    else:
        info = np.iinfo(NP_DTYPES[dtype])
        x = rng.integers(info.min, info.max, (5, 6), dtype=NP_DTYPES[dtype], endpoint=True)
        y = rng.integers(info.min, info.max, (5, 6), dtype=NP_DTYPES[dtype], endpoint=True)
    r = fn(mx.array(x), mx.array(y))
    assert r.dtype == dtype
    np.testing.assert_array_equal(np.array(r), ref(x, y))


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_shifts(dtype, rng):
    bits = BITS[dtype]
    info = np.iinfo(NP_DTYPES[dtype])
    x = rng.integers(info.min, info.max, (40,), dtype=NP_DTYPES[dtype], endpoint=True)
    y = rng.integers(0, bits, (40,)).astype(NP_DTYPES[dtype])
    left = mx.left_shift(mx.array(x), mx.array(y))
    right = mx.right_shift(mx.array(x), mx.array(y))
    assert left.dtype == dtype and right.dtype == dtype
    assert left.tolist() == [wrap(int(u) << int(v), dtype) for u, v in zip(x, y)]
    assert right.tolist() == [int(u) >> int(v) for u, v in zip(x, y)]  # arithmetic for signed
    assert mx.bitwise_left_shift(mx.array(x), mx.array(y)).tolist() == left.tolist()
    assert mx.bitwise_right_shift(mx.array(x), mx.array(y)).tolist() == right.tolist()


def test_shift_counts_out_of_range():
    # as MLX's CPU kernels on x86-64: the count is taken modulo the promoted width
    assert mx.left_shift(mx.array([1]), mx.array([33])).tolist() == [2]
    assert mx.left_shift(mx.array([1]), mx.array([-1])).tolist() == [-(2**31)]
    assert mx.right_shift(mx.array([-8]), mx.array([40])).tolist() == [-1]
    assert mx.left_shift(mx.array([1], mx.int8), mx.array([9], mx.int8)).tolist() == [0]
    assert mx.left_shift(mx.array([1], mx.int8), mx.array([32], mx.int8)).tolist() == [1]
    assert mx.left_shift(mx.array([1], mx.int64), mx.array([65], mx.int64)).tolist() == [2]


def test_bitwise_dtypes_and_errors():
    assert mx.left_shift(mx.array([True]), mx.array([True])).dtype == mx.uint8
    assert mx.left_shift(mx.array([True]), mx.array([True])).tolist() == [2]
    assert mx.right_shift(mx.array([True]), mx.array([True])).tolist() == [0]
    r = mx.bitwise_or(mx.array([3], mx.uint8), mx.array([-1], mx.int8))
    assert r.dtype == mx.int16 and r.tolist() == [-1]
    r = mx.bitwise_xor(mx.array([3], mx.uint8), 5)
    assert r.dtype == mx.uint8 and r.tolist() == [6]
    assert mx.bitwise_and(1, 3).tolist() == 1
    with pytest.raises(ValueError, match="overflow"):
        mx.bitwise_or(mx.array([5], mx.int8), 300)
    for fn, name in [(mx.bitwise_and, "bitwise_and"), (mx.bitwise_or, "bitwise_or"),
                     (mx.bitwise_xor, "bitwise_xor"), (mx.left_shift, "left_shift"),
                     (mx.right_shift, "right_shift")]:
        second = "float32" if name == "right_shift" else "int32"  # MLX's wording
        with pytest.raises(RuntimeError, match=rf"\[{name}\] Only allowed on integer or boolean "
                           rf"types but got types float32 and {second}\."):
            fn(mx.array([1.0]), mx.array([1]))
        with pytest.raises(RuntimeError):
            fn(mx.array([1 + 1j]), mx.array([1]))


# ---------------------------------------------------------------------------------------
# logical


LOGICAL = [(mx.logical_and, np.logical_and), (mx.logical_or, np.logical_or),
           (mx.logical_xor, np.logical_xor)]


@pytest.mark.parametrize("fn,ref", LOGICAL, ids=["and", "or", "xor"])
@pytest.mark.parametrize("dtypes", [(mx.bool_, mx.bool_), (mx.float32, mx.int32),
                                    (mx.uint8, mx.complex64), (mx.float16, mx.bool_)], ids=str)
def test_logical(fn, ref, dtypes, rng):
    x = rng.integers(-1, 2, (3, 1, 4)).astype(NP_DTYPES[dtypes[0]] if dtypes[0] != mx.uint8
                                              else np.int64)
    y = rng.integers(0, 2, (5, 4))
    a = mx.array(np.abs(x) if dtypes[0] == mx.uint8 else x).astype(dtypes[0])
    b = mx.array(y).astype(dtypes[1])
    r = fn(a, b)
    assert r.dtype == mx.bool_ and r.shape == (3, 5, 4)
    np.testing.assert_array_equal(np.array(r), ref(np.array(a).astype(bool), y.astype(bool)))


def test_logical_scalars():
    assert mx.logical_and(1, 0).tolist() is False
    assert mx.logical_or(0.0, 2).tolist() is True
    assert mx.logical_xor(True, False).tolist() is True
    r = mx.logical_xor(mx.array([1, 0]), mx.array([[1], [0]]))
    assert r.tolist() == [[False, True], [True, False]]


# ---------------------------------------------------------------------------------------
# clip


@pytest.mark.parametrize("dtype", [mx.uint8, mx.int16, mx.int64, mx.float16, mx.float32,
                                   mx.bfloat16], ids=str)
def test_clip(dtype, rng):
    x = rng.integers(0, 50, (4, 6)) if dtype in INT_DTYPES else rng.uniform(-5, 50, (4, 6))
    a, xr = make(x, dtype)
    lo, hi = 10, 30
    r = mx.clip(a, lo, hi)
    assert r.dtype == dtype
    np.testing.assert_array_equal(to_np(r), np.clip(xr, lo, hi))
    np.testing.assert_array_equal(to_np(mx.clip(a, lo, None)), np.maximum(xr, lo))
    np.testing.assert_array_equal(to_np(mx.clip(a, None, hi)), np.minimum(xr, hi))
    np.testing.assert_array_equal(to_np(mx.clip(a, a_min=lo, a_max=hi)), np.clip(xr, lo, hi))


def test_clip_typing_and_errors():
    a = mx.array([1, 5, 10])
    r = mx.clip(a, 2.5, None)
    assert r.dtype == mx.float32 and r.tolist() == [2.5, 5.0, 10.0]
    r = mx.clip(mx.array([1, 5, 10], mx.uint8), mx.array([2]), None)
    assert r.dtype == mx.int32 and r.tolist() == [2, 5, 10]
    assert mx.clip(mx.array([1, 5, 10], mx.uint8), 2, 8).dtype == mx.uint8
    with pytest.raises(ValueError, match="At most one of a_min and a_max may be None"):
        mx.clip(a, None, None)
    with pytest.raises(ValueError, match="overflow"):
        mx.clip(mx.array([1], mx.uint8), -1, None)
    with pytest.raises(TypeError):
        mx.clip(a, 2)  # both bounds are required arguments
    r = mx.clip(a, mx.array([[1], [6]]), 8)
    assert r.shape == (2, 3) and r.tolist() == [[1, 5, 8], [6, 6, 8]]
    assert mx.clip(a, 8, 2).tolist() == [2, 2, 2]  # a_max wins
    r = mx.clip(mx.array([1.0, math.nan, 10.0]), 2, 8).tolist()
    assert r[0] == 2 and math.isnan(r[1]) and r[2] == 8


# ---------------------------------------------------------------------------------------
# array_equal, isclose, allclose


def test_array_equal():
    eq = mx.array_equal
    r = eq(mx.array([1, 2]), mx.array([1.0, 2.0]))
    assert r.dtype == mx.bool_ and r.shape == () and r.item() is True
    assert eq(mx.array([1, 2]), mx.array([1, 2, 3])).item() is False
    assert eq(mx.array([1, 2]), mx.array([[1, 2]])).item() is False
    nan = math.nan
    assert eq(mx.array([1, nan]), mx.array([1, nan])).item() is False
    assert eq(mx.array([1, nan]), mx.array([1, nan]), equal_nan=True).item() is True
    z = mx.array([1 + 1j, complex(nan, 0)])
    assert eq(z, z, equal_nan=True).item() is True and eq(z, z).item() is False
    assert eq(mx.array([1, 2]), mx.array([1, 2]), equal_nan=True).item() is True
    assert eq(mx.array([1, 1]), 1).item() is False  # shapes differ: no broadcasting
    assert eq(mx.array(1), 1).item() is True
    assert eq(mx.array([]), mx.array([])).item() is True
    assert eq(mx.array([True, False]), mx.array([1, 0])).item() is True
    assert eq(mx.array([1, 2]), mx.array([1, 3])).item() is False
    with pytest.raises(TypeError):
        eq(mx.array([1]), mx.array([1]), True)  # equal_nan is keyword-only


@pytest.mark.parametrize("dtype", [mx.float16, mx.float32, mx.float64, mx.bfloat16], ids=str)
def test_isclose_matches_numpy(dtype, rng):
    x = rng.uniform(-10, 10, 200)
    y = x * (1 + rng.choice([0, 1e-6, 1e-4, 1e-2], 200)) + rng.choice([0, 1e-9, 1e-3], 200)
    a, xr = make(x, dtype)
    b, yr = make(y, dtype)
    with on(dtype):
        for rtol, atol in [(1e-5, 1e-8), (1e-3, 0.0), (0.0, 1e-2)]:
            got = np.array(mx.isclose(a, b, rtol=rtol, atol=atol))
            want = np.isclose(xr, yr, rtol=np.float32(rtol), atol=np.float32(atol))
            lhs, rhs = np.abs(xr - yr), np.float32(atol) + np.float32(rtol) * np.abs(yr)
            decided = np.abs(lhs - rhs) > 1e-3 * rhs + 1e-12  # skip ties at rounding level
            np.testing.assert_array_equal(got[decided], want[decided])
            all_close = mx.allclose(a, b, rtol, atol)
            assert all_close.shape == () and all_close.item() == bool(np.all(got))


def test_isclose_special_values():
    inf, nan = math.inf, math.nan
    a = mx.array([1.0, inf, -inf, inf, nan, 0.0, -inf, 1.0])
    b = mx.array([1.0, inf, inf, 2.0, nan, 1e-9, -inf, nan])
    assert mx.isclose(a, b).tolist() == [True, True, False, False, False, True, True, False]
    assert mx.isclose(a, b, equal_nan=True).tolist()[4] is True
    assert mx.allclose(mx.array([1.0, inf]), mx.array([1.0, inf])).item() is True
    assert mx.allclose(mx.array([1.0, nan]), mx.array([1.0, nan])).item() is False
    assert mx.allclose(mx.array([1.0, nan]), mx.array([1.0, nan]), equal_nan=True).item() is True
    assert mx.isclose(mx.array([complex(inf, 1)]), mx.array([complex(inf, 1)])).tolist() == [False]
    assert mx.isclose(mx.array([1 + 1j]), mx.array([1 + 1j])).tolist() == [True]


def test_isclose_integers_and_signature():
    assert mx.isclose(mx.array([1, 2]), mx.array([1, 3])).tolist() == [True, False]
    assert mx.isclose(mx.array([True, False]), mx.array([True, True])).tolist() == [True, False]
    # |a - b| wraps in uint8, as MLX computes it in the operands' dtype
    assert mx.isclose(mx.array([1, 2], mx.uint8), mx.array([3, 2], mx.uint8)).tolist() == [False, True]
    assert mx.isclose(mx.array([200], mx.uint8), mx.array([100], mx.uint8), rtol=1.0).tolist() == [True]
    assert mx.allclose(mx.array([1.0, 2.0]), mx.array([1.0, 2.1]), 0.1).item() is True
    assert mx.allclose(mx.array([1.0, 2.0]), mx.array([1.0, 2.1]), rtol=0.0, atol=0.2).item() is True
    assert mx.allclose(mx.array([1.0, 2.0]), mx.array([1.0, 2.1])).item() is False
    r = mx.isclose(mx.array([1.0]), mx.array([[1.0], [2.0]]))
    assert r.shape == (2, 1) and r.tolist() == [[True], [False]]
    assert mx.allclose(mx.array([]), mx.array([])).item() is True
    with pytest.raises(TypeError):
        mx.allclose(mx.array([1.0]), mx.array([1.0]), 0.0, 0.2, True)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        mx.allclose(mx.array([1, 2]), mx.array([1, 2, 3]))


# ---------------------------------------------------------------------------------------
# result dtypes: the promotion table (spec/semantics.md section 2) through every new op

_ORDER = ["b", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f16", "f32", "f64",
          "bf16", "c64"]
_TABLE = """
b    b u8 u16 u32 u64 i8 i16 i32 i64 f16 f32 f64 bf16 c64
u8   u8 u8 u16 u32 u64 i16 i16 i32 i64 f16 f32 f64 bf16 c64
u16  u16 u16 u16 u32 u64 i32 i32 i32 i64 f16 f32 f64 bf16 c64
u32  u32 u32 u32 u32 u64 i64 i64 i64 i64 f16 f32 f64 bf16 c64
u64  u64 u64 u64 u64 u64 f32 f32 f32 f32 f16 f32 f64 bf16 c64
i8   i8 i16 i32 i64 f32 i8 i16 i32 i64 f16 f32 f64 bf16 c64
i16  i16 i16 i32 i64 f32 i16 i16 i32 i64 f16 f32 f64 bf16 c64
i32  i32 i32 i32 i64 f32 i32 i32 i32 i64 f16 f32 f64 bf16 c64
i64  i64 i64 i64 i64 f32 i64 i64 i64 i64 f16 f32 f64 bf16 c64
f16  f16 f16 f16 f16 f16 f16 f16 f16 f16 f16 f32 f64 f32 c64
f32  f32 f32 f32 f32 f32 f32 f32 f32 f32 f32 f32 f64 f32 c64
f64  f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 c64
bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 bf16 f32 f32 f64 bf16 c64
c64  c64 c64 c64 c64 c64 c64 c64 c64 c64 c64 c64 c64 c64 c64
"""
_SFX = dict(zip(_ORDER, ALL_DTYPES))
PROMOTE = {}
for _line in _TABLE.strip().splitlines():
    _row, *_cells = _line.split()
    for _col, _cell in zip(_ORDER, _cells):
        PROMOTE[(_SFX[_row], _SFX[_col])] = _SFX[_cell]


def _at_least_float(t):
    return t if t in FLOATS or t == mx.complex64 else (mx.float32 if t != mx.float64 else t)


@pytest.mark.parametrize("ta", ALL_DTYPES, ids=str)
def test_result_dtypes(ta):
    with mx.stream(mx.cpu):
        for tb in ALL_DTYPES:
            a, b = mx.array([1, 2], dtype=ta), mx.array([1, 1], dtype=tb)
            t = PROMOTE[(ta, tb)]
            assert mx.power(a, b).dtype == t
            assert mx.floor_divide(a, b).dtype == t
            floaty = t in FLOATS or t == mx.complex64
            if t != mx.complex64:
                assert mx.remainder(a, b).dtype == t
                assert mx.arctan2(a, b).dtype == _at_least_float(t)
            assert mx.logaddexp(a, b).dtype == _at_least_float(t)
            for fn in (mx.logical_and, mx.logical_or, mx.logical_xor):
                assert fn(a, b).dtype == mx.bool_
            if floaty:
                with pytest.raises(RuntimeError):
                    mx.bitwise_and(a, b)
            else:
                assert mx.bitwise_xor(a, b).dtype == t
                assert mx.left_shift(a, b).dtype == (mx.uint8 if t == mx.bool_ else t)


def test_promotion_cells_that_differ_from_numpy():
    cases = [(mx.int32, mx.float16, mx.float16), (mx.uint64, mx.bfloat16, mx.bfloat16),
             (mx.float16, mx.bfloat16, mx.float32), (mx.uint64, mx.int8, mx.float32),
             (mx.int64, mx.uint64, mx.float32)]
    for ta, tb, t in cases:
        a, b = mx.array([3, 2], dtype=ta), mx.array([2, 1], dtype=tb)
        assert mx.power(a, b).dtype == t and mx.power(b, a).dtype == t
        assert mx.remainder(a, b).dtype == t and mx.floor_divide(b, a).dtype == t
    with mx.stream(mx.cpu):
        r = mx.power(mx.array([2.0], mx.float64), mx.array([1 + 0j]))
        assert r.dtype == mx.complex64


@pytest.mark.parametrize("dtype,scalar,expected", [
    (mx.float16, 2.5, mx.float16), (mx.int32, 0.5, mx.float32), (mx.bool_, 1, mx.int32),
    (mx.int8, 1.0, mx.float32), (mx.uint8, 3, mx.uint8), (mx.bool_, True, mx.bool_),
    (mx.bfloat16, 2, mx.bfloat16), (mx.complex64, 2, mx.complex64), (mx.int64, 2**40, mx.int64),
    (mx.float32, 1j, mx.complex64)])
def test_weak_scalars(dtype, scalar, expected):
    a = mx.array([1, 2], dtype=dtype)
    assert mx.power(a, scalar).dtype == expected
    assert mx.power(scalar, a).dtype == expected
    if expected != mx.complex64:
        assert mx.remainder(a, scalar).dtype == expected
    if expected not in FLOATS and expected != mx.complex64:
        assert mx.bitwise_or(a, scalar).dtype == expected


def test_numpy_operands_take_the_array_dtype():
    a = mx.array([1, 2], mx.int8)
    assert mx.power(a, np.array([2, 3])).dtype == mx.int8
    r = mx.maximum(a, np.array([300, 1]))  # cast (wrapping) to int8, as MLX
    assert r.dtype == mx.int8 and r.tolist() == [44, 2]
    assert mx.add(mx.array([1, 2]), np.array([1.5, 2.0])).tolist() == [2, 4]
    assert mx.add(np.array([1, 2]), 1.5).dtype == mx.float32  # no mx.array: no weak typing


# ---------------------------------------------------------------------------------------
# broadcasting, empty and strided operands


ALL_FNS = [mx.floor_divide, mx.remainder, mx.power, mx.logaddexp, mx.arctan2, mx.bitwise_and,
           mx.left_shift, mx.logical_or, mx.logical_xor]


@pytest.mark.parametrize("fn", ALL_FNS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("sa,sb,so", [((0, 3), (3,), (0, 3)), ((2, 1, 3), (4, 1), (2, 4, 3)),
                                      ((), (2, 0), (2, 0)), ((1,), (5,), (5,)),
                                      ((3, 1), (1, 0), (3, 0))])
def test_broadcast_shapes(fn, sa, sb, so):
    a = mx.ones(sa, dtype=mx.int32) * 3
    b = mx.ones(sb, dtype=mx.int32) * 2
    r = fn(a, b)
    assert r.shape == so
    mx.eval(r)
    d = mx.divmod(a, b)
    assert d[0].shape == so and d[1].shape == so


@pytest.mark.parametrize("fn", ALL_FNS + [mx.divmod], ids=lambda f: f.__name__)
def test_broadcast_error(fn):
    with pytest.raises(ValueError, match=r"\[broadcast_shapes\] Shapes \(2,3\) and \(4\) cannot be broadcast"):
        fn(mx.ones((2, 3), mx.int32), mx.ones((4,), mx.int32))


def test_strided_operands(rng):
    x = rng.uniform(1, 5, (6, 8)).astype(np.float32)
    y = rng.uniform(1, 5, (8, 6)).astype(np.float32)
    a, b = mx.array(x)[::2, 1::2], mx.array(y).T[1::2, ::2]  # (3, 4) views
    xa, yb = x[::2, 1::2].astype(np.float64), y.T[1::2, ::2].astype(np.float64)
    np.testing.assert_allclose(np.array(mx.power(a, b)), xa ** yb, rtol=1e-5)
    np.testing.assert_allclose(np.array(mx.remainder(a, b)), np.remainder(xa, yb), atol=1e-5)
    np.testing.assert_allclose(np.array(mx.arctan2(a, b)), np.arctan2(xa, yb), rtol=1e-5)
    np.testing.assert_allclose(np.array(mx.logaddexp(a, b)), np.logaddexp(xa, yb), rtol=1e-5)
    q, r = mx.divmod(a, b)
    np.testing.assert_allclose(np.array(q) * yb + np.array(r), xa, rtol=1e-5)
    xi = rng.integers(-50, 50, (5, 7)).astype(np.int32)
    ai = mx.array(xi).T[::-1]  # negative strides
    np.testing.assert_array_equal(np.array(mx.floor_divide(ai, 3)), xi.T[::-1] // 3)
    np.testing.assert_array_equal(np.array(mx.bitwise_xor(ai, ai[:, ::-1])),
                                  xi.T[::-1] ^ xi.T[::-1][:, ::-1])


def test_large_and_high_rank(rng):
    x = rng.integers(-1000, 1000, (2, 1, 3, 1, 2, 1, 2, 1, 3, 1)).astype(np.int64)
    y = rng.integers(1, 9, (1, 4, 3, 5)).astype(np.int64)
    np.testing.assert_array_equal(np.array(mx.remainder(mx.array(x), mx.array(y))),
                                  np.remainder(x, y))
    big = rng.uniform(0, 10, 100_000).astype(np.float32)
    np.testing.assert_allclose(np.array(mx.logaddexp(mx.array(big), mx.array(big[::-1]))),
                               np.logaddexp(big.astype(np.float64), big[::-1].astype(np.float64)),
                               rtol=1e-5)


def test_stream_keyword():
    r = mx.power(mx.array([2.0]), 3, stream=mx.cpu)
    assert r.tolist() == [8.0]
    assert mx.clip(mx.array([5]), 1, 3, stream=mx.cpu).tolist() == [3]
    assert mx.divmod(7, 2, stream=mx.cpu)[1].tolist() == 1


# ---------------------------------------------------------------------------------------
# gradients against central finite differences (float64 NumPy references)


def finite_diff(f, x, eps=1e-4):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


GRAD_CASES = [
    ("remainder", mx.remainder, np.remainder, (1.0, 9.0), (0.7, 3.0)),
    ("power", mx.power, np.power, (0.5, 2.5), (-2.0, 2.0)),
    ("logaddexp", mx.logaddexp, np.logaddexp, (-3.0, 3.0), (-3.0, 3.0)),
    ("arctan2", mx.arctan2, np.arctan2, (-3.0, 3.0), (0.5, 3.0)),
    ("floor_divide", mx.floor_divide, lambda x, y: np.floor(x / y), (1.0, 9.0), (0.7, 3.0)),
    ("divmod_r", lambda a, b: mx.divmod(a, b)[1], np.remainder, (1.0, 9.0), (0.7, 3.0)),
    ("clip", lambda a, b: mx.clip(a, b, 1.0), lambda x, y: np.minimum(np.maximum(x, y), 1.0),
     (-2.0, 2.0), (-2.0, 2.0)),
]


@pytest.mark.parametrize("name,fn,ref,ra,rb", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grad_vs_finite_differences(name, fn, ref, ra, rb, rng):
    with mx.stream(mx.cpu):
        x, y = rng.uniform(*ra, (3, 4)), rng.uniform(*rb, (3, 4))
        if name in ("remainder", "floor_divide", "divmod_r"):
            q = x / y  # stay away from the jumps of floor
            x = np.where(np.abs(q - np.round(q)) < 0.05, x + 0.2 * y, x)
        if name == "clip":
            x = np.where(np.abs(x - y) < 0.05, x + 0.2, x)
            x = np.where(np.abs(x - 1.0) < 0.05, x + 0.2, x)
        a, b = mx.array(x, dtype=mx.float64), mx.array(y, dtype=mx.float64)
        ga, gb = mx.grad(lambda u, v: fn(u, v).sum(), argnums=(0, 1))(a, b)
        np.testing.assert_allclose(np.array(ga), finite_diff(lambda u: ref(u, y).sum(), x),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.array(gb), finite_diff(lambda v: ref(x, v).sum(), y),
                                   rtol=1e-5, atol=1e-6)
        # jvp with random tangents equals the directional finite difference
        ta, tb = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
        _, (jv,) = mx.jvp(lambda u, v: fn(u, v), [a, b],
                          [mx.array(ta, dtype=mx.float64), mx.array(tb, dtype=mx.float64)])
        eps = 1e-6
        fd = (ref(x + eps * ta, y + eps * tb) - ref(x - eps * ta, y - eps * tb)) / (2 * eps)
        np.testing.assert_allclose(np.array(jv), fd, rtol=1e-5, atol=1e-6)
        # vjp with a random cotangent: <vjp(c), t> = <c, jvp(t)>
        c = rng.standard_normal((3, 4))
        _, (va, vb) = mx.vjp(lambda u, v: fn(u, v), [a, b], [mx.array(c, dtype=mx.float64)])
        np.testing.assert_allclose(
            (np.array(va) * ta + np.array(vb) * tb).sum(), (fd * c).sum(), rtol=1e-5, atol=1e-6)


def test_second_derivatives():
    with mx.stream(mx.cpu):
        x = mx.array([0.5, 1.5, 2.0], dtype=mx.float64)
        d2 = mx.grad(lambda u: mx.grad(lambda v: mx.power(v, 3.0).sum())(u).sum())(x)
        np.testing.assert_allclose(np.array(d2), 6 * np.array(x), rtol=1e-12)
        d2 = mx.grad(lambda u: mx.grad(lambda v: mx.logaddexp(v, 0.0).sum())(u).sum())(x)
        s = 1 / (1 + np.exp(-np.array(x)))
        np.testing.assert_allclose(np.array(d2), s * (1 - s), rtol=1e-10)


def test_power_gradient_at_zero():
    ga, gb = mx.grad(lambda a, b: mx.power(a, b).sum(), argnums=(0, 1))(
        mx.array([0.0, 1.0, 2.0]), mx.array([2.0, 3.0, -1.0]))
    assert ga.tolist() == [0.0, 3.0, -0.25]
    assert gb.tolist()[0] == 0.0  # 0 * log 0 is taken as 0, as MLX
    assert gb.tolist()[2] == pytest.approx(0.5 * math.log(2))


def test_piecewise_constant_ops_have_zero_gradients():
    x = mx.array([3.0, 5.0])
    g = mx.grad(lambda u: mx.floor_divide(u, 2.0).sum())(x)
    assert np.all(np.array(g) == 0)
    for fn in (mx.logical_and, mx.logical_or, mx.logical_xor):
        y = mx.array([0.0, 2.0])
        g = mx.grad(lambda u: (fn(u, y).astype(mx.float32) * u).sum())(x)
        assert g.tolist() == fn(x, y).astype(mx.float32).tolist()  # d(cast(fn)) / du is 0
    gq = mx.grad(lambda u: mx.divmod(u, 2.0)[0].sum())(x)
    assert gq.tolist() == [0.0, 0.0]
