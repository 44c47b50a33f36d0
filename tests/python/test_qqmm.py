"""qqmm, gather_qqmm and nn.QQLinear (spec/python-api.md sections 12 and 26): products where
x is quantized on the fly (nvfp4 / mxfp8) against float64 NumPy products of the quantized-
dequantized operands (mx.quantize / mx.dequantize, bit-exact with MLX in test_quantized.py),
golden values of the reference MLX (data/make_qqmm.py), MLX's errors, MLX's vjp rule (the
cotangent quantized too), jvp, vmap against loops, and the layer's train/eval switch."""
import os

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "data", "qqmm_mlx.npz"))
MODES = ["nvfp4", "mxfp8"]
FLOATS = [mx.float32, mx.float16, mx.bfloat16]
TOL = {mx.float32: 1e-5, mx.float16: 2e-3, mx.bfloat16: 1.6e-2}


def f64(a):
    return np.array(a.astype(mx.float32)).astype(np.float64)


def qd(a, mode, g=None):
    """dequantize(quantize(a)) along the last axis, float64 (a: mx.array)."""
    if a.ndim == 1:
        return qd(a[None], mode, g)[0]
    q = mx.quantize(a, mode=mode, global_scale=g)
    return f64(mx.dequantize(*q, mode=mode, global_scale=g, dtype=mx.float32))


def expect(x, w, mode, gx=None, gw=None, packed=None):
    """float64 reference of qqmm(x, w): qd(x) @ qd(w)^T (packed: (wq, scales) of w)."""
    if packed is not None:
        wd = f64(mx.dequantize(*packed, mode=mode, global_scale=gw, dtype=mx.float32))
    else:
        wd = qd(w, mode, gw)
    return qd(x, mode, gx) @ np.swapaxes(wd, -1, -2)


def check(y, ref, dtype):
    tol = TOL[dtype]
    assert y.dtype == dtype
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    np.testing.assert_allclose(f64(y), ref, rtol=tol, atol=tol * scale)


def amax(a):
    return mx.array(np.float32(np.abs(f64(a)).max()))


