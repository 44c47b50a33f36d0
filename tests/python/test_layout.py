"""Layout ops against NumPy (spec/python-api.md sections 5 and 9): pad in its four modes,
as_strided, contiguous, view (bit reinterpretation), diag, diagonal and trace; every dtype,
non-contiguous inputs, empty dims, MLX's errors, and gradients against finite differences."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, NP_DTYPES
from layout_helpers import (assert_same, check_grad, check_grad_n, mx_to_np, np_to_mx, rand_np,
                            strided_copy)

MODES = ["constant", "edge", "reflect", "symmetric"]

# ---------------------------------------------------------------------------------------
# pad


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_pad_all_dtypes(dtype, mode, rng):
    x = rand_np(rng, (3, 4), dtype)
    a = strided_copy(x, dtype, "T")
    for width in [1, (2,), (1, 3), [(0, 2), (3, 1)], ((2, 0), (0, 0))]:
        np_width = width if not isinstance(width, tuple) or len(width) != 1 else width[0]
        assert_same(mx.pad(a, width, mode), np.pad(x, np_width, mode), dtype)


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
def test_pad_longer_than_axis(mode):
    x = np.arange(3, dtype=np.int32)
    for w in [(2, 2), (3, 3), (4, 1), (7, 9)]:
        assert_same(mx.pad(mx.array(x), [w], mode), np.pad(x, [w], mode))
    x = np.arange(1, dtype=np.float32)
    assert_same(mx.pad(mx.array(x), 2, mode), np.pad(x, 2, mode))


def test_pad_constant_values():
    a = mx.array([[1, 2], [3, 4]])
    assert_same(mx.pad(a, 1, constant_values=7), np.pad(np.array(a), 1, constant_values=7))
    r = mx.pad(a, 1, constant_values=2.5)  # cast to the array's dtype, as MLX
    assert r.dtype == mx.int32 and r[0, 0].item() == 2
    r = mx.pad(a.astype(mx.float16), (0, 1), "constant", mx.array(2.5, mx.float32))
    assert r.dtype == mx.float16 and r[-1, -1].item() == 2.5
    r = mx.pad(mx.array([1.0]), 1, constant_values=float("nan"))
    assert np.isnan(np.array(r)[[0, 2]]).all()
    with pytest.raises(ValueError, match="must be a scalar"):
        mx.pad(a, 1, constant_values=mx.array([1, 2]))
    # a Python scalar takes the array's dtype, as MLX converts it
    with pytest.raises(ValueError, match="overflow"):
        mx.pad(mx.array([1, 2], mx.uint8), 1, constant_values=-1)
    assert mx.pad(mx.array([True]), 1, constant_values=5).tolist() == [True, True, True]


def test_pad_edges_and_errors():
    a = mx.zeros((2, 3))
    assert mx.pad(mx.array(1), 1).shape == ()
    assert mx.pad(mx.array(1), []).shape == ()
    assert mx.pad(mx.zeros((0,)), 1).tolist() == [0.0, 0.0]
    assert mx.pad(mx.zeros((0,)), 1, "edge").tolist() == [0.0, 0.0]
    assert mx.pad(mx.zeros((2, 0)), ((0, 0), (1, 1))).shape == (2, 2)
    assert mx.pad(a, [[1, 2], [3, 4]]).shape == (5, 10)
    assert mx.pad(a, 1, "edge", 3).shape == (4, 5)
    with pytest.raises(ValueError, match=r"\[pad\] Cannot pad empty axis 0 using mode 'reflect'"):
        mx.pad(mx.zeros((0,)), 1, "reflect")
    with pytest.raises(ValueError, match="Invalid number of padding sizes passed to pad with axes of size 2"):
        mx.pad(a, [(1, 2), (0, 1), (1, 1)])
    with pytest.raises(ValueError, match=r"Invalid padding mode \(foo\) passed to pad"):
        mx.pad(a, 1, mode="foo")
    with pytest.raises(ValueError, match=r"Invalid low padding size \(-1\)"):
        mx.pad(a, -1)
    with pytest.raises(ValueError, match=r"Invalid high padding size \(-2\)"):
        mx.pad(a, (0, -2))
    for bad in [(1, 2, 3), [(1, 2, 3)], "x", [1, (2, 3)], 1.5]:
        with pytest.raises(TypeError):
            mx.pad(a, bad)
    with pytest.raises(TypeError):
        mx.pad(a, 1, mode=3)


@pytest.mark.parametrize("mode", MODES)
def test_pad_grads(mode, rng):
    x = rng.standard_normal((3, 4))
    check_grad(lambda a: mx.pad(a, ((1, 2), (4, 1)), mode), x, rng)
    check_grad(lambda a: mx.pad(a * a, 2, mode), x, rng)


def test_pad_grad_of_fill_value(rng):
    x = rng.standard_normal((2, 3))
    v = np.array(0.7)
    check_grad_n(lambda a, c: mx.pad(a, 1, constant_values=c) * mx.pad(a, 1, constant_values=c),
                 [x, v], rng)


# ---------------------------------------------------------------------------------------
# as_strided / contiguous / view


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_as_strided_all_dtypes(dtype, rng):
    x = rand_np(rng, (3, 4), dtype)
    flat = x.reshape(-1)
    isz = flat.itemsize
    for kind in ["plain", "T", "slice"]:
        a = strided_copy(x, dtype, kind)
        want = np.lib.stride_tricks.as_strided(flat, (3, 3), (4 * isz, 1 * isz))
        assert_same(mx.as_strided(a, (3, 3), (4, 1)), want, dtype)
        want = np.lib.stride_tricks.as_strided(flat[5:], (2, 2), (1 * isz, 2 * isz))
        assert_same(mx.as_strided(a, (2, 2), (1, 2), 5), want, dtype)
        assert_same(mx.as_strided(a, (2, 2), (-1, 1), 4), [[flat[4], flat[5]], [flat[3], flat[4]]], dtype)
        assert_same(mx.as_strided(a), x, dtype)
        assert_same(mx.as_strided(a, (4, 3)), flat.reshape(4, 3), dtype)


def test_as_strided_views_of_views(rng):
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    a = mx.array(x)
    # rows of a transposed/sliced array are taken in its row-major order
    assert_same(mx.as_strided(a.T, (24,), (1,)), x.T.reshape(-1))
    assert_same(mx.as_strided(a[:, 1], (2,), (2,)), x[:, 1][::2])
    assert_same(mx.as_strided(mx.broadcast_to(mx.array(3.0), (4,)), (2, 2), (0, 1)), np.full((2, 2), 3.0))
    assert_same(mx.as_strided(mx.array(5), (3,), (0,)), [5, 5, 5])
    assert mx.as_strided(a, (0, 5), (100, 100)).shape == (0, 5)  # nothing is read


def test_as_strided_errors():
    a = mx.zeros((2, 3))
    with pytest.raises(ValueError, match=r"\[as_strided\]"):
        mx.as_strided(a, (2, 2), (3, 1), 3)  # reaches element 7 of 6
    with pytest.raises(ValueError, match=r"\[as_strided\]"):
        mx.as_strided(a, (2,), (-1,))
    with pytest.raises(ValueError, match="strides"):
        mx.as_strided(a, (2, 2), (1,))
    with pytest.raises(ValueError):
        mx.as_strided(a, (-1,))


def test_as_strided_jvp_and_vjp(rng):
    x = mx.array(rng.standard_normal(6).astype(np.float32))
    t = mx.array(rng.standard_normal(6).astype(np.float32))
    _, (jv,) = mx.jvp(lambda a: mx.as_strided(a, (3, 2), (1, 2)), [x], [t])
    assert_same(jv, np.lib.stride_tricks.as_strided(np.array(t), (3, 2), (4, 8)))
    # the vjp scatter-adds the cotangent back: element k is read by as many windows
    g = mx.grad(lambda a: mx.as_strided(a, (2, 2), (1, 1)).sum())(x)
    assert g.tolist() == [1.0, 2.0, 1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_contiguous(dtype, rng):
    x = rand_np(rng, (3, 4), dtype)
    for kind in ["plain", "T", "slice"]:
        a = strided_copy(x, dtype, kind)
        for allow in (False, True):
            r = mx.contiguous(a, allow)
            assert_same(r, x, dtype)
            flags = np.array(r.view(mx.uint16) if dtype == mx.bfloat16 else r).flags
            assert flags.c_contiguous or (allow and kind == "T" and flags.f_contiguous)
    b = mx.broadcast_to(np_to_mx(x[:1], dtype), (3, 4))
    assert_same(mx.contiguous(b), np.broadcast_to(x[:1], (3, 4)), dtype)


def test_contiguous_grad(rng):
    x = rng.standard_normal((3, 4))
    check_grad(lambda a: mx.contiguous(a.T) * a.T, x, rng)
    check_grad(lambda a: mx.contiguous(a, allow_col_major=True), x, rng)


VIEW_DTYPES = [d for d in ALL_DTYPES if d != mx.bool_]


@pytest.mark.parametrize("src", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("dst", VIEW_DTYPES, ids=str)
def test_view_all_pairs(src, dst, rng):
    x = rand_np(rng, (2, 8), src)
    if src == mx.bfloat16:
        raw = np.array(np_to_mx(x, src).view(mx.uint16))
    else:
        raw = np.ascontiguousarray(x)
    want_bytes = raw.tobytes()
    a = strided_copy(x, src, "T") if src != mx.bfloat16 else np_to_mx(x, src)
    r = mx.view(a, dst)
    assert r.dtype == dst
    assert r.shape == (2, 8 * src.size // dst.size)
    got = r.view(mx.uint16) if dst == mx.bfloat16 else r
    assert np.array(got).tobytes() == want_bytes


def test_view_cases():
    a = mx.array([[0, 1, 2], [3, 4, 5]])
    assert mx.view(a, mx.int32) is not None and mx.view(a, mx.int32).tolist() == a.tolist()
    assert a.view(mx.uint8).shape == (2, 12)
    assert mx.view(mx.zeros((2, 0), mx.uint8), mx.int32).shape == (2, 0)
    u8 = mx.array(np.arange(8, dtype=np.uint8))
    assert mx.view(u8[1:3], mx.int16).tolist() == [np.frombuffer(bytes([1, 2]), np.int16)[0]]
    assert mx.view(u8[::2], mx.int16).tolist() == np.frombuffer(bytes([0, 2, 4, 6]), np.int16).tolist()
    assert mx.view(mx.array(1.0), mx.int32).item() == np.float32(1.0).view(np.int32)
    with pytest.raises(ValueError, match="only allowed for types with the same size"):
        mx.view(mx.array(1.0), mx.uint8)
    with pytest.raises(ValueError, match="multiple of the requested type size"):
        mx.view(mx.zeros((2, 3), mx.uint8), mx.int32)
    with pytest.raises(ValueError, match="vjp"):  # not differentiable, as MLX
        mx.grad(lambda x: mx.view(x, mx.int32).astype(mx.float32).sum())(mx.ones(3))


# ---------------------------------------------------------------------------------------
# diag / diagonal / trace


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_diagonal_all_dtypes(dtype, rng):
    x = rand_np(rng, (3, 4, 5), dtype)
    for kind in ["plain", "T"]:
        a = strided_copy(x, dtype, kind)
        for off, a1, a2 in [(0, 0, 1), (1, 0, 2), (-2, 2, 0), (2, -1, -3), (7, 1, 2), (-5, 0, 1)]:
            assert_same(mx.diagonal(a, off, a1, a2), np.diagonal(x, off, a1, a2), dtype)
    assert_same(np_to_mx(x, dtype).diagonal(1, axis1=1, axis2=2), np.diagonal(x, 1, 1, 2), dtype)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_diag_all_dtypes(dtype, rng):
    v = rand_np(rng, (4,), dtype)
    m = rand_np(rng, (3, 5), dtype)
    for k in (0, 1, -2, 6, -6):
        assert_same(mx.diag(np_to_mx(v, dtype), k), np.diag(v, k), dtype)
        assert_same(mx.diag(strided_copy(m, dtype, "T"), k), np.diag(m, k), dtype)
    assert_same(np_to_mx(m, dtype).diag(k=1), np.diag(m, 1), dtype)
    assert mx.diag(mx.zeros((0,))).shape == (0, 0)
    assert mx.diag(mx.zeros((0,)), 2).shape == (2, 2)


def test_diag_diagonal_errors():
    with pytest.raises(ValueError, match=r"\[diag\] array must be 1-D or 2-D, got array with 0"):
        mx.diag(mx.array(1))
    with pytest.raises(ValueError, match="got array with 3 dimensions"):
        mx.diag(mx.zeros((2, 2, 2)))
    b = mx.zeros((3, 4))
    with pytest.raises(ValueError, match="axis1 and axis2 cannot be the same axis"):
        mx.diagonal(b, 0, 0, 0)
    with pytest.raises(ValueError, match="axis1 and axis2 cannot be the same axis"):
        mx.diagonal(b, 0, 1, -1)
    with pytest.raises(IndexError, match=r"\[diagonal\] Invalid axis2 2 for array with 2"):
        mx.diagonal(b, 0, 0, 2)
    with pytest.raises(ValueError, match="at least two dimensions, but got 1"):
        mx.diagonal(mx.zeros(3))
    with pytest.raises(ValueError, match=r"\[trace\] Array must have at least two dimensions"):
        mx.trace(mx.zeros(3))


@pytest.mark.parametrize("dtype", [mx.bool_, mx.int8, mx.uint16, mx.int64, mx.float16,
                                   mx.float32, mx.complex64], ids=str)
def test_trace(dtype, rng):
    x = rand_np(rng, (4, 3, 5), dtype)
    a = np_to_mx(x, dtype)
    want_dtype = {mx.bool_: mx.int32, mx.int8: mx.int32, mx.uint16: mx.uint32}.get(dtype, dtype)
    for off, a1, a2 in [(0, 0, 1), (1, 1, 2), (-1, 2, 0), (9, 0, 1)]:
        r = mx.trace(a, off, a1, a2)
        assert r.dtype == want_dtype
        want = np.trace(x.astype(np.complex128 if dtype == mx.complex64 else np.float64), off, a1, a2)
        np.testing.assert_allclose(mx_to_np(r), want, rtol=1e-2 if dtype == mx.float16 else 1e-5)
    r = mx.trace(a, dtype=mx.float32) if dtype != mx.complex64 else mx.trace(a)
    assert r.dtype == (mx.float32 if dtype != mx.complex64 else mx.complex64)


def test_diag_grads(rng):
    m = rng.standard_normal((3, 4))
    v = rng.standard_normal(3)
    for k in (0, 1, -2):
        check_grad(lambda a, k=k: mx.diag(a, k), m, rng)
        check_grad(lambda a, k=k: mx.diag(a, k), v, rng)
    check_grad(lambda a: mx.diagonal(a.reshape(2, 2, 3), 1, 2, 0), rng.standard_normal((4, 3)), rng)
    check_grad(lambda a: mx.trace(a * a, -1), m, rng)
