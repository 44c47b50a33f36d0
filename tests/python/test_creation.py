"""Array creation (spec/python-api.md section 4, tril/triu of section 9) against NumPy and
against MLX 0.32's exact rules: zeros/ones/full/empty and the *_like forms (scalar typing,
broadcasting, dtypes), arange (both signatures, dtype inference, the accumulated values of
MLX's CPU kernel, errors), linspace, eye/identity/tri/tril/triu and the window functions."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, NP_DTYPES

# ---------------------------------------------------------------------------------------
# zeros / ones / empty / full


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_zeros_ones_every_dtype(dtype):
    for fn, v in ((mx.zeros, 0), (mx.ones, 1)):
        a = fn((2, 3), dtype)
        assert a.dtype == dtype and a.shape == (2, 3)
        want = np.full((2, 3), v)
        np.testing.assert_array_equal(np.array(a.astype(mx.float32) if dtype == mx.bfloat16 else a), want)
    e = mx.empty((4,), dtype)
    assert e.dtype == dtype and e.shape == (4,)
    assert mx.zeros_like(mx.ones((2,), mx.int8), dtype).dtype == dtype
    assert mx.ones_like(mx.ones((2,), mx.int8), dtype=dtype).tolist()[0] in (1, True, 1 + 0j)
    assert mx.empty_like(mx.ones((3, 1)), dtype).shape == (3, 1)


def test_zeros_shapes_and_defaults():
    assert mx.zeros(3).shape == (3,)
    assert mx.zeros([2, 0, 4]).shape == (2, 0, 4)
    assert mx.zeros(()).shape == () and mx.zeros(()).item() == 0.0
    assert mx.zeros((2,), None).dtype == mx.float32
    assert mx.ones(2, None).dtype == mx.float32
    assert mx.empty((2,)).dtype == mx.float32 and mx.empty((2,)).tolist() == [0.0, 0.0]
    assert mx.empty_like(mx.array([1, 2])).dtype == mx.int32
    assert mx.zeros(shape=(2,), dtype=mx.int32).dtype == mx.int32
    for fn in (mx.zeros, mx.ones, mx.empty):
        with pytest.raises(ValueError, match=r"\[full\] Negative dimensions not allowed\."):
            fn((2, -1))
        with pytest.raises(TypeError):
            fn((2,), mx.int32, mx.cpu)  # the stream is keyword-only
    mx.eval(mx.zeros((2,), stream=mx.cpu))


@pytest.mark.parametrize(
    "vals,dtype,want_dtype,want",
    [
        (1, None, mx.int32, 1), (1.5, None, mx.float32, 1.5), (True, None, mx.bool_, True),
        (2**40, None, mx.int64, 2**40), (1 + 2j, None, mx.complex64, 1 + 2j),
        # a Python scalar is typed against dtype with the weak-scalar rules (MLX to_array)
        (1.5, mx.int32, mx.float32, 1.5), (1, mx.bool_, mx.int32, 1), (1.5, mx.bool_, mx.float32, 1.5),
        (1.5, mx.float16, mx.float16, 1.5), (1.5, mx.complex64, mx.float32, 1.5),
        (1 + 1j, mx.float32, mx.complex64, 1 + 1j), (1, mx.uint64, mx.uint64, 1),
        (True, mx.int32, mx.int32, 1), (2**40, mx.float32, mx.float32, 2.0**40),
        (0.1, mx.float64, mx.float64, 0.1), (1, mx.float32, mx.float32, 1.0),
    ])
def test_full_scalar_typing(vals, dtype, want_dtype, want):
    a = mx.full((2,), vals, dtype) if dtype is not None else mx.full((2,), vals)
    assert a.dtype == want_dtype
    assert a.tolist() == [want, want]


def test_full_arrays_and_errors():
    # an mx.array keeps its dtype (dtype is ignored); other array-likes are cast to dtype
    a = mx.full((2, 2), mx.array([1, 2], mx.int8), mx.float32)
    assert a.dtype == mx.int8 and a.tolist() == [[1, 2], [1, 2]]
    assert mx.full((2,), np.array([1, 2]), mx.float32).dtype == mx.float32
    assert mx.full((2,), np.array([1, 2])).dtype == mx.int64
    b = mx.full((2,), np.float32(1.5), mx.int32)
    assert b.dtype == mx.int32 and b.tolist() == [1, 1]
    c = mx.full((2, 3), mx.array([[1], [2]]))
    assert c.tolist() == [[1, 1, 1], [2, 2, 2]]
    assert mx.full(shape=2, vals=1).tolist() == [1, 1]
    assert mx.full((), 3.0).shape == ()
    assert mx.full((0, 3), 3).shape == (0, 3)
    with pytest.raises(ValueError, match=r"Converting 300 to uint8 would result in overflow\."):
        mx.full((2,), 300, mx.uint8)
    with pytest.raises(ValueError, match=r"Converting -1 to uint32 would result in overflow\."):
        mx.full((2,), -1, mx.uint32)
    with pytest.raises(ValueError, match=r"Invalid type list received in array initialization\."):
        mx.full((2,), [1, 2])
    with pytest.raises(ValueError, match=r"Invalid type tuple"):
        mx.full((2,), (1, 2))
    with pytest.raises(TypeError):
        mx.full((2,), None)
    with pytest.raises(ValueError, match=r"broadcast"):
        mx.full((2,), mx.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"\[full\] Negative dimensions not allowed\."):
        mx.full((-1,), 1)
    with pytest.raises(TypeError):
        mx.full((2,), 1, mx.int32, mx.cpu)
    assert mx.full((2,), 1, stream=mx.cpu).tolist() == [1, 1]


def test_full_like():
    u8 = mx.array([1, 2], mx.uint8)
    assert mx.full_like(u8, 7).dtype == mx.uint8
    with pytest.raises(ValueError, match=r"Converting 300 to uint8"):
        mx.full_like(u8, 300)
    a = mx.full_like(u8, 300, mx.int32)
    assert a.dtype == mx.int32 and a.tolist() == [300, 300]
    assert mx.full_like(u8, 1.5, mx.int32).tolist() == [1, 1]
    assert mx.full_like(mx.array([1, 2]), 2.5).tolist() == [2, 2]
    assert mx.full_like(mx.array([1, 2]), 2.5, mx.float16).tolist() == [2.5, 2.5]
    assert mx.full_like(mx.array([True]), 5).tolist() == [True]
    assert mx.full_like(mx.array([1]), True).tolist() == [1]
    assert mx.full_like(mx.array([1.0]), 0.1, mx.float64).tolist() == [0.1]
    assert mx.full_like(mx.array([1.0]), 2, dtype=None).dtype == mx.float32
    # vals broadcast with a
    assert mx.full_like(mx.array([1.0]), mx.array([[1, 2]])).tolist() == [[1.0, 2.0]]
    assert mx.full_like(mx.zeros((2, 2)), mx.array([1.5, 2.5]), mx.int32).tolist() == [[1, 2], [1, 2]]
    assert mx.full_like(mx.array([1.0]), np.array([2.0, 3.0])).tolist() == [2.0, 3.0]
    assert mx.full_like(mx.array([1.0]), vals=3).tolist() == [3.0]
    with pytest.raises(TypeError):
        mx.full_like(a=mx.array([1.0]), vals=3)
    with pytest.raises(ValueError, match=r"Invalid type list"):
        mx.full_like(mx.array([1.0]), [1, 2])


# ---------------------------------------------------------------------------------------
# arange


def arange_emulated(start, stop, step, np_dtype):
    """MLX's CPU kernel: first = T(start), step = T(start + step) - T(start), accumulated in T."""
    n = max(int(np.ceil((stop - start) / step)), 0)
    with np.errstate(all="ignore"):
        v = np.array(start).astype(np_dtype)
        d = (np.array(start + step).astype(np_dtype) - v).astype(np_dtype)
        out = np.empty(n, np_dtype)
        for i in range(n):
            out[i] = v
            v = (v + d).astype(np_dtype)
    return out