@pytest.mark.parametrize("mode", MODES)
def test_golden_mlx(mode):
    x, w = mx.array(GOLDEN[f"{mode}_x"]), mx.array(GOLDEN[f"{mode}_w"])
    wq, s = mx.quantize(w, mode=mode)
    y = mx.qqmm(x, wq, s, mode=mode)
    np.testing.assert_allclose(np.array(y), GOLDEN[f"{mode}_y"], rtol=1e-5, atol=1e-5)
    y16 = mx.qqmm(x.astype(mx.float16), wq, s, mode=mode)
    np.testing.assert_allclose(f64(y16), GOLDEN[f"{mode}_y16"], rtol=5e-3, atol=2e-2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("xt", FLOATS)
@pytest.mark.parametrize("wt", FLOATS)
def test_forward_float_w(rng, mode, xt, wt):
    x = mx.array(rng.standard_normal((2, 3, 64)).astype(np.float32)).astype(xt)
    w = mx.array(rng.standard_normal((48, 64)).astype(np.float32)).astype(wt)
    check(mx.qqmm(x, w, mode=mode), expect(x, w, mode), xt)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("xt", FLOATS)
@pytest.mark.parametrize("m", [1, 5, 40])
def test_forward_packed_w(rng, mode, xt, m):
    x = mx.array(rng.standard_normal((m, 128)).astype(np.float32)).astype(xt)
    w = mx.array(rng.standard_normal((80, 128)).astype(np.float32))
    wq, s = mx.quantize(w, mode=mode)
    y = mx.qqmm(x, wq, s, mode=mode)
    check(y, expect(x, w, mode, packed=(wq, s)), xt)
    # quantizing w on the fly gives the same product as passing it packed (up to the order
    # of the float32 sums)
    check(mx.qqmm(x, w, mode=mode), f64(y), xt)


@pytest.mark.parametrize("packed", [False, True])
def test_global_scales(rng, packed):
    x = mx.array(rng.standard_normal((6, 64)).astype(np.float32) * 30)
    w = mx.array(rng.standard_normal((32, 64)).astype(np.float32) * 0.01)
    gx, gw = amax(x), amax(w)
    if packed:
        wq, s = mx.quantize(w, mode="nvfp4", global_scale=gw)
        y = mx.qqmm(x, wq, s, global_scale_x=gx, global_scale_w=gw)
        ref = expect(x, w, "nvfp4", gx, gw, packed=(wq, s))
    else:
        y = mx.qqmm(x, w, global_scale_x=gx, global_scale_w=gw)
        ref = expect(x, w, "nvfp4", gx, gw)
    check(y, ref, mx.float32)
    # a (1,)-shaped float32 global scale is a scalar too
    y1 = mx.qqmm(x, w, global_scale_x=gx.reshape(1), global_scale_w=gw.reshape(1))
    check(y1, expect(x, w, "nvfp4", gx, gw), mx.float32)


@pytest.mark.parametrize("mode", MODES)
def test_shapes_and_layouts(rng, mode):
    w = mx.array(rng.standard_normal((32, 64)).astype(np.float32))
    x1 = mx.array(rng.standard_normal((64,)).astype(np.float32))
    y1 = mx.qqmm(x1, w, mode=mode)
    assert y1.shape == (32,)
    check(y1, expect(x1[None], w, mode)[0], mx.float32)
    x4 = mx.array(rng.standard_normal((2, 1, 3, 64)).astype(np.float32))
    check(mx.qqmm(x4, w, mode=mode), expect(x4, w, mode), mx.float32)
    # non-contiguous x and w: transposes and strided slices
    xt = mx.array(rng.standard_normal((64, 5)).astype(np.float32)).T
    wt = mx.array(rng.standard_normal((64, 32)).astype(np.float32)).T
    check(mx.qqmm(xt, wt, mode=mode), expect(xt, wt, mode), mx.float32)
    xs = mx.array(rng.standard_normal((8, 128)).astype(np.float32))[::2, ::2]
    ws = mx.array(rng.standard_normal((64, 64)).astype(np.float32))[::2]
    check(mx.qqmm(xs, ws, mode=mode), expect(xs, ws, mode), mx.float32)
    wq, s = mx.quantize(ws, mode=mode)
    check(mx.qqmm(xt[:, :64], wq[::1], s, mode=mode), expect(xt[:, :64], ws, mode), mx.float32)


@pytest.mark.parametrize("mode", MODES)
def test_empty_and_special_values(rng, mode):
    w = mx.array(rng.standard_normal((32, 64)).astype(np.float32))
    assert mx.qqmm(mx.zeros((0, 64)), w, mode=mode).shape == (0, 32)
    assert mx.qqmm(mx.zeros((3, 64)), mx.zeros((0, 64)), mode=mode).shape == (3, 0)
    wq, s = mx.quantize(w, mode=mode)
    y = mx.qqmm(mx.zeros((0, 64)), wq, s, mode=mode)
    mx.eval(y)
    assert y.shape == (0, 32)
    np.testing.assert_array_equal(np.array(mx.qqmm(mx.zeros((2, 64)), w, mode=mode)), 0.0)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    x[1, 3] = np.nan
    x[2, 40] = np.inf
    x = mx.array(x)
    y = np.array(mx.qqmm(x, w, mode=mode))
    ref = expect(x, w, mode)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-4, equal_nan=True)
    assert np.isfinite(y[[0, 3]]).all()


