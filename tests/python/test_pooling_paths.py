"""The fast paths behind pooling and training steps, against NumPy float64 references and
the unfused ops: pooling layers whose windows tile the input (values, gradients with ties,
NaN, every float dtype, vmap), reductions whose short contiguous kept runs read the reduced
elements from a table (every dtype, odd tails, NaN/inf, strided inputs) and compiled
element-wise kernels reading transposed, sliced and broadcast inputs (every element size)."""
import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from conftest import ALL_DTYPES, NP_DTYPES, assert_close, tolerance

FLOATS = [mx.float16, mx.bfloat16, mx.float32, mx.float64]


def f64(a):
    return np.array(a.astype(mx.float32) if a.dtype == mx.bfloat16 else a).astype(np.float64)


def np_pool_tiles(x, k, reduce):
    """x (N, *spatial, C) in tiles of k (divisible): reduce over each tile."""
    nd = x.ndim - 2
    shape = [x.shape[0]]
    for s, w in zip(x.shape[1:-1], k):
        shape += [s // w, w]
    shape.append(x.shape[-1])
    return reduce(x.reshape(shape), axis=tuple(range(2, 2 * nd + 1, 2)))


def np_maxpool_grad(x, k, g):
    """MLX's max vjp: the cotangent shared equally among each tile's maxima."""
    nd = x.ndim - 2
    shape = [x.shape[0]]
    for s, w in zip(x.shape[1:-1], k):
        shape += [s // w, w]
    shape.append(x.shape[-1])
    axes = tuple(range(2, 2 * nd + 1, 2))
    xs = x.reshape(shape)
    mask = (xs == xs.max(axis=axes, keepdims=True)).astype(np.float64)
    count = mask.sum(axis=axes, keepdims=True)
    return (np.expand_dims(g, axes) / count * mask).reshape(x.shape)


LAYERS = [
    (nn.MaxPool1d, (2,), (3, 8, 5)),
    (nn.AvgPool1d, (4,), (2, 12, 3)),
    (nn.MaxPool2d, (2, 2), (4, 6, 10, 16)),
    (nn.AvgPool2d, (2, 3), (2, 4, 9, 17)),
    (nn.MaxPool2d, (3, 1), (2, 9, 4, 33)),
    (nn.MaxPool3d, (2, 2, 2), (2, 4, 2, 6, 3)),
    (nn.AvgPool3d, (1, 2, 2), (1, 3, 4, 4, 2)),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("cls,k,shape", LAYERS)
def test_tiled_pool_values(cls, k, shape, dtype, rng):
    is_max = cls.__name__.startswith("Max")
    x = mx.array(rng.normal(size=shape)).astype(dtype)
    expect = np_pool_tiles(f64(x), k, np.max if is_max else np.mean)
    assert_close(cls(k)(x), expect)
    # a transposed (non-contiguous) input
    xt = mx.swapaxes(mx.array(np.swapaxes(np.array(x.astype(mx.float32)), 1, -1)).astype(dtype),
                     1, -1)
    assert_close(cls(k)(xt), expect)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("cls,k,shape", [c for c in LAYERS if c[0].__name__.startswith("Max")])
def test_tiled_maxpool_grad_ties(cls, k, shape, dtype, rng):
    # small integers: many ties inside a tile, each sharing the cotangent
    x = mx.array(rng.integers(-2, 3, size=shape)).astype(dtype)
    layer = cls(k)
    g = mx.array(rng.normal(size=layer(x).shape)).astype(dtype)
    _, (grad,) = mx.vjp(lambda a: layer(a), [x], [g])
    assert grad.dtype == dtype
    assert_close(grad, np_maxpool_grad(f64(x), k, f64(g)))


def test_tiled_maxpool_grad_matches_generic_windows(rng):
    # the tiled path against the stacked-windows path of the same windows (padding 0 and
    # stride == kernel tile the input; padding 1 goes through the windows of a padded input)
    x = mx.array(rng.integers(-3, 4, size=(2, 6, 6, 4)).astype(np.float32))
    tiled = mx.grad(lambda a: (nn.MaxPool2d(2)(a) ** 2).sum())(x)
    windows = mx.grad(lambda a: (nn.MaxPool2d(2, stride=2, padding=1)(
        mx.pad(a, [(0, 0), (1, 1), (1, 1), (0, 0)], constant_values=-np.inf)[:, 1:-1, 1:-1]
    ) ** 2).sum())(x)
    y = f64(nn.MaxPool2d(2)(x))
    assert_close(tiled, np_maxpool_grad(f64(x), (2, 2), 2 * y))
    assert windows.shape == x.shape


def test_tiled_maxpool_nan_inf():
    x = np.zeros((1, 4, 4, 2), np.float32)
    x[0, 0, 0, 0] = np.nan
    x[0, 2, 3, 1] = np.inf
    x[0, 0:2, 2:4, 0] = -np.inf
    y = nn.MaxPool2d(2)(mx.array(x))
    expect = np_pool_tiles(x.astype(np.float64), (2, 2), np.max)
    np.testing.assert_array_equal(np.array(y), expect)
    g = mx.grad(lambda a: nn.MaxPool2d(2)(a).sum())(mx.array(x))
    # a NaN tile: no element equals the max, count 0, cotangent/0 * 0 = NaN everywhere
    assert np.all(np.isnan(np.array(g)[0, 0:2, 0:2, 0]))
    np.testing.assert_array_equal(np.array(g)[0, 0:2, 2:4, 0], 0.25)
    np.testing.assert_array_equal(np.array(g)[0, 2:4, 2:4, 1], [[0, 1], [0, 0]])


def test_tiled_avgpool_grad_finite_differences(rng):
    x = mx.array(rng.normal(size=(2, 4, 6, 3)), dtype=mx.float64)
    w = mx.array(rng.normal(size=(2, 2, 3, 3)), dtype=mx.float64)

    def f(a):
        return (nn.AvgPool2d(2)(a) * w).sum()

    g = np.array(mx.grad(f)(x))
    xn, eps = np.array(x).astype(np.float64), 1e-6
    num = np.zeros_like(xn)
    for i in np.ndindex(*xn.shape):
        d = np.zeros_like(xn)
        d[i] = eps
        num[i] = (f(mx.array(xn + d, dtype=mx.float64)).item()
                  - f(mx.array(xn - d, dtype=mx.float64)).item()) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-6)


def test_tiled_pool_vmap_and_jvp(rng):
    x = mx.array(rng.integers(-2, 3, size=(3, 2, 4, 4, 2)).astype(np.float32))
    layer = nn.MaxPool2d(2)
    got = mx.vmap(layer)(x)
    for i in range(3):
        np.testing.assert_array_equal(np.array(got[i]), np.array(layer(x[i])))
    gv = mx.vmap(mx.grad(lambda a: layer(a).sum()))(x)
    for i in range(3):
        np.testing.assert_array_equal(np.array(gv[i]),
                                      np.array(mx.grad(lambda a: layer(a).sum())(x[i])))
    # jvp: the tangent at the first maximum of each tile (row-major over the tile)
    t = mx.array(rng.normal(size=x.shape[1:]).astype(np.float32))
    _, (jv,) = mx.jvp(layer, [x[0]], [t])
    xn, tn = np.array(x[0]), np.array(t)
    tiles = xn.reshape(2, 2, 2, 2, 2, 2).transpose(0, 1, 3, 5, 2, 4).reshape(2, 2, 2, 2, 4)
    tt = tn.reshape(2, 2, 2, 2, 2, 2).transpose(0, 1, 3, 5, 2, 4).reshape(2, 2, 2, 2, 4)
    first = tiles.argmax(axis=-1)
    expect = np.take_along_axis(tt, first[..., None], axis=-1)[..., 0]
    np.testing.assert_array_equal(np.array(jv), expect)


def test_tiled_pool_empty_and_size_one():
    assert nn.MaxPool2d(2)(mx.zeros((0, 4, 4, 3))).shape == (0, 2, 2, 3)
    assert nn.AvgPool1d(2)(mx.zeros((2, 4, 0))).shape == (2, 2, 0)
    x = mx.array(np.arange(6, dtype=np.float32).reshape(1, 6, 1))
    np.testing.assert_array_equal(np.array(nn.MaxPool1d(1)(x)), np.array(x))
    np.testing.assert_array_equal(np.array(nn.AvgPool1d(6)(x)), [[[2.5]]])


# ---- reductions over short contiguous kept runs --------------------------------------------

def np_ref(kind, xn, axes):
    fn = {"sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod, "all": np.all,
          "any": np.any}[kind]
    return fn(xn, axis=axes)


def small_values(rng, shape, dtype):
    if dtype == mx.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dtype == mx.complex64:
        return (rng.integers(-2, 3, size=shape) + 1j * rng.integers(-2, 3, size=shape))
    if dtype in (mx.uint8, mx.uint16, mx.uint32, mx.uint64):
        return rng.integers(0, 3, size=shape)
    return rng.integers(-2, 3, size=shape)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("kind", ["sum", "max", "min", "prod", "all", "any"])
@pytest.mark.parametrize("shape,axes", [((3, 4, 5, 16), (1, 2)), ((2, 3, 2, 17), (2,)),
                                        ((5, 7, 1), (1,)), ((2, 3, 40), (0,)),
                                        ((4, 2, 3, 2, 33), (1, 3))])
def test_reduce_short_kept_runs(kind, dtype, shape, axes, rng):
    if dtype == mx.complex64 and kind in ("max", "min"):
        pytest.skip("complex ordering is checked in test_reduce.py")
    xn = np.asarray(small_values(rng, shape, dtype)).astype(NP_DTYPES.get(dtype, np.float32))
    x = mx.array(xn) if dtype != mx.bfloat16 else mx.array(xn.astype(np.float32)).astype(dtype)
    got = getattr(mx, kind)(x, axis=axes)
    ref = np_ref(kind, xn.astype(np.complex128 if dtype == mx.complex64 else np.float64), axes)
    assert_close(got, ref, dtype if dtype in FLOATS or dtype == mx.complex64 else None)
    # strided: a transposed view whose innermost kept dim stays contiguous
    xt = mx.swapaxes(mx.array(np.ascontiguousarray(np.swapaxes(np.array(x), 0, -2))), 0, -2) \
        if dtype != mx.bfloat16 else x
    got_t = getattr(mx, kind)(xt, axis=axes)
    assert_close(got_t, ref, dtype if dtype in FLOATS or dtype == mx.complex64 else None)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.float16])
