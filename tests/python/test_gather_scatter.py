"""take, take_along_axis, put_along_axis, and slice / slice_update with array starts
(spec/python-api.md section 9) against NumPy: every dtype, index arrays of every integer dtype,
negative axes, broadcasting, non-contiguous inputs, the defined out-of-range behaviour
(clamped reads, dropped writes, clamped dynamic windows), errors, and gradients against
central finite differences."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES

INDEX_DTYPES = [mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64]


def to_np(a):
    if a.dtype == mx.bfloat16:
        return np.array(a.astype(mx.float32))
    return np.array(a)


def sample(rng, shape, dt):
    if dt == mx.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dt in (mx.uint8, mx.uint16, mx.uint32, mx.uint64):
        return rng.integers(0, 40, shape)
    return rng.integers(-20, 20, shape)


def check_equal(got, ref, dt):
    g = to_np(got)
    np.testing.assert_array_equal(g.astype(np.complex128 if dt == mx.complex64 else np.float64),
                                  np.asarray(ref).astype(np.float64))


# ---- take ----

@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_take_every_dtype(rng, dt):
    x = sample(rng, (4, 5, 3), dt)
    a = mx.array(x).astype(dt)
    idx = rng.integers(-5, 5, (2, 3))
    for axis in [0, 1, 2, -1, -3]:
        n = x.shape[axis]
        i = np.clip(idx, -n, n - 1)
        got = mx.take(a, mx.array(i), axis=axis)
        assert got.dtype == dt
        check_equal(got, np.take(x, i, axis=axis), dt)
    flat = rng.integers(-60, 60, (7,))
    check_equal(mx.take(a, mx.array(flat)), np.take(x, flat), dt)


def test_take_index_forms(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    a = mx.array(x)
    for dt in INDEX_DTYPES:
        i = np.array([3, 0, 5, 5])
        np.testing.assert_array_equal(np.array(mx.take(a, mx.array(i).astype(dt), axis=1)), x[:, i])
    assert mx.take(a, 1).item() == x.flat[1]
    np.testing.assert_array_equal(np.array(mx.take(a, 2, axis=0)), x[2])
    np.testing.assert_array_equal(np.array(mx.take(a, -1, axis=0)), x[-1])
    np.testing.assert_array_equal(np.array(mx.take(a, mx.array(3), axis=1)), x[:, 3])
    assert mx.take(a, mx.array([], mx.int32), axis=1).shape == (4, 0)
    assert mx.take(mx.array(3.0), mx.array([0, 0])).tolist() == [3.0, 3.0]
    np.testing.assert_array_equal(np.array(mx.take(a.T, mx.array([1, 0]), axis=1)), x.T[:, [1, 0]])
    np.testing.assert_array_equal(np.array(mx.take(a[::2, ::-1], mx.array([[0], [4]]), axis=-1)),
                                  np.take(x[::2, ::-1], [[0], [4]], axis=-1))
    np.testing.assert_array_equal(np.array(mx.take(a, indices=mx.array([1]), axis=0)), x[[1]])


def test_take_errors():
    a = mx.zeros((3, 4))
    with pytest.raises(IndexError, match="invalid axis 2"):
        mx.take(a, mx.array([1]), axis=2)
    with pytest.raises(IndexError):
        mx.take(a, mx.array([1]), axis=-3)
    with pytest.raises(IndexError):
        mx.take(mx.array(3), mx.array([0]), axis=0)
    with pytest.raises(ValueError, match="integral"):
        mx.take(a, mx.array([1.0]))
    with pytest.raises(ValueError, match="Boolean"):
        mx.take(a, mx.array([True]))
    with pytest.raises(ValueError, match="empty axis"):
        mx.take(mx.zeros((0, 3)), mx.array([0]), axis=0)
    with pytest.raises(TypeError):
        mx.take(a, mx.array([0]), axis=[0, 1])
    with pytest.raises(TypeError):
        mx.take(a, indices=mx.array([0]), bad=1)


# ---- take_along_axis / put_along_axis ----

@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_take_along_axis_every_dtype(rng, dt):
    x = sample(rng, (3, 4, 5), dt)
    a = mx.array(x).astype(dt)
    for axis in [0, 1, 2, -1]:
        ishape = list(x.shape)
        ishape[axis] = 6
        i = rng.integers(0, x.shape[axis], ishape)
        got = mx.take_along_axis(a, mx.array(i), axis=axis)
        check_equal(got, np.take_along_axis(x, i, axis=axis), dt)
    i = rng.integers(-60, 60, (9,))
    check_equal(mx.take_along_axis(a, mx.array(i), axis=None), np.take_along_axis(x.ravel(), i, 0), dt)


def test_take_along_axis_broadcasting_and_forms(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    a = mx.array(x)
    i = np.array([[0, 1, 2]])
    np.testing.assert_array_equal(np.array(mx.take_along_axis(a, mx.array(i), axis=1)),
                                  np.take_along_axis(x, np.broadcast_to(i, (3, 3)), 1))
    i = np.array([[2], [0], [3]])
    ref = np.take_along_axis(x, i, 1)
    for dt in INDEX_DTYPES:
        np.testing.assert_array_equal(np.array(mx.take_along_axis(a, mx.array(i).astype(dt), 1)), ref)
    np.testing.assert_array_equal(np.array(mx.take_along_axis(a, mx.array(i - 4), 1)), ref)  # wraps
    xs = rng.standard_normal((1, 5)).astype(np.float32)  # a broadcast along the other dims
    i = rng.integers(0, 5, (4, 2))
    np.testing.assert_array_equal(np.array(mx.take_along_axis(mx.array(xs), mx.array(i), 1)),
                                  np.take_along_axis(np.broadcast_to(xs, (4, 5)), i, 1))
    np.testing.assert_array_equal(np.array(mx.take_along_axis(a.T, mx.array([[1, 0, 2]]), 0)),
                                  np.take_along_axis(x.T, np.array([[1, 0, 2]]), 0))
    with pytest.raises(ValueError, match="Indices of dimension 1"):
        mx.take_along_axis(a, mx.array([0, 1]), axis=0)
    with pytest.raises(ValueError, match="dimension 2 does not match array of dimension 1"):
        mx.take_along_axis(a, mx.array([[0, 1]]), axis=None)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        mx.take_along_axis(a, mx.array([[0, 1]]), axis=0)
    with pytest.raises(ValueError):
        mx.take_along_axis(a, mx.array([[0.0]]), axis=0)
    with pytest.raises(IndexError):
        mx.take_along_axis(a, mx.array([[0]]), axis=2)


@pytest.mark.parametrize("dt", ALL_DTYPES)
def test_put_along_axis_every_dtype(rng, dt):
    x = sample(rng, (4, 5, 3), dt)
    v = sample(rng, (4, 2, 3), dt)
    # distinct positions per line, so NumPy's last-wins order does not matter
    i = np.stack([np.stack([rng.permutation(5)[:2] for _ in range(3)], -1) for _ in range(4)])
    ref = x.copy()
    np.put_along_axis(ref, i, v, axis=1)
    got = mx.put_along_axis(mx.array(x).astype(dt), mx.array(i), mx.array(v).astype(dt), axis=1)
    assert got.dtype == dt
    check_equal(got, ref, dt)


def test_put_along_axis_forms(rng):
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    a = mx.array(x)
    got = mx.put_along_axis(a, mx.array([[0], [1], [2]]), mx.array(100), axis=1)
    assert got.tolist() == [[100, 1, 2, 3], [4, 100, 6, 7], [8, 9, 100, 11]]
    got = mx.put_along_axis(a, mx.array([[0], [1], [2]]), mx.array([[1.5]]), axis=1)
    assert got.dtype == mx.int32 and got.tolist()[0][0] == 1
    got = mx.put_along_axis(a, mx.array([0, 1]), mx.array([7, 8]), axis=None)
    assert got.shape == (3, 4) and got.tolist()[0] == [7, 8, 2, 3]
    got = np.array(mx.put_along_axis(a, mx.array([[0]]), mx.array([[1, 2, 3, 4, 5]]), axis=1))
    # several writes to one place: one of them wins (which one is unspecified, as in MLX)
    assert set(got[:, 0]) <= {1, 2, 3, 4, 5} and (got[:, 1:] == x[:, 1:]).all()
    got = mx.put_along_axis(a, mx.array([[-1], [-4], [1]]), mx.array([[9], [9], [9]]), axis=-1)
    assert got.tolist() == [[0, 1, 2, 9], [9, 5, 6, 7], [8, 9, 10, 11]]
    got = mx.put_along_axis(a.T, mx.array([[1, 0, 2]]), mx.array([[-5, -6, -7]]), axis=0)
    ref = x.T.copy()
    np.put_along_axis(ref, np.array([[1, 0, 2]]), np.array([[-5, -6, -7]]), 0)
    np.testing.assert_array_equal(np.array(got), ref)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        mx.put_along_axis(a, mx.array([[0, 1]]), mx.array([[7, 8], [9, 10]]), axis=1)
    with pytest.raises(ValueError, match="Indices of dimension"):
        mx.put_along_axis(a, mx.array([0]), mx.array([1]), axis=0)
    with pytest.raises(ValueError):
        mx.put_along_axis(a, mx.array([[0.5]]), mx.array([[1]]), axis=0)


# ---- dynamic slice / slice_update ----

def test_dynamic_slice(rng):
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    a = mx.array(x)
    for trial in range(40):
        axes = sorted(rng.choice(3, size=int(rng.integers(1, 4)), replace=False).tolist())
        size = [int(rng.integers(0, n + 1)) for n in x.shape]
        starts = [int(rng.integers(0, x.shape[d] - size[d] + 1)) for d in axes]
        dt = INDEX_DTYPES[int(rng.integers(0, len(INDEX_DTYPES)))]
        got = mx.slice(a, mx.array(starts).astype(dt), axes, size)
        sl = [slice(0, s) for s in size]
        for d, st in zip(axes, starts):
            sl[d] = slice(st, st + size[d])
        np.testing.assert_array_equal(np.array(got), x[tuple(sl)])
    got = mx.slice(a, mx.array(1), [-2], [4, 2, 6])
    np.testing.assert_array_equal(np.array(got), x[:, 1:3, :])
    got = mx.slice(a.T, start_indices=mx.array([2, 1]), axes=(0, 2), slice_size=(3, 5, 2))
    np.testing.assert_array_equal(np.array(got), x.T[2:5, :, 1:3])


def test_dynamic_slice_clamps_out_of_range_starts():
    # Documented choice: a start wraps once when negative, then the window is clamped inside.
    x = np.arange(20).reshape(4, 5)
    a = mx.array(x)
    assert mx.slice(a, mx.array([3]), [0], [2, 5]).tolist() == x[2:4].tolist()
    assert mx.slice(a, mx.array([-1]), [0], [2, 5]).tolist() == x[2:4].tolist()
    assert mx.slice(a, mx.array([-100]), [0], [2, 5]).tolist() == x[0:2].tolist()
    assert mx.slice(a, mx.array([10**6, -3]), [0, 1], [1, 2]).tolist() == x[3:4, 2:4].tolist()
    up = mx.slice_update(a, mx.zeros((2, 2), mx.int32) - 1, mx.array([3, 4]), [0, 1])
    ref = x.copy()
    ref[2:4, 3:5] = -1
    np.testing.assert_array_equal(np.array(up), ref)


def test_dynamic_slice_update(rng):
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    for trial in range(30):
        axes = sorted(rng.choice(3, size=int(rng.integers(1, 4)), replace=False).tolist())
        ushape = [int(rng.integers(1, n + 1)) for n in x.shape]
        starts = [int(rng.integers(0, x.shape[d] - ushape[d] + 1)) for d in axes]
        u = rng.standard_normal(ushape).astype(np.float32)
        got = mx.slice_update(mx.array(x), mx.array(u), mx.array(starts), axes)
        ref = x.copy()
        sl = [slice(0, s) for s in ushape]
        for d, st in zip(axes, starts):
            sl[d] = slice(st, st + ushape[d])
        ref[tuple(sl)] = u
        np.testing.assert_array_equal(np.array(got), ref)
    a = mx.array(np.arange(20, dtype=np.int32).reshape(4, 5))
    got = mx.slice_update(a, mx.array([-1, -1]), mx.array([1, 3]), [0, 1])  # rank padded with 1s
    assert got.tolist()[1] == [5, 6, 7, -1, -1] and got.tolist()[2] == [10, 11, 12, 13, 14]
    got = mx.slice_update(a, mx.array(-1.5), mx.array([1, 3]), [0, 1])
    assert got.dtype == mx.int32 and got.tolist()[1][3] == -1


def test_dynamic_slice_errors():
    a = mx.zeros((4, 5))
    with pytest.raises(ValueError, match="Invalid slice size"):
        mx.slice(a, mx.array([1]), [0], [2])
    with pytest.raises(ValueError, match="Invalid slice size"):
        mx.slice(a, mx.array([1]), [0], [5, 5])
    with pytest.raises(ValueError, match="must be integers"):
        mx.slice(a, mx.array([1.0]), [0], [2, 5])
    with pytest.raises(IndexError, match="Invalid axis 2"):
        mx.slice(a, mx.array([1]), [2], [2, 5])
    with pytest.raises(ValueError, match="does not match number of axes"):
        mx.slice(a, mx.array([1, 1]), [0], [2, 5])
    with pytest.raises(ValueError, match="zero or one dimensional"):
        mx.slice(a, mx.array([[1]]), [0], [2, 5])
    with pytest.raises(ValueError, match="does not fit"):
        mx.slice_update(a, mx.zeros((5, 5)), mx.array([0]), [0])
    with pytest.raises(ValueError):
        mx.slice_update(a, mx.zeros((1, 2, 2)), mx.array([1, 3]), [0, 1])


# ---- out-of-range indices never crash ----

def test_out_of_range_indices_are_defined(rng):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    a = mx.array(x)
    big = [7, -9, 2**31 - 1, -(2**31), 100]
    got = mx.take(a, mx.array(big), axis=0)
    np.testing.assert_array_equal(np.array(got), x[[4, 0, 4, 0, 4]])
    got = mx.take_along_axis(a, mx.array([[10], [-10], [3], [-1], [4]]), axis=1)
    np.testing.assert_array_equal(np.array(got)[:, 0], [x[0, 3], x[1, 0], x[2, 3], x[3, 3], x[4, 3]])
    got = mx.put_along_axis(a, mx.array([[10], [-10], [3], [-1], [4]]), mx.array(0.0), axis=1)
    ref = x.copy()
    ref[2, 3] = ref[3, 3] = 0.0  # out-of-range writes are dropped
    np.testing.assert_array_equal(np.array(got), ref)
    u = mx.array(np.full((200, 4), 9.0, np.float32))
    for dt in INDEX_DTYPES:
        i = mx.array(rng.integers(0, 127, 200)).astype(dt)
        mx.eval(mx.take(a, i, axis=0), a.at[i].add(u), mx.take_along_axis(a, i.reshape(50, 4), 0))


# ---- inputs that may share the output's memory (donation of an index or value buffer) ----

def test_donated_index_and_value_buffers():
    for _ in range(20):
        x = mx.array(np.zeros(4, np.float32))
        keep = x[...]  # x's buffer has another reference, so it cannot be donated
        idx = mx.array(np.array([3, 2, 1, 0], np.int32)) + 0
        vals = mx.array(np.array([1, 2, 3, 4], np.float32)) * 1
        mx.eval(idx, vals)
        out = mx.put_along_axis(x, idx, vals, axis=0)
        del idx, vals
        assert out.tolist() == [4, 3, 2, 1]
        y = x[...]
        vals = mx.array(np.array([5, 6, 7, 8], np.float32)) * 1
        mx.eval(vals)
        y[mx.array([3, 2, 1, 0])] = vals
        del vals
        assert y.tolist() == [8, 7, 6, 5]
        z = mx.slice_update(x, mx.array(np.ones(4, np.float32)) * 2, mx.array([0]), [0])
        assert z.tolist() == [2, 2, 2, 2]
        del keep


# ---- gradients ----

def finite_diff(f, x, eps=1e-3):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def check_grad(f_np, f_mx, x, argnums=0, other=()):
    args = [mx.array(v, mx.float32) for v in (x,) + tuple(other)]
    g = mx.grad(f_mx, argnums=argnums)(*args)
    vals = (x,) + tuple(other)

    def fn(v):
        a = list(vals)
        a[argnums] = v
        return f_np(*a)

    np.testing.assert_allclose(np.array(g), finite_diff(fn, vals[argnums]), rtol=2e-3, atol=2e-3)


def test_grad_take_and_along_axis(rng):
    x = rng.standard_normal((4, 5))
    w = rng.standard_normal((4, 3))
    i = np.array([[0, 4, 4], [1, 1, 0], [3, 2, 1], [0, 0, 0]])
    W = mx.array(w, mx.float32)
    check_grad(lambda v: float(np.sum(w * np.take_along_axis(v, i, 1) ** 2)),
               lambda v: (W * mx.take_along_axis(v, mx.array(i), 1) * mx.take_along_axis(v, mx.array(i), 1)).sum(), x)
    j = np.array([2, 2, -1, 0])
    check_grad(lambda v: float(np.sum(np.take(v, j, axis=1) * w[:, :1])),
               lambda v: (mx.take(v, mx.array(j), axis=1) * W[:, :1]).sum(), x)
    def cube_taken(v):
        t = mx.take(v, mx.array([3, 3, 17]))
        return (t * t * t).sum()

    check_grad(lambda v: float(np.sum(np.take(v, [3, 3, 17]) ** 3)), cube_taken, x)


def test_grad_put_along_axis(rng):
    x = rng.standard_normal((3, 4))
    v = rng.standard_normal((3, 2))
    w = rng.standard_normal((3, 4))
    i = np.array([[0, 2], [3, 1], [2, 0]])
    W = mx.array(w, mx.float32)

    def f_np(a, b):
        a = a.copy()
        np.put_along_axis(a, i, b * b, 1)
        return float(np.sum(w * a * a))

    def f_mx(a, b):
        r = mx.put_along_axis(a, mx.array(i), b * b, axis=1)
        return (W * r * r).sum()

    check_grad(f_np, f_mx, x, 0, (v,))
    check_grad(f_np, f_mx, x, 1, (v,))


def test_grad_dynamic_slices(rng):
    x = rng.standard_normal((4, 5))
    u = rng.standard_normal((2, 3))
    w = rng.standard_normal((4, 5))
    W = mx.array(w, mx.float32)
    st = mx.array([1, 2])

    def f_np(a, b):
        a = a.copy()
        s = a[1:3, 2:5].copy()
        a[1:3, 2:5] = b * s
        return float(np.sum(w * a))

    def f_mx(a, b):
        s = mx.slice(a, st, [0, 1], [2, 3])
        return (W * mx.slice_update(a, b * s, st, [0, 1])).sum()

    check_grad(f_np, f_mx, x, 0, (u,))
    check_grad(f_np, f_mx, x, 1, (u,))


def test_jvp_and_second_order(rng):
    x = mx.array([1.0, 2.0, 3.0, 4.0])
    idx = mx.array([3, 3, 0])
    out, (t,) = mx.jvp(lambda v: [mx.take(v, idx) * mx.take(v, idx)], [x], [mx.array([1.0, 0.0, 0.0, 1.0])])
    assert out[0].tolist() == [16.0, 16.0, 1.0] and t.tolist() == [8.0, 8.0, 2.0]
    # d/dx of sum(grad(f)) for f = sum(take(x)^3): f'' at the taken entries
    f = lambda v: (mx.take(v, idx) * mx.take(v, idx) * mx.take(v, idx)).sum()
    h = mx.grad(lambda v: mx.grad(f)(v).sum())(x)
    assert h.tolist() == [6.0, 0.0, 0.0, 48.0]
    _, (t,) = mx.jvp(lambda v: [mx.put_along_axis(v, mx.array([1]), v[3:] * 5, axis=0)], [x],
                     [mx.array([1.0, 1.0, 1.0, 1.0])])
    assert t.tolist() == [1.0, 5.0, 1.0, 1.0]
    _, (t,) = mx.jvp(lambda v: [mx.slice(v, mx.array([2]), [0], [2])], [x], [mx.array([1.0, 2.0, 3.0, 4.0])])
    assert t.tolist() == [3.0, 4.0]
