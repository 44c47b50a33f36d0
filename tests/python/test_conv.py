"""Convolutions against float64 NumPy references (spec/python-api.md section 11): conv1d/2d/3d,
conv_general (asymmetric and negative padding, input dilation, flip), conv_transpose1d/2d/3d
(against a scatter-form reference), convolve (against numpy.convolve); every float dtype,
promotion, empty, broadcast and non-contiguous inputs, NaN/inf, the Python argument forms and
MLX's errors; gradients (vjp, jvp, second order) against central finite differences."""
import itertools

import numpy as np
import pytest

import mlx.core as mx

FLOATS = [mx.float32, mx.float64, mx.float16, mx.bfloat16]
# (rtol, atol factor): atol = factor * max(1, |reference|max)
TOL = {mx.float64: (1e-11, 1e-11), mx.float32: (2e-5, 2e-5), mx.float16: (5e-3, 5e-3),
       mx.bfloat16: (4e-2, 4e-2), mx.complex64: (2e-5, 2e-5)}


# ---------------------------------------------------------------------------------------
# references (float64, written from the definitions, independent of the kernel's im2col)


def to_np(a):
    """An mx.array as a float64 (or complex128) NumPy array."""
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    v = np.array(a)
    return v.astype(np.complex128 if np.iscomplexobj(v) else np.float64)


def to_mx(v, dtype):
    return mx.array(np.asarray(v, np.float64), dtype=mx.float64).astype(dtype) \
        if dtype != mx.complex64 else mx.array(np.asarray(v, np.complex64))


def trunc_div(a, b):
    return int(a / b) if a < 0 else a // b


def mlx_crop(x, lo, hi):
    """MLX's handling of negative padding: the input is sliced (negative stops wrap once)."""
    lo, hi = list(lo), list(hi)
    idx = [slice(None)]
    for d in range(x.ndim - 2):
        n = x.shape[1 + d]
        b, e = 0, n
        if lo[d] < 0:
            b, lo[d] = -lo[d], 0
        if hi[d] < 0:
            e = n + hi[d]
            if e < 0:
                e += n
            hi[d] = 0
        b, e = min(b, n), max(0, min(e, n))
        idx.append(slice(b, max(b, e)))
    return x[tuple(idx)], lo, hi


def ref_conv(x, w, stride, lo, hi, kd, idil, groups=1, flip=False):
    """conv_general: x (N, *S, C_in), w (C_out, *K, C_in/groups); per-dim lists."""
    x, lo, hi = mlx_crop(np.asarray(x), lo, hi)
    w = np.asarray(w)
    nsp = x.ndim - 2
    n, cout, cig = x.shape[0], w.shape[0], w.shape[-1]
    S, K = x.shape[1:-1], w.shape[1:-1]
    ld = [1 + idil[d] * (S[d] - 1) for d in range(nsp)]
    kdd = [1 + kd[d] * (K[d] - 1) for d in range(nsp)]
    O = [max(0, trunc_div(ld[d] + lo[d] + hi[d] - kdd[d], stride[d]) + 1) for d in range(nsp)]
    dt = np.result_type(x, w, np.float64)
    # dilated and padded input, long enough for every window read
    need = [max(lo[d] + max(ld[d], 0) + hi[d], (O[d] - 1) * stride[d] + kdd[d] if O[d] else 0)
            for d in range(nsp)]
    xp = np.zeros((n, *need, x.shape[-1]), dt)
    if all(s > 0 for s in S):
        xp[(slice(None),) + tuple(slice(lo[d], lo[d] + ld[d], idil[d]) for d in range(nsp))] = x
    wf = w[(slice(None),) + (slice(None, None, -1),) * nsp] if flip else w
    wd = np.zeros((cout, *[max(k, 0) for k in kdd], cig), dt)
    if all(k > 0 for k in K):
        wd[(slice(None),) + tuple(slice(None, None, kd[d]) for d in range(nsp))] = wf
    out = np.zeros((n, *O, cout), dt)
    cog = cout // groups
    axes = list(range(1, nsp + 2))
    for o in itertools.product(*[range(m) for m in O]):
        win = xp[(slice(None),) + tuple(slice(o[d] * stride[d], o[d] * stride[d] + kdd[d])
                                        for d in range(nsp))]
        for g in range(groups):
            out[(slice(None),) + o + (slice(g * cog, (g + 1) * cog),)] = np.tensordot(
                win[..., g * cig:(g + 1) * cig], wd[g * cog:(g + 1) * cog], axes=(axes, axes))
    return out


def ref_conv_transpose(x, w, stride, padding, dilation, output_padding, groups=1):
    """The scatter form: out[i*s + k*d - p] += x[i] * w[k] per group."""
    x, w = np.asarray(x), np.asarray(w)
    nsp = x.ndim - 2
    n, cout, cig = x.shape[0], w.shape[0], w.shape[-1]
    S, K = x.shape[1:-1], w.shape[1:-1]
    O = [(S[d] - 1) * stride[d] - 2 * padding[d] + dilation[d] * (K[d] - 1) + output_padding[d] + 1
         for d in range(nsp)]
    full = [max(O[d] + 2 * padding[d], (S[d] - 1) * stride[d] + dilation[d] * (K[d] - 1) + 1)
            for d in range(nsp)]
    acc = np.zeros((n, *full, cout), np.result_type(x, w, np.float64))
    cog = cout // groups
    for i in itertools.product(*[range(s) for s in S]):
        for k in itertools.product(*[range(m) for m in K]):
            pos = tuple(i[d] * stride[d] + k[d] * dilation[d] for d in range(nsp))
            for g in range(groups):
                xv = x[(slice(None),) + i + (slice(g * cig, (g + 1) * cig),)]  # (n, cig)
                wv = w[(slice(g * cog, (g + 1) * cog),) + k]                    # (cog, cig)
                acc[(slice(None),) + pos + (slice(g * cog, (g + 1) * cog),)] += xv @ wv.T
    return acc[(slice(None),) + tuple(slice(padding[d], padding[d] + O[d]) for d in range(nsp))]