def test_errors():
    x, w = mx.ones((2, 64)), mx.ones((32, 64))
    wq, s = mx.quantize(w, mode="nvfp4")
    cases = [
        (lambda: mx.qqmm(x, w, mode="foo"), "[qqmm] Invalid quantization mode 'foo'."),
        (lambda: mx.qqmm(x, w, mode="affine"), "Only 'nvfp4' and 'mxfp8'"),
        (lambda: mx.qqmm(x, w, mode="mxfp4"), "Only 'nvfp4' and 'mxfp8'"),
        (lambda: mx.qqmm(mx.ones((2, 64), mx.int32), w),
         "[qqmm] Only real floating types except float64 are supported but first argument "
         "dtype == int32."),
        (lambda: mx.qqmm(x.astype(mx.float64), w), "first argument dtype == float64"),
        (lambda: mx.qqmm(x, mx.ones((32, 64), mx.int32)), "second argument dtype == int32"),
        (lambda: mx.qqmm(mx.ones((2, 64), mx.bool_), w), "first argument dtype == bool"),
        (lambda: mx.qqmm(x, mx.ones((2, 32, 64))),
         "[qqmm] Only 2D inputs are supported but x.ndim() == 2 and w.ndim() == 3."),
        (lambda: mx.qqmm(x, mx.ones((64,))), "Only 2D inputs"),
        (lambda: mx.qqmm(mx.array(1.0), w), "Only 2D inputs"),
        (lambda: mx.qqmm(mx.ones((2, 48)), w),
         "[qqmm] Last dimension of first input with shape (2,48) must match last dimension of "
         "second input with shape (32,64)."),
        (lambda: mx.qqmm(mx.ones((2, 40)), mx.ones((32, 40))), "divisible"),
        (lambda: mx.qqmm(x, w, group_size=32), "group size 16 but got 32"),
        (lambda: mx.qqmm(x, w, bits=8), "bits to be 4 but got 8"),
        (lambda: mx.qqmm(x, w, mode="mxfp8", group_size=16), "group size 32 but got 16"),
        (lambda: mx.qqmm(x, w, s), "Scales are only accepted"),
        (lambda: mx.qqmm(x, wq), "[qqmm] Scales must be provided if second argument is quantized."),
        (lambda: mx.qqmm(x, wq, s[:, :2]),
         "[qqmm] The shapes of the weight and scales are incompatible based on bits and "
         "group_size. w.shape() == (32,8) and scales.shape() == (32,2) with group_size=16 and "
         "bits=4"),
        (lambda: mx.qqmm(x, wq, s.astype(mx.float32)), "Scale type must be uint8"),
        (lambda: mx.qqmm(mx.ones((1, 32)), wq, s),
         "[qqmm] Last dimension of first input with shape (..., 32) does not match the expanded "
         "quantized matrix (64, 32) computed from shape (32,8) with group_size=16, bits=4 and "
         "transpose=true"),
        (lambda: mx.qqmm(x, w, mode="mxfp8", global_scale_x=mx.array(1.0)),
         "[qqmm] Global scale is only supported for 'nvfp4' quantization mode."),
        (lambda: mx.qqmm(x, w, global_scale_w=mx.array(1.0)),
         "[qqmm] For nvfp4 mode, either both global_scale_x and global_scale_w must be "
         "provided, or neither."),
        (lambda: mx.qqmm(x, w, global_scale_x=mx.array([1.0, 2.0]), global_scale_w=mx.array(1.0)),
         "[qqmm] Global scale must be a scalar but got shape (2)."),
        (lambda: mx.qqmm(x, w, global_scale_x=mx.array(1.0, mx.float16),
                         global_scale_w=mx.array(1.0)),
         "[qqmm] Global scale must have dtype float32 but got float16."),
    ]
    for fn, msg in cases:
        with pytest.raises(ValueError) as e:
            mx.eval(fn())
        assert msg in str(e.value), (msg, str(e.value))
    with pytest.raises(TypeError):
        mx.qqmm(x, w, None, None, None, "nvfp4", None, None, None)


def test_keywords_and_positional():
    x, w = mx.ones((1, 32)), mx.ones((16, 32))
    wq, s = mx.quantize(w, mode="mxfp8")
    a = mx.qqmm(x, wq, s, 32, 8, "mxfp8")
    b = mx.qqmm(x, wq, scales=s, group_size=32, bits=8, mode="mxfp8", stream=mx.cpu)
    np.testing.assert_array_equal(np.array(a), np.array(b))
    with pytest.raises(TypeError):
        mx.qqmm(x=x, w=w)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_vjp_is_mlx_rule(rng, mode, dtype):
    x = mx.array(rng.standard_normal((2, 16, 64)).astype(np.float32)).astype(dtype)
    w = mx.array(rng.standard_normal((32, 64)).astype(np.float32)).astype(dtype)
    c = mx.array(rng.standard_normal((2, 16, 32)).astype(np.float32)).astype(dtype)
    _, (dx, dw) = mx.vjp(lambda x, w: mx.qqmm(x, w, mode=mode), [x, w], [c])
    assert dx.shape == x.shape and dw.shape == w.shape and dx.dtype == dtype
    check(dx, qd(c, mode) @ qd(mx.swapaxes(w, 0, 1), mode).T, dtype)
    c2, x2 = c.reshape(-1, 32), x.reshape(-1, 64)
    check(dw, qd(c2.T, mode) @ qd(x2.T, mode).T, dtype)
    # both stay close to the float gradients (quantization noise only)
    ste_dx = f64(c) @ f64(w)
    ste_dw = f64(c2).T @ f64(x2)
    for got, ste in ((dx, ste_dx), (dw, ste_dw)):
        assert np.linalg.norm(f64(got) - ste) < 0.25 * np.linalg.norm(ste)


def test_vjp_global_scales(rng):
    x = mx.array(rng.standard_normal((16, 64)).astype(np.float32))
    w = mx.array(rng.standard_normal((32, 64)).astype(np.float32))
    c = mx.array(rng.standard_normal((16, 32)).astype(np.float32))
    gx, gw = amax(x), amax(w)
    f = lambda x, w, gx, gw: mx.qqmm(x, w, global_scale_x=gx, global_scale_w=gw)  # noqa: E731
    _, (dx, dw, dgx, dgw) = mx.vjp(f, [x, w, gx, gw], [c])
    gc = amax(c)
    check(dx, qd(c, "nvfp4", gc) @ qd(w.T, "nvfp4", gw).T, mx.float32)
    check(dw, qd(c.T, "nvfp4", gc) @ qd(x.T, "nvfp4", gx).T, mx.float32)
    assert float(dgx) == 0.0 and float(dgw) == 0.0


