"""Shape ops against NumPy (spec/python-api.md section 5): flatten, unflatten, squeeze,
expand_dims, atleast_Nd, broadcast_arrays/broadcast_shapes, concatenate/concat, stack,
unstack, split, repeat, tile, flip, roll, meshgrid, permute_dims/matrix_transpose and the
array methods; every dtype, non-contiguous inputs, empty and size-1 dims, negative axes,
MLX's errors, and gradients against finite differences."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES
from layout_helpers import (assert_same, check_grad, check_grad_n, np_to_mx, rand_np,
                            strided_copy)

KINDS = ["plain", "T", "slice"]

# ---------------------------------------------------------------------------------------
# flatten / unflatten / squeeze / expand_dims


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_flatten_all_dtypes(dtype, kind, rng):
    x = rand_np(rng, (2, 3, 4), dtype)
    a = strided_copy(x, dtype, kind)
    assert_same(mx.flatten(a), x.reshape(-1), dtype)
    assert_same(mx.flatten(a, 1), x.reshape(2, 12), dtype)
    assert_same(a.flatten(0, 1), x.reshape(6, 4), dtype)
    assert_same(mx.flatten(a, start_axis=-2, end_axis=-1), x.reshape(2, 12), dtype)


def test_flatten_edges():
    a = mx.zeros((2, 0, 3))
    assert mx.flatten(a).shape == (0,)
    assert mx.flatten(mx.array(5)).shape == (1,)
    assert mx.flatten(mx.array(5), 3, 4).shape == (1,)
    assert mx.flatten(a, -5).shape == (0,)           # clamped
    assert mx.flatten(a, 0, 7).shape == (0,)
    assert mx.flatten(a, 1, 1).shape == (2, 0, 3)
    for args in [(1, 0), (5,), (0, -7)]:
        with pytest.raises(ValueError, match=r"\[flatten\] start_axis must be less"):
            mx.flatten(a, *args)


def test_unflatten(rng):
    x = rand_np(rng, (2, 6, 3), mx.float32)
    a = mx.array(x)
    assert_same(mx.unflatten(a, 1, (2, 3)), x.reshape(2, 2, 3, 3))
    assert_same(mx.unflatten(a, -2, (3, -1)), x.reshape(2, 3, 2, 3))
    assert_same(mx.unflatten(a, 0, [2]), x)
    assert mx.unflatten(mx.zeros((2, 0)), 1, (-1, 3)).shape == (2, 0, 3)
    with pytest.raises(ValueError, match=r"\[Unflatten\] Cannot unflatten axis 1 with size 6"):
        mx.unflatten(a, 1, (4, 2))
    with pytest.raises(ValueError, match="Can only infer one dimension"):
        mx.unflatten(a, 1, (-1, -1))
    with pytest.raises(ValueError, match="cannot be empty"):
        mx.unflatten(a, 1, ())
    with pytest.raises(IndexError, match=r"\[unflatten\] Invalid axes 3"):
        mx.unflatten(a, 3, (6,))
    with pytest.raises(ValueError):  # MLX divides by zero here
        mx.unflatten(mx.zeros((2, 0)), 1, (0, -1))
    with pytest.raises(ValueError):
        mx.unflatten(a, 1, (-2, -3))


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_squeeze_expand_dims_all_dtypes(dtype, rng):
    x = rand_np(rng, (1, 3, 1, 2), dtype)
    a = np_to_mx(x, dtype)
    assert_same(mx.squeeze(a), np.squeeze(x), dtype)
    assert_same(a.squeeze(2), np.squeeze(x, 2), dtype)
    assert_same(mx.squeeze(a, (0, -2)), np.squeeze(x, (0, 2)), dtype)
    assert_same(mx.expand_dims(a, (0, -1)), np.expand_dims(x, (0, -1)), dtype)
    assert_same(mx.expand_dims(a, 2), np.expand_dims(x, 2), dtype)


def test_squeeze_errors():
    a = mx.zeros((1, 2, 1))
    assert mx.squeeze(a, ()).shape == (1, 2, 1)
    assert mx.squeeze(mx.zeros((2, 3))).shape == (2, 3)
    assert mx.squeeze(mx.array(1.0)).shape == ()
    with pytest.raises(ValueError, match="Cannot squeeze axis 1 with size 2 which is not equal"):
        mx.squeeze(a, 1)
    with pytest.raises(IndexError, match=r"\[squeeze\] Axis 4 is out of bounds for array with 3"):
        mx.squeeze(a, 4)
    with pytest.raises(ValueError, match="duplicate"):
        mx.squeeze(a, (0, -3))


def test_expand_dims_errors():
    a = mx.zeros((2, 3))
    assert mx.expand_dims(a, ()).shape == (2, 3)
    assert mx.expand_dims(a, (0, 3)).shape == (1, 2, 3, 1)
    assert mx.expand_dims(a, -1).shape == (2, 3, 1)
    with pytest.raises(ValueError, match="duplicate"):
        mx.expand_dims(a, (0, 0))
    with pytest.raises(ValueError, match="duplicate"):
        mx.expand_dims(a, (0, -4))
    with pytest.raises(IndexError, match=r"Axis 5 is out of bounds for array with 4 dimensions"):
        mx.expand_dims(a, (0, 5))
    with pytest.raises(IndexError, match=r"Axis 5 is out of bounds for array with 3 dimensions"):
        mx.expand_dims(a, 5)


def test_reshaping_grads(rng):
    x = rng.standard_normal((2, 3, 4))
    check_grad(lambda a: mx.flatten(a, 1), x, rng)
    check_grad(lambda a: mx.unflatten(a, 2, (2, 2)), x, rng)
    check_grad(lambda a: mx.squeeze(mx.expand_dims(a, (0, 2)), 0), x, rng)
    check_grad(lambda a: mx.flatten(a.T), x, rng)


# ---------------------------------------------------------------------------------------
# atleast, broadcast_arrays, broadcast_shapes, meshgrid


def test_atleast():
    for n, np_f, mx_f in [(1, np.atleast_1d, mx.atleast_1d), (2, np.atleast_2d, mx.atleast_2d),
                          (3, np.atleast_3d, mx.atleast_3d)]:
        for shape in [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4), (0,)]:
            x = np.zeros(shape, np.float32)
            assert mx_f(mx.array(x)).shape == np_f(x).shape
        out = mx_f(mx.array(1), mx.zeros((2,)))
        assert isinstance(out, list) and [o.shape for o in out] == [np_f(1).shape, np_f(np.zeros(2)).shape]
        assert mx_f() == []
        with pytest.raises(TypeError):
            mx_f(mx.array(1), stream=3)
    a = mx.array([[1, 2]])
    assert mx.atleast_2d(a) is not None and mx.atleast_2d(a).tolist() == [[1, 2]]


def test_broadcast_shapes():
    assert mx.broadcast_shapes((2, 1), (3,)) == (2, 3)
    assert mx.broadcast_shapes([2], [3, 1]) == (3, 2)
    assert mx.broadcast_shapes((2,)) == (2,)
    assert mx.broadcast_shapes((), (0, 1), (4,)) == (0, 4)
    with pytest.raises(ValueError, match=r"\[broadcast_shapes\] Shapes \(2,1\) and \(3,2\)"):
        mx.broadcast_shapes((2, 1), (3, 2))
    with pytest.raises(ValueError, match="at least one shape"):
        mx.broadcast_shapes()
    with pytest.raises(TypeError):
        mx.broadcast_shapes(2, 3)


@pytest.mark.parametrize("dtype", [mx.bool_, mx.int16, mx.float16, mx.complex64], ids=str)
def test_broadcast_arrays(dtype, rng):
    x, y = rand_np(rng, (2, 1, 3), dtype), rand_np(rng, (4, 1), dtype)
    outs = mx.broadcast_arrays(np_to_mx(x, dtype), np_to_mx(y, dtype))
    assert isinstance(outs, list) and len(outs) == 2
    for o, e in zip(outs, np.broadcast_arrays(x, y)):
        assert_same(o, e, dtype)
    assert mx.broadcast_arrays() == []
    one = mx.broadcast_arrays(mx.zeros((2,)))
    assert isinstance(one, list) and one[0].shape == (2,)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        mx.broadcast_arrays(mx.zeros((2, 3)), mx.zeros((4, 2)))


def test_broadcast_arrays_grad(rng):
    x, y = rng.standard_normal((2, 1, 3)), rng.standard_normal((4, 1))
    check_grad_n(lambda a, b: mx.broadcast_arrays(a, b)[0] * 2 + mx.broadcast_arrays(a, b)[1],
                 [x, y], rng)


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse, rng):
    xs = [rng.standard_normal(n).astype(np.float32) for n in (2, 3, 4)]
    for k in (1, 2, 3):
        got = mx.meshgrid(*[mx.array(v) for v in xs[:k]], sparse=sparse, indexing=indexing)
        want = np.meshgrid(*xs[:k], sparse=sparse, indexing=indexing)
        assert isinstance(got, tuple) and len(got) == k
        for g, w in zip(got, want):
            assert_same(g, w)
    assert mx.meshgrid() == ()
    got = mx.meshgrid(mx.zeros((2, 2)), mx.array([1, 2, 3]))  # inputs are flattened
    assert [g.shape for g in got] == [(3, 4), (3, 4)] and got[1].dtype == mx.int32
    with pytest.raises(ValueError, match="Invalid indexing value"):
        mx.meshgrid(mx.zeros(2), indexing="foo")


# ---------------------------------------------------------------------------------------
# concatenate / stack / unstack / split


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_concatenate_all_dtypes(dtype, kind, rng):
    xs = [rand_np(rng, (2, n, 3), dtype) for n in (1, 0, 4)]
    arrs = [strided_copy(x, dtype, kind) for x in xs]
    assert_same(mx.concatenate(arrs, axis=1), np.concatenate(xs, 1), dtype)
    assert_same(mx.concatenate(arrs, -2), np.concatenate(xs, 1), dtype)
    assert_same(mx.concatenate(arrs, None), np.concatenate([x.reshape(-1) for x in xs]), dtype)
    ys = [rand_np(rng, (n, 3), dtype) for n in (2, 3)]
    assert_same(mx.concat([np_to_mx(y, dtype) for y in ys]), np.concatenate(ys), dtype)


def test_concatenate_promotes_and_broadcast_inputs():
    a = mx.array([[1, 2, 3]], dtype=mx.int8)
    b = mx.broadcast_to(mx.array([0.5, 1.5, 2.5], dtype=mx.float16), (2, 3))
    r = mx.concatenate([a, b])
    assert r.dtype == mx.float16
    np.testing.assert_array_equal(np.array(r), [[1, 2, 3], [0.5, 1.5, 2.5], [0.5, 1.5, 2.5]])
    r = mx.concatenate([mx.array([True]), mx.array([2], dtype=mx.uint8)])
    assert r.dtype == mx.uint8 and r.tolist() == [1, 2]


def test_concatenate_errors():
    a = mx.zeros((2, 3))
    assert mx.concatenate([a], 3).shape == (2, 3)          # one array: returned as is
    assert mx.concatenate([mx.array(1), mx.array(2)], None).tolist() == [1, 2]
    with pytest.raises(ValueError, match=r"provided shapes are \(2,3\), \(3,2\), and the"):
        mx.concatenate([a, mx.zeros((3, 2))], 1)
    with pytest.raises(ValueError, match="same number of dimensions.*dimensions 2 and 1"):
        mx.concatenate([a, mx.zeros((2,))], 0)
    with pytest.raises(ValueError, match="No arrays provided for concatenation"):
        mx.concatenate([], 0)
    with pytest.raises(IndexError, match=r"\[concatenate\] Axis 3 is out of bounds for array with 2"):
        mx.concatenate([a, a], 3)
    with pytest.raises(IndexError, match="Axis 0 is out of bounds for array with 0 dimensions"):
        mx.concatenate([mx.array(1), mx.array(2)], 0)
    with pytest.raises(TypeError):
        mx.concatenate(arrays=[a, a])


@pytest.mark.parametrize("dtype", [mx.bool_, mx.uint64, mx.int8, mx.float32, mx.bfloat16,
                                   mx.complex64], ids=str)
def test_stack_unstack(dtype, rng):
    xs = [rand_np(rng, (2, 3), dtype) for _ in range(3)]
    arrs = [strided_copy(x, dtype, "T") for x in xs]
    for axis in (0, 1, 2, -1, -3):
        assert_same(mx.stack(arrs, axis), np.stack(xs, axis), dtype)
    assert_same(mx.stack(arrs, None), np.stack(xs), dtype)
    s = mx.stack(arrs, 1)
    parts = mx.unstack(s, axis=1)
    assert isinstance(parts, tuple) and len(parts) == 3
    for p, x in zip(parts, xs):
        assert_same(p, x, dtype)
    assert mx.unstack(mx.zeros((0, 2))) == ()
    with pytest.raises(IndexError, match=r"\[stack\] Axis 3 is out of bounds for array with 3"):
        mx.stack(arrs, 3)
    with pytest.raises(ValueError, match="same shape"):
        mx.stack([mx.zeros((2, 3)), mx.zeros((2, 2))])
    with pytest.raises(ValueError, match="No arrays provided for stacking"):
        mx.stack([])
    with pytest.raises(IndexError, match=r"\[unstack\] Axis 2 is out of bounds"):
        mx.unstack(mx.zeros((2, 3)), axis=2)
    with pytest.raises(IndexError):
        mx.unstack(mx.array(1))


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_split_all_dtypes(dtype, rng):
    x = rand_np(rng, (4, 6), dtype)
    a = strided_copy(x, dtype, "slice")
    for got, want in zip(mx.split(a, 3, axis=1), np.split(x, 3, 1)):
        assert_same(got, want, dtype)
    for idx in ([1, 4], [-1], [2, 1], [5, 9], [0], []):
        got = a.split(idx, 1)
        want = np.split(x, idx, 1)
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w, dtype)


def test_split_errors():
    a = mx.zeros((2, 3))
    assert [p.shape for p in mx.split(mx.zeros((0, 3)), 2)] == [(0, 3), (0, 3)]
    assert [p.shape for p in mx.split(a, (1,), axis=-1)] == [(2, 1), (2, 2)]
    with pytest.raises(ValueError, match="Array split does not result in sub arrays with equal size"):
        mx.split(a, 4, 1)
    with pytest.raises(ValueError, match="num_splits must be positive"):
        mx.split(a, 0, 1)
    with pytest.raises(IndexError, match=r"\[split\] Axis 2 is out of bounds"):
        mx.split(a, 2, 2)
    with pytest.raises(IndexError):
        mx.split(mx.array(1), 1)
    with pytest.raises(TypeError):
        mx.split(a, 1.5)


def test_join_split_grads(rng):
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 2))
    check_grad_n(lambda a, b: mx.concatenate([a, b, a], axis=1), [x, y], rng)
    check_grad_n(lambda a, b: mx.concatenate([a, b], axis=None), [x, y], rng)
    check_grad_n(lambda a, b: mx.stack([a, a * b[:, :1]], axis=1), [x, y], rng)
    check_grad(lambda a: mx.split(a, [1], axis=1)[1] * 3, x, rng)
    check_grad(lambda a: mx.unstack(a, axis=1)[2], x, rng)


# ---------------------------------------------------------------------------------------
# repeat / tile / flip / roll


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_repeat_tile_all_dtypes(dtype, rng):
    x = rand_np(rng, (2, 3), dtype)
    a = strided_copy(x, dtype, "slice")
    assert_same(mx.repeat(a, 2, 1), np.repeat(x, 2, 1), dtype)
    assert_same(mx.repeat(a, 3), np.repeat(x, 3), dtype)
    assert_same(mx.repeat(a, 0, -2), np.repeat(x, 0, 0), dtype)
    assert_same(mx.tile(a, 2), np.tile(x, 2), dtype)
    assert_same(mx.tile(a, (2, 1, 3)), np.tile(x, (2, 1, 3)), dtype)
    assert_same(mx.tile(a, ()), np.tile(x, ()), dtype)
    assert_same(mx.tile(a, 0), np.tile(x, 0), dtype)


def test_repeat_tile_errors():
    a = mx.zeros((2, 3))
    assert mx.repeat(mx.array(3), 2).tolist() == [3, 3]
    assert mx.repeat(a, 0).shape == (0,)
    assert mx.tile(mx.array(3), (2, 2)).tolist() == [[3, 3], [3, 3]]
    with pytest.raises(ValueError, match="Number of repeats cannot be negative"):
        mx.repeat(a, -1, 1)
    with pytest.raises(IndexError, match=r"\[repeat\] Axis 2 is out of bounds"):
        mx.repeat(a, 2, 2)
    with pytest.raises(IndexError):
        mx.repeat(mx.array(3), 2, 0)
    with pytest.raises(ValueError, match="Negative dimensions not allowed"):
        mx.tile(a, -1)
    with pytest.raises(TypeError):
        mx.tile(a, reps=2)  # reps is positional-only
    with pytest.raises(TypeError):
        mx.repeat(array=a, repeats=2)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_flip_roll_all_dtypes(dtype, rng):
    x = rand_np(rng, (3, 4, 2), dtype)
    a = strided_copy(x, dtype, "T")
    assert_same(mx.flip(a), np.flip(x), dtype)
    assert_same(mx.flip(a, 1), np.flip(x, 1), dtype)
    assert_same(mx.flip(a, (0, -1)), np.flip(x, (0, 2)), dtype)
    assert_same(mx.roll(a, 5), np.roll(x, 5), dtype)
    assert_same(mx.roll(a, -2, 1), np.roll(x, -2, 1), dtype)
    assert_same(mx.roll(a, (1, 7), (0, 2)), np.roll(x, (1, 7), (0, 2)), dtype)
    assert_same(mx.roll(a, 3, (0, 1)), np.roll(x, 3, (0, 1)), dtype)


def test_roll_semantics():
    a = mx.array([[0, 1, 2], [3, 4, 5]])
    x = np.array(a)
    assert mx.roll(a, (1, 2)).tolist() == np.roll(x, 3).tolist()      # shifts add up
    assert mx.roll(a, (1, 2), 1).tolist() == np.roll(x, 3, 1).tolist()
    assert mx.roll(a, (1, 2, 3), (0, 1)).tolist() == np.roll(x, (1, 2), (0, 1)).tolist()
    assert mx.roll(a, (1, 2), ()).tolist() == x.tolist()
    assert mx.roll(a, 1, (0, 0)).tolist() == x.tolist()               # axis 0 twice
    assert mx.roll(a, 2**31 - 1, 1).tolist() == np.roll(x, 2**31 - 1, 1).tolist()
    assert mx.roll(mx.array(3), 1).tolist() == 3
    assert mx.roll(mx.zeros((0, 3)), 1, 0).shape == (0, 3)
    assert mx.roll(a, shift=1, axis=-1).tolist() == np.roll(x, 1, -1).tolist()
    with pytest.raises(ValueError, match="At least one shift value per axis is required, 1 provided for 2"):
        mx.roll(a, (1,), (0, 1))
    with pytest.raises(IndexError, match=r"\[roll\] Invalid axis 2 for array with 2 dimensions"):
        mx.roll(a, 1, 2)


def test_flip_edges():
    assert mx.flip(mx.array(3)).tolist() == 3
    assert mx.flip(mx.zeros((0, 2)), 0).shape == (0, 2)
    a = mx.array([[0, 1, 2], [3, 4, 5]])
    assert mx.flip(a, (0, 0)).tolist() == [[3, 4, 5], [0, 1, 2]]  # as MLX: flipped once
    with pytest.raises(IndexError, match=r"\[flip\] Axis 2 is out of bounds"):
        mx.flip(a, 2)


def test_repeat_tile_flip_roll_grads(rng):
    x = rng.standard_normal((2, 3))
    check_grad(lambda a: mx.repeat(a, 3, 1), x, rng)
    check_grad(lambda a: mx.repeat(a, 2), x, rng)
    check_grad(lambda a: mx.tile(a, (2, 1, 2)), x, rng)
    check_grad(lambda a: mx.flip(a, 1) * a, x, rng)
    check_grad(lambda a: mx.roll(a, (1, 2), (0, 1)) * a, x, rng)
    check_grad(lambda a: mx.roll(a, 4), x, rng)


def test_grad_of_grad_through_concatenate(rng):
    x = mx.array(rng.standard_normal(3).astype(np.float32))

    def f(a):
        c = mx.concatenate([a, a * a])
        return (c * c).sum()

    # f = sum(a^2) + sum(a^4): f'' = 2 + 12 a^2
    g2 = mx.grad(lambda a: mx.grad(f)(a).sum())(x)
    np.testing.assert_allclose(np.array(g2), 2 + 12 * np.array(x) ** 2, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# aliases and methods


def test_permute_dims_and_matrix_transpose(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    a = mx.array(x)
    assert_same(mx.permute_dims(a), x.transpose())
    assert_same(mx.permute_dims(a, (1, 0, 2)), x.transpose(1, 0, 2))
    assert_same(mx.matrix_transpose(a), x.transpose())  # bound to transpose (spec section 5)
    assert_same(mx.matrix_transpose(a, axes=(0, 2, 1)), x.transpose(0, 2, 1))


def test_methods_and_signatures():
    a = mx.zeros((1, 2, 3))
    assert a.flatten().shape == (6,) and a.flatten(start_axis=1).shape == (1, 6)
    assert a.squeeze().shape == (2, 3) and a.squeeze(axis=0).shape == (2, 3)
    assert [p.shape for p in a.split(3, axis=2)] == [(1, 2, 1)] * 3
    with pytest.raises(TypeError):
        mx.flatten(a=a)  # a is positional-only
    with pytest.raises(TypeError):
        mx.squeeze(a, 0, 1)
    with pytest.raises(TypeError):
        mx.unstack(a, 0)  # axis is keyword-only


def test_slice_update_does_not_take_over_the_update():
    # SliceUpdate may reuse only its source's buffer: the update of the same size must stay
    # intact (flip's vjp is a slice_update of a temporary cotangent).
    x = mx.zeros((2, 3))
    x[:, ::-1] = mx.array([[0.0, 1, 2], [3, 4, 5]])
    assert x.tolist() == [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]
    cot = mx.array(np.arange(6.0).reshape(2, 3), dtype=mx.float32)
    (g,) = mx.vjp(lambda a: mx.flip(a, 1), [mx.ones((2, 3))], [cot * 1])[1]
    assert g.tolist() == [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]