def check(got, want, dtype):
    assert got.dtype == dtype, (got.dtype, dtype)
    assert tuple(got.shape) == want.shape, (got.shape, want.shape)
    rtol, f = TOL[dtype]
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    np.testing.assert_allclose(to_np(got), want, rtol=rtol, atol=f * scale)


def rand(rng, shape, dtype=mx.float32):
    """Random values in dtype and their float64 NumPy image (after rounding to dtype)."""
    a = to_mx(rng.standard_normal(shape), dtype)
    return a, to_np(a)


def per_dim(v, nsp):
    return list(v) if isinstance(v, (tuple, list)) else [v] * nsp


# ---------------------------------------------------------------------------------------
# forward: conv1d / conv2d / conv3d

# (x shape, w shape, stride, padding, dilation, groups)
CONV1D = [
    ((2, 9, 4), (6, 3, 4), 1, 0, 1, 1),
    ((2, 9, 4), (6, 3, 4), 2, 1, 2, 1),
    ((3, 10, 6), (4, 4, 3), 3, 2, 1, 2),
    ((1, 5, 4), (4, 3, 1), 1, 1, 1, 4),       # depthwise
    ((2, 7, 4), (8, 3, 1), 1, 1, 1, 4),       # depthwise, channel multiplier 2
    ((2, 8, 3), (5, 8, 3), 1, 0, 1, 1),       # kernel as long as the input
    ((2, 8, 2), (3, 9, 2), 2, 0, 1, 1),       # MLX's rounding: the window passes the end
    ((2, 7, 5), (3, 1, 5), 1, 0, 1, 1),       # 1x1: no im2col
    ((2, 7, 6), (4, 1, 3), 2, 0, 1, 2),       # 1x1 strided, grouped
    ((1, 70, 2), (2, 66, 2), 1, 0, 1, 1),     # many taps
    ((2, 7, 18), (18, 3, 9), 2, 1, 1, 2),     # groups with many channels: one GEMM per group
    ((2, 30, 1), (1, 7, 1), 1, 3, 1, 1),      # one channel in and out: dot products
    ((3, 31, 1), (1, 5, 1), 3, 4, 2, 1),
]


@pytest.mark.parametrize("case", CONV1D, ids=str)
@pytest.mark.parametrize("dtype", [mx.float32, mx.float64], ids=str)
def test_conv1d(case, dtype, rng):
    xs, ws, st, pd, dl, g = case
    x, xn = rand(rng, xs, dtype)
    w, wn = rand(rng, ws, dtype)
    got = mx.conv1d(x, w, st, pd, dl, g)
    check(got, ref_conv(xn, wn, [st], [pd], [pd], [dl], [1], g), dtype)


CONV2D = [
    ((2, 7, 8, 4), (6, 3, 3, 4), 1, 1, 1, 1),
    ((2, 7, 8, 4), (6, 3, 2, 2), (2, 1), (1, 2), (1, 2), 2),
    ((1, 9, 6, 6), (6, 3, 3, 1), (2, 2), 1, (2, 1), 6),
    ((2, 5, 5, 8), (4, 1, 1, 8), 1, 0, 1, 1),
    ((2, 6, 5, 3), (2, 5, 4, 3), (3, 2), (2, 0), 1, 1),
    ((1, 4, 4, 2), (3, 4, 4, 2), 1, 0, 1, 1),
    ((1, 5, 6, 20), (20, 3, 3, 10), 1, 1, 1, 2),
    ((2, 5, 6, 12), (24, 2, 3, 1), (1, 2), 1, 1, 12),  # depthwise, channel multiplier 2
]


@pytest.mark.parametrize("case", CONV2D, ids=str)
@pytest.mark.parametrize("dtype", [mx.float32, mx.float64], ids=str)
def test_conv2d(case, dtype, rng):
    xs, ws, st, pd, dl, g = case
    x, xn = rand(rng, xs, dtype)
    w, wn = rand(rng, ws, dtype)
    got = mx.conv2d(x, w, stride=st, padding=pd, dilation=dl, groups=g)
    p = per_dim(pd, 2)
    check(got, ref_conv(xn, wn, per_dim(st, 2), p, p, per_dim(dl, 2), [1, 1], g), dtype)


CONV3D = [
    ((1, 4, 5, 4, 2), (3, 2, 3, 2, 2), (1, 2, 1), 1, 1, 1),
    ((2, 3, 4, 5, 4), (4, 2, 2, 2, 2), 1, (0, 1, 1), (1, 2, 1), 2),
]


@pytest.mark.parametrize("case", CONV3D, ids=str)
@pytest.mark.parametrize("dtype", [mx.float32, mx.float64], ids=str)
def test_conv3d(case, dtype, rng):
    xs, ws, st, pd, dl, g = case
    x, xn = rand(rng, xs, dtype)
    w, wn = rand(rng, ws, dtype)
    got = mx.conv3d(x, w, stride=st, padding=pd, dilation=dl, groups=g)
    p = per_dim(pd, 3)
    check(got, ref_conv(xn, wn, per_dim(st, 3), p, p, per_dim(dl, 3), [1, 1, 1], g), dtype)


# ---------------------------------------------------------------------------------------
# conv_general