@pytest.mark.parametrize(
    "args,kwargs,dtype,np_args",
    [((5,), {}, mx.int32, (5,)), ((5.0,), {}, mx.float32, (5,)), ((1, 5), {}, mx.int32, (1, 5)),
     ((1.0, 5), {}, mx.float32, (1, 5)), ((1, 5.0), {}, mx.float32, (1, 5)),
     ((0, 5, 1.0), {}, mx.float32, (0, 5)), ((True, 3), {}, mx.int32, (1, 3)),
     ((0, True), {}, mx.int32, (0, 1)), ((0, 3, True), {}, mx.int32, (0, 3)),
     ((2**31 - 3, 2**31), {}, mx.int64, (2**31 - 3, 2**31)),
     ((2**31 - 3, 2**31 - 1), {}, mx.int32, (2**31 - 3, 2**31 - 1)),
     ((-(2**31) - 2, -(2**31)), {}, mx.int64, (-(2**31) - 2, -(2**31))),
     ((0, 3, 2**40), {}, mx.int64, (0, 3, 2**40)), ((3, None, None, None), {}, mx.int32, (3,)),
     ((3,), {"dtype": None}, mx.int32, (3,)), ((3.0,), {"dtype": mx.int32}, mx.int32, (3,)),
     ((0, 3, 1), {"dtype": mx.float16}, mx.float16, (3,)),
     ((3, 1, mx.float32), {}, mx.float32, (3,)),  # second signature: (stop, step, dtype)
     ((), {"stop": 5}, mx.int32, (5,)), ((), {"start": 1, "stop": 5}, mx.int32, (1, 5)),
     ((3,), {"stop": 5}, mx.int32, (3, 5)), ((5,), {"step": 2}, mx.int32, (0, 5, 2)),
     ((1, 5, None), {}, mx.int32, (1, 5))])
