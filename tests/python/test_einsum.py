"""einsum and einsum_path against numpy.einsum in float64 on seeded inputs: explicit and
implicit outputs, repeated letters (diagonals, traces), ellipses, size-1 broadcasting,
multi-operand paths, every float dtype, non-contiguous operands, MLX's errors, the exact
einsum_path results of MLX 0.32, gradients against finite differences, vmap."""
import numpy as np
import pytest

import mlx.core as mx
from layout_helpers import FLOATS, check_grad, check_grad_n, mx_to_np, np_to_mx, rand_np, strided_copy

CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("ij->ji", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("ij->", [(3, 4)]),
    ("i,i", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("i...,j...->ij...", [(2, 1), (3, 4)]),
    ("ab...,...->...", [(2, 3, 4, 5), (5,)]),
    ("...->", [(2, 3, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("ijji->", [(2, 3, 3, 2)]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,jk,kl,lm->im", [(3, 3)] * 4),
    ("ab,bc,cd,de,ef->af", [(2, 6), (6, 4), (4, 5), (5, 3), (3, 2)]),
    ("ab,cd,ef->", [(2, 3), (4, 5), (6, 7)]),
    ("ij,jk,ki", [(2, 3), (3, 4), (4, 2)]),
    ("bij,bjk,bkl,bi->bl", [(2, 2, 3), (2, 3, 4), (2, 4, 3), (2, 2)]),
    ("i,i->i", [(1,), (4,)]),
    ("ij,ij->", [(2, 3), (1, 3)]),
    ("iJ,Jk->ik", [(2, 3), (3, 4)]),
    ("i,->i", [(3,), ()]),
    ("->", [()]),
    ("ij", [(0, 3)]),
    ("ij,jk", [(2, 0), (0, 3)]),
    (" i j , j k -> k i ", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("subs,shapes", CASES, ids=[c[0].replace(" ", "_") for c in CASES])
def test_einsum_float64_vs_numpy(subs, shapes, rng):
    xs = [rng.standard_normal(s) for s in shapes]
    with mx.stream(mx.cpu):
        r = mx.einsum(subs, *[mx.array(x, dtype=mx.float64) for x in xs])
        assert r.dtype == mx.float64
        # NumPy refuses an ellipsis summed away ('...->'); MLX sums it
        ref = xs[0].sum() if subs == "...->" else np.einsum(subs.replace(" ", ""), *xs)
        np.testing.assert_allclose(np.array(r), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("subs,shapes", [("ij,jk->ik", [(5, 6), (6, 7)]),
                                         ("bij,bkj->bki", [(2, 3, 4), (2, 5, 4)]),
                                         ("ij,jk,kl->li", [(3, 4), (4, 5), (5, 2)]),
                                         ("ii->i", [(4, 4)])])
def test_einsum_dtypes(dtype, subs, shapes, rng):
    xs = [rand_np(rng, s, dtype) for s in shapes]
    r = mx.einsum(subs, *[np_to_mx(x, dtype) for x in xs])
    assert r.dtype == dtype
    tol = {mx.float16: 2e-2, mx.bfloat16: 1e-1, mx.float32: 1e-5, mx.float64: 1e-12}[dtype]
    np.testing.assert_allclose(mx_to_np(r), np.einsum(subs, *[x.astype(np.float64) for x in xs]),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", ["T", "slice"])
def test_einsum_non_contiguous(kind, rng):
    x, y = rng.standard_normal((4, 6)), rng.standard_normal((6, 6))
    a, b = strided_copy(x.astype(np.float32), mx.float32, kind), strided_copy(y.astype(np.float32), mx.float32, kind)
    np.testing.assert_allclose(np.array(mx.einsum("ij,jk->ik", a, b)), x @ y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(mx.einsum("ii->i", b)), np.diag(y), rtol=1e-6)


def test_einsum_promotion_and_integers():
    a = mx.array(np.arange(9).reshape(3, 3), dtype=mx.int32)
    r = mx.einsum("ii->i", a)
    assert r.dtype == mx.int32 and r.tolist() == [0, 4, 8]
    assert mx.einsum("i,i->i", mx.array([1, 2, 3]), mx.array([4, 5, 6])).tolist() == [4, 10, 18]
    b = mx.ones((2, 3), dtype=mx.bool_)
    assert mx.einsum("ij->", b).dtype == mx.int32 and mx.einsum("ij->", b).item() == 6
    assert mx.einsum("ji", b).shape == (3, 2) and mx.einsum("ji", b).dtype == mx.bool_
    r = mx.einsum("ij,jk", mx.ones((2, 3), dtype=mx.float16), mx.ones((3, 4), dtype=mx.bfloat16))
    assert r.dtype == mx.float32
    c = mx.einsum("ij,jk", mx.ones((2, 3), dtype=mx.complex64), mx.ones((3, 4)))
    assert c.dtype == mx.complex64 and np.allclose(np.array(c), 3)
    # a contraction goes through matmul, which takes inexact types only (as MLX)
    with pytest.raises(ValueError, match=r"\[matmul\] Only inexact types"):
        mx.einsum("i,i", mx.array([1, 2]), mx.array([3, 4]))


def test_einsum_nan_inf():
    x = mx.array([[1.0, np.nan], [np.inf, 2.0]])
    r = np.array(mx.einsum("ii->i", x))
    assert r[0] == 1.0 and r[1] == 2.0
    s = np.array(mx.einsum("ij->i", x))
    assert np.isnan(s[0]) and np.isinf(s[1])


ERRORS = [
    ("ij,jk->ik", [(2, 3)], "Number of operands, 1, does not match number of input subscripts, 2"),
    ("i1,jk", [(2, 3), (3, 4)], "Subscripts must be letters, but got '1'."),
    ("ij->ii", [(2, 3)], "Repeat indices not allowed in output."),
    ("ij,jk->ik", [(2, 3), (2, 3)], r"Cannot broadcast dimension 0 of input 1 with shape \(2,3\) to size 3."),
    ("...i...,j", [(2, 3), (3, 4)], "Only one ellipsis per subscript is allowed but found more in '...i...'."),
    ("ijk", [(2, 3)], "Invalid number of subscripts 3 for input 0 with 2 dimensions."),
    ("ii", [(2, 3)], r"Dimensions of repeated subscripts do not have the same size \(2 != 3\)."),
    ("ij->j->i", [(2, 3)], "Subscripts must be letters, but got '-'."),
    ("..i", [(2, 3)], "Subscripts must be letters, but got '.'."),
    ("...ijk", [(2, 3)], r"Operand 0 with shape \(2,3\) has insufficient dimensions for subscript "
                        r"'...ijk'. The ellipsis requires at least 3 dimensions but the operand has 2"),
    ("i,j->ik", [(2,), (3,)], "Output subscript 'k' does not appear in any input."),
]


@pytest.mark.parametrize("subs,shapes,msg", ERRORS, ids=[e[0] for e in ERRORS])
def test_einsum_errors(subs, shapes, msg):
    with pytest.raises(ValueError, match=r"\[einsum\] " + msg):
        mx.einsum(subs, *[mx.ones(s) for s in shapes])
    with pytest.raises(ValueError, match=r"\[einsum_path\] " + msg):
        mx.einsum_path(subs, *[mx.ones(s) for s in shapes])


def test_einsum_no_operands():
    with pytest.raises(ValueError, match=r"\[einsum\] At least one operand is required."):
        mx.einsum("ij")
    with pytest.raises(TypeError):
        mx.einsum(mx.ones(3))
    with pytest.raises(TypeError):
        mx.einsum("i", mx.ones(3), bogus=1)


def _desc(subs, naive_s, opt_s, naive_c, opt_c):
    return (f"  Complete contraction:  {subs}\n         Naive scaling:  {naive_s}\n"
            f"     Optimized scaling:  {opt_s}\n      Naive FLOP count:  {naive_c}\n"
            f"  Optimized FLOP count:  {opt_c}\n")


# Made with Apple MLX 0.32 (mx.einsum_path on mx.ones of these shapes).
PATHS = [
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)], [(1, 2), (0, 1)], (4, 3, 360, 180)),
    ("ij,jk", [(2, 3), (3, 4)], [(0, 1)], (3, 3, 48, 48)),
    ("ij,jk,kl,lm->im", [(3, 3)] * 4, [(0, 1), (0, 1), (0, 1)], (5, 3, 972, 162)),
    ("ab,bc,cd,de,ef->af", [(2, 30), (30, 4), (4, 50), (50, 6), (6, 7)],
     [(2, 3), (0, 1), (0, 1), (0, 1)], (6, 3, 2520000, 3328)),
    ("ab,cd,ef->", [(2, 3), (4, 5), (6, 7)], [(1, 2), (0, 1)], (6, 4, 15120, 1692)),
    ("i,j,k,l", [(2,), (3,), (4,), (5,)], [(0, 1), (0, 1), (0, 1)], (4, 4, 360, 146)),
]


@pytest.mark.parametrize("subs,shapes,path,costs", PATHS, ids=[p[0] for p in PATHS])
def test_einsum_path_matches_mlx(subs, shapes, path, costs):
    p, desc = mx.einsum_path(subs, *[mx.ones(s) for s in shapes])
    assert p == path
    assert desc == _desc(subs, *costs)


def test_einsum_grad(rng):
    check_grad_n(lambda a, b: mx.einsum("ij,jk->ik", a, b),
                 [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))], rng)
    check_grad(lambda a: mx.einsum("ii->i", a), rng.standard_normal((3, 3)), rng)
    check_grad_n(lambda a, b, c: mx.einsum("ij,jk,kl->il", a, b, c),
                 [rng.standard_normal((2, 3)), rng.standard_normal((3, 4)),
                  rng.standard_normal((4, 2))], rng)
    check_grad_n(lambda a, b: mx.einsum("...i,...i->...", a, b),
                 [rng.standard_normal((2, 3)), rng.standard_normal((3,))], rng)


def test_einsum_vmap(rng):
    a, b = rng.standard_normal((5, 3, 4)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    r = mx.vmap(lambda x, y: mx.einsum("ij,jk->ki", x, y), in_axes=(0, None))(mx.array(a), mx.array(b))
    ref = np.stack([np.einsum("ij,jk->ki", a[i], b) for i in range(5)])
    np.testing.assert_allclose(np.array(r), ref, rtol=1e-5, atol=1e-5)
    r = mx.vmap(lambda x: mx.einsum("ii", x), in_axes=2)(mx.array(a[:, :3, :3].transpose(1, 2, 0).copy()))
    np.testing.assert_allclose(np.array(r), np.trace(a[:, :3, :3], axis1=1, axis2=2), rtol=1e-5)
