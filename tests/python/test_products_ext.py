"""gather_mm, block_masked_mm, segmented_mm and hadamard_transform against NumPy float64
references on seeded inputs: every float dtype, index dtypes and broadcasting, 1-D operands,
non-contiguous operands, MLX's errors, gradients against finite differences, vmap against
a loop. Hadamard values for the 12/20/28 factors are golden rows made with Apple MLX 0.32."""
import numpy as np
import pytest

import mlx.core as mx
from layout_helpers import FLOATS, check_grad, check_grad_n, mx_to_np, np_to_mx, rand_np, strided_copy

TOL = {mx.float16: 2e-2, mx.bfloat16: 1e-1, mx.float32: 1e-5, mx.float64: 1e-12}


def close(r, ref, dtype):
    np.testing.assert_allclose(mx_to_np(r), ref, rtol=TOL[dtype], atol=TOL[dtype])


# ---- gather_mm ----

def gather_mm_ref(a, b, li=None, ri=None):
    a1, b1 = a.ndim == 1, b.ndim == 1
    a = a[None] if a1 else a
    b = b[:, None] if b1 else b
    A = a.reshape(-1, *a.shape[-2:])
    B = b.reshape(-1, *b.shape[-2:])
    li = np.arange(A.shape[0]).reshape(a.shape[:-2]) if li is None else li
    ri = np.arange(B.shape[0]).reshape(b.shape[:-2]) if ri is None else ri
    li, ri = np.broadcast_arrays(li, ri)
    out = A[li.astype(np.int64)] @ B[ri.astype(np.int64)]
    if a1:
        out = out[..., 0, :]
    if b1:
        out = out[..., 0]
    return out


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_gather_mm_dtypes(dtype, rng):
    a, b = rand_np(rng, (4, 3, 5), dtype), rand_np(rng, (6, 5, 2), dtype)
    li, ri = rng.integers(0, 4, (2, 3)), rng.integers(0, 6, (3,))
    r = mx.gather_mm(np_to_mx(a, dtype), np_to_mx(b, dtype), mx.array(li), mx.array(ri))
    assert r.dtype == dtype and r.shape == (2, 3, 3, 2)
    close(r, gather_mm_ref(a.astype(np.float64), b.astype(np.float64), li, ri), dtype)


