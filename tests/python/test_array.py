"""mx.array against NumPy (spec/python-api.md section 2, spec/semantics.md sections 2, 4, 5,
13): construction, item/tolist/repr, properties, len/iter, scalar conversion, operators with
weak scalars, basic indexing and assignment, the buffer protocol, NumPy and pickling."""
import copy
import pickle
import threading

import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, NP_DTYPES, assert_close

# ---------------------------------------------------------------------------------------
# construction


@pytest.mark.parametrize(
    "val,dtype",
    [(True, mx.bool_), (7, mx.int32), (2**40, mx.int64), (-(2**31) - 1, mx.int64),
     (1.5, mx.float32), (1 + 2j, mx.complex64)],
)
def test_scalar_construction(val, dtype):
    a = mx.array(val)
    assert a.dtype == dtype
    assert a.shape == ()
    assert a.ndim == 0 and a.size == 1
    assert a.item() == val
    assert type(a.item()) is type(val)


@pytest.mark.parametrize(
    "val,dtype,shape",
    [([[1, 2], [3, 4]], mx.int32, (2, 2)),
     ([1, 2.5], mx.float32, (2,)),
     ([True, 2], mx.int32, (2,)),
     ([True, False], mx.bool_, (2,)),
     ([1, 2j], mx.complex64, (2,)),
     ([1, 2**40], mx.int64, (2,)),
     ((1, 2, 3), mx.int32, (3,)),
     ([[[1.0]], [[2.0]]], mx.float32, (2, 1, 1)),
     ([], mx.float32, (0,))],
)
def test_list_construction(val, dtype, shape):
    a = mx.array(val)
    assert a.dtype == dtype
    assert a.shape == shape
    np.testing.assert_array_equal(np.array(a), np.array(val, dtype=NP_DTYPES[dtype]))


def test_ragged_list_raises():
    with pytest.raises(ValueError):
        mx.array([[1, 2], [3]])


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_construction_with_dtype(dtype):
    with mx.stream(mx.cpu):  # float64 is CPU-only
        a = mx.array([0, 1, 1], dtype=dtype)
        assert a.dtype == dtype and a.shape == (3,)
        expected = [False, True, True] if dtype == mx.bool_ else [0, 1, 1]
        assert a.tolist() == expected
        s = mx.array(1, dtype=dtype)
        assert s.dtype == dtype and s.item() == 1


def test_float64_scalar_keeps_precision():
    a = mx.array(0.1, dtype=mx.float64)
    assert a.item() == 0.1


@pytest.mark.parametrize("np_dtype", [np.bool_, np.uint8, np.uint16, np.uint32, np.uint64,
                                      np.int8, np.int16, np.int32, np.int64, np.float16,
                                      np.float32, np.float64, np.complex64, np.complex128])
def test_numpy_construction(np_dtype, rng):
    ref = (rng.standard_normal((3, 4)) * 10).astype(np_dtype)
    a = mx.array(ref)
    expected = {np.float64: np.float32, np.complex128: np.complex64}.get(np_dtype, np_dtype)
    assert a.dtype == mx.array(np.zeros(1, dtype=expected)).dtype
    assert a.shape == (3, 4)
    np.testing.assert_array_equal(np.array(a), ref.astype(expected))


def test_array_from_array_shares_value():
    a = mx.array([1, 2, 3])
    b = mx.array(a)
    assert b.tolist() == [1, 2, 3] and b is not a
    c = mx.array(a, dtype=mx.float32)
    assert c.dtype == mx.float32 and c.tolist() == [1.0, 2.0, 3.0]


# ---------------------------------------------------------------------------------------
# item / tolist / repr / properties