def test_grad_packed_w(rng):
    x = mx.array(rng.standard_normal((16, 64)).astype(np.float32))
    wq, s = mx.quantize(mx.array(rng.standard_normal((32, 64)).astype(np.float32)), mode="nvfp4")
    gs = mx.grad(lambda s: mx.qqmm(x, wq, s).sum())(s)
    assert gs.shape == s.shape and not np.array(gs).any()
    with pytest.raises(ValueError, match="non-quantized"):
        mx.eval(mx.grad(lambda x: mx.qqmm(x, wq, s).sum())(x))


def test_grad_of_grad_runs(rng):
    x = mx.array(rng.standard_normal((16, 32)).astype(np.float32))
    w = mx.array(rng.standard_normal((16, 32)).astype(np.float32))
    g = mx.grad(lambda w: (mx.grad(lambda x: (mx.qqmm(x, w) ** 2).sum())(x) ** 2).sum())(w)
    assert g.shape == w.shape and np.isfinite(np.array(g)).all()


@pytest.mark.parametrize("mode", MODES)
def test_jvp(rng, mode):
    x = mx.array(rng.standard_normal((3, 64)).astype(np.float32))
    w = mx.array(rng.standard_normal((32, 64)).astype(np.float32))
    tx = mx.array(rng.standard_normal((3, 64)).astype(np.float32))
    tw = mx.array(rng.standard_normal((32, 64)).astype(np.float32))
    _, (t,) = mx.jvp(lambda x, w: mx.qqmm(x, w, mode=mode), [x, w], [tx, tw])
    check(t, qd(tx, mode) @ qd(w, mode).T + qd(x, mode) @ qd(tw, mode).T, mx.float32)