# (x shape, w shape, stride, (lo, hi), kernel dilation, input dilation, groups, flip)
GENERAL = [
    ((2, 9, 4), (6, 3, 4), [1], ([2], [0]), [1], [1], 1, False),
    ((2, 9, 4), (6, 3, 4), [2], ([0], [3]), [2], [2], 1, True),
    ((2, 9, 4), (6, 3, 2), [1], ([-1], [-2]), [1], [1], 2, False),
    ((2, 20, 1), (1, 6, 1), [2], ([3], [5]), [3], [1], 1, True),  # one channel, flipped
    ((2, 20, 1), (1, 4, 1), [1], ([2], [1]), [1], [3], 1, True),  # one channel, input dilation
    ((2, 7, 8, 4), (6, 3, 2, 2), [2, 1], ([1, -1], [2, 3]), [1, 2], [2, 3], 2, True),
    ((2, 5, 5, 4), (6, 3, 3, 4), [1, 1], ([-1, -1], [0, -6]), [1, 1], [1, 1], 1, False),
    ((1, 4, 3, 3, 2), (2, 2, 2, 2, 2), [1, 2, 1], ([1, 0, 2], [0, 1, 1]), [1, 1, 2], [2, 1, 1],
     1, True),
]


@pytest.mark.parametrize("case", GENERAL, ids=str)
@pytest.mark.parametrize("dtype", [mx.float32, mx.float64], ids=str)
def test_conv_general(case, dtype, rng):
    xs, ws, st, (lo, hi), kd, idl, g, flip = case
    x, xn = rand(rng, xs, dtype)
    w, wn = rand(rng, ws, dtype)
    got = mx.conv_general(x, w, stride=st, padding=(lo, hi), kernel_dilation=kd,
                          input_dilation=idl, groups=g, flip=flip)
    check(got, ref_conv(xn, wn, st, lo, hi, kd, idl, g, flip), dtype)


def test_conv_general_argument_forms(rng):
    x, xn = rand(rng, (2, 6, 7, 2))
    w, wn = rand(rng, (3, 3, 2, 2))
    check(mx.conv_general(x, w), ref_conv(xn, wn, [1, 1], [0, 0], [0, 0], [1, 1], [1, 1]),
          mx.float32)
    check(mx.conv_general(x, w, 2, 1, 2, 3),
          ref_conv(xn, wn, [2, 2], [1, 1], [1, 1], [2, 2], [3, 3]), mx.float32)
    check(mx.conv_general(x, w, [1, 2], [1, 0], [1, 2], [2, 1]),
          ref_conv(xn, wn, [1, 2], [1, 0], [1, 0], [1, 2], [2, 1]), mx.float32)
    want = ref_conv(xn, wn, [1, 1], [1, 0], [2, 0], [1, 1], [1, 1])
    check(mx.conv_general(x, w, padding=((1, 0), (2, 0))), want, mx.float32)
    check(mx.conv_general(x, w, padding=[[1, 0], [2, 0]]), want, mx.float32)
    # one entry is used for every dim, an empty list is the default
    check(mx.conv_general(x, w, stride=[2], padding=([1], [2])),
          ref_conv(xn, wn, [2, 2], [1, 1], [2, 2], [1, 1], [1, 1]), mx.float32)
    check(mx.conv_general(x, w, stride=[], padding=[]),
          ref_conv(xn, wn, [1, 1], [0, 0], [0, 0], [1, 1], [1, 1]), mx.float32)
    check(mx.conv_general(x, w, flip=True, stream=mx.cpu),
          ref_conv(xn, wn, [1, 1], [0, 0], [0, 0], [1, 1], [1, 1], 1, True), mx.float32)


# ---------------------------------------------------------------------------------------
# transposed convolutions

# (x shape, w shape, stride, padding, dilation, output_padding, groups)
TRANSPOSE = [
    ((2, 5, 4), (6, 3, 4), 1, 0, 1, 0, 1),
    ((2, 5, 4), (6, 3, 4), 2, 1, 1, 1, 1),
    ((2, 5, 4), (6, 3, 2), 3, 0, 2, 2, 2),
    ((1, 4, 4), (3, 4, 4), 2, 3, 1, 0, 1),
    ((1, 4, 5, 4), (6, 3, 2, 2), (2, 3), (1, 0), (1, 2), (1, 0), 2),
    ((2, 3, 3, 2), (2, 3, 3, 2), 2, 1, 1, 1, 1),
    ((1, 3, 2, 3, 2), (2, 2, 3, 2, 2), (2, 1, 2), (0, 1, 1), 1, (1, 0, 0), 1),
]


@pytest.mark.parametrize("case", TRANSPOSE, ids=str)
@pytest.mark.parametrize("dtype", [mx.float32, mx.float64], ids=str)
def test_conv_transpose(case, dtype, rng):
    xs, ws, st, pd, dl, op, g = case
    nsp = len(xs) - 2
    x, xn = rand(rng, xs, dtype)
    w, wn = rand(rng, ws, dtype)
    fn = {1: mx.conv_transpose1d, 2: mx.conv_transpose2d, 3: mx.conv_transpose3d}[nsp]
    got = fn(x, w, stride=st, padding=pd, dilation=dl, output_padding=op, groups=g)
    want = ref_conv_transpose(xn, wn, per_dim(st, nsp), per_dim(pd, nsp), per_dim(dl, nsp),
                              per_dim(op, nsp), g)
    check(got, want, dtype)