def test_reduce_short_kept_runs_nan_inf(dtype, rng):
    xn = rng.normal(size=(3, 4, 2, 20))
    xn[0, 1, 0, 3] = np.nan
    xn[1, :, 1, 5] = np.inf
    xn[2, 2, :, 19] = -np.inf
    xn[2, :, :, 7] = -np.inf
    x = mx.array(xn).astype(dtype)
    for kind, fn in (("max", np.max), ("min", np.min), ("sum", np.sum)):
        got = f64(getattr(mx, kind)(x, axis=(1, 2)))
        ref = fn(f64(x), axis=(1, 2))
        rtol, atol = tolerance(dtype)
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)


def test_reduce_short_kept_runs_large_and_threads(rng):
    # enough outputs to split over the pool; the per-element order of a sum is fixed
    xn = rng.normal(size=(256, 14, 2, 14, 2, 16)).astype(np.float32)
    x = mx.array(xn)
    s = mx.sum(x, axis=(2, 4))
    np.testing.assert_allclose(np.array(s), xn.astype(np.float64).sum(axis=(2, 4)),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.array(mx.max(x, axis=(2, 4))), xn.max(axis=(2, 4)))
    # the same result as the reduction of a contiguous copy of the same windows
    w = mx.contiguous(mx.transpose(x, (0, 1, 3, 2, 4, 5)))
    np.testing.assert_array_equal(np.array(mx.sum(w, axis=(3, 4))), np.array(s))