def test_item_and_tolist_types():
    assert mx.array(True).item() is True
    assert type(mx.array(3, dtype=mx.uint64).item()) is int
    assert mx.array(2**63 + 5, dtype=mx.uint64).item() == 2**63 + 5
    h = mx.array(1.5, dtype=mx.float16).item()
    assert type(h) is float and h == 1.5
    b = mx.array(1.5, dtype=mx.bfloat16).item()
    assert type(b) is float and b == 1.5
    assert mx.array(1 - 2j).item() == 1 - 2j
    assert mx.array([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert mx.array(5).tolist() == 5
    assert mx.array([0.5, 0.25]).tolist() == [0.5, 0.25]
    with pytest.raises(ValueError):
        mx.array([1, 2]).item()


def test_tolist_of_strided_views():
    a = mx.array([[1, 2, 3], [4, 5, 6]])
    assert a.T.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert a[:, ::-2].tolist() == [[3, 1], [6, 4]]


def test_repr():
    assert repr(mx.array([1, 2, 3])) == "array([1, 2, 3], dtype=int32)"
    assert repr(mx.array(1.5)) == "array(1.5, dtype=float32)"
    assert repr(mx.array([True, False])) == "array([True, False], dtype=bool)"
    assert repr(mx.array([1.0, 2.5])) == "array([1, 2.5], dtype=float32)"
    assert repr(mx.array([[1, 2], [3, 4]])) == "array([[1, 2],\n       [3, 4]], dtype=int32)"
    assert str(mx.array([1, 2])) == repr(mx.array([1, 2]))


def test_format():
    assert f"{mx.array(1.5):.2f}" == "1.50"
    assert f"{mx.array(7):03d}" == "007"
    assert f"{mx.array([1, 2])}" == repr(mx.array([1, 2]))
    with pytest.raises(TypeError):
        f"{mx.array([1.0, 2.0]):.2f}"


def test_properties():
    a = mx.zeros((2, 3, 4), dtype=mx.float16)
    assert a.shape == (2, 3, 4)
    assert a.ndim == 3 and a.size == 24
    assert a.itemsize == 2 and a.nbytes == 48
    assert a.dtype == mx.float16
    assert a.T.shape == (4, 3, 2)
    assert mx.array(1).T.shape == ()


def test_len_and_iter():
    a = mx.array([[1, 2], [3, 4], [5, 6]])
    assert len(a) == 3
    rows = list(a)
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]
    assert [x.item() for x in mx.array([7, 8])] == [7, 8]
    with pytest.raises(TypeError):
        len(mx.array(1))
    with pytest.raises(TypeError):
        iter(mx.array(1))


def test_scalar_conversions():
    assert bool(mx.array(True)) is True
    assert bool(mx.array([0])) is False
    assert int(mx.array(3.7)) == 3
    assert float(mx.array(2)) == 2.0
    assert complex(mx.array(1 + 1j)) == 1 + 1j
    for f in (bool, int, float):
        with pytest.raises(ValueError):
            f(mx.array([1, 2]))
    if mx.array([1]):
        pass
    else:
        pytest.fail("a size-1 array with a non-zero value is truthy")


def test_hash_by_identity():
    a, b = mx.array([1]), mx.array([1])
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert hash(a) != hash(b)


def test_copy_and_namespace():
    a = mx.array([1, 2])
    for c in (copy.copy(a), copy.deepcopy(a)):
        assert c is not a and c.tolist() == [1, 2]
    assert a.__array_namespace__() is mx


# ---------------------------------------------------------------------------------------
# operators


FLOAT_DTYPES = [mx.float16, mx.float32]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_arithmetic_matches_numpy(dtype, rng):
    xn = rng.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
    yn = rng.uniform(0.5, 2.0, (4,)).astype(np.float32)
    x, y = mx.array(xn).astype(dtype), mx.array(yn).astype(dtype)
    x64 = np.array(x.astype(mx.float32)).astype(np.float64)
    y64 = np.array(y.astype(mx.float32)).astype(np.float64)
    assert_close(x + y, x64 + y64)
    assert_close(x - y, x64 - y64)
    assert_close(x * y, x64 * y64)
    assert_close(x / y, x64 / y64)
    assert_close(2 - x, 2 - x64)
    assert_close(3 / x, 3 / x64)
    assert_close(x * 0.5, x64 * 0.5)
    assert_close(-x, -x64)
    assert_close(abs(x - 1), np.abs(x64 - 1))


def test_matmul_matches_numpy(rng):
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    out = mx.array(a) @ mx.array(b)
    assert out.shape == (3, 2)
    np.testing.assert_allclose(np.array(out), a @ b, rtol=1e-4, atol=1e-5)
    v = mx.array(b[:, 0])
    np.testing.assert_allclose(np.array(mx.array(a) @ v), a @ b[:, 0], rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError):
        mx.array(a) @ 2


def test_comparisons_match_numpy(rng):
    xn, yn = rng.integers(0, 3, 10), rng.integers(0, 3, 10)
    x, y = mx.array(xn), mx.array(yn)
    for op in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
        got = getattr(x, op)(y)
        assert got.dtype == mx.bool_
        np.testing.assert_array_equal(np.array(got), getattr(xn, op)(yn))
    np.testing.assert_array_equal(np.array(x < 1), xn < 1)
    np.testing.assert_array_equal(np.array(1 < x), 1 < xn)


def test_comparison_with_non_arrays():
    a = mx.array([1, 2])
    assert (a == "x") is False
    assert (a != None) is True  # noqa: E711
    with pytest.raises(ValueError):
        a < "x"


@pytest.mark.parametrize(
    "dtype,scalar,expected",
    [(mx.bool_, 1, mx.int32),
     (mx.bool_, True, mx.bool_),
     (mx.int32, 0.5, mx.float32),
     (mx.float16, 2.5, mx.float16),
     (mx.float16, 2, mx.float16),
     (mx.bfloat16, 2.5, mx.bfloat16),
     (mx.int8, 1.0, mx.float32),
     (mx.uint8, 1, mx.uint8),
     (mx.int64, 2**40, mx.int64),
     (mx.int32, 1j, mx.complex64),
     (mx.uint32, 7, mx.uint32)],
)
def test_weak_scalars(dtype, scalar, expected):
    a = mx.array([1, 0], dtype=dtype)
    assert (a + scalar).dtype == expected
    assert (scalar + a).dtype == expected
    assert (a * scalar).dtype == expected


def test_weak_scalar_overflow():
    a = mx.array([1], dtype=mx.uint8)
    with pytest.raises(ValueError):
        a + 300
    with pytest.raises(ValueError):
        a + (-1)
    assert (a + 255).dtype == mx.uint8


def test_weak_scalar_values():
    a = mx.array([1, 2], dtype=mx.int32)
    assert (a * 0.5).tolist() == [0.5, 1.0]
    assert (mx.array([True, False]) + 1).tolist() == [2, 1]
    h = mx.array([1.0], dtype=mx.float16) * 2.5
    assert h.dtype == mx.float16 and h.item() == 2.5


def test_invalid_operand():
    a = mx.array([1.0])
    with pytest.raises(ValueError):
        a + "x"
    with pytest.raises(ValueError):
        a * [1, 2]


def test_inplace_rebinds_node():
    a = mx.array([1.0, 2.0])
    alias = a
    before = a * 1  # derived earlier: keeps its value
    a += 1
    assert alias is a
    assert alias.tolist() == [2.0, 3.0]
    assert before.tolist() == [1.0, 2.0]
    a *= 2
    a -= 1
    a /= 2
    assert a.tolist() == [1.5, 2.5]
    m = mx.array([[1.0, 0.0], [0.0, 1.0]])
    a2 = mx.array([[1.0, 2.0], [3.0, 4.0]])
    a2 @= m
    assert a2.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_inplace_true_division_on_integers_raises():
    a = mx.array([1, 2])
    with pytest.raises(ValueError):
        a /= 2


# ---------------------------------------------------------------------------------------
# indexing

INDICES = [
    0, -1, 2, slice(None), slice(1, 3), slice(None, None, 2), slice(None, None, -1),
    slice(-2, None), slice(3, 1, -1), slice(5, 0), slice(-100, 100), Ellipsis, None,
    (1, 2), (slice(None), 1), (Ellipsis, 0), (0, Ellipsis), (None, 1), (1, None, 2),
    (slice(None, None, -2), slice(1, None), 0), (Ellipsis, None), (Ellipsis, 1, None),
    (None, Ellipsis, None), (), (np.int64(1),), (slice(0, 0),),
]


@pytest.mark.parametrize("idx", INDICES, ids=repr)
def test_getitem_matches_numpy(idx, rng):
    xn = rng.integers(-50, 50, (4, 5, 3)).astype(np.int32)
    x = mx.array(xn)
    got = x[idx]
    ref = xn[idx]
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.array(got), ref)