def test_arange_dtype_inference_and_signatures(args, kwargs, dtype, np_args):
    a = mx.arange(*args, **kwargs)
    assert a.dtype == dtype
    np.testing.assert_array_equal(np.array(a), np.arange(*np_args).astype(NP_DTYPES[dtype]))


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.float64, mx.int8, mx.int16,
                                   mx.int32, mx.int64, mx.uint8, mx.uint16, mx.uint32, mx.uint64])
@pytest.mark.parametrize("rng_args", [(0, 2, 0.1), (1, 2, 0.1), (5, 0, -0.5), (0, 300, 1), (3, 40, 7), (-3.5, 3, 0.25)])
def test_arange_values_match_mlx_accumulation(dtype, rng_args):
    start, stop, step = rng_args
    npd = NP_DTYPES[dtype]
    if np.issubdtype(npd, np.unsignedinteger) and (start < 0 or step < 0):
        pytest.skip("float -> unsigned conversion of negatives is platform-defined in NumPy")
    a = mx.arange(start, stop, step, dtype)
    assert a.dtype == dtype
    np.testing.assert_array_equal(np.array(a), arange_emulated(start, stop, step, npd))


def test_arange_known_values():
    assert mx.arange(0, 1, 0.1, mx.float16).tolist() == [
        0.0, 0.0999755859375, 0.199951171875, 0.2998046875, 0.39990234375, 0.5,
        0.60009765625, 0.7001953125, 0.80029296875, 0.900390625]
    assert mx.arange(1, 2, 0.1, mx.bfloat16).astype(mx.float32).tolist() == [
        1.0, 1.1015625, 1.203125, 1.3046875, 1.40625, 1.5078125, 1.609375, 1.7109375, 1.8125,
        1.9140625]
    assert mx.arange(2**24, 2**24 + 5, 1, mx.float32).tolist() == [16777216.0] * 5
    assert mx.arange(0, 300, 1, mx.int8).tolist()[-3:] == [41, 42, 43]
    assert mx.arange(-3, 3, 1, mx.uint32).tolist() == [4294967293, 4294967294, 4294967295, 0, 1, 2]
    assert mx.arange(2**31 - 1, 2**31 + 1, 1, mx.int32).tolist() == [2147483647, -2147483648]
    assert mx.arange(10**10, 10**10 + 2).tolist() == [10000000000, 10000000001]
    assert mx.arange(0.5, 3, 1, mx.int32).tolist() == [0, 1, 2]
    c = mx.arange(0, 3, 1, mx.complex64)
    assert c.dtype == mx.complex64 and np.array(c).tolist() == [0j, 1 + 0j, 2 + 0j]
    assert mx.arange(1, None).tolist() == [0]
    assert mx.arange(5, 1).tolist() == [] and mx.arange(5, 1).dtype == mx.int32
    assert mx.arange(-1).shape == (0,) and mx.arange(0, 3, -1).shape == (0,)
    assert mx.arange(5, 1, -1).tolist() == [5, 4, 3, 2]
    assert mx.arange(0.0, 3, float("inf")).tolist() == [0.0]
    assert mx.arange(0.0, -3, float("inf")).tolist() == []
    assert mx.arange(0, 3, 1, mx.float32, stream=mx.cpu).tolist() == [0.0, 1.0, 2.0]