def test_conv_transpose_matches_conv_gradient(rng):
    # conv_transpose is the input gradient of conv: <conv(x, w), y> == <x, conv_T(y, w^T)>
    x, xn = rand(rng, (2, 9, 3), mx.float64)
    w, wn = rand(rng, (4, 3, 3), mx.float64)
    y = mx.conv1d(x, w, stride=2, padding=1)
    c, cn = rand(rng, y.shape, mx.float64)
    t = mx.conv_transpose1d(c, mx.swapaxes(w, 0, 2), stride=2, padding=1, output_padding=0)
    lhs = float((y * c).sum())
    rhs = float((x[:, :t.shape[1]] * t).sum())
    assert abs(lhs - rhs) < 1e-9 * (1 + abs(lhs))


# ---------------------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_every_float_dtype(dtype, rng):
    x, xn = rand(rng, (2, 6, 5, 4), dtype)
    w, wn = rand(rng, (4, 3, 3, 2), dtype)
    check(mx.conv2d(x, w, stride=(1, 2), padding=1, groups=2),
          ref_conv(xn, wn, [1, 2], [1, 1], [1, 1], [1, 1], [1, 1], 2), dtype)
    check(mx.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1, groups=2),
          ref_conv_transpose(xn, wn, [2, 2], [1, 1], [1, 1], [1, 1], 2), dtype)
    # input dilation without its zeros (phase classes), many channels: GEMMs
    t_, tn = rand(rng, (1, 4, 3, 20), dtype)
    u_, un = rand(rng, (8, 3, 3, 20), dtype)
    check(mx.conv_transpose2d(t_, u_, stride=(2, 3), padding=1, output_padding=(1, 0)),
          ref_conv_transpose(tn, un, [2, 3], [1, 1], [1, 1], [1, 0], 1), dtype)
    # groups with many channels per group (one GEMM each)
    a, an = rand(rng, (1, 5, 4, 20), dtype)
    b, bn = rand(rng, (20, 2, 2, 10), dtype)
    check(mx.conv2d(a, b, padding=(1, 0), groups=2),
          ref_conv(an, bn, [1, 1], [1, 0], [1, 0], [1, 1], [1, 1], 2), dtype)
    v, vn = rand(rng, (4, 8), dtype)
    check(mx.conv_general(x, mx.reshape(v, (4, 2, 1, 4)), padding=([1, 0], [0, 2]),
                          input_dilation=2, flip=True),
          ref_conv(xn, vn.reshape(4, 2, 1, 4), [1, 1], [1, 0], [0, 2], [1, 1], [2, 2], 1, True),
          dtype)


@pytest.mark.parametrize("xt,wt,out", [
    (mx.float16, mx.float32, mx.float32), (mx.float32, mx.float16, mx.float32),
    (mx.float16, mx.bfloat16, mx.float32), (mx.bfloat16, mx.bfloat16, mx.bfloat16),
    (mx.float32, mx.float64, mx.float64), (mx.float32, mx.int32, mx.float32),
    (mx.float16, mx.int64, mx.float16), (mx.float32, mx.bool_, mx.float32),
    (mx.bfloat16, mx.uint8, mx.bfloat16), (mx.float32, mx.complex64, mx.complex64)])
def test_promotion(xt, wt, out, rng):
    xn = rng.standard_normal((2, 6, 3))
    wn = rng.integers(0, 2, (4, 3, 3)) if wt == mx.bool_ else rng.integers(-3, 4, (4, 3, 3))
    x = to_mx(xn, xt)
    w = mx.array(wn.astype(bool)) if wt == mx.bool_ else mx.array(wn).astype(wt)
    if wt == mx.complex64:
        wn = wn + 0.5j * wn[::-1]
        w = mx.array(wn.astype(np.complex64))
    got = mx.conv1d(x, w, padding=1)
    assert got.dtype == out
    check(got, ref_conv(to_np(x), to_np(w.astype(out)), [1], [1], [1], [1], [1]), out)


@pytest.mark.parametrize("dtype", [mx.int32, mx.uint8, mx.bool_, mx.complex64, mx.int64], ids=str)
def test_non_float_input_rejected(dtype):
    x = mx.ones((1, 5, 2)).astype(dtype)
    with pytest.raises(ValueError, match=rf"\[conv\] Invalid input array with type "
                                         rf"{str(dtype).split('.')[-1].rstrip('_')}\. Convolution "
                                         r"currently only supports floating point types"):
        mx.conv1d(x, mx.ones((1, 3, 2)))


# ---------------------------------------------------------------------------------------
# shapes: empty, broadcast, non-contiguous, NaN/inf


@pytest.mark.parametrize("xs,ws,pad,out", [
    ((0, 8, 4), (6, 3, 4), 0, (0, 6, 6)),
    ((2, 8, 4), (0, 3, 4), 0, (2, 6, 0)),
    ((2, 8, 0), (6, 3, 0), 0, (2, 6, 6)),
    ((2, 8, 4), (6, 0, 4), 0, (2, 9, 6)),
    ((2, 0, 4), (6, 3, 4), 2, (2, 2, 6)),
])
def test_empty(xs, ws, pad, out, rng):
    x, xn = rand(rng, xs)
    w, wn = rand(rng, ws)
    got = mx.conv1d(x, w, padding=pad)
    assert tuple(got.shape) == out
    check(got, np.zeros(out), mx.float32)


