"""The CPU's fast convolution and GEMM paths against float64 NumPy: Winograd F(4x4,3x3) tiles
(3x3 stride-1 float32 2-D convolutions with >= 16 channels: forward, input and weight
gradients; ragged tile edges, channel counts off the vector width, padding, flip, strided
inputs, NaN/inf), the direct line loops of one-group convolutions with few input channels
(every float dtype, 1-3 spatial dims, strides, dilation, gradients), and GEMMs split over the
thread pool (large, transposed, batched and broadcast products, every float dtype)."""
import numpy as np
import pytest

import mlx.core as mx
from test_conv import TOL, check, directional_fd, f64, rand, ref_conv, to_np


def conv_grads_ref(x, w, cot, pad_lo, pad_hi, flip=False):
    """Input and weight gradients of a stride-1 2-D convolution, float64, from the definition:
    out[n, i, j, o] = sum_{a,b,c} xp[n, i + a, j + b, c] * w[o, a, b, c] (w reversed if flip)."""
    wf = w[:, ::-1, ::-1, :] if flip else w
    kh, kw = w.shape[1:3]
    xp = np.pad(x, ((0, 0), (pad_lo[0], pad_hi[0]), (pad_lo[1], pad_hi[1]), (0, 0)))
    oh, ow = cot.shape[1:3]
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(wf)
    for a in range(kh):
        for b in range(kw):
            win = xp[:, a:a + oh, b:b + ow, :]
            gw[:, a, b, :] = np.einsum("nijo,nijc->oc", cot, win)
            gxp[:, a:a + oh, b:b + ow, :] += cot @ wf[:, a, b, :]
    gx = gxp[:, pad_lo[0]:pad_lo[0] + x.shape[1], pad_lo[1]:pad_lo[1] + x.shape[2], :]
    return gx, (gw[:, ::-1, ::-1, :] if flip else gw)


def close(got, want, rtol=2e-5):
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    np.testing.assert_allclose(to_np(got), want, rtol=rtol, atol=rtol * scale)


# ---------------------------------------------------------------------------------------
# Winograd tiles

# (x shape, C_out, padding lo, padding hi, flip)
WINO = [
    ((2, 9, 11, 16), 20, (1, 1), (1, 1), False),    # ragged tiles, C_out off the vector width
    ((1, 8, 8, 33), 17, (0, 0), (0, 0), True),      # no padding, flipped, C_in % 16 != 0
    ((3, 14, 14, 16), 32, (1, 1), (1, 1), False),   # the demo network's second layer
    ((1, 5, 7, 64), 64, (2, 1), (0, 2), False),     # asymmetric padding
    ((2, 4, 4, 16), 16, (0, 0), (2, 2), True),      # one tile per image
    ((1, 12, 13, 48), 80, (1, 1), (1, 1), False),   # several blocks of tiles
]


@pytest.mark.parametrize("case", WINO, ids=str)
def test_winograd_forward_and_gradients(case, rng):
    xs, cout, lo, hi, flip = case
    x, xn = rand(rng, xs)
    w, wn = rand(rng, (cout, 3, 3, xs[-1]))
    w, wn = w * 0.2, wn * 0.2
    f = lambda a, b: mx.conv_general(a, b, padding=(list(lo), list(hi)), flip=flip)
    out = f(x, w)
    want = ref_conv(xn, wn, [1, 1], list(lo), list(hi), [1, 1], [1, 1], flip=flip)
    check(out, want, mx.float32)
    cot, cn = rand(rng, out.shape)
    _, (gx, gw) = mx.vjp(f, [x, w], [cot])
    rx, rw = conv_grads_ref(xn, wn, cn, lo, hi, flip)
    close(gx, rx)
    close(gw, rw)


def test_winograd_resnet_layer(rng):
    x, xn = rand(rng, (2, 56, 56, 64))
    w, wn = rand(rng, (64, 3, 3, 64))
    w, wn = w * 0.05, wn * 0.05
    check(mx.conv2d(x, w, padding=1), ref_conv(xn, wn, [1, 1], [1, 1], [1, 1], [1, 1], [1, 1]),
          mx.float32)


def test_winograd_gradient_matches_finite_differences(rng):
    """grad of a float32 (Winograd) loss against float64 central differences of the same loss."""
    x, xn = rand(rng, (1, 6, 7, 16))
    w, wn = rand(rng, (16, 3, 3, 16))
    c, _ = rand(rng, (1, 6, 7, 16))

    def loss(a, b):
        return (mx.conv2d(a, b, padding=1) * c.astype(a.dtype)).sum()

    gx, gw = mx.grad(loss, argnums=(0, 1))(x, w)
    x64, w64 = mx.array(xn, dtype=mx.float64), mx.array(wn, dtype=mx.float64)
    for _ in range(3):
        dx, _ = f64(rng, x.shape)
        dw, _ = f64(rng, w.shape)
        want = directional_fd(loss, [x64, w64], [dx, dw])
        got = float((gx.astype(mx.float64) * dx).sum() + (gw.astype(mx.float64) * dw).sum())
        assert abs(got - want) <= 1e-4 * (1 + abs(want)), (got, want)