def test_arange_errors():
    with pytest.raises(ValueError, match=r"\[arange\] step must be nonzero\."):
        mx.arange(0, 5, 0)
    with pytest.raises(ValueError, match=r"\[arange\] step must be nonzero\."):
        mx.arange(0, 3, 0.0)
    for args in ((float("nan"),), (float("inf"),), (0, 3, float("nan")), (-float("inf"), 2)):
        with pytest.raises(ValueError, match=r"\[arange\] Cannot compute length\."):
            mx.arange(*args)
    with pytest.raises(ValueError, match=r"\[arange\] Maximum size exceeded\."):
        mx.arange(0, 10**12)
    with pytest.raises(ValueError, match=r"\[arange\] Maximum size exceeded\."):
        mx.arange(2**31)
    with pytest.raises(ValueError, match=r"bool not supported for arange\."):
        mx.arange(True)
    with pytest.raises(ValueError, match=r"bool not supported for arange\."):
        mx.arange(0, 3, 1, mx.bool_)
    for bad in (("a",), (mx.array(5),), (np.int64(3),), (np.float32(3),), (2**63,), (3, "a"),
                (0, 3, 1, mx.float32, mx.cpu), (1 + 2j,)):
        with pytest.raises(TypeError, match=r"arange\(\): incompatible function arguments"):
            mx.arange(*bad)
    with pytest.raises(TypeError):
        mx.arange(start=5)
    with pytest.raises(TypeError):
        mx.arange()


def test_arange_transforms():
    (out,), (t,) = mx.jvp(lambda a: mx.arange(3) * a, [mx.array(2.0)], [mx.array(1.0)])
    assert out.tolist() == [0.0, 2.0, 4.0] and t.tolist() == [0.0, 1.0, 2.0]
    assert mx.grad(lambda a: (mx.arange(4) * a).sum())(mx.array(2.0)).item() == 6.0


# ---------------------------------------------------------------------------------------
# linspace


def linspace_emulated(start, stop, num, endpoint=True, inner=np.float32):
    if num == 1:
        return np.array([np.float32(start)])
    t = np.arange(num, dtype=inner) / inner(num - 1 if endpoint else num)
    return (inner(1) - t) * inner(start) + t * inner(stop)


@pytest.mark.parametrize("args", [(0, 1, 5), (-1, 1, 7), (0.1, 0.7, 7), (1.0, 2.0, 7), (-3.3, 7.7, 9),
                                  (2.0, 1.0, 1), (0, 1, 0), (5, -5, 2), (0, 1, 50)])
@pytest.mark.parametrize("endpoint", [True, False])
def test_linspace_values_exact(args, endpoint):
    a = mx.linspace(*args, endpoint=endpoint)
    assert a.dtype == mx.float32
    np.testing.assert_array_equal(np.array(a), linspace_emulated(*args, endpoint=endpoint))
    np.testing.assert_allclose(np.array(a), np.linspace(*args, endpoint=endpoint), rtol=1e-6, atol=1e-6)