def test_non_contiguous_and_broadcast_inputs(rng):
    base, bn = rand(rng, (2, 4, 9), mx.float32)        # (N, C, L) -> transposed to (N, L, C)
    x, xn = mx.swapaxes(base, 1, 2), bn.transpose(0, 2, 1)
    wb, wbn = rand(rng, (4, 3, 12), mx.float32)       # weight view (6, 3, 4), no unit stride
    w, wn = mx.transpose(wb, (2, 1, 0))[::2], wbn.transpose(2, 1, 0)[::2]
    assert tuple(w.shape) == (6, 3, 4)
    check(mx.conv1d(x, w, stride=2, padding=1), ref_conv(xn, wn, [2], [1], [1], [1], [1]),
          mx.float32)
    check(mx.conv1d(x[:, ::-1, :], w), ref_conv(xn[:, ::-1, :], wn, [1], [0], [0], [1], [1]),
          mx.float32)
    xb = mx.broadcast_to(mx.array(np.arange(9.0, dtype=np.float32).reshape(1, 9, 1)), (3, 9, 4))
    xbn = np.broadcast_to(np.arange(9.0).reshape(1, 9, 1), (3, 9, 4))
    check(mx.conv1d(xb, w, padding=2), ref_conv(xbn, wn, [1], [2], [2], [1], [1]), mx.float32)
    # 1x1 convolution of a channel-strided input (no im2col only when rows are evenly spaced)
    x1 = mx.swapaxes(base, 1, 2)[:, 1:8, :]
    w1, w1n = rand(rng, (3, 1, 4))
    check(mx.conv1d(x1, w1), ref_conv(xn[:, 1:8], w1n, [1], [0], [0], [1], [1]), mx.float32)


def test_nan_and_inf_propagate(rng):
    xn = rng.standard_normal((1, 9, 2))
    xn[0, 4, 0] = np.nan
    xn[0, 0, 1] = np.inf
    w, wn = rand(rng, (2, 3, 2), mx.float64)
    got = to_np(mx.conv1d(mx.array(xn, dtype=mx.float64), w, padding=1))
    want = ref_conv(xn, wn, [1], [1], [1], [1], [1])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    assert np.isnan(got).any() and np.isfinite(got).any()


# ---------------------------------------------------------------------------------------
# convolve