def test_winograd_strided_inputs(rng):
    """Transposed and sliced views (and transposed weights) read through their strides."""
    base, bn = rand(rng, (2, 20, 9, 16))
    x, xn = base.transpose(0, 2, 1, 3)[:, :, 2:17], bn.transpose(0, 2, 1, 3)[:, :, 2:17]
    wt, wtn = rand(rng, (16, 3, 3, 24))
    w, wn = wt.transpose(3, 1, 2, 0), wtn.transpose(3, 1, 2, 0)
    check(mx.conv2d(x, w, padding=1), ref_conv(xn, wn, [1, 1], [1, 1], [1, 1], [1, 1], [1, 1]),
          mx.float32)


def test_winograd_nan_and_inf(rng):
    x, xn = rand(rng, (1, 8, 8, 16))
    w, wn = rand(rng, (16, 3, 3, 16))
    xn = xn.copy()
    xn[0, 2, 3, 5] = np.nan
    xn[0, 6, 6, 0] = np.inf
    got = np.array(mx.conv2d(mx.array(xn.astype(np.float32)), w, padding=1))
    want = ref_conv(xn, wn, [1, 1], [1, 1], [1, 1], [1, 1], [1, 1])
    # every output whose window holds the NaN or the inf is not finite, the rest are exact
    bad = ~np.isfinite(want)
    assert (~np.isfinite(got[bad])).all()
    np.testing.assert_allclose(got[~bad], want[~bad], rtol=2e-5, atol=2e-5 * np.abs(want[~bad]).max())


@pytest.mark.parametrize("dtype", [mx.float64, mx.float16, mx.bfloat16])
def test_other_dtypes_next_to_winograd_shapes(dtype, rng):
    """The same shapes in the dtypes the tiles do not take (GEMM path)."""
    x, xn = rand(rng, (2, 9, 10, 16), dtype)
    w, wn = rand(rng, (16, 3, 3, 16), dtype)
    check(mx.conv2d(x, w, padding=1), ref_conv(xn, wn, [1, 1], [1, 1], [1, 1], [1, 1], [1, 1]),
          dtype)


# ---------------------------------------------------------------------------------------
# one group, few input channels: the direct line loops

# (x shape, w shape, stride, padding, dilation)
LINES = [
    ((3, 28, 28, 1), (16, 3, 3, 1), 1, 1, 1),      # the demo network's first layer
    ((2, 11, 9, 3), (8, 3, 3, 3), 2, 1, 1),         # RGB, strided
    ((2, 10, 10, 2), (40, 3, 3, 2), 1, 2, 2),       # dilated, C_out > the register block
    ((2, 13, 4), (5, 5, 4), 1, 2, 1),               # 1-D
    ((1, 5, 6, 4, 1), (3, 3, 2, 3, 1), 1, 1, 1),    # 3-D
    ((2, 6, 7, 1), (1, 3, 3, 1), 1, 0, 1),          # one output channel
    ((1, 3, 3, 1), (4, 3, 3, 1), 1, 0, 1),          # one output point
]

NDFN = {3: mx.conv1d, 4: mx.conv2d, 5: mx.conv3d}


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.float16, mx.bfloat16])
@pytest.mark.parametrize("case", LINES, ids=str)
def test_lines_forward(case, dtype, rng):
    xs, ws, stride, pad, dil = case
    nsp = len(xs) - 2
    x, xn = rand(rng, xs, dtype)
    w, wn = rand(rng, ws, dtype)
    got = NDFN[len(xs)](x, w, stride=stride, padding=pad, dilation=dil)
    want = ref_conv(xn, wn, [stride] * nsp, [pad] * nsp, [pad] * nsp, [dil] * nsp, [1] * nsp)
    check(got, want, dtype)


@pytest.mark.parametrize("case", LINES, ids=str)
def test_lines_gradients(case, rng):
    xs, ws, stride, pad, dil = case
    fn = NDFN[len(xs)]
    x, _ = f64(rng, xs)
    w, _ = f64(rng, ws)
    c, _ = f64(rng, fn(x, w, stride=stride, padding=pad, dilation=dil).shape)

    def loss(a, b):
        return (fn(a, b, stride=stride, padding=pad, dilation=dil) * c).sum()

    gx, gw = mx.grad(loss, argnums=(0, 1))(x, w)
    for _ in range(2):
        dx, _ = f64(rng, xs)
        dw, _ = f64(rng, ws)
        want = directional_fd(loss, [x, w], [dx, dw])
        got = float((gx * dx).sum() + (gw * dw).sum())
        assert abs(got - want) <= 1e-6 * (1 + abs(want)), (got, want)
    # the float32 loops agree with the float64 ones
    g32 = mx.grad(lambda a, b: (fn(a, b, stride=stride, padding=pad, dilation=dil)
                                * c.astype(mx.float32)).sum(), argnums=(0, 1))(
        x.astype(mx.float32), w.astype(mx.float32))
    close(g32[1], np.array(gw), 1e-4)