def test_getitem_errors():
    x = mx.array([[1, 2], [3, 4]])
    with pytest.raises(IndexError):
        x[2]
    with pytest.raises(IndexError):
        x[0, -3]
    with pytest.raises(ValueError):
        x[0, 0, 0]
    with pytest.raises(ValueError):
        x[..., ...]
    with pytest.raises(ValueError):
        mx.array(1)[0]
    with pytest.raises(ValueError):
        x["a"]
    assert mx.array(1)[()].item() == 1
    assert mx.array(1)[None].shape == (1,)


SET_CASES = [
    (0, 7),
    (-1, [1, 2, 3]),
    ((slice(None), 1), 9),
    ((slice(1, 3), slice(None, None, 2)), [[5, 6]]),
    ((Ellipsis, 0), [1, 2, 3, 4]),
    ((slice(None, None, -1), 2), [[1, 2, 3, 4]]),  # leading 1-dims of the value drop
    (slice(None), 0),
    (Ellipsis, [1, 2, 3]),
    ((None, 2), [4, 5, 6]),
    ((1, 1), 2.9),
]


@pytest.mark.parametrize("idx,val", SET_CASES, ids=repr)
def test_setitem_matches_numpy(idx, val, rng):
    xn = rng.integers(-50, 50, (4, 3)).astype(np.int32)
    x = mx.array(xn)
    alias = x
    x[idx] = val
    vn = np.array(val)
    if vn.ndim > 0 and vn.shape[0] == 1 and np.asarray(xn[idx]).ndim < vn.ndim:
        vn = vn.reshape(vn.shape[1:])
    xn[idx] = vn.astype(np.int32) if vn.dtype.kind == "f" else vn
    assert alias is x and x.dtype == mx.int32
    np.testing.assert_array_equal(np.array(x), xn)