@pytest.mark.parametrize("na,nv", [(5, 3), (3, 5), (4, 4), (6, 1), (7, 2), (2, 7)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve(na, nv, mode, rng):
    a, an = rand(rng, (na,), mx.float64)
    v, vn = rand(rng, (nv,), mx.float64)
    check(mx.convolve(a, v, mode=mode), np.convolve(an, vn, mode), mx.float64)


def test_convolve_default_dtype_and_errors(rng):
    a, an = rand(rng, (6,), mx.float16)
    v, vn = rand(rng, (3,), mx.float32)
    check(mx.convolve(a, v), np.convolve(an, vn), mx.float32)
    with pytest.raises(ValueError, match=r"\[convolve\] Invalid mode\."):
        mx.convolve(a, v, mode="circular")
    with pytest.raises(ValueError, match=r"\[convolve\] Inputs must be 1D\."):
        mx.convolve(mx.ones((2, 3)), v)
    with pytest.raises(ValueError, match=r"\[convolve\] Inputs cannot be empty\."):
        mx.convolve(mx.ones((0,)), v)
    with pytest.raises(ValueError, match=r"Invalid input array with type int32"):
        mx.convolve(mx.ones((4,), mx.int32), mx.ones((2,), mx.int32))


# ---------------------------------------------------------------------------------------
# Python argument forms and MLX's errors


def test_signatures():
    x, w = mx.ones((1, 5, 5, 2)), mx.ones((2, 3, 3, 2))
    assert mx.conv2d(x, w, [2, 1]).shape == (1, 2, 3, 2)
    assert mx.conv2d(x, w, (2, 1), (1, 0), (1, 1), 1, stream=mx.cpu).shape == (1, 3, 3, 2)
    assert mx.conv1d(mx.ones((2, 8, 4)), mx.ones((6, 3, 4)), True).shape == (2, 6, 6)
    with pytest.raises(TypeError):
        mx.conv1d(input=mx.ones((2, 8, 4)), weight=mx.ones((6, 3, 4)))
    with pytest.raises(TypeError):
        mx.conv1d(mx.ones((2, 8, 4)), mx.ones((6, 3, 4)), stride=(1,))
    for bad in [(1, 2, 3), (2,), None, 1.5]:
        with pytest.raises(TypeError):
            mx.conv2d(x, w, stride=bad)
    with pytest.raises(TypeError):
        mx.conv3d(mx.ones((1, 3, 3, 3, 1)), mx.ones((1, 1, 1, 1, 1)), padding=(1, 1))
    with pytest.raises(TypeError):
        mx.conv_transpose2d(x, w, output_padding=(1, 1, 1))
    for bad in [None, ([1],), ([1], [2], [3]), "1", 1.0]:
        with pytest.raises(TypeError):
            mx.conv_general(x, w, padding=bad)
    for kw in ["stride", "kernel_dilation", "input_dilation"]:
        with pytest.raises(TypeError):
            mx.conv_general(x, w, **{kw: None})


X1, W1 = (2, 8, 4), (6, 3, 4)
ERRORS = [
    (lambda: mx.conv1d(mx.ones(X1), mx.ones(W1), stride=0),
     "[conv] Stride sizes must be positive. Got strides (0)."),
    (lambda: mx.conv1d(mx.ones(X1), mx.ones(W1), dilation=0),
     "[conv] Kernel dilation sizes must be positive. Got kernel dilation (0)."),
    (lambda: mx.conv_general(mx.ones(X1), mx.ones(W1), input_dilation=0),
     "[conv] Input dilation sizes must be positive. Got input dilation (0)."),
    (lambda: mx.conv_general(mx.ones((2, 5, 5, 4)), mx.ones((6, 3, 3, 4)), stride=[0, 1],
                             kernel_dilation=[1, 0]),
     "[conv] Stride sizes must be positive. Got strides (0,1)."),
    (lambda: mx.conv1d(mx.ones(X1), mx.ones(W1), padding=-5),
     "[conv] Spatial dimensions of input after padding cannot be smaller than weight spatial "
     "dimensions. Got error at axis 1 for input with shape (2,0,4), padding low (0), padding "
     "high (0), and weight of shape (6,3,4)."),
    (lambda: mx.conv1d(mx.ones(X1), mx.ones((6, 9, 4))),
     "[conv] Spatial dimensions of input after padding cannot be smaller than weight spatial "
     "dimensions. Got error at axis 1 for input with shape (2,8,4), padding low (0), padding "
     "high (0), and weight of shape (6,9,4)."),
    (lambda: mx.conv_general(mx.ones((2, 5, 5, 4)), mx.ones((6, 3, 3, 4)),
                             padding=([-1, -6], [0, 0])),
     "[conv] Spatial dimensions of input after padding cannot be smaller than weight spatial "
     "dimensions. Got error at axis 2 for input with shape (2,4,0,4), padding low (0,0), "
     "padding high (0,0), and weight of shape (6,3,3,4)."),
    (lambda: mx.conv1d(mx.ones(X1), mx.ones(W1), groups=3),
     "[conv] The input channels must be divisible by the number of groups. Got input with "
     "shape (2,8,4) and 3 groups."),
    (lambda: mx.conv1d(mx.ones(X1), mx.ones((5, 3, 2)), groups=2),
     "[conv] If groups > 1, the output channels must be divisible by the number of groups. "
     "Got 5 output channels and 2 groups."),
    (lambda: mx.conv1d(mx.ones(X1), mx.ones((6, 3, 3))),
     "[conv] Expect the input channels in the input and weight array to match but got shapes "
     "- input: (2,8,4) and weight: (6,3,3)"),
    (lambda: mx.conv1d(mx.ones(X1), mx.ones((6, 3, 1)), groups=2),
     "Given groups=2 and weights of shape (6,3,1), expected to have 2 input channels but got 4 "
     "input channels instead."),
    (lambda: mx.conv1d(mx.ones((8, 4)), mx.ones(W1)),
     "[conv] Only works for inputs with 1-3 spatial dimensions. The inputs must be in the "
     "format [N, ..., C_in]"),
    (lambda: mx.conv_general(mx.ones((2, 3, 3, 3, 3, 4)), mx.ones((3, 1, 1, 1, 1, 4))),
     "[conv] Only works for inputs with 1-3 spatial dimensions. The inputs must be in the "
     "format [N, ..., C_in]"),
    (lambda: mx.conv1d(mx.ones(X1), mx.ones((3, 4))),
     "[conv] Invalid weight array with 2 dimensions for 1D convolution. Expected an array with "
     "3 dimensions following the format [C_out, ..., C_in]."),
    (lambda: mx.conv2d(mx.ones(X1), mx.ones(W1)),
     "[conv] Invalid strides (1,1) for 1D convolution."),
    (lambda: mx.conv_general(mx.ones(X1), mx.ones(W1), padding=([1, 1], [2])),
     "[conv] Invalid padding (1,1) | (2) for 1D convolution."),
    (lambda: mx.conv_general(mx.ones(X1), mx.ones(W1), padding=[1, 2, 3]),
     "[conv] Invalid padding (1,2,3) | (1,2,3) for 1D convolution."),
    (lambda: mx.conv_general(mx.ones(X1), mx.ones(W1), kernel_dilation=[1, 2]),
     "[conv] Invalid kernel dilation (1,2) for 1D convolution."),
    (lambda: mx.conv_general(mx.ones(X1), mx.ones(W1), input_dilation=[1, 2]),
     "[conv] Invalid input dilation (1,2) for 1D convolution."),
    (lambda: mx.conv_transpose1d(mx.ones(X1), mx.ones(W1), stride=0),
     "[conv] Input dilation sizes must be positive. Got input dilation (0)."),
    (lambda: mx.conv_transpose1d(mx.ones(X1), mx.ones(W1), padding=10),
     "[conv] Spatial dimensions of input after padding cannot be smaller than weight spatial "
     "dimensions. Got error at axis 1 for input with shape (2,0,4), padding low (0), padding "
     "high (0), and weight of shape (6,3,4)."),
    (lambda: mx.conv_transpose1d(mx.ones((1, 5, 2)), mx.ones((2, 3, 3, 2))),
     "[conv] Invalid weight array with 4 dimensions for 1D convolution. Expected an array with "
     "3 dimensions following the format [C_out, ..., C_in]."),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    fn, msg = ERRORS[i]
    with pytest.raises(ValueError) as e:
        fn()
    assert str(e.value) == msg


def test_non_positive_groups_are_errors():
    for g in [0, -1, -2]:
        with pytest.raises(ValueError, match="groups"):
            mx.conv1d(mx.ones(X1), mx.ones(W1), groups=g)


def test_mlx_quirks_kept():
    # the window may pass the end by less than a stride (C division in the output size)
    assert mx.conv1d(mx.ones(X1), mx.ones((6, 9, 4)), stride=2).shape == (2, 1, 6)
    # a negative high padding beyond the input wraps once, as MLX's slice does
    assert mx.conv_general(mx.ones((2, 5, 5, 4)), mx.ones((6, 3, 3, 4)),
                           padding=([-1, -1], [0, -6])).shape == (2, 2, 1, 6)
    # output_padding is not limited by the stride
    assert mx.conv_transpose1d(mx.ones(X1), mx.ones(W1), stride=2, output_padding=2).shape == \
        (2, 19, 6)
    assert mx.conv_transpose1d(mx.ones(X1), mx.ones(W1), output_padding=-1).shape == (2, 9, 6)


# ---------------------------------------------------------------------------------------
# gradients (float64) against central finite differences


def f64(rng, shape):
    v = rng.standard_normal(shape)
    return mx.array(v, dtype=mx.float64), v


def directional_fd(f, args, dirs, eps=1e-6):
    """(f(args + eps * dirs) - f(args - eps * dirs)) / (2 eps) for a scalar f."""
    plus = [a + eps * d for a, d in zip(args, dirs)]
    minus = [a - eps * d for a, d in zip(args, dirs)]
    return (float(f(*plus)) - float(f(*minus))) / (2 * eps)


def full_fd(f, args, i, eps=1e-6):
    base = [np.array(a) for a in args]
    g = np.zeros_like(base[i])
    for idx in np.ndindex(base[i].shape):
        p = [b.copy() for b in base]
        m = [b.copy() for b in base]
        p[i][idx] += eps
        m[i][idx] -= eps
        fp = float(f(*[mx.array(v, dtype=mx.float64) for v in p]))
        fm = float(f(*[mx.array(v, dtype=mx.float64) for v in m]))
        g[idx] = (fp - fm) / (2 * eps)
    return g


GRAD_CASES = [
    ("conv1d", (2, 9, 4), (6, 3, 4), dict(stride=2, padding=1, dilation=2)),
    ("conv1d", (2, 9, 4), (6, 3, 2), dict(stride=2, padding=1, groups=2)),
    ("conv1d", (1, 70, 2), (3, 66, 2), {}),                       # many taps: the conv form
    ("conv1d", (2, 8, 2), (3, 9, 2), dict(stride=2)),             # window past the end
    ("conv1d", (2, 7, 4), (8, 1, 2), dict(stride=2, groups=2)),   # 1x1
    ("conv1d", (2, 6, 18), (18, 3, 9), dict(padding=1, groups=2)),  # a GEMM per group
    ("conv1d", (2, 6, 6), (12, 3, 1), dict(padding=2, dilation=2, groups=6)),  # depthwise
    ("conv1d", (2, 15, 1), (1, 4, 1), dict(stride=2, padding=3, dilation=2)),  # one channel
    ("conv_general", (2, 15, 1), (1, 4, 1), dict(stride=3, padding=([4], [-1]), flip=True)),
    ("convolve", (17,), (5,), dict(mode="same")),
    ("conv2d", (2, 7, 8, 4), (6, 3, 2, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                                 groups=2)),
    ("conv2d", (1, 6, 6, 3), (3, 3, 3, 1), dict(padding=1, groups=3)),
    ("conv3d", (1, 4, 5, 4, 2), (3, 2, 3, 2, 2), dict(stride=(1, 2, 1), padding=1)),
    ("conv_general", (2, 7, 8, 4), (6, 3, 2, 2), dict(stride=(2, 1), padding=([1, -1], [2, 3]),
                                                       kernel_dilation=(1, 2),
                                                       input_dilation=(2, 3), groups=2,
                                                       flip=True)),
    ("conv_general", (2, 7, 8, 4), (6, 3, 2, 4), dict(stride=(3, 2), padding=([0, 2], [1, 0]),
                                                       kernel_dilation=(2, 1), flip=True)),
    ("conv_transpose1d", (2, 5, 4), (6, 3, 4), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose2d", (1, 4, 5, 4), (6, 3, 2, 2), dict(stride=(2, 3), padding=(1, 0),
                                                           dilation=(1, 2), groups=2)),
    ("conv_transpose3d", (1, 2, 3, 2, 2), (2, 2, 2, 2, 2), dict(stride=2, padding=1,
                                                                 output_padding=1)),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: f"{c[0]}{c[1]}{c[3]}")
def test_vjp_and_jvp(case, rng):
    name, xs, ws, kw = case
    fn = getattr(mx, name)
    x, xn = f64(rng, xs)
    w, wn = f64(rng, ws)
    c, _ = f64(rng, fn(x, w, **kw).shape)

    def loss(a, b):
        return (fn(a, b, **kw) * c).sum()

    gx, gw = mx.grad(loss, argnums=(0, 1))(x, w)
    assert gx.dtype == mx.float64 and gx.shape == x.shape and gw.shape == w.shape
    for _ in range(3):
        dx, _ = f64(rng, xs)
        dw, _ = f64(rng, ws)
        want = directional_fd(loss, [x, w], [dx, dw])
        got = float((gx * dx).sum() + (gw * dw).sum())
        assert abs(got - want) <= 1e-6 * (1 + abs(want)), (got, want)
        # jvp: the tangent of the output, projected on c
        _, (t,) = mx.jvp(lambda a, b: fn(a, b, **kw), [x, w], [dx, dw])
        assert abs(float((t * c).sum()) - want) <= 1e-6 * (1 + abs(want))
    # vjp with an explicit cotangent equals grad
    _, (vx, vw) = mx.vjp(lambda a, b: fn(a, b, **kw), [x, w], [c])
    np.testing.assert_allclose(np.array(vx), np.array(gx), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.array(vw), np.array(gw), rtol=1e-12, atol=1e-12)


def test_grad_every_element_small(rng):
    x, xn = f64(rng, (2, 5, 3))
    w, wn = f64(rng, (4, 3, 3))

    def loss(a, b):
        return (mx.conv1d(a, b, stride=2, padding=2, dilation=2) ** 2).sum()

    gx, gw = mx.grad(loss, argnums=(0, 1))(x, w)
    np.testing.assert_allclose(np.array(gx), full_fd(loss, [xn, wn], 0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.array(gw), full_fd(loss, [xn, wn], 1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(padding=([1], [0]),
                                                               input_dilation=2, flip=True)],
                         ids=str)
def test_second_order(kw, rng):
    x, xn = f64(rng, (2, 7, 3))
    w, wn = f64(rng, (4, 3, 3))
    c, _ = f64(rng, mx.conv_general(x, w, **kw).shape)
    r1, _ = f64(rng, (2, 7, 3))
    r2, _ = f64(rng, (4, 3, 3))

    def inner(a, b):  # a scalar built from both first-order gradients
        gx, gw = mx.grad(lambda p, q: (mx.conv_general(p, q, **kw) * c).sum() +
                         (mx.conv_general(p, q, **kw) ** 2).sum(), argnums=(0, 1))(a, b)
        return (gx * r1).sum() + (gw * r2).sum()

    hx, hw = mx.grad(inner, argnums=(0, 1))(x, w)
    for _ in range(2):
        dx, _ = f64(rng, x.shape)
        dw, _ = f64(rng, w.shape)
        want = directional_fd(inner, [x, w], [dx, dw], eps=1e-5)
        got = float((hx * dx).sum() + (hw * dw).sum())
        assert abs(got - want) <= 1e-5 * (1 + abs(want)), (got, want)


@pytest.mark.parametrize("fn", [lambda a, b: mx.conv1d(a, b, padding=1).sum(),
                                lambda a, b: (mx.conv_transpose1d(a, b, stride=2) ** 2).sum(),
                                lambda a, b: mx.conv1d(a, b, stride=2, padding=1).sum()],
                         ids=["conv", "transposed", "strided"])
def test_grad_half_precision_dtypes(fn, rng):
    for dtype in [mx.float16, mx.bfloat16, mx.float32]:
        x = to_mx(rng.standard_normal((2, 6, 4)) * 0.5, dtype)
        w = to_mx(rng.standard_normal((3, 3, 4)) * 0.5, dtype)
        gx, gw = mx.grad(fn, argnums=(0, 1))(x, w)
        assert gx.dtype == dtype and gw.dtype == dtype
        x64, w64 = x.astype(mx.float64), w.astype(mx.float64)
        ex, ew = mx.grad(fn, argnums=(0, 1))(x64, w64)
        rtol = TOL[dtype][0] * 4
        np.testing.assert_allclose(to_np(gx), np.array(ex), rtol=rtol, atol=rtol * 4)
        np.testing.assert_allclose(to_np(gw), np.array(ew), rtol=rtol, atol=rtol * 4)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, groups=2),
                                dict(padding=([2], [0]), input_dilation=2, kernel_dilation=2,
                                     flip=True)], ids=str)