def test_linspace_dtypes_and_signature():
    assert mx.linspace(0, 1).shape == (50,)
    assert mx.linspace(0, 10, 5, dtype=mx.int32).tolist() == [0, 2, 5, 7, 10]
    assert mx.linspace(0, 10, 4, dtype=mx.int32).tolist() == [0, 3, 6, 10]
    assert mx.linspace(0, 1, 5, dtype=mx.bool_).tolist() == [False, True, True, True, True]
    assert mx.linspace(0, 1, 5, dtype=mx.uint8).tolist() == [0, 0, 0, 0, 1]
    h = mx.linspace(0, 1, 5, dtype=mx.float16)
    assert h.dtype == mx.float16 and h.tolist() == [0, 0.25, 0.5, 0.75, 1]
    d = mx.linspace(0.1, 0.7, 7, dtype=mx.float64)
    assert d.dtype == mx.float64
    np.testing.assert_array_equal(np.array(d), linspace_emulated(0.1, 0.7, 7, inner=np.float64))
    c = mx.linspace(0, 1, 3, dtype=mx.complex64)
    assert c.dtype == mx.complex64 and np.array(c).tolist() == [0j, 0.5 + 0j, 1 + 0j]
    assert mx.linspace(0, 1, 5, dtype=None).dtype == mx.float32
    assert mx.linspace(0, 1, 5, True, mx.float32, mx.cpu).tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert mx.linspace(True, 2, 3).tolist() == [1.0, 1.5, 2.0]
    assert mx.linspace(start=0, stop=2, num=3).tolist() == [0.0, 1.0, 2.0]
    assert mx.linspace(0, 1, 1, endpoint=False).tolist() == [0.0]
    assert mx.linspace(0.1, 5, 1, dtype=mx.float64).tolist() == [float(np.float32(0.1))]
    with pytest.raises(ValueError, match=r"\[linspace\] number of samples, -1, must be non-negative\."):
        mx.linspace(0, 1, -1)
    with pytest.raises(TypeError):
        mx.linspace(0, 1, None)
    with pytest.raises(TypeError):
        mx.linspace(1 + 2j, 1, 5)
    g = mx.grad(lambda a: (mx.linspace(0, 1, 3) * a).sum())(mx.array(2.0))
    assert g.item() == 1.5


# ---------------------------------------------------------------------------------------
# eye, identity, tri, tril, triu


@pytest.mark.parametrize("n,m,k", [(3, None, 0), (2, 3, 1), (3, 4, -1), (4, 2, 0), (2, 3, 5),
                                   (2, 3, -5), (0, None, 0), (0, 3, 0), (2, 0, 0), (1, 1, 0), (5, 5, -4)])
def test_eye_and_tri_vs_numpy(n, m, k):
    e = mx.eye(n, m, k)
    assert e.dtype == mx.float32
    np.testing.assert_array_equal(np.array(e), np.eye(n, m, k))
    t = mx.tri(n, m, k)
    assert t.dtype == mx.float32
    np.testing.assert_array_equal(np.array(t), np.tri(n, m, k))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_eye_identity_tri_dtypes(dtype):
    e = mx.eye(3, 4, -1, dtype)
    assert e.dtype == dtype
    np.testing.assert_array_equal(np.array(e.astype(mx.float32)), np.eye(3, 4, -1))
    i = mx.identity(3, dtype)
    assert i.dtype == dtype and np.array(i.astype(mx.float32)).tolist() == np.eye(3).tolist()
    t = mx.tri(3, 2, 0, dtype)
    assert t.dtype == dtype and np.array(t.astype(mx.float32)).tolist() == np.tri(3, 2, 0).tolist()