def test_lines_strided_and_broadcast_inputs(rng):
    base, bn = rand(rng, (2, 9, 12, 1))
    x, xn = base.transpose(0, 2, 1, 3)[:, ::2], bn.transpose(0, 2, 1, 3)[:, ::2]
    w = mx.broadcast_to(mx.array(rng.standard_normal((1, 3, 3, 1)).astype(np.float32)),
                        (6, 3, 3, 1))
    check(mx.conv2d(x, w, padding=1), ref_conv(xn, to_np(w), [1, 1], [1, 1], [1, 1], [1, 1],
                                               [1, 1]), mx.float32)


def test_lines_nan_and_inf(rng):
    xn = rng.standard_normal((1, 6, 6, 1))
    xn[0, 1, 1, 0] = np.nan
    xn[0, 4, 4, 0] = -np.inf
    w, wn = rand(rng, (4, 3, 3, 1))
    got = np.array(mx.conv2d(mx.array(xn.astype(np.float32)), w, padding=1))
    want = ref_conv(xn, wn, [1, 1], [1, 1], [1, 1], [1, 1], [1, 1])
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))


def test_lines_empty():
    x = mx.zeros((0, 5, 5, 1))
    assert mx.conv2d(x, mx.ones((4, 3, 3, 1))).shape == (0, 3, 3, 4)


# ---------------------------------------------------------------------------------------
# GEMMs split over the thread pool

MATMUL = [
    ((700, 300), (300, 200)),        # split by rows
    ((40, 300), (300, 900)),         # wide: split by columns
    ((16, 64, 48), (16, 48, 40)),    # a batch of small products, split item by item
    ((5, 1, 33, 70), (1, 6, 70, 20)),  # broadcast batch dims
    ((1, 513), (513, 1)),
]


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.float16, mx.bfloat16,
                                   mx.complex64])
@pytest.mark.parametrize("shapes", MATMUL, ids=str)
def test_matmul_split(shapes, dtype, rng):
    sa, sb = shapes
    a, an = rand(rng, sa, dtype)
    b, bn = rand(rng, sb, dtype)
    rtol, _ = TOL[dtype]
    want = an @ bn
    scale = np.sqrt(sa[-1])
    np.testing.assert_allclose(to_np(a @ b), want, rtol=rtol * scale, atol=rtol * scale * 4)


def test_matmul_split_transposed_operands(rng):
    a, an = rand(rng, (300, 700))
    b, bn = rand(rng, (200, 300))
    np.testing.assert_allclose(np.array(a.T @ b.T), an.T @ bn.T, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.array(b @ a[:, ::2]), bn @ an[:, ::2], rtol=1e-4, atol=1e-3)


def test_matmul_split_nan_and_inf(rng):
    an = rng.standard_normal((600, 300))
    bn = rng.standard_normal((300, 100))
    an[517, 3] = np.nan
    bn[7, 91] = np.inf
    got = np.array(mx.array(an.astype(np.float32)) @ mx.array(bn.astype(np.float32)))
    want = an @ bn
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("where", ["x", "w", "cot"])
def test_winograd_nonfinite_fall_back(where, rng):
    """NaN/inf in any operand: the float32 results are non-finite exactly where the float64
    (im2col) results are, and agree elsewhere."""
    xn = rng.standard_normal((1, 8, 9, 16))
    wn = rng.standard_normal((16, 3, 3, 16)) * 0.2
    cn = rng.standard_normal((1, 8, 9, 16))
    {"x": xn, "w": wn, "cot": cn}[where][0, 2, 2, 1] = np.inf
    {"x": xn, "w": wn, "cot": cn}[where][0, 1, 1, 4] = np.nan
    f = lambda a, b: mx.conv2d(a, b, padding=1)
    res = {}
    for dt in (mx.float32, mx.float64):
        a, b, c = (mx.array(v, dtype=mx.float64).astype(dt) for v in (xn, wn, cn))
        out, (gx, gw) = mx.vjp(f, [a, b], [c])
        res[dt] = [to_np(out[0]), to_np(gx), to_np(gw)]
    for got, want in zip(res[mx.float32], res[mx.float64]):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-4,
                                   atol=1e-4 * max(1.0, np.abs(want[fin]).max()))