# ---- compiled element-wise kernels with gathered inputs ------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_compiled_gather_every_element_size(dtype, rng):
    def f(a, b, c):
        return mx.where(c, a, b)

    shape = (3, 5, 7, 9)
    a = mx.array(small_values(rng, shape, dtype)).astype(dtype)
    b = mx.array(small_values(rng, (9, 7, 5, 3), dtype)).astype(dtype)
    c = mx.array(rng.integers(0, 2, size=(3, 1, 7, 1)).astype(np.bool_))
    args = [a[:, ::-1], mx.transpose(b), c]   # reversed slice, transpose, broadcast
    got = mx.compile(f)(*args)
    expect = f(*args)
    assert got.dtype == expect.dtype
    assert mx.array_equal(got, expect, equal_nan=True).item()


@pytest.mark.parametrize("shape", [(0, 3), (1,), (1, 1, 1), (2049,), (3, 2050), (5, 1, 4097)])
def test_compiled_gather_edge_sizes(shape, rng):
    def f(a, b):
        return a * b + 1

    a = mx.array(rng.normal(size=shape[::-1]).astype(np.float32)).T
    b = mx.array(rng.normal(size=shape[-1:]).astype(np.float32))
    got = mx.compile(f)(a, b)
    np.testing.assert_array_equal(np.array(got), np.array(f(a, b)))
    # a strided slice merged with a broadcast dim in the middle
    c = mx.array(rng.normal(size=(4, 2 * shape[-1] + 1)).astype(np.float32))[:, ::2]
    d = mx.array(rng.normal(size=(4, 1)).astype(np.float32))
    np.testing.assert_array_equal(np.array(mx.compile(f)(c, d)), np.array(f(c, d)))


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 63, 64, 65, 1000, 4099])
@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.float16, mx.bfloat16, mx.int32])
def test_bool_to_float_conversion(n, dtype, rng):
    b = rng.integers(0, 2, size=n).astype(np.bool_)
    got = mx.array(b).astype(dtype)
    np.testing.assert_array_equal(f64(got), b.astype(np.float64))
    # strided source, and the conversion inside a compiled kernel
    got = mx.array(np.concatenate([b, b]))[::2].astype(dtype)
    np.testing.assert_array_equal(f64(got), np.concatenate([b, b])[::2].astype(np.float64))
    x = mx.array(rng.normal(size=n).astype(np.float32))
    f = lambda a: (a > 0).astype(dtype) * 3
    np.testing.assert_array_equal(f64(mx.compile(f)(x)), f64(f(x)))


