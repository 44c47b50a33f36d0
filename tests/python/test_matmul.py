"""Matrix products against NumPy in float64 (spec/python-api.md section 10): matmul (1-D
operands, broadcast batches, promotion, empty dims, non-contiguous operands), addmm,
tensordot, inner, outer, vecdot and kron; MLX's errors; gradients against finite
differences."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES
from layout_helpers import (FLOATS, assert_same, check_grad_n, mx_to_np, np_to_mx, rand_np,
                            strided_copy)

INEXACT = FLOATS + [mx.complex64]


def ref(x, dtype):
    return x.astype(np.complex128 if dtype == mx.complex64 else np.float64)


def close(actual, expected, dtype, k=1):
    """Tolerance of dtype, widened by the reduction length k for half types."""
    rtol, atol = {mx.float16: (2e-3, 2e-3 * k), mx.bfloat16: (2e-2, 2e-2 * k),
                  mx.float32: (1e-5, 1e-5), mx.float64: (1e-12, 1e-12),
                  mx.complex64: (1e-5, 1e-5)}[dtype]
    np.testing.assert_allclose(mx_to_np(actual), expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# matmul


@pytest.mark.parametrize("dtype", INEXACT, ids=str)
@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                                    ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4, 2)), ((0, 4), (4, 3)),
                                    ((3, 0), (0, 2)), ((1, 3, 4), (2, 4, 1))])
def test_matmul_shapes(dtype, shapes, rng):
    x, y = rand_np(rng, shapes[0], dtype), rand_np(rng, shapes[1], dtype)
    r = mx.matmul(np_to_mx(x, dtype), np_to_mx(y, dtype))
    assert r.dtype == dtype
    close(r, ref(x, dtype) @ ref(y, dtype), dtype, 4)


@pytest.mark.parametrize("kind", ["T", "slice"])
def test_matmul_non_contiguous(kind, rng):
    x, y = rand_np(rng, (3, 6), mx.float32), rand_np(rng, (6, 4), mx.float32)
    a, b = strided_copy(x, mx.float32, kind), strided_copy(y, mx.float32, kind)
    close(a @ b, x.astype(np.float64) @ y, mx.float32)
    close(mx.matmul(mx.broadcast_to(a, (2, 3, 6)), b.T.T), np.broadcast_to(x, (2, 3, 6)) @ y.astype(np.float64),
          mx.float32)


def test_matmul_promotion_and_errors():
    a = mx.array([[1, 2], [3, 4]])
    assert mx.matmul(a, mx.ones((2, 2))).dtype == mx.float32
    assert mx.matmul(mx.ones((2, 2), mx.float16), mx.ones((2, 2))).dtype == mx.float32
    assert mx.matmul(mx.ones((2, 2), mx.bfloat16), mx.ones((2, 2), mx.float16)).dtype == mx.float32
    assert mx.matmul(mx.ones((2, 2), mx.complex64), mx.ones((2, 2))).dtype == mx.complex64
    with pytest.raises(ValueError, match=r"Only inexact types.*int32 and int32.*not a floating point type"):
        mx.matmul(a, a)
    with pytest.raises(ValueError, match="Got 0 dimension input"):
        mx.matmul(mx.array(1.0), mx.ones((2, 2)))
    with pytest.raises(ValueError, match=r"first input with shape \(3,4\) must match second to last "
                                         r"dimension of second input with shape \(3,4\)"):
        mx.matmul(mx.ones((3, 4)), mx.ones((3, 4)))
    with pytest.raises(ValueError, match=r"shape \(1,3\).*shape \(4,1\)"):
        mx.matmul(mx.ones(3), mx.ones(4))
    with pytest.raises(ValueError, match=r"\[broadcast_shapes\] Shapes \(2\) and \(5\) cannot be broadcast"):
        mx.matmul(mx.ones((2, 3, 4)), mx.ones((5, 4, 2)))


def test_matmul_grads(rng):
    for sa, sb in [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2))]:
        check_grad_n(mx.matmul, [rng.standard_normal(sa), rng.standard_normal(sb)], rng)


# ---------------------------------------------------------------------------------------
# addmm


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.0, 0.5), (-1.5, 0.0)])
def test_addmm(dtype, alpha, beta, rng):
    for sc, sa, sb in [((3, 5), (3, 4), (4, 5)), ((5,), (3, 4), (4, 5)), ((), (2, 3, 4), (4, 5)),
                       ((5,), (4,), (4, 5)), ((3, 1), (2, 3, 4), (1, 4, 5)), ((0, 5), (0, 4), (4, 5))]:
        c, x, y = (rand_np(rng, s, dtype) for s in (sc, sa, sb))
        r = mx.addmm(np_to_mx(c, dtype), np_to_mx(x, dtype), np_to_mx(y, dtype), alpha, beta)
        want = alpha * (ref(x, dtype) @ ref(y, dtype)) + beta * ref(c, dtype)
        assert r.dtype == dtype and r.shape == want.shape
        close(r, want, dtype, 8)


def test_addmm_strided_and_keywords(rng):
    c, x, y = (rand_np(rng, s, mx.float32) for s in ((4, 3), (4, 5), (5, 3)))
    r = mx.addmm(strided_copy(c, mx.float32, "T"), strided_copy(x, mx.float32, "slice"),
                 strided_copy(y, mx.float32, "T"), beta=2.0, alpha=0.5)
    close(r, 0.5 * (x.astype(np.float64) @ y) + 2.0 * c, mx.float32)


def test_addmm_dtypes_and_errors():
    f16 = mx.ones((2, 2), mx.float16)
    assert mx.addmm(mx.ones((2, 2), mx.int32), f16, f16).dtype == mx.float16
    assert mx.addmm(mx.ones((2, 2)), f16, f16).dtype == mx.float32
    i = mx.ones((2, 2), mx.int32)
    with pytest.raises(ValueError, match=r"\[addmm\] Only real floating point types are supported but "
                                         r"int32, int32 and int32"):
        mx.addmm(i, i, i)
    with pytest.raises(ValueError):
        mx.addmm(mx.ones((2, 2), mx.complex64), mx.ones((2, 2)), mx.ones((2, 2)))
    with pytest.raises(ValueError, match=r"\[addmm\] Last dimension of first input with shape \(2,2\)"):
        mx.addmm(mx.ones((2, 2)), mx.ones((2, 2)), mx.ones((3, 2)))
    with pytest.raises(ValueError, match="input c must broadcast to the output shape"):
        mx.addmm(mx.ones((2, 2, 4)), mx.ones((2, 3)), mx.ones((3, 4)))
    with pytest.raises(ValueError, match="input c must broadcast to the output shape"):
        mx.addmm(mx.ones((1,)), mx.ones((3,)), mx.ones((3,)))
    with pytest.raises(ValueError, match=r"\[broadcast_shapes\] Shapes \(3,4\) and \(2,4\)"):
        mx.addmm(mx.ones((3, 4)), mx.ones((2, 3)), mx.ones((3, 4)))
    with pytest.raises(ValueError, match="Got 0 dimension input"):
        mx.addmm(mx.ones((2, 2)), mx.array(1.0), mx.ones((2, 2)))


def test_addmm_grads(rng):
    for sc, sa, sb in [((3, 2), (3, 4), (4, 2)), ((2,), (2, 3, 4), (4, 2)), ((2,), (4,), (4, 2))]:
        xs = [rng.standard_normal(s) for s in (sc, sa, sb)]
        check_grad_n(lambda c, a, b: mx.addmm(c, a, b, 1.5, -0.75), xs, rng)
        check_grad_n(mx.addmm, xs, rng)


# ---------------------------------------------------------------------------------------
# tensordot, inner, outer, vecdot, kron


def test_tensordot(rng):
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 5))
    A, B = mx.array(a, dtype=mx.float32), mx.array(b, dtype=mx.float32)
    for axes in [1, 0, ([1, 2], [1, 0]), [[2], [0]], [[-2], [1]], ([], [])]:
        close(mx.tensordot(A, B, axes), np.tensordot(a, b, axes), mx.float32)
    c = rng.standard_normal((3, 4))
    close(mx.tensordot(mx.array(c, dtype=mx.float32), mx.array(c.T.copy(), dtype=mx.float32).T),
          np.tensordot(c, c), mx.float32)  # default axes=2
    close(mx.tensordot(A.astype(mx.float16), mx.ones((4,)), 1), np.tensordot(a, np.ones(4), 1),
          mx.float16, 4)
    assert mx.tensordot(A.astype(mx.float16), mx.ones((4,)), 1).dtype == mx.float32


def test_tensordot_errors():
    b = mx.ones((3, 4))
    with pytest.raises(ValueError, match="axis must be greater or equal to 0"):
        mx.tensordot(b, b, -1)
    with pytest.raises(ValueError, match="axis must be less than the number of dimensions"):
        mx.tensordot(b, b, 3)
    assert mx.tensordot(b, b).shape == ()
    with pytest.raises(ValueError, match="same shape on the contracted axes"):
        mx.tensordot(mx.ones((2, 3)), b)
    with pytest.raises(ValueError, match="same shape on the contracted axes"):
        mx.tensordot(b, b, [[0], [1]])
    with pytest.raises(ValueError, match="axes must have the same size"):
        mx.tensordot(b, b, [[0], [0, 1]])
    with pytest.raises(ValueError, match="axes must be a list of two lists"):
        mx.tensordot(b, b, [[0], [0], [1]])
    with pytest.raises(IndexError):
        mx.tensordot(b, b, [[5], [0]])
    with pytest.raises(TypeError):
        mx.tensordot(b, b, [0, 0])
    with pytest.raises(ValueError):
        mx.tensordot(b, b, [[0, 0], [0, 0]])
    with pytest.raises(ValueError, match="Only inexact types"):
        mx.tensordot(mx.ones((2, 2), mx.int32), mx.ones((2, 2), mx.int32), 1)


def test_inner_outer(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 5, 3))
    close(mx.inner(mx.array(a, dtype=mx.float32), mx.array(b, dtype=mx.float32)), np.inner(a, b),
          mx.float32)
    close(mx.inner(mx.array(2.0), mx.array(b, dtype=mx.float32)), 2 * b, mx.float32)
    r = mx.inner(mx.ones((3,), mx.float16), mx.ones((3,), mx.int8))
    assert r.dtype == mx.float16 and r.item() == 3
    with pytest.raises(ValueError, match=r"\[inner\] a and b must have the same last dimension"):
        mx.inner(mx.ones((2, 3)), mx.ones((3, 4)))
    for dtype in ALL_DTYPES:
        x, y = rand_np(rng, (2, 3), dtype), rand_np(rng, (4,), dtype)
        got = mx.outer(np_to_mx(x, dtype), np_to_mx(y, dtype))
        assert got.dtype == dtype
        want = np.outer(x, y)
        if dtype in (mx.float16, mx.bfloat16, mx.complex64):
            close(got, np.outer(ref(x, dtype), ref(y, dtype)), dtype)
        else:
            assert_same(got, want.astype(x.dtype), dtype)
    assert mx.outer(mx.array(2), mx.ones(4)).shape == (1, 4)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_vecdot(dtype, rng):
    x, y = rand_np(rng, (2, 3), dtype), rand_np(rng, (1, 3), dtype)
    r = mx.vecdot(np_to_mx(x, dtype), np_to_mx(y, dtype))
    want = np.sum(np.conj(ref(x, dtype)) * ref(y, dtype), axis=-1)
    expect_dtype = {mx.bool_: mx.int32, mx.int8: mx.int32, mx.int16: mx.int32, mx.uint8: mx.uint32,
                    mx.uint16: mx.uint32}.get(dtype, dtype)
    assert r.dtype == expect_dtype
    if dtype in INEXACT:
        close(r, want, dtype, 4)
    else:
        prod = (x * y).astype(np.int64)  # the product wraps in the input dtype, as MLX's
        assert_same(r, np.sum(prod, -1))
    r0 = mx.vecdot(np_to_mx(x, dtype), np_to_mx(x, dtype), axis=0)
    assert r0.shape == (3,)


def test_vecdot_errors():
    with pytest.raises(ValueError, match="inputs must be at least 1D"):
        mx.vecdot(mx.array(1.0), mx.array(2.0))
    with pytest.raises(ValueError, match="same size along axis"):
        mx.vecdot(mx.ones((2, 3)), mx.ones((2, 1)))
    with pytest.raises(ValueError, match="axis is out of bounds"):
        mx.vecdot(mx.ones((2, 3)), mx.ones(3))
    with pytest.raises(IndexError, match="axis is out of bounds"):
        mx.vecdot(mx.ones((2, 3)), mx.ones((2, 3)), axis=5)
    assert mx.vecdot(mx.array([1 + 2j, 3j]), mx.array([1 + 1j, 2])).item() == 3 - 7j


@pytest.mark.parametrize("dtype", [mx.bool_, mx.uint8, mx.int32, mx.float32, mx.complex64], ids=str)
def test_kron(dtype, rng):
    for sa, sb in [((2, 3), (3, 4)), ((2,), (3, 4)), ((), (3, 4)), ((2, 2, 2), (3, 4))]:
        x, y = rand_np(rng, sa, dtype), rand_np(rng, sb, dtype)
        got = mx.kron(np_to_mx(x, dtype), np_to_mx(y, dtype))
        want = np.kron(x, y)
        if dtype == mx.complex64:
            close(got, np.kron(ref(x, dtype), ref(y, dtype)), dtype)
        else:
            assert_same(got, want.astype(x.dtype), dtype)
    with pytest.raises(ValueError, match=r"\[kron\] Input arrays cannot be empty"):
        mx.kron(mx.ones((0, 3)), mx.ones((4,)))
    assert mx.kron(mx.ones(2, mx.int8), mx.ones(2, mx.float16)).dtype == mx.float16


def test_product_grads(rng):
    check_grad_n(lambda a, b: mx.tensordot(a, b, ([1, 2], [1, 0])),
                 [rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 2))], rng)
    check_grad_n(mx.inner, [rng.standard_normal((2, 3)), rng.standard_normal((4, 3))], rng)
    check_grad_n(mx.outer, [rng.standard_normal((2, 3)), rng.standard_normal(4)], rng)
    check_grad_n(mx.vecdot, [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))], rng)
    check_grad_n(mx.kron, [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))], rng)