def test_eye_tri_signatures_and_errors():
    assert mx.eye(2, dtype=None).dtype == mx.float32
    assert mx.eye(n=2).shape == (2, 2)
    assert mx.eye(2, None, 0, mx.bool_).tolist() == [[True, False], [False, True]]
    assert mx.identity(n=2, dtype=None).dtype == mx.float32
    assert mx.identity(0).shape == (0, 0)
    assert mx.tri(n=2, m=3, k=-1).tolist() == [[0, 0, 0], [1, 0, 0]]
    assert mx.tri(2, None, 0, mx.bool_).tolist() == [[True, False], [True, True]]
    assert mx.tri(-1).shape == (0, 0) and mx.tri(2, -1).shape == (2, 0) and mx.tri(-2, 3).shape == (0, 3)
    for args in ((-1,), (2, -1), (-1, 2)):
        with pytest.raises(ValueError, match=r"\[eye\] N and M must be positive integers\."):
            mx.eye(*args)
    with pytest.raises(ValueError, match=r"\[eye\]"):
        mx.identity(-1)
    with pytest.raises(TypeError):
        mx.eye(2, 2, 0, mx.float32, mx.cpu)
    with pytest.raises(TypeError):
        mx.eye(2.0)
    mx.eval(mx.eye(2, stream=mx.cpu), mx.tri(2, stream=mx.cpu), mx.identity(2, stream=mx.cpu))


@pytest.mark.parametrize("k", [-5, -1, 0, 1, 2, 5])
@pytest.mark.parametrize("dtype", [mx.float32, mx.int32, mx.bool_, mx.complex64, mx.float16])
def test_tril_triu_vs_numpy(k, dtype, rng):
    xn = (rng.standard_normal((2, 3, 4)) * 4).astype(np.float32)
    x = mx.array(xn).astype(dtype)
    xr = np.array(x.astype(mx.float32) if dtype != mx.complex64 else x)
    lo, up = mx.tril(x, k), mx.triu(x, k)
    assert lo.dtype == dtype and up.dtype == dtype
    np.testing.assert_array_equal(np.array(lo.astype(mx.float32) if dtype != mx.complex64 else lo), np.tril(xr, k))
    np.testing.assert_array_equal(np.array(up.astype(mx.float32) if dtype != mx.complex64 else up), np.triu(xr, k))


def test_tril_triu_layouts_and_errors(rng):
    xn = rng.standard_normal((5, 4)).astype(np.float32)
    x = mx.array(xn)
    np.testing.assert_array_equal(np.array(mx.tril(x.T)), np.tril(xn.T))
    np.testing.assert_array_equal(np.array(mx.triu(x[::2, ::-1], 1)), np.triu(xn[::2, ::-1], 1))
    assert mx.tril(mx.zeros((0, 3))).shape == (0, 3)
    assert mx.tril(x=mx.ones((2, 2))).tolist() == [[1, 0], [1, 1]]
    assert mx.triu(mx.ones((2, 2)), k=1).tolist() == [[0, 1], [0, 0]]
    with pytest.raises(ValueError, match=r"\[tril\] array must be at least 2-D"):
        mx.tril(mx.ones((3,)))
    with pytest.raises(ValueError, match=r"\[triu\] array must be at least 2-D"):
        mx.triu(mx.array(1.0))
    with pytest.raises(TypeError):
        mx.tril(mx.ones((2, 2)), 0, mx.cpu)
    g = mx.grad(lambda a: (mx.tril(a) * a).sum())(x)
    np.testing.assert_allclose(np.array(g), 2 * np.tril(xn), rtol=1e-6)
    g = mx.grad(lambda a: mx.triu(mx.ones((2, 2)) * a[0], 1).sum())(mx.array([3.0, 1.0]))
    assert g.tolist() == [1.0, 0.0]


# ---------------------------------------------------------------------------------------
# windows


@pytest.mark.parametrize("name", ["bartlett", "hanning", "hamming", "blackman"])
@pytest.mark.parametrize("M", [-3, 0, 1, 2, 3, 5, 6, 16, 101])
def test_windows_vs_numpy(name, M):
    w = getattr(mx, name)(M)
    assert w.dtype == mx.float32 and w.shape == (max(M, 0),)
    np.testing.assert_allclose(np.array(w), getattr(np, name)(M), rtol=1e-5, atol=1e-6)