def test_compiled_gather_random_layouts(rng):
    # random ranks, permutations, steps and broadcast dims; tiles cut rows and planes anywhere
    def f(a, b):
        return a * 2 - b

    for _ in range(40):
        nd = int(rng.integers(1, 6))
        shape = [int(v) for v in rng.integers(1, 9, size=nd)]
        shape[-1] = int(rng.integers(1, 700))
        perm = [int(v) for v in rng.permutation(nd)]
        base = mx.array(rng.normal(size=[shape[p] * 2 for p in perm]).astype(np.float32))
        a = mx.transpose(base[tuple(slice(None, None, 2) for _ in range(nd))],
                         list(np.argsort(perm)))
        assert a.shape == tuple(shape)
        bshape = [1 if rng.random() < 0.5 else s for s in shape]
        b = mx.array(rng.normal(size=bshape).astype(np.float32))
        np.testing.assert_array_equal(np.array(mx.compile(f)(a, b)), np.array(f(a, b)))


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.int32, mx.uint8, mx.bool_])
def test_reduce_long_uniform_run_of_short_rows(dtype, rng):
    # (N, H, W, C) -> (C,): more reduced elements than one table holds, in one uniform run
    xn = rng.integers(-3, 4, size=(37, 30, 31, 16))
    if dtype == mx.uint8:
        xn = np.abs(xn)
    if dtype == mx.bool_:
        xn = xn > 0
        assert mx.sum(mx.array(xn), axis=(0, 1, 2)).dtype == mx.int32
    x = mx.array(xn).astype(dtype)
    for kind in ("sum", "max", "min"):
        got = getattr(mx, kind)(x, axis=(0, 1, 2))
        ref = getattr(np, kind)(xn.astype(np.float64), axis=(0, 1, 2))
        np.testing.assert_allclose(f64(got), ref, rtol=1e-6)
    # float sums keep the sequential order of the reduced elements on the CPU (GPU kernels
    # reduce in a tree, as MLX's do)
    xf = mx.array(rng.normal(size=(37, 30, 31, 13)).astype(np.float32))
    seq = np.zeros(13, np.float32)
    for row in np.array(xf).reshape(-1, 13):
        seq += row
    if mx.default_device() == mx.cpu:
        np.testing.assert_array_equal(np.array(mx.sum(xf, axis=(0, 1, 2))), seq)
    else:
        np.testing.assert_allclose(np.array(mx.sum(xf, axis=(0, 1, 2))), seq, rtol=1e-4, atol=1e-4)
    # reduced dims that do not form one run: more than one table's worth
    xg = mx.array(rng.normal(size=(70, 5, 70, 9)).astype(np.float32))
    np.testing.assert_allclose(np.array(mx.sum(xg, axis=(0, 2))),
                               np.array(xg).astype(np.float64).sum(axis=(0, 2)), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_array_equal(np.array(mx.max(xg, axis=(0, 2))),
                                  np.array(xg).max(axis=(0, 2)))


# ---- binary ops over short broadcast runs (contiguous output tiles, gathered operands) ----

BINARY_NP = [("add", np.add), ("subtract", np.subtract), ("multiply", np.multiply),
             ("maximum", np.maximum), ("minimum", np.minimum), ("equal", np.equal),
             ("not_equal", np.not_equal), ("less", np.less), ("greater_equal", np.greater_equal)]


@pytest.mark.parametrize("dtype", [d for d in ALL_DTYPES if d != mx.complex64])
@pytest.mark.parametrize("name,npf", BINARY_NP)
def test_binary_short_broadcast_runs(name, npf, dtype, rng):
    if dtype == mx.bool_ and name == "subtract":
        pytest.skip("bool subtraction is not defined")
    shapes = [((70, 9, 16), (16,)), ((40, 3, 1, 7), (1, 3, 25, 7)),
              ((128, 7, 2, 7, 2, 8), (128, 7, 1, 7, 1, 8))]
    for sa, sb in shapes:
        an = np.asarray(small_values(rng, sa, dtype)).astype(NP_DTYPES.get(dtype, np.float32))
        bn = np.asarray(small_values(rng, sb, dtype)).astype(NP_DTYPES.get(dtype, np.float32))
        a, b = mx.array(an).astype(dtype), mx.array(bn).astype(dtype)
        got = getattr(mx, name)(a, b)
        ref = npf(f64(a) if dtype != mx.bool_ else an, f64(b) if dtype != mx.bool_ else bn)
        if dtype in (mx.uint8, mx.uint16, mx.uint32, mx.uint64) and name == "subtract":
            ref = np.asarray(npf(an, bn))  # unsigned wrap-around
        assert_close(got, np.asarray(ref).astype(np.float64) if ref.dtype != np.bool_ else ref,
                     dtype if dtype in FLOATS else None)
        # either operand transposed, the broadcast one first
        got_t = getattr(mx, name)(b, mx.swapaxes(mx.swapaxes(a, 0, -1).astype(dtype), 0, -1))
        ref_t = npf(bn, an)
        np.testing.assert_array_equal(f64(got_t), np.asarray(ref_t).astype(np.float64))


# ---- golden values of Apple MLX (tests/python/data/make_pooling.py) ------------------------

GOLDEN_LAYERS = {"max2": lambda: nn.MaxPool2d(2), "avg2": lambda: nn.AvgPool2d(2),
                 "max2x4": lambda: nn.MaxPool2d((2, 4)), "max3s1p1": lambda: nn.MaxPool2d(3, 1, 1),
                 "avg3s2p1": lambda: nn.AvgPool2d(3, 2, 1)}


@pytest.mark.parametrize("name", sorted(GOLDEN_LAYERS))
def test_pooling_matches_mlx_golden(name):
    import os
    data = np.load(os.path.join(os.path.dirname(__file__), "data", "pooling_golden.npz"))
    layer = GOLDEN_LAYERS[name]()
    x = mx.array(data["x"])
    y = layer(x)
    np.testing.assert_array_equal(np.array(y), data[name + "_y"])
    _, (dx,) = mx.vjp(layer, [x], [mx.array(data[name + "_g"])])
    np.testing.assert_array_equal(np.array(dx), data[name + "_dx"])
    # the same under compile
    _, (dxc,) = mx.compile(lambda a, c: mx.vjp(layer, [a], [c]))(x, mx.array(data[name + "_g"]))
    np.testing.assert_array_equal(np.array(dxc), data[name + "_dx"])


@pytest.mark.parametrize("rows,cols", [(300, 16), (3, 16), (700, 7), (5, 2048), (3, 4096),
                                       (1030, 4), (2, 1024)])
def test_row_broadcast_periodic_tiles(rows, cols, rng):
    # a row broadcast down a matrix: tiles whose length the row divides reuse one gather
    a = mx.array(rng.normal(size=(rows, cols)).astype(np.float32))
    b = mx.array(rng.normal(size=(cols,)).astype(np.float32))
    an, bn = np.array(a), np.array(b)
    np.testing.assert_array_equal(np.array(a + b), an + bn)
    np.testing.assert_array_equal(np.array(b - a), bn - an)
    np.testing.assert_array_equal(np.array(mx.greater(a, b)), an > bn)
    f = mx.compile(lambda x, y: (x * y + 1) * y)
    np.testing.assert_array_equal(np.array(f(a, b)), (an * bn + 1) * bn)
    # the row over two trailing axes
    a3 = mx.array(rng.normal(size=(rows, 2, cols)).astype(np.float32))
    b2 = mx.array(rng.normal(size=(2, cols)).astype(np.float32))
    np.testing.assert_array_equal(np.array(a3 * b2), np.array(a3) * np.array(b2))
    np.testing.assert_array_equal(np.array(f(a3, b2)),
                                  (np.array(a3) * np.array(b2) + 1) * np.array(b2))


# ---- overlapping windows: strided view forward, tap-by-tap gradient ------------------------

def np_window_grad(x, k, s, dwin):
    """Scatter of window gradients dwin (N, *out, *k, C) into x's shape, windows in
    row-major order (the order of the strided view's gradient)."""
    nd = x.ndim - 2
    out = dwin.shape[1:1 + nd]
    dx = np.zeros(x.shape, np.float64)
    for o in np.ndindex(*out):
        for t in np.ndindex(*k):
            idx = (slice(None),) + tuple(oi * si + ti for oi, si, ti in zip(o, s, t)) + \
                (slice(None),)
            dx[idx] += dwin[(slice(None),) + o + t + (slice(None),)]
    return dx


def np_windows(x, k, s):
    nd = x.ndim - 2
    out = [(n - w) // st + 1 for n, w, st in zip(x.shape[1:-1], k, s)]
    w = np.zeros((x.shape[0], *out, *k, x.shape[-1]), x.dtype)
    for o in np.ndindex(*out):
        for t in np.ndindex(*k):
            idx = (slice(None),) + tuple(oi * si + ti for oi, si, ti in zip(o, s, t)) + \
                (slice(None),)
            w[(slice(None),) + o + t + (slice(None),)] = x[idx]
    return w


OVERLAP = [(nn.MaxPool1d, (3,), (2,), (2, 9, 3)), (nn.AvgPool1d, (4,), (1,), (1, 7, 2)),
           (nn.MaxPool2d, (3, 3), (2, 2), (2, 7, 8, 3)), (nn.AvgPool2d, (2, 3), (1, 2), (1, 5, 7, 2)),
           (nn.MaxPool2d, (2, 2), (3, 3), (1, 8, 8, 2)), (nn.MaxPool3d, (2, 2, 2), (1, 1, 1), (1, 3, 4, 3, 2))]


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.float16])
@pytest.mark.parametrize("cls,k,s,shape", OVERLAP)
def test_overlapping_pool_values_and_grads(cls, k, s, shape, dtype, rng):
    is_max = cls.__name__.startswith("Max")
    x = mx.array(rng.integers(-2, 3, size=shape).astype(np.float32)).astype(dtype)
    layer = cls(k, s)
    win = np_windows(f64(x), k, s)
    axes = tuple(range(-len(k) - 1, -1))
    y = (win.max if is_max else win.mean)(axis=axes)
    assert_close(layer(x), y)
    g = mx.array(rng.normal(size=y.shape).astype(np.float32)).astype(dtype)
    _, (dx,) = mx.vjp(layer, [x], [g])
    gk = np.expand_dims(f64(g), axes)
    if is_max:
        mask = (win == np.expand_dims(y, axes)).astype(np.float64)
        dwin = gk / mask.sum(axis=axes, keepdims=True) * mask
    else:
        dwin = np.broadcast_to(gk / np.prod(k), win.shape)
    assert dx.dtype == dtype
    assert_close(dx, np_window_grad(f64(x), k, s, dwin))
    # compiled, and vmapped over a leading axis
    _, (dxc,) = mx.compile(lambda a, c: mx.vjp(layer, [a], [c]))(x, g)
    np.testing.assert_array_equal(f64(dxc), f64(dx))
    xs = mx.stack([x, x * 2])
    ys = mx.vmap(layer)(xs)
    np.testing.assert_array_equal(f64(ys[1]), f64(layer(x * 2)))