def test_setitem_value_typing():
    x = mx.array([1, 2, 3], dtype=mx.uint8)
    with pytest.raises(ValueError):
        x[0] = 300
    f = mx.array([1.0, 2.0], dtype=mx.float16)
    f[1] = 0.5
    assert f.dtype == mx.float16 and f.tolist() == [1.0, 0.5]
    before = f * 1
    f[0] = mx.array(4.0, dtype=mx.float32)
    assert f.dtype == mx.float16 and f.tolist() == [4.0, 0.5]
    assert before.tolist() == [1.0, 0.5]
    with pytest.raises(ValueError):
        x[0:2] = mx.array([1, 2, 3])
    with pytest.raises(TypeError):
        del x[0]


# ---------------------------------------------------------------------------------------
# buffer protocol, NumPy, pickling

EXPORTABLE = [t for t in ALL_DTYPES if t != mx.bfloat16]


@pytest.mark.parametrize("dtype", EXPORTABLE, ids=str)
def test_numpy_round_trip(dtype, rng):
    ref = (rng.standard_normal((2, 3)) * 5).astype(NP_DTYPES[dtype])
    with mx.stream(mx.cpu):
        a = mx.array(ref, dtype=dtype)
    out = np.array(a)
    assert out.dtype == NP_DTYPES[dtype] and out.shape == (2, 3)
    np.testing.assert_array_equal(out, ref)
    mv = memoryview(a)
    assert mv.readonly and mv.shape == (2, 3) and mv.itemsize == a.itemsize
    assert mv.nbytes == a.nbytes


def test_buffer_of_views():
    a = mx.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(np.array(a.T), [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(np.array(a[:, ::-1]), [[3, 2, 1], [6, 5, 4]])
    b = mx.broadcast_to(mx.array([1, 2]), (3, 2))
    np.testing.assert_array_equal(np.array(b), [[1, 2]] * 3)
    assert bytes(memoryview(a.T)) == np.array([[1, 4], [2, 5], [3, 6]], np.int32).tobytes()


def test_numpy_view_outlives_rebinding():
    a = mx.array([1.0, 2.0])
    view = np.asarray(memoryview(a))
    a += 1
    del a
    assert view.tolist() == [1.0, 2.0]


def test_bfloat16_not_exportable():
    a = mx.array([1.0], dtype=mx.bfloat16)
    with pytest.raises(BufferError):
        memoryview(a)
    with pytest.raises(ValueError):
        np.array(a)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_pickle_round_trip(dtype):
    with mx.stream(mx.cpu):
        a = mx.array([[0, 1, 2], [3, 4, 5]], dtype=dtype)
        if dtype == mx.float64:
            a = a / 3
        b = pickle.loads(pickle.dumps(a))
        assert b.dtype == dtype and b.shape == (2, 3)
        assert b.tolist() == a.tolist()


def test_pickle_bfloat16_as_bits():
    a = mx.array([1.5, -2.0], dtype=mx.bfloat16)
    state, code = a.__getstate__()
    assert code == 12 and state.dtype == np.uint16
    assert state.tolist() == [0x3FC0, 0xC000]


def test_eval_in_threads():
    results = {}

    def work(i):
        x = mx.array([float(i)]) * 2 + 1
        results[i] = x.item()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: 2.0 * i + 1 for i in range(8)}


def test_helper_class_names():
    """ArrayAt, ArrayIterator and ArrayLike are named types of mlx.core, as in MLX."""
    a = mx.arange(3)
    assert isinstance(iter(a), mx.ArrayIterator)
    assert isinstance(a.at, mx.ArrayAt)
    wrapped = mx.ArrayLike(a)
    assert isinstance(wrapped, mx.ArrayLike) and not isinstance(a, mx.ArrayLike)
    with pytest.raises(TypeError):
        mx.ArrayLike()