@pytest.mark.parametrize("mode", MODES)
def test_vmap(rng, mode):
    xs = mx.array(rng.standard_normal((4, 3, 64)).astype(np.float32))
    ws = mx.array(rng.standard_normal((4, 32, 64)).astype(np.float32))
    f = lambda x, w: mx.qqmm(x, w, mode=mode)  # noqa: E731
    loops = {
        (0, None): [f(xs[i], ws[0]) for i in range(4)],
        (None, 0): [f(xs[0], ws[i]) for i in range(4)],
        (0, 0): [f(xs[i], ws[i]) for i in range(4)],
    }
    for (ax, aw), ref in loops.items():
        out = mx.vmap(f, in_axes=(ax, aw))(xs if ax is not None else xs[0],
                                           ws if aw is not None else ws[0])
        np.testing.assert_allclose(np.array(out), np.array(mx.stack(ref)), rtol=1e-5, atol=1e-5)
    # batch axis 1 of x, vector rows
    xv = mx.array(rng.standard_normal((64, 4)).astype(np.float32))
    out = mx.vmap(lambda x: f(x, ws[0]), in_axes=1)(xv)
    ref = mx.stack([f(xv[:, i], ws[0]) for i in range(4)])
    np.testing.assert_allclose(np.array(out), np.array(ref), rtol=1e-5, atol=1e-5)
    # packed w and scales mapped together
    wq, s = mx.quantize(ws, mode=mode)
    g = lambda x, wq, s: mx.qqmm(x, wq, s, mode=mode)  # noqa: E731
    out = mx.vmap(g)(xs, wq, s)
    ref = mx.stack([g(xs[i], wq[i], s[i]) for i in range(4)])
    np.testing.assert_allclose(np.array(out), np.array(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("packed", [False, True])
def test_gather_qqmm(rng, mode, packed):
    x = mx.array(rng.standard_normal((3, 2, 64)).astype(np.float32))
    w = mx.array(rng.standard_normal((4, 32, 64)).astype(np.float32))
    li = mx.array(rng.integers(0, 3, (2, 5)).astype(np.int32))
    ri = mx.array(rng.integers(0, 4, (5,)).astype(np.uint32))
    args = mx.quantize(w, mode=mode) if packed else (w, None)
    y = mx.gather_qqmm(x, args[0], args[1], lhs_indices=li, rhs_indices=ri, mode=mode)
    assert y.shape == (2, 5, 2, 32) and y.dtype == mx.float32
    L, R = np.array(li), np.broadcast_to(np.array(ri), (2, 5))
    for i in range(2):
        for j in range(5):
            ref = mx.qqmm(x[int(L[i, j])], w[int(R[i, j])], mode=mode)
            np.testing.assert_allclose(np.array(y[i, j]), np.array(ref), rtol=1e-5, atol=1e-5)
    # default indices: every batch in order
    y2 = mx.gather_qqmm(x, args[0][:3], None if args[1] is None else args[1][:3], mode=mode)
    ref = mx.stack([mx.qqmm(x[i], w[i], mode=mode) for i in range(3)])
    np.testing.assert_allclose(np.array(y2), np.array(ref), rtol=1e-5, atol=1e-5)
    # a matrix x against picked experts
    y3 = mx.gather_qqmm(x[0], args[0], args[1], rhs_indices=ri, mode=mode, sorted_indices=True)
    ref = mx.stack([mx.qqmm(x[0], w[int(k)], mode=mode) for k in np.array(ri)])
    np.testing.assert_allclose(np.array(y3), np.array(ref), rtol=1e-5, atol=1e-5)


def test_gather_qqmm_grad_and_errors(rng):
    x = mx.array(rng.standard_normal((2, 16, 32)).astype(np.float32))
    w = mx.array(rng.standard_normal((3, 16, 32)).astype(np.float32))
    ri = mx.array([2, 0])
    dx = mx.grad(lambda x: mx.gather_qqmm(x, w, rhs_indices=ri).sum())(x)
    dx_ref = mx.stack([mx.grad(lambda a: mx.qqmm(a, w[int(k)]).sum())(x[i])
                       for i, k in enumerate(np.array(ri))])
    np.testing.assert_allclose(np.array(dx), np.array(dx_ref), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="Indices must be integral"):
        mx.gather_qqmm(x, w, rhs_indices=mx.array([0.0]))
    with pytest.raises(ValueError, match="at least two dimensions"):
        mx.gather_qqmm(mx.ones((32,)), w, rhs_indices=ri)
    with pytest.raises(ValueError, match="Only 'nvfp4' and 'mxfp8'"):
        mx.gather_qqmm(x, w, rhs_indices=ri, mode="affine")
    with pytest.raises(ValueError, match="Last dimension"):
        mx.gather_qqmm(mx.ones((2, 1, 16)), w, rhs_indices=ri)


@pytest.mark.parametrize("mode", MODES)
def test_qqlinear(rng, mode):
    layer = nn.QQLinear(64, 32, mode=mode)
    assert (layer.group_size, layer.bits) == ((16, 4) if mode == "nvfp4" else (32, 8))
    assert "bias" not in layer.parameters() and layer.weight.dtype == mx.float32
    x = mx.array(rng.standard_normal((32, 64)).astype(np.float32))  # rows: whole groups
    y = layer(x)
    check(y, expect(x, layer.weight, mode), mx.float32)
    _, grads = nn.value_and_grad(layer, lambda x: layer(x).sum())(x)
    assert grads["weight"].shape == (32, 64)
    layer.eval()
    assert layer.weight.dtype == mx.uint32 and "scales" in layer.parameters()
    np.testing.assert_array_equal(np.array(layer(x)), np.array(y))
    assert "input_dims=64, output_dims=32" in repr(layer)
    layer.train()
    assert layer.weight.dtype == mx.bfloat16 and "scales" not in layer.parameters()


def test_qqlinear_conversions(rng):
    lin = nn.Linear(64, 32, bias=False)
    q = lin.to_quantized(mode="mxfp8", quantize_input=True)
    assert isinstance(q, nn.QQLinear) and q.mode == "mxfp8"
    np.testing.assert_array_equal(np.array(q.weight), np.array(lin.weight))
    with pytest.raises(ValueError, match="only supported for 'nvfp4' and 'mxfp8'"):
        lin.to_quantized(mode="affine", quantize_input=True)
    with pytest.raises(NotImplementedError):
        nn.QQLinear.from_linear(nn.Linear(64, 32))
    with pytest.raises(ValueError, match="Invalid quantization mode"):
        nn.QQLinear(64, 32, mode="nvfp5")
    model = nn.Sequential(nn.Linear(64, 32, bias=False), nn.ReLU(), nn.Linear(32, 16, bias=False))
    model.eval()
    nn.quantize(model, mode="nvfp4", quantize_input=True)
    assert all(isinstance(model.layers[i], nn.QQLinear) for i in (0, 2))
    assert model.layers[0].weight.dtype == mx.uint32  # converted in eval mode: quantized
    x = mx.array(rng.standard_normal((3, 64)).astype(np.float32))
    assert model(x).shape == (3, 16)