def test_overlapping_pool_grad_finite_differences(rng):
    x = mx.array(rng.normal(size=(1, 5, 6, 2)), dtype=mx.float64)
    w = mx.array(rng.normal(size=(1, 2, 2, 2)), dtype=mx.float64)

    def f(a):
        return (nn.AvgPool2d(3, 2)(a) * w).sum() + (nn.MaxPool2d(2, 1)(a) ** 2).sum()

    g = np.array(mx.grad(f)(x))
    xn, eps = np.array(x), 1e-6
    num = np.zeros_like(xn)
    for i in np.ndindex(*xn.shape):
        d = np.zeros_like(xn)
        d[i] = eps
        num[i] = (f(mx.array(xn + d, dtype=mx.float64)).item()
                  - f(mx.array(xn - d, dtype=mx.float64)).item()) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)


# ---- same-dtype copies with short source runs (gathered into the destination) --------------

@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_short_run_copies(dtype, rng):
    base = np.asarray(small_values(rng, (6, 9, 10, 5), dtype)).astype(
        NP_DTYPES.get(dtype, np.float32))
    x = mx.array(base).astype(dtype)
    xn = f64(x) if dtype != mx.complex64 else np.array(x)
    # permutations keeping the short last axis, then a copy
    for perm in [(2, 0, 1, 3), (1, 2, 0, 3), (3, 2, 1, 0)]:
        got = mx.contiguous(mx.transpose(x, perm))
        np.testing.assert_array_equal(np.array(got.astype(mx.float32) if dtype == mx.bfloat16
                                               else got).astype(xn.dtype),
                                      np.transpose(xn, perm))
        got_r = mx.reshape(mx.transpose(x, perm), (-1, 5))
        np.testing.assert_array_equal(np.array(got_r.astype(mx.float32) if dtype == mx.bfloat16
                                               else got_r).astype(xn.dtype),
                                      np.transpose(xn, perm).reshape(-1, 5))
    # a broadcast materialized, and a strided window view
    b = mx.contiguous(mx.broadcast_to(x[:, :1], (6, 90, 10, 5)))
    np.testing.assert_array_equal(
        np.array(b.astype(mx.float32) if dtype == mx.bfloat16 else b).astype(xn.dtype),
        np.broadcast_to(xn[:, :1], (6, 90, 10, 5)))
    v = mx.as_strided(x, (6, 4, 4, 3, 3, 5), (450, 100, 10, 50, 5, 1))
    ref = np.lib.stride_tricks.as_strided(np.ascontiguousarray(xn), (6, 4, 4, 3, 3, 5),
                                          [e * xn.itemsize for e in (450, 100, 10, 50, 5, 1)])
    got = mx.contiguous(v)
    np.testing.assert_array_equal(
        np.array(got.astype(mx.float32) if dtype == mx.bfloat16 else got).astype(xn.dtype), ref)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_compiled_transposed_inputs_copied_once(dtype, rng):
    # large transposed inputs (an outer dim steps by one element) are copied in row-major
    # order once per kernel call; reversed and broadcast operands beside them
    a = mx.array(np.asarray(small_values(rng, (300, 70), dtype))).astype(dtype)
    b = mx.array(np.asarray(small_values(rng, (70, 300), dtype))).astype(dtype)
    c = mx.array(np.asarray(small_values(rng, (5, 70, 60), dtype))).astype(dtype)
    f = lambda x, y: x * y + x
    for x, y in [(a.T, b), (b, a.T), (a.T[::-1], b[:, ::-1]), (a.T, b[:1])]:
        got = mx.compile(f)(x, y)
        assert mx.array_equal(got, f(x, y), equal_nan=True).item()
    ct = mx.transpose(c, (2, 0, 1))
    got = mx.compile(f)(ct, ct[::-1])
    assert mx.array_equal(got, f(ct, ct[::-1]), equal_nan=True).item()


def test_gathers_high_rank(rng):
    # more dims than the views hold inline: broadcasts and permutations of an 18-d array
    shape = (2,) * 17 + (3,)
    a = mx.array(rng.normal(size=shape).astype(np.float32))
    bshape = tuple(1 if i % 3 == 0 else s for i, s in enumerate(shape))
    b = mx.array(rng.normal(size=bshape).astype(np.float32))
    an, bn = np.array(a), np.array(b)
    np.testing.assert_array_equal(np.array(a + b), an + bn)
    np.testing.assert_array_equal(np.array(mx.compile(lambda x, y: x * y - x)(a, b)),
                                  an * bn - an)
    perm = list(range(16, -1, -1)) + [17]
    np.testing.assert_array_equal(np.array(mx.contiguous(mx.transpose(a, perm))),
                                  np.transpose(an, perm))
    np.testing.assert_array_equal(np.array(mx.max(a, axis=(0, 5, 16))),
                                  an.max(axis=(0, 5, 16)))