def test_jvp_of_gradients(kw, rng):
    # forward-over-reverse: the tangents of both first-order gradients
    x, _ = f64(rng, (2, 7, 4))
    w, _ = f64(rng, (4, 3, 4 // kw.get("groups", 1)))
    c, _ = f64(rng, mx.conv_general(x, w, **kw).shape)

    def grads(a, b):
        return mx.grad(lambda p, q: (mx.conv_general(p, q, **kw) * c).sum() +
                       0.5 * (mx.conv_general(p, q, **kw) ** 2).sum(), argnums=(0, 1))(a, b)

    dx, _ = f64(rng, x.shape)
    dw, _ = f64(rng, w.shape)
    _, (tx, tw) = mx.jvp(lambda a, b: grads(a, b), [x, w], [dx, dw])
    eps = 1e-6
    gp = grads(x + eps * dx, w + eps * dw)
    gm = grads(x - eps * dx, w - eps * dw)
    np.testing.assert_allclose(np.array(tx), (np.array(gp[0]) - np.array(gm[0])) / (2 * eps),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.array(tw), (np.array(gp[1]) - np.array(gm[1])) / (2 * eps),
                               rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------
# vmap against a loop


@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (2, 1), (None, 3)], ids=str)
@pytest.mark.parametrize("fn", [
    lambda x, w: mx.conv1d(x, w, stride=2, padding=1, groups=2),
    lambda x, w: mx.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1, groups=2),
    lambda x, w: mx.conv_general(x, w, padding=([2], [0]), input_dilation=2, flip=True, groups=2),
], ids=["conv1d", "conv_transpose1d", "conv_general"])
def test_vmap(fn, in_axes, rng):
    B = 3
    xs, ws = (2, 7, 4), (6, 3, 2)

    def batched(shape, ax):
        if ax is None:
            return mx.array(rng.standard_normal(shape), dtype=mx.float64)
        s = list(shape)
        s.insert(ax, B)
        return mx.array(rng.standard_normal(s), dtype=mx.float64)

    x, w = batched(xs, in_axes[0]), batched(ws, in_axes[1])
    got = mx.vmap(fn, in_axes=in_axes)(x, w)
    take = lambda a, ax, b: a if ax is None else mx.take(a, b, axis=ax)
    want = np.stack([np.array(fn(take(x, in_axes[0], b), take(w, in_axes[1], b))) for b in range(B)])
    np.testing.assert_allclose(np.array(got), want, rtol=1e-12, atol=1e-12)


def test_vmap_of_grad_and_grad_of_vmap(rng):
    x = mx.array(rng.standard_normal((3, 2, 7, 4)), dtype=mx.float64)
    w = mx.array(rng.standard_normal((4, 3, 2)), dtype=mx.float64)

    def loss(a, b):
        return (mx.conv1d(a, b, padding=1, groups=2) ** 2).sum()

    per = mx.vmap(mx.grad(loss, argnums=1), in_axes=(0, None))(x, w)
    want = np.stack([np.array(mx.grad(loss, argnums=1)(x[b], w)) for b in range(3)])
    np.testing.assert_allclose(np.array(per), want, rtol=1e-12, atol=1e-12)
    g = mx.grad(lambda a, b: mx.vmap(loss, in_axes=(0, None))(a, b).sum(), argnums=1)(x, w)
    np.testing.assert_allclose(np.array(g), want.sum(0), rtol=1e-12, atol=1e-12)