@pytest.mark.parametrize("shapes,li,ri", [
    (((4, 2, 3), (4, 3, 6)), None, None),
    (((4, 2, 3), (5, 3, 6)), None, [0, 4, 2, 1]),
    (((4, 2, 3), (5, 3, 6)), [0, 3], [[0], [4], [2]]),
    (((3,), (5, 3, 6)), None, [1, 2]),
    (((4, 2, 3), (3,)), [1, 2], None),
    (((3,), (3,)), [0], [0]),
    (((2, 3), (3, 4)), 0, 0),
    (((2, 3), (3, 4)), [0, 0], 0),
    (((2, 1, 2, 3), (3, 3, 6)), [[0], [1]], [0, 1, 2]),
    (((4, 2, 3), (5, 3, 6)), [], []),
])
def test_gather_mm_shapes(shapes, li, ri, rng):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    lin = None if li is None else np.array(li, dtype=np.int32)
    rin = None if ri is None else np.array(ri, dtype=np.int32)
    with mx.stream(mx.cpu):
        r = mx.gather_mm(mx.array(a, dtype=mx.float64), mx.array(b, dtype=mx.float64),
                         None if li is None else mx.array(lin), None if ri is None else mx.array(rin))
        ref = gather_mm_ref(a, b, lin, rin)
        assert r.shape == ref.shape
        np.testing.assert_allclose(np.array(r), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("idt", [mx.uint8, mx.int16, mx.uint32, mx.int64])
def test_gather_mm_index_dtypes_and_negative(idt, rng):
    a, b = rng.standard_normal((4, 2, 3)).astype(np.float32), rng.standard_normal((5, 3, 2)).astype(np.float32)
    li, ri = np.array([3, 1, 0]), np.array([4, 0, 2])
    r = mx.gather_mm(mx.array(a), mx.array(b), mx.array(li).astype(idt), mx.array(ri).astype(idt),
                     sorted_indices=True)
    np.testing.assert_allclose(np.array(r), gather_mm_ref(a, b, li, ri), rtol=1e-5, atol=1e-5)
    if idt in (mx.int16, mx.int64):  # a negative index wraps once
        r = mx.gather_mm(mx.array(a), mx.array(b), mx.array([-1], dtype=idt), mx.array([-2], dtype=idt))
        np.testing.assert_allclose(np.array(r), (a[3] @ b[3])[None], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["swap", "slice"])
def test_gather_mm_non_contiguous(kind, rng):
    a, b = rng.standard_normal((3, 4, 4)).astype(np.float32), rng.standard_normal((2, 4, 6)).astype(np.float32)
    li, ri = np.array([2, 0, 1]), np.array([1, 1, 0])
    if kind == "swap":  # column-major matrices
        am = mx.array(np.ascontiguousarray(a.swapaxes(1, 2))).swapaxes(1, 2)
        bm = mx.array(np.ascontiguousarray(b.swapaxes(1, 2))).swapaxes(1, 2)
    else:
        am, bm = strided_copy(a, mx.float32, "slice"), strided_copy(b, mx.float32, "slice")
    r = mx.gather_mm(am, bm, mx.array(li), mx.array(ri))
    np.testing.assert_allclose(np.array(r), gather_mm_ref(a, b, li, ri), rtol=1e-5, atol=1e-5)
    bt = mx.array(b)[::-1]  # negative batch stride
    r = mx.gather_mm(am, bt, mx.array(li), mx.array(ri))
    np.testing.assert_allclose(np.array(r), gather_mm_ref(a, b[::-1], li, ri), rtol=1e-5, atol=1e-5)


def test_gather_mm_errors():
    a, b = mx.ones((4, 2, 3)), mx.ones((5, 3, 6))
    with pytest.raises(ValueError, match=r"\[broadcast_shapes\] Shapes \(4\) and \(5\) cannot be broadcast"):
        mx.gather_mm(a, b)
    with pytest.raises(ValueError, match=r"\[gather_mm\] Got indices with invalid dtype"):
        mx.gather_mm(a, b, mx.array([0.0]), mx.array([1]))
    with pytest.raises(ValueError, match=r"\[gather_mm\] Got indices with invalid dtype"):
        mx.gather_mm(a, b, mx.array([True]), mx.array([1]))
    with pytest.raises(ValueError, match=r"\[gather_mm\] Only real floating point types are supported "
                                         r"but int32 and int32 were provided"):
        mx.gather_mm(mx.ones((2, 3), dtype=mx.int32), mx.ones((3, 4), dtype=mx.int32))
    with pytest.raises(ValueError, match=r"complex64 and float32"):
        mx.gather_mm(mx.ones((2, 3), dtype=mx.complex64), mx.ones((3, 4)))
    with pytest.raises(ValueError, match=r"\[gather_mm\] Last dimension of first input with shape "
                                         r"\(4,2,3\) must match second to last dimension of second "
                                         r"input with shape \(5,4,6\)"):
        mx.gather_mm(a, mx.ones((5, 4, 6)), None, mx.array([1]))
    with pytest.raises(ValueError, match=r"\[gather_mm\] Got 0 dimension input"):
        mx.gather_mm(mx.array(1.0), b)
    with pytest.raises(TypeError):
        mx.gather_mm(a, b, mx.array([0]), mx.array([0]), True)  # sorted_indices is keyword-only


def test_gather_mm_promotion():
    r = mx.gather_mm(mx.ones((2, 3), dtype=mx.float16), mx.ones((3, 4)), mx.array(0), mx.array(0))
    assert r.dtype == mx.float32 and r.shape == (2, 4)
    r = mx.gather_mm(mx.ones((2, 3), dtype=mx.bfloat16), mx.ones((3, 4), dtype=mx.float16))
    assert r.dtype == mx.float32


def test_gather_mm_grad(rng):
    li, ri = mx.array([1, 1, 2, 0]), mx.array([3, 0, 0, 2])
    check_grad_n(lambda a, b: mx.gather_mm(a, b, li, ri),
                 [rng.standard_normal((3, 2, 3)), rng.standard_normal((4, 3, 2))], rng)
    check_grad_n(lambda a, b: mx.gather_mm(a, b, None, mx.array([[1], [0]])),
                 [rng.standard_normal((3, 2, 3)), rng.standard_normal((2, 3, 4))], rng)
    check_grad(lambda a: mx.gather_mm(a, a.swapaxes(-1, -2) * 2, li[:2], ri[:2] % 3),
               rng.standard_normal((3, 2, 2)), rng)
    # grad of grad goes through GatherMM's own rules
    with mx.stream(mx.cpu):
        a = mx.array(rng.standard_normal((3, 2, 3)), dtype=mx.float64)
        b = mx.array(rng.standard_normal((4, 3, 2)), dtype=mx.float64)
        gg = mx.grad(lambda x: (mx.grad(lambda y: (mx.gather_mm(y, b, li, ri) ** 2).sum())(x) ** 2).sum())(a)
        eps, an = 1e-6, np.array(a)

        def h(x):
            g = mx.grad(lambda y: (mx.gather_mm(y, b, li, ri) ** 2).sum())(mx.array(x, dtype=mx.float64))
            return float((g ** 2).sum())
        e = np.zeros_like(an)
        e[1, 0, 2] = eps
        assert abs(float(gg[1, 0, 2]) - (h(an + e) - h(an - e)) / (2 * eps)) < 1e-5


def test_gather_mm_vmap(rng):
    a = rng.standard_normal((5, 3, 2, 3)).astype(np.float32)
    b = rng.standard_normal((4, 3, 2)).astype(np.float32)
    li = rng.integers(0, 3, (5, 2))
    ri = np.array([3, 1])
    f = lambda x, i: mx.gather_mm(x, mx.array(b), i, mx.array(ri))
    r = mx.vmap(f)(mx.array(a), mx.array(li))
    ref = np.stack([gather_mm_ref(a[v], b, li[v], ri) for v in range(5)])
    np.testing.assert_allclose(np.array(r), ref, rtol=1e-5, atol=1e-5)
    g = lambda y: mx.gather_mm(mx.array(a[0]), y, mx.array([-1, 0]), mx.array([0, -1]))
    bb = rng.standard_normal((2, 4, 3, 2)).astype(np.float32)
    r = mx.vmap(g, in_axes=1)(mx.array(bb))
    ref = np.stack([gather_mm_ref(a[0], bb[:, v], np.array([2, 0]), np.array([0, 1])) for v in range(4)])
    np.testing.assert_allclose(np.array(r), ref, rtol=1e-5, atol=1e-5)


# ---- block_masked_mm ----

def expand(m, bs, r, c):
    return np.repeat(np.repeat(m, bs, -2), bs, -1)[..., :r, :c]


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("bs", [32, 64])
@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_block_masked_mm(dtype, bs, mask_kind, rng):
    M, K, N = 70, 40, 100
    a, b = rand_np(rng, (M, K), dtype), rand_np(rng, (K, N), dtype)
    tm, tk, tn = [-(-d // bs) for d in (M, K, N)]
    mk = (lambda s: rng.random(s) > 0.4) if mask_kind == "bool" else (lambda s: rng.random(s).astype(np.float32))
    mo, ml, mr = mk((tm, tn)), mk((tm, tk)), mk((tk, tn))
    r = mx.block_masked_mm(np_to_mx(a, dtype), np_to_mx(b, dtype), bs, mx.array(mo), mx.array(ml), mx.array(mr))
    assert r.dtype == dtype
    ref = (a.astype(np.float64) * expand(ml, bs, M, K)) @ (b.astype(np.float64) * expand(mr, bs, K, N))
    ref = ref * expand(mo, bs, M, N)
    np.testing.assert_allclose(mx_to_np(r), ref, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


def test_block_masked_mm_partial_masks_batches_and_inf(rng):
    a, b = rng.standard_normal((2, 1, 70, 40)), rng.standard_normal((3, 40, 50))
    mo = rng.random((3, 2)) > 0.5
    with mx.stream(mx.cpu):
        r = mx.block_masked_mm(mx.array(a, dtype=mx.float64), mx.array(b, dtype=mx.float64), 32, mx.array(mo))
        np.testing.assert_allclose(np.array(r), (a @ b) * expand(mo, 32, 70, 50), rtol=1e-12, atol=1e-12)
        ml = mx.array(np.array([[False, True]] * 3))
        ai = mx.array(a[0, 0], dtype=mx.float64).at[0, 0].add(np.inf)  # inside a masked-out block
        r = mx.block_masked_mm(ai, mx.array(b[0], dtype=mx.float64), 32, None, ml)
        ref = (a[0, 0] * expand(np.array([[False, True]] * 3), 32, 70, 40)) @ b[0]
        np.testing.assert_allclose(np.array(r), ref, rtol=1e-12, atol=1e-12)
    r = mx.block_masked_mm(mx.ones(40), mx.ones((40, 50)), 32, None, None, mx.ones((2, 2), dtype=mx.bool_))
    assert r.shape == (50,)
    r = mx.block_masked_mm(mx.ones((3, 40)), mx.ones((40, 5)), 16)  # no mask: a plain matmul
    assert np.allclose(np.array(r), 40)


def test_block_masked_mm_errors():
    a, b = mx.ones((70, 40)), mx.ones((40, 50))
    with pytest.raises(ValueError, match=r"\[block_masked_mm\] Only block_sizes 32, 64 are supported"):
        mx.block_masked_mm(a, b, 16, mx.ones((5, 4), dtype=mx.bool_))
    with pytest.raises(ValueError, match="Cannot broadcast"):
        mx.block_masked_mm(a, b, 32, mx.ones((2, 2), dtype=mx.bool_))
    with pytest.raises(ValueError, match="Cannot broadcast"):
        mx.block_masked_mm(a, b, 32, mx.ones((5, 3, 2), dtype=mx.bool_))
    with pytest.raises(ValueError, match=r"\[block_masked_mm\] Only real floating point types"):
        mx.block_masked_mm(a.astype(mx.int32), b.astype(mx.int32), 32, mx.ones((3, 2), dtype=mx.bool_))
    with pytest.raises(ValueError, match=r"\[block_masked_mm\] Last dimension of first input"):
        mx.block_masked_mm(a, a, 32, mx.ones((3, 2), dtype=mx.bool_))


def test_block_masked_mm_grad(rng):
    ml = mx.array(rng.random((2, 1)) > 0.3)
    mo = mx.array(rng.random((1, 2)).astype(np.float64))
    check_grad_n(lambda a, b: mx.block_masked_mm(a, b, 32, mo, ml, None),
                 [rng.standard_normal((40, 20)), rng.standard_normal((20, 33))], rng)
    with mx.stream(mx.cpu):
        a, b = mx.array(rng.standard_normal((40, 20))), mx.array(rng.standard_normal((20, 33)))
    check_grad(lambda m: mx.block_masked_mm(a.astype(mx.float64), b.astype(mx.float64), 32, m),
               rng.random((2, 2)), rng)


# ---- segmented_mm ----

def segmented_ref(a, b, seg):
    seg = np.asarray(seg)
    out = np.zeros(seg.shape[:-1] + (a.shape[0], b.shape[1]))
    for idx in np.ndindex(seg.shape[:-1]):
        lo, hi = max(int(seg[idx][0]), 0), min(int(seg[idx][1]), a.shape[1])
        if hi > lo:
            out[idx] = a[:, lo:hi] @ b[lo:hi]
    return out


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_segmented_mm(dtype, rng):
    a, b = rand_np(rng, (3, 8), dtype), rand_np(rng, (8, 5), dtype)
    seg = np.array([[0, 2], [2, 8], [1, 5], [4, 4], [6, 3]])
    r = mx.segmented_mm(np_to_mx(a, dtype), np_to_mx(b, dtype), mx.array(seg))
    assert r.dtype == dtype and r.shape == (5, 3, 5)
    close(r, segmented_ref(a.astype(np.float64), b.astype(np.float64), seg), dtype)


def test_segmented_mm_shapes_and_errors(rng):
    a, b = mx.arange(12.0).reshape(3, 4), mx.arange(8.0).reshape(4, 2)
    r = mx.segmented_mm(a, b, mx.array([[[0, 2]], [[2, 4]]], dtype=mx.uint8))
    assert r.shape == (2, 1, 3, 2)
    np.testing.assert_allclose(np.array(r), segmented_ref(np.array(a), np.array(b), [[[0, 2]], [[2, 4]]]))
    assert mx.segmented_mm(a, b, mx.array([0, 2])).shape == (3, 2)
    with pytest.raises(ValueError, match=r"The segments should have shape \(..., 2\) but \(1,3\)"):
        mx.segmented_mm(a, b, mx.array([[0, 2, 3]]))
    with pytest.raises(ValueError, match="Segments must be integral"):
        mx.segmented_mm(a, b, mx.array([[0.0, 2.0]]))
    with pytest.raises(ValueError, match="Batched matmul not supported"):
        mx.segmented_mm(mx.ones((2, 3, 4)), b, mx.array([[0, 2]]))
    with pytest.raises(ValueError, match="Only real floating point types"):
        mx.segmented_mm(a.astype(mx.int32), b.astype(mx.int32), mx.array([[0, 2]]))


def test_segmented_mm_grad(rng):
    seg = mx.array([[0, 3], [1, 5]])
    check_grad_n(lambda a, b: mx.segmented_mm(a, b, seg),
                 [rng.standard_normal((2, 5)), rng.standard_normal((5, 3))], rng)


# ---- hadamard_transform ----

def sylvester(n):
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("n", [1, 2, 8, 64, 256])
def test_hadamard_power_of_two(dtype, n, rng):
    x = rand_np(rng, (3, n), dtype)
    r = mx.hadamard_transform(np_to_mx(x, dtype))
    assert r.dtype == dtype
    close(r, x.astype(np.float64) @ sylvester(n).T / np.sqrt(n), dtype)
    r = mx.hadamard_transform(np_to_mx(x, dtype), scale=0.25)
    close(r, x.astype(np.float64) @ sylvester(n).T * 0.25, dtype)


# Made with Apple MLX 0.32: mx.hadamard_transform(x[:n], scale=1.0) for
# x = np.arange(56) % 7 - 3 (float32).
GOLDEN = {
    12: [-1, 7, 1, -7, -5, 3, 1, -1, -7, 9, -13, -9],
    20: [-5, 15, 7, -1, 5, -3, 1, -3, -7, -3, -1, 9, -1, 3, -15, -13, -11, 5, 21, -5],
    28: [-18, -12, -6, 0, 6, 12, 18, -2, 8, -10, 0, 10, -8, 2, -2, 8, 18, 0, -18, -8, 2, -2, -20,
         -10, 0, 10, 20, 2],
    40: [-27, 11, 11, -3, 7, -3, 3, -3, 13, 11, -5, -7, 11, 21, -19, 7, -21, -7, 9, 7, 3, 21, 1, 7,
         -11, -21, 19, -7, 3, -7, -17, 1, 5, -13, 13, 15, 21, -13, -13, 1],
    56: [-30, -6, -6, -6, 18, -6, 0, 36, -18, -6, 6, -6, 30, -6, 6, -10, 18, 18, -26, -10, 0, 4, 26,
         -10, -18, 18, -6, -10, -22, 18, -10, -10, 30, -10, 0, 4, -30, -10, 10, -10, 22, 18, 6, -10,
         -10, -10, 2, 18, 0, 4, -2, 18, 10, -10, -6, -10],
}


@pytest.mark.parametrize("n", sorted(GOLDEN))
def test_hadamard_m_factors_match_mlx(n):
    x = (np.arange(56) % 7 - 3).astype(np.float32)[:n]
    np.testing.assert_array_equal(np.array(mx.hadamard_transform(mx.array(x), scale=1.0)), GOLDEN[n])
    # the matrix of the transform is orthogonal up to n: H H^T = n I
    h = np.array(mx.hadamard_transform(mx.eye(n), scale=1.0)).astype(np.float64)
    np.testing.assert_array_equal(h @ h.T, n * np.eye(n))
    with mx.stream(mx.cpu):  # float64 rows agree
        r = mx.hadamard_transform(mx.array(x, dtype=mx.float64))
        np.testing.assert_allclose(np.array(r), np.array(GOLDEN[n]) / np.sqrt(n), rtol=1e-12)


def test_hadamard_types_layout_and_errors(rng):
    r = mx.hadamard_transform(mx.arange(4, dtype=mx.int32))
    assert r.dtype == mx.float32 and r.tolist() == [3.0, -1.0, -2.0, 0.0]
    assert mx.hadamard_transform(mx.array(2.0)).item() == 2.0
    x = rng.standard_normal((4, 6)).astype(np.float32)  # transposed: last-axis stride 6
    np.testing.assert_allclose(np.array(mx.hadamard_transform(mx.array(x).T)),
                               x.T.astype(np.float64) @ sylvester(4).T / 2, rtol=1e-5, atol=1e-6)
    r = np.array(mx.hadamard_transform(mx.array([1.0, np.nan, np.inf, 0.0])))
    assert np.isnan(r).all()
    with pytest.raises(ValueError, match=r"\[hadamard\] Only supports n = m\*2\^k where m in \(1, 12, 20, 28\)"):
        mx.hadamard_transform(mx.ones(3))
    with pytest.raises(ValueError, match=r"\[hadamard\]"):
        mx.hadamard_transform(mx.ones(36))
    with pytest.raises(ValueError, match=r"\[hadamard_transform\] Does not support empty arrays"):
        mx.hadamard_transform(mx.ones((2, 0)))


@pytest.mark.parametrize("n", [8, 20, 28])
def test_hadamard_grad_and_vmap(n, rng):
    check_grad(lambda x: mx.hadamard_transform(x, scale=0.5), rng.standard_normal((2, n)), rng)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    r = mx.vmap(mx.hadamard_transform, in_axes=1)(mx.array(x))
    ref = np.stack([np.array(mx.hadamard_transform(mx.array(x[:, v]))) for v in range(3)])
    np.testing.assert_allclose(np.array(r), ref, rtol=1e-5, atol=1e-6)
    r = mx.vmap(mx.hadamard_transform, in_axes=0)(mx.array(x.T.copy()))
    np.testing.assert_allclose(np.array(r), ref, rtol=1e-5, atol=1e-6)