def test_window_details():
    assert mx.bartlett(5).tolist() == [0.0, 0.5, 1.0, 0.5, 0.0]
    b = np.array(mx.blackman(6))
    assert b[0] == 0.0 and b[-1] == 0.0
    assert mx.blackman(5).tolist()[2] == 1.0
    assert mx.hamming(1).tolist() == [1.0] and mx.hanning(1).tolist() == [1.0]
    assert mx.bartlett(True).tolist() == [1.0]
    assert mx.blackman(M=3).shape == (3,)
    with pytest.raises(TypeError):
        mx.bartlett(2.0)
    with pytest.raises(TypeError):
        mx.hanning(4, mx.cpu)
    mx.eval(mx.hamming(4, stream=mx.cpu))


# ---------------------------------------------------------------------------------------
# meshgrid, asarray


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid_vs_numpy(indexing, sparse, rng):
    ins = [rng.standard_normal(3).astype(np.float32), np.arange(2, dtype=np.int32),
           rng.standard_normal(4).astype(np.float32)]
    for k in (1, 2, 3):
        got = mx.meshgrid(*[mx.array(a) for a in ins[:k]], sparse=sparse, indexing=indexing)
        want = np.meshgrid(*ins[:k], sparse=sparse, indexing=indexing)
        assert isinstance(got, tuple) and len(got) == k
        for g, w in zip(got, want):
            assert g.shape == w.shape and np.array(g).dtype == w.dtype
            np.testing.assert_array_equal(np.array(g), w)


def test_meshgrid_details():
    a, b = mx.array([1, 2, 3]), mx.array([4, 5])
    assert mx.meshgrid() == ()
    x, y = mx.meshgrid(mx.array([[1, 2]]), b)  # inputs are flattened
    assert x.tolist() == [[1, 2], [1, 2]] and y.tolist() == [[4, 4], [5, 5]]
    x, y = mx.meshgrid(a, mx.array(3))
    assert y.tolist() == [[3, 3, 3]]
    x, y = mx.meshgrid(a, mx.array([1.5]))
    assert x.dtype == mx.int32 and y.dtype == mx.float32  # no promotion
    assert mx.meshgrid(a, mx.zeros((0,)))[0].shape == (0, 3)
    with pytest.raises(ValueError, match=r"\[meshgrid\] Invalid indexing value\. Valid values are 'xy' and 'ij'\."):
        mx.meshgrid(a, indexing="foo")
    mx.eval(mx.meshgrid(a, b, stream=mx.cpu))
    g = mx.grad(lambda v: (mx.meshgrid(v, mx.array([1.0, 2.0]))[0] * 2).sum())(mx.array([1.0, 2.0, 3.0]))
    assert g.tolist() == [4.0, 4.0, 4.0]


def test_asarray():
    a = mx.array([1, 2, 3])
    assert mx.asarray([1, 2]).tolist() == [1, 2] and mx.asarray([1, 2]).dtype == mx.int32
    b = mx.asarray(a, mx.float32)
    assert b.dtype == mx.float32 and b.tolist() == [1.0, 2.0, 3.0]
    assert mx.asarray(a).tolist() == [1, 2, 3]
    assert mx.asarray(3.5).dtype == mx.float32
    assert mx.asarray(np.arange(3), copy=True).dtype == mx.int64
    assert mx.asarray(1, None, copy=None).item() == 1
    assert mx.asarray(np.array([1.5, 2.5]), dtype=mx.float16).dtype == mx.float16
    with pytest.raises(ValueError, match=r"Unable to avoid copy while creating an array as requested\."):
        mx.asarray(a, copy=False)
    with pytest.raises(ValueError, match=r"\[convert\] Cannot import a CPU array without a copy\."):
        mx.asarray(np.array([1.5]), copy=False)
    with pytest.raises(TypeError):
        mx.asarray(a=1)
