"""Element-wise unary ops (spec/python-api.md section 6, spec/semantics.md 2.1) against NumPy in
float64: result dtypes for every input dtype, values per dtype on seeded random inputs,
complex64, special values, non-contiguous / broadcast / empty inputs, MLX's errors, the
signatures and array methods, and gradients (grad, vjp, jvp, second order) against central
finite differences."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, NP_DTYPES, assert_close, tolerance

FLOATS = [mx.float16, mx.float32, mx.float64, mx.bfloat16]
INTS = [mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64]

# name -> (NumPy reference, domain low, domain high, accepts complex64)
MATH = {
    "sqrt": (np.sqrt, 0.1, 9.0, True),
    "rsqrt": (lambda x: 1 / np.sqrt(x), 0.1, 9.0, True),
    "reciprocal": (lambda x: 1 / x, 0.5, 4.0, True),
    "exp": (np.exp, -4.0, 4.0, True),
    "expm1": (np.expm1, -3.0, 3.0, False),
    "log": (np.log, 0.1, 9.0, True),
    "log2": (np.log2, 0.1, 9.0, True),
    "log10": (np.log10, 0.1, 9.0, True),
    "log1p": (np.log1p, -0.9, 9.0, True),
    "sin": (np.sin, -6.0, 6.0, True),
    "cos": (np.cos, -6.0, 6.0, True),
    "tan": (np.tan, -1.3, 1.3, True),
    "arcsin": (np.arcsin, -0.95, 0.95, True),
    "arccos": (np.arccos, -0.95, 0.95, True),
    "arctan": (np.arctan, -5.0, 5.0, True),
    "sinh": (np.sinh, -4.0, 4.0, True),
    "cosh": (np.cosh, -4.0, 4.0, True),
    "tanh": (np.tanh, -4.0, 4.0, True),
    "arcsinh": (np.arcsinh, -5.0, 5.0, True),
    "arccosh": (np.arccosh, 1.05, 9.0, True),
    "arctanh": (np.arctanh, -0.95, 0.95, True),
    "degrees": (np.degrees, -7.0, 7.0, True),
    "radians": (np.radians, -400.0, 400.0, True),
    "erf": (None, -3.0, 3.0, False),
    "erfinv": (None, -0.95, 0.95, False),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), -8.0, 8.0, False),
}
# ops that keep the input dtype: name -> (NumPy reference, low, high)
SAME = {
    "abs": (np.abs, -5.0, 5.0),
    "sign": (np.sign, -5.0, 5.0),
    "negative": (np.negative, -5.0, 5.0),
    "positive": (np.positive, -5.0, 5.0),
    "square": (np.square, -5.0, 5.0),
    "floor": (np.floor, -5.0, 5.0),
    "ceil": (np.ceil, -5.0, 5.0),
    "trunc": (np.trunc, -5.0, 5.0),
    "round": (np.round, -5.0, 5.0),
}


def np_erf(x):
    from math import erf

    return np.vectorize(erf)(np.asarray(x, dtype=np.float64))


def np_erfinv(y):
    # Newton on erf from a good start; float64 accurate
    from math import erf, exp, pi, sqrt

    def inv(v):
        x = 0.0
        for _ in range(60):
            x -= (erf(x) - v) / (2 / sqrt(pi) * exp(-x * x))
        return x

    return np.vectorize(inv)(np.asarray(y, dtype=np.float64))


def reference(name):
    if name == "erf":
        return np_erf
    if name == "erfinv":
        return np_erfinv
    return MATH[name][0] if name in MATH else SAME[name][0]


def to_np(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a)


def sample(rng, lo, hi, shape, dtype):
    """Uniform samples in [lo, hi] rounded to dtype; returns (mx array, float64 values)."""
    x = mx.array(rng.uniform(lo, hi, shape)).astype(dtype)
    return x, to_np(x).astype(np.float64)


# ---------------------------------------------------------------------------------------
# result dtypes (read off MLX 0.32)


def expected_dtype(name, t):
    if name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_not"):
        return mx.bool_
    if name in MATH:
        if t == mx.complex64 and not MATH[name][3]:
            return ValueError
        return t if t in (mx.float16, mx.float64, mx.bfloat16, mx.complex64) else mx.float32
    if name in ("abs", "real", "imag") and t == mx.complex64:
        return mx.float32
    if name == "negative" and t == mx.bool_:
        return ValueError
    if name in ("floor", "ceil", "trunc") and t == mx.complex64:
        return ValueError
    if name == "nan_to_num" and t in (mx.float64, mx.complex64):
        return ValueError
    if name == "bitwise_invert" and t in FLOATS + [mx.complex64]:
        return ValueError
    return t


ALL_UNARY = list(MATH) + list(SAME) + [
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "nan_to_num", "logical_not",
    "bitwise_invert", "conj", "conjugate", "real", "imag", "stop_gradient"]


@pytest.mark.parametrize("name", ALL_UNARY)
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_result_dtype(name, dtype):
    x = mx.array([1, 0, 1]).astype(dtype)
    want = expected_dtype(name, dtype)
    fn = getattr(mx, name)
    if want is ValueError:
        with pytest.raises(ValueError, match=r"\[|overflow"):
            mx.eval(fn(x))
        return
    y = fn(x)
    mx.eval(y)
    assert y.dtype == want and y.shape == (3,)


def test_error_messages():
    with pytest.raises(ValueError, match=r"\[negative\] Not supported for bool, use logical_not"):
        mx.negative(mx.array([True]))
    for name in ("expm1", "erf", "erfinv", "sigmoid", "ceil", "floor", "trunc"):
        with pytest.raises(ValueError, match=rf"\[{name}\] Not supported for complex64\."):
            getattr(mx, name)(mx.array([1j]))
    with pytest.raises(ValueError, match=r"\[bitwise_invert\] Bitwise inverse only allowed on integer"):
        mx.bitwise_invert(mx.array([1.0]))
    with pytest.raises(ValueError, match=r"\[nan_to_num\] Does not yet support given type: float64\."):
        mx.nan_to_num(mx.array([1.0], mx.float64))


# ---------------------------------------------------------------------------------------
# values


@pytest.mark.parametrize("name", list(MATH))
@pytest.mark.parametrize("dtype", FLOATS)
def test_math_values_float(name, dtype, rng):
    _, lo, hi, _ = MATH[name]
    x, xn = sample(rng, lo, hi, (4, 5), dtype)
    y = getattr(mx, name)(x)
    assert y.dtype == dtype
    assert_close(y, reference(name)(xn))


@pytest.mark.parametrize("name", list(MATH))
@pytest.mark.parametrize("dtype", [mx.int8, mx.uint8, mx.int32, mx.uint32, mx.int64, mx.bool_])
def test_math_values_integer_inputs(name, dtype):
    _, lo, hi, _ = MATH[name]
    vals = np.arange(int(np.ceil(lo)), int(np.floor(hi)) + 1)
    if dtype == mx.bool_:
        vals = vals[(vals == 0) | (vals == 1)]
    else:
        info = mx.iinfo(dtype)
        vals = vals[(vals >= info.min) & (vals <= info.max)]
    if name in ("reciprocal", "log", "log2", "log10", "rsqrt"):
        vals = vals[vals != 0]
    if vals.size == 0:
        pytest.skip("no integer in the domain")
    x = mx.array(vals).astype(dtype)
    y = getattr(mx, name)(x)
    assert y.dtype == mx.float32
    assert_close(y, reference(name)(vals.astype(np.float64)))


@pytest.mark.parametrize("name", [n for n, v in MATH.items() if v[3]] + ["square", "negative", "sign", "abs", "round"])
def test_complex_values(name, rng):
    z = (rng.uniform(-1.5, 1.5, 12) + 1j * rng.uniform(-1.5, 1.5, 12)).astype(np.complex64)
    zd = z.astype(np.complex128)
    y = getattr(mx, name)(mx.array(z))
    if name == "sign":
        want = zd / np.abs(zd)
    elif name in ("degrees", "radians"):
        want = zd * (180 / np.pi if name == "degrees" else np.pi / 180)
    elif name == "round":
        want = np.round(zd.real) + 1j * np.round(zd.imag)
    else:
        want = reference(name)(zd)
    got = np.array(y)
    assert y.dtype == (mx.float32 if name == "abs" else mx.complex64)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_complex_branches_and_large_arguments():
    # signed zeros pick the side of the branch cuts as C99 / NumPy (and MLX) do
    z = np.array([0j, 2 + 0j, -2 + 0j, complex(2, -0.0), complex(-2, -0.0), complex(-0.0, 2),
                  complex(-0.0, -2), complex(0.5, -0.0), 0.5 - 3j, 30 + 1j, -30 + 2j,
                  1e-7 + 1e-7j, 1 + 1e-5j], np.complex64)
    zd = z.astype(np.complex128)
    for name in ("arcsinh", "arcsin", "arccos", "arctan", "tanh", "tan", "log1p", "sqrt",
                 "arctanh", "arccosh", "log"):
        got = np.array(getattr(mx, name)(mx.array(z)))
        with np.errstate(all="ignore"):
            want = getattr(np, name)(zd)
        ok = np.isfinite(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-5, atol=1e-7, err_msg=name)
        # and the side of each branch cut: the signs of the parts
        for g, w in zip(got[ok], want[ok]):
            for gp, wp in ((g.real, w.real), (g.imag, w.imag)):
                if abs(wp) > 1e-6:
                    assert np.sign(gp) == np.sign(wp), (name, g, w)
    # |re| large: tanh saturates without overflow
    t = np.array(mx.tanh(mx.array([400 + 1j, -400 - 2j])))
    np.testing.assert_allclose(t, [1 + 0j, -1 + 0j], atol=1e-7)


@pytest.mark.parametrize("name", list(SAME))
@pytest.mark.parametrize("dtype", FLOATS)
def test_same_dtype_values_float(name, dtype, rng):
    _, lo, hi = SAME[name]
    x, xn = sample(rng, lo, hi, (3, 7), dtype)
    y = getattr(mx, name)(x)
    assert y.dtype == dtype
    assert_close(y, reference(name)(xn))


@pytest.mark.parametrize("name", ["abs", "sign", "negative", "positive", "square", "floor", "ceil", "trunc", "round"])
@pytest.mark.parametrize("dtype", INTS + [mx.bool_])
def test_same_dtype_values_integer(name, dtype, rng):
    if name == "negative" and dtype == mx.bool_:
        pytest.skip("raises")
    info = mx.iinfo(dtype) if dtype != mx.bool_ else None
    lo = 0 if dtype == mx.bool_ else max(info.min, -100)
    hi = 1 if dtype == mx.bool_ else min(info.max, 100)
    vals = rng.integers(lo, hi + 1, 20)
    xn = vals.astype(NP_DTYPES[dtype])
    y = getattr(mx, name)(mx.array(xn))
    assert y.dtype == dtype
    with np.errstate(all="ignore"):
        if dtype == mx.bool_:
            want = {"abs": xn, "sign": xn, "square": xn}.get(name, xn)
        else:
            want = reference(name)(xn).astype(xn.dtype)
    np.testing.assert_array_equal(np.array(y), want)


def test_integer_wraparound():
    assert mx.abs(mx.array([-128], mx.int8)).tolist() == [-128]
    assert mx.negative(mx.array([1, 0], mx.uint8)).tolist() == [255, 0]
    assert mx.square(mx.array([16, 255], mx.uint8)).tolist() == [0, 1]
    assert mx.square(mx.array([2**31 - 1], mx.int32)).tolist() == [1]
    assert mx.sign(mx.array([0, 7], mx.uint32)).tolist() == [0, 1]


def test_round_half_to_even_and_decimals():
    f = mx.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49, -3.51])
    assert mx.round(f).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 3.0, -4.0]
    # float32(2.675) * 100 rounds to 267.5, then half to even: 2.68 (as MLX)
    assert mx.round(mx.array([1.25, 2.675, -0.125]), 2).tolist() == pytest.approx([1.25, 2.68, -0.12], abs=1e-6)
    assert mx.round(mx.array([1234.5, -149.0]), -2).tolist() == [1200.0, -100.0]
    # integers: scaled in float32, rounded half to even, cast back
    assert mx.round(mx.array([15, 25, 35, -15]), -1).tolist() == [20, 20, 40, -20]
    assert mx.round(mx.array([0, 1, 255], mx.uint8), -1).tolist() == [0, 0, 4]
    assert mx.round(mx.array([-3, 0, 5]), 1).tolist() == [-3, 0, 5]
    r = mx.round(mx.array([True, False]), 1)
    assert r.dtype == mx.bool_ and r.tolist() == [True, False]
    z = mx.round(mx.array([1.25 + 2.5j, 0.5 - 1.5j]), 1)
    np.testing.assert_allclose(np.array(z), [1.2 + 2.5j, 0.5 - 1.5j], rtol=1e-6)
    h = mx.round(mx.array([1.5, 2.5, 0.125], mx.float16), 0)
    assert h.dtype == mx.float16 and h.tolist() == [2.0, 2.0, 0.0]
    b = mx.round(mx.array([1.25, 2.55], mx.bfloat16), 1)
    assert b.dtype == mx.bfloat16
    np.testing.assert_allclose(np.array(b.astype(mx.float32)), [1.203125, 2.609375])


def test_floor_ceil_trunc_signed_zero_and_specials():
    x = mx.array([-1.5, 1.5, -0.2, 0.2, float("inf"), -float("inf"), float("nan")])
    np.testing.assert_array_equal(np.array(mx.trunc(x)), np.trunc(np.array(x)))
    np.testing.assert_array_equal(np.array(mx.ceil(x)), np.ceil(np.array(x)))
    assert np.signbit(np.array(mx.trunc(mx.array([-0.2])))[0])
    assert np.signbit(np.array(mx.ceil(mx.array([-0.2])))[0])


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0], np.float32)
SPECIAL_OPS = ["exp", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos",
               "tanh", "arctan", "arcsinh", "arcsin", "arccosh", "arctanh", "sinh", "cosh",
               "abs", "square", "floor", "ceil", "trunc", "round", "degrees", "reciprocal",
               "sigmoid", "erf"]


@pytest.mark.parametrize("name", SPECIAL_OPS)
def test_special_values(name):
    got = np.array(getattr(mx, name)(mx.array(SPECIAL)))
    with np.errstate(all="ignore"):
        want = reference(name)(SPECIAL.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, equal_nan=True, err_msg=name)


def test_sign_nan_and_sigmoid_saturation():
    assert mx.sign(mx.array([float("nan"), -0.0, 3.0])).tolist()[1:] == [0.0, 1.0]
    assert mx.sign(mx.array([float("nan")])).tolist() == [0.0]  # MLX: 0 for NaN
    s = mx.sigmoid(mx.array([-100.0, 0.0, 100.0, -float("inf"), float("inf")]))
    assert s.tolist() == [0.0, 0.5, 1.0, 0.0, 1.0]
    assert np.isnan(np.array(mx.sigmoid(mx.array([float("nan")])))[0])


def test_accuracy_near_zero():
    x = mx.array([1e-10, -1e-12, 1e-30])
    np.testing.assert_allclose(np.array(mx.expm1(x)), [1e-10, -1e-12, 1e-30], rtol=1e-6)
    np.testing.assert_allclose(np.array(mx.log1p(x)), [1e-10, -1e-12, 1e-30], rtol=1e-6)
    z = mx.array([1e-20 + 1e-20j])
    np.testing.assert_allclose(np.array(mx.arcsinh(z)), [1e-20 + 1e-20j], rtol=1e-6)
    np.testing.assert_allclose(np.array(mx.log1p(z)), [1e-20 + 1e-20j], rtol=1e-6)


# ---------------------------------------------------------------------------------------
# layouts and shapes


@pytest.mark.parametrize("name", ["sin", "rsqrt", "square", "log1p", "round", "sigmoid", "arctanh", "conj", "isnan", "logical_not"])
def test_non_contiguous_broadcast_empty_scalar(name, rng):
    fn = getattr(mx, name)
    ref = {"conj": np.conj, "isnan": np.isnan, "logical_not": np.logical_not}.get(name) or reference(name)
    base = rng.uniform(0.1, 0.9, (6, 8)).astype(np.float32)
    xm = mx.array(base)
    # transposed, strided slice, negative step
    for view_mx, view_np in [(xm.T, base.T), (xm[::2, 1::3], base[::2, 1::3]), (xm[::-1, ::-2], base[::-1, ::-2])]:
        got = fn(view_mx)
        assert got.shape == view_np.shape
        np.testing.assert_allclose(to_np(got).astype(np.float64), ref(view_np.astype(np.float64)), rtol=1e-5, atol=1e-6)
    # broadcast (stride-0) input
    b = mx.broadcast_to(mx.array(base[0]), (5, 8))
    np.testing.assert_allclose(to_np(fn(b)).astype(np.float64), ref(np.broadcast_to(base[0], (5, 8)).astype(np.float64)), rtol=1e-5, atol=1e-6)
    # empty and 0-d
    for shape in ((0, 3), (2, 0), (0,)):
        e = fn(mx.zeros(shape))
        assert e.shape == shape
        mx.eval(e)
    s = fn(mx.array(0.5))
    assert s.shape == ()
    np.testing.assert_allclose(float(to_np(s)), float(ref(np.float64(0.5))), rtol=1e-5)


def test_large_array(rng):
    xn = rng.uniform(-3, 3, 70001).astype(np.float32)
    np.testing.assert_allclose(np.array(mx.tanh(mx.array(xn))), np.tanh(xn.astype(np.float64)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(mx.square(mx.array(xn))), np.square(xn.astype(np.float64)), rtol=1e-6)


def test_python_scalar_inputs():
    assert mx.exp(0).dtype == mx.float32 and mx.exp(0).item() == 1.0
    assert mx.abs(-3).dtype == mx.int32 and mx.abs(-3).item() == 3
    assert mx.bitwise_invert(3).item() == -4
    assert mx.degrees(3).dtype == mx.float32
    assert mx.nan_to_num(3).dtype == mx.int32


# ---------------------------------------------------------------------------------------
# predicates, nan_to_num, logical/bitwise not, complex parts

INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("dtype", [mx.float16, mx.float32, mx.float64, mx.bfloat16])
def test_predicates_floats(dtype):
    x = mx.array([INF, -INF, NAN, 0.0, -1.5]).astype(dtype)
    xn = np.array([INF, -INF, NAN, 0.0, -1.5])
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf"):
        y = getattr(mx, name)(x)
        assert y.dtype == mx.bool_
        assert y.tolist() == getattr(np, name)(xn).tolist(), name


@pytest.mark.parametrize("dtype", INTS + [mx.bool_])
def test_predicates_integers(dtype):
    x = mx.zeros((2, 3), dtype)
    assert not mx.isnan(x).tolist()[0][0] and mx.isfinite(x).tolist() == [[True] * 3] * 2
    assert mx.isinf(x).tolist() == [[False] * 3] * 2
    assert mx.isposinf(x).shape == (2, 3) and mx.isneginf(x).dtype == mx.bool_


def test_predicates_complex():
    zs = mx.array([complex(0, INF), complex(0, -INF), complex(INF, INF), complex(-INF, 1),
                   complex(NAN, 0), complex(0, NAN), complex(INF, NAN), complex(INF, 0), 1 + 2j,
                   complex(3e38, 3e38)])
    assert mx.isnan(zs).tolist() == [False, False, False, False, True, True, True, False, False, False]
    assert mx.isinf(zs).tolist() == [True, True, True, True, False, False, True, True, False, False]
    assert mx.isposinf(zs).tolist() == [False] * 7 + [True, False, False]
    assert mx.isneginf(zs).tolist() == [False] * 10
    assert mx.isfinite(zs).tolist() == [False] * 8 + [True, True]


def test_nan_to_num():
    x = mx.array([NAN, INF, -INF, 1.5])
    assert mx.nan_to_num(x).tolist() == [0.0, np.finfo(np.float32).max, -np.finfo(np.float32).max, 1.5]
    assert mx.nan_to_num(x, 1.0, 5.0, -5.0).tolist() == [1.0, 5.0, -5.0, 1.5]
    assert mx.nan_to_num(x, nan=2, posinf=3).tolist() == [2.0, 3.0, -np.finfo(np.float32).max, 1.5]
    h = mx.nan_to_num(x.astype(mx.float16))
    assert h.dtype == mx.float16 and h.tolist() == [0.0, 65504.0, -65504.0, 1.5]
    b = mx.nan_to_num(x.astype(mx.bfloat16))
    assert b.dtype == mx.bfloat16
    assert b.astype(mx.float32).tolist()[1] == pytest.approx(3.3895313892515355e38)
    i = mx.array([1, 2])
    assert mx.nan_to_num(i).tolist() == [1, 2] and mx.nan_to_num(i).dtype == mx.int32
    with pytest.raises(TypeError):
        mx.nan_to_num(x, nan=None)
    with pytest.raises(TypeError):
        mx.nan_to_num(a=x)
    with pytest.raises(ValueError, match="complex64"):
        mx.nan_to_num(mx.array([1j]))


def test_logical_not_and_bitwise_invert():
    assert mx.logical_not(mx.array([0.0, 2.0, NAN])).tolist() == [True, False, False]
    assert mx.logical_not(mx.array([1 + 2j, 0j])).tolist() == [False, True]
    assert mx.logical_not(mx.array([0, -3], mx.int8)).tolist() == [True, False]
    assert mx.logical_not(True).item() is False
    assert mx.bitwise_invert(mx.array([True, False])).tolist() == [False, True]
    assert mx.bitwise_invert(mx.array([0, 1, 255], mx.uint8)).tolist() == [255, 254, 0]
    assert mx.bitwise_invert(mx.array([-3, 0, 5])).tolist() == [2, -1, -6]
    for t in INTS:
        xn = np.array([0, 1, 77], NP_DTYPES[t])
        np.testing.assert_array_equal(np.array(mx.bitwise_invert(mx.array(xn))), np.invert(xn))


def test_conj_real_imag():
    z = mx.array([1 + 2j, -3 - 4j, 0j])
    assert np.array(mx.conj(z)).tolist() == [1 - 2j, -3 + 4j, 0j]
    assert np.array(mx.conjugate(z)).tolist() == [1 - 2j, -3 + 4j, 0j]
    assert mx.real(z).dtype == mx.float32 and mx.real(z).tolist() == [1.0, -3.0, 0.0]
    assert mx.imag(z).tolist() == [2.0, -4.0, 0.0]
    assert z.real.tolist() == [1.0, -3.0, 0.0] and z.imag.tolist() == [2.0, -4.0, 0.0]
    i = mx.array([-3, 0, 5])
    assert mx.real(i).dtype == mx.int32 and mx.real(i).tolist() == [-3, 0, 5]
    assert mx.imag(i).dtype == mx.int32 and mx.imag(i).tolist() == [0, 0, 0]
    assert mx.conj(i).tolist() == [-3, 0, 5]
    f = mx.array([1.25])
    assert f.real.tolist() == [1.25] and f.imag.tolist() == [0.0]
    assert z.T.real.shape == (3,)
    # non-contiguous complex
    zz = mx.array(np.arange(12).reshape(3, 4) + 1j * np.arange(12).reshape(3, 4)).T
    np.testing.assert_array_equal(np.array(mx.imag(zz)), np.arange(12).reshape(3, 4).T)


# ---------------------------------------------------------------------------------------
# signatures, aliases, methods


@pytest.mark.parametrize("name", ALL_UNARY + ["asin", "acos", "atan", "asinh", "acosh", "atanh"])
def test_signature(name):
    fn = getattr(mx, name)
    x = mx.array([2, 1]) if name == "bitwise_invert" else mx.array([0.5, 0.25])
    mx.eval(fn(x, stream=mx.cpu))
    with pytest.raises(TypeError):
        fn(a=x)
    with pytest.raises(TypeError):
        # the stream is keyword-only: in the slot after the last positional parameter
        extra = {"round": (0,), "nan_to_num": (0.0, None, None)}.get(name, ())
        fn(x, *extra, mx.cpu)


@pytest.mark.parametrize("alias,name", [("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan"),
                                        ("asinh", "arcsinh"), ("acosh", "arccosh"), ("atanh", "arctanh"),
                                        ("conjugate", "conj")])
def test_aliases(alias, name):
    x = mx.array([0.3, 0.6]) if alias != "acosh" else mx.array([1.5, 3.0])
    assert np.array_equal(np.array(getattr(mx, alias)(x)), np.array(getattr(mx, name)(x)))


@pytest.mark.parametrize("name", ["abs", "square", "sqrt", "rsqrt", "reciprocal", "exp", "log",
                                  "log2", "log10", "log1p", "sin", "cos", "conj", "round"])
def test_methods(name):
    x = mx.array([[0.5, 1.5], [2.5, 3.0]])
    np.testing.assert_array_equal(np.array(getattr(x, name)()), np.array(getattr(mx, name)(x)))
    # the CPU's libm and the GPU's math library may differ in the last bit
    np.testing.assert_allclose(np.array(getattr(x, name)(stream=mx.cpu)), np.array(getattr(mx, name)(x)),
                               rtol=1e-6)


def test_round_method_and_signature():
    x = mx.array([1.26, 2.5])
    assert x.round(1).tolist() == pytest.approx([1.3, 2.5])
    assert x.round(decimals=1).tolist() == pytest.approx([1.3, 2.5])
    assert mx.round(x, decimals=1).tolist() == pytest.approx([1.3, 2.5])
    with pytest.raises(TypeError):
        x.round(1, mx.cpu)
    with pytest.raises(TypeError):
        mx.round(x, 1.5)


# ---------------------------------------------------------------------------------------
# gradients


def finite_diff_elementwise(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


GRAD_OPS = {n: v for n, v in MATH.items()}
GRAD_OPS.update({"abs": (np.abs, 0.2, 3.0, False), "square": (np.square, -3.0, 3.0, True),
                 "negative": (np.negative, -3.0, 3.0, True)})


@pytest.mark.parametrize("name", list(GRAD_OPS))
def test_grad_vjp_jvp_vs_finite_differences(name, rng):
    _, lo, hi, _ = GRAD_OPS[name]
    ref = reference(name)
    xn = rng.uniform(lo, hi, 7)
    if name == "abs":
        xn *= rng.choice([-1.0, 1.0], 7)
    x = mx.array(xn.astype(np.float32))
    xd = np.array(x).astype(np.float64)
    w = rng.standard_normal(7)
    fn = getattr(mx, name)
    want = finite_diff_elementwise(ref, xd)
    g = mx.grad(lambda a: (fn(a) * mx.array(w.astype(np.float32))).sum())(x)
    np.testing.assert_allclose(np.array(g), want * w, rtol=2e-4, atol=2e-5)
    (out,), (v,) = mx.vjp(lambda a: fn(a), [x], [mx.array(w.astype(np.float32))])
    np.testing.assert_allclose(np.array(v), want * w, rtol=2e-4, atol=2e-5)
    (out2,), (j,) = mx.jvp(lambda a: fn(a), [x], [mx.array(w.astype(np.float32))])
    np.testing.assert_allclose(np.array(j), want * w, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(np.array(out), np.array(out2))


@pytest.mark.parametrize("name", ["sin", "tanh", "sigmoid", "erf", "arctan", "log2", "rsqrt",
                                  "square", "expm1", "arcsinh", "cosh", "log1p"])
def test_second_derivative(name, rng):
    _, lo, hi, _ = GRAD_OPS[name]
    xn = rng.uniform(lo, hi, 5)
    x = mx.array(xn.astype(np.float32))
    xd = np.array(x).astype(np.float64)
    fn = getattr(mx, name)
    ref = reference(name)
    d2 = mx.grad(lambda a: mx.grad(lambda b: fn(b).sum())(a).sum())(x)
    want = (ref(xd + 1e-4) - 2 * ref(xd) + ref(xd - 1e-4)) / 1e-8
    np.testing.assert_allclose(np.array(d2), want, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round", "sign"])
def test_piecewise_constant_grads_are_zero(name):
    x = mx.array([0.3, -1.7, 2.2])
    assert mx.grad(lambda a: getattr(mx, name)(a).sum())(x).tolist() == [0.0, 0.0, 0.0]
    (_, ), (t,) = mx.jvp(lambda a: getattr(mx, name)(a), [x], [mx.ones_like(x)])
    assert t.tolist() == [0.0, 0.0, 0.0]
    assert mx.grad(lambda a: mx.round(a, 1).sum())(x).tolist() == [0.0, 0.0, 0.0]


def test_composite_grads():
    x = mx.array([NAN, 0.5, INF, -2.0])
    g = mx.grad(lambda a: mx.nan_to_num(a).sum())(x)
    assert g.tolist() == [0.0, 1.0, 0.0, 1.0]
    y = mx.array([0.3, 0.7])
    np.testing.assert_allclose(np.array(mx.grad(lambda a: mx.degrees(a).sum())(y)), [180 / np.pi] * 2, rtol=1e-6)
    np.testing.assert_allclose(np.array(mx.grad(lambda a: mx.radians(a).sum())(y)), [np.pi / 180] * 2, rtol=1e-6)
    np.testing.assert_allclose(np.array(mx.grad(lambda a: mx.reciprocal(a).sum())(y)), -1 / np.array([0.3, 0.7]) ** 2, rtol=1e-5)
    h = mx.grad(lambda a: mx.square(a).sum())(y.astype(mx.float16))
    assert h.dtype == mx.float16
    np.testing.assert_allclose(np.array(h.astype(mx.float32)), [0.6, 1.4], rtol=1e-3)


def test_complex_rules_follow_mlx():
    """vjp: cotangent * conj(f'(z)); jvp: tangent * f'(z); Real/Imag/Conjugate as MLX."""
    zn = np.array([1 + 2j, -0.5 + 0.3j])
    z = mx.array(zn.astype(np.complex64))
    c = np.array([1 + 1j, 2 - 0.5j])
    ct = mx.array(c.astype(np.complex64))
    deriv = {"sin": np.cos(zn), "tanh": 1 - np.tanh(zn) ** 2, "log2": 1 / (zn * np.log(2)),
             "exp": np.exp(zn), "sqrt": 0.5 / np.sqrt(zn), "arctan": 1 / (1 + zn**2),
             "square": 2 * zn, "log": 1 / zn, "rsqrt": -0.5 * zn ** -1.5}
    for name, d in deriv.items():
        fn = getattr(mx, name)
        _, (v,) = mx.vjp(fn, [z], [ct])
        _, (j,) = mx.jvp(fn, [z], [ct])
        np.testing.assert_allclose(np.array(v), c * np.conj(d), rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(np.array(j), c * d, rtol=1e-5, err_msg=name)
    _, (v,) = mx.vjp(mx.real, [z], [mx.array([1.0, 2.0])])
    assert v.dtype == mx.complex64 and np.array(v).tolist() == [1 + 0j, 2 + 0j]
    _, (v,) = mx.vjp(mx.imag, [z], [mx.array([1.0, 2.0])])
    assert np.array(v).tolist() == [1j, 2j]
    _, (j,) = mx.jvp(mx.imag, [z], [ct])
    assert j.dtype == mx.float32 and j.tolist() == [1.0, -0.5]
    _, (v,) = mx.vjp(mx.conj, [z], [ct])
    np.testing.assert_allclose(np.array(v), np.conj(c))
    _, (j,) = mx.jvp(mx.abs, [z], [ct])
    assert j.dtype == mx.float32
    np.testing.assert_allclose(np.array(j), np.real(np.conj(zn) * c) / np.abs(zn), rtol=1e-5)
