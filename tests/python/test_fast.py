"""mx.fast against float64 NumPy references of spec/semantics.md section 12: rms_norm,
layer_norm, rope and scaled_dot_product_attention over every float dtype, size-1 and
non-contiguous inputs, GQA, causal/boolean/additive masks, sinks; MLX's errors; gradients
(vjp, jvp, second order) against central finite differences; vmap against a loop; the
custom-kernel builders raising as MLX's CPU build."""
import numpy as np
import pytest

import mlx.core as mx

FLOATS = [mx.float32, mx.float64, mx.float16, mx.bfloat16]
TOL = {mx.float64: 1e-10, mx.float32: 2e-5, mx.float16: 4e-3, mx.bfloat16: 3e-2}
FINFO_MIN = {mx.float32: np.finfo(np.float32).min, mx.float64: np.finfo(np.float64).min,
             mx.float16: np.finfo(np.float16).min, mx.bfloat16: -3.3895313892515355e38}


def to_np(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a).astype(np.float64)


def to_mx(v, dtype=mx.float32):
    return mx.array(np.asarray(v, np.float64)).astype(dtype)


def close(got, ref, dtype, scale=1.0):
    tol = TOL[dtype] * scale
    ref = np.asarray(ref, np.float64)
    np.testing.assert_allclose(to_np(got), ref, rtol=tol, atol=tol * max(1.0, np.abs(ref).max(initial=0)))


# ---------------------------------------------------------------------------------------
# references


def ref_rms(x, w, eps):
    eps = float(np.float32(eps))  # MLX keeps eps as a float32
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    return y if w is None else y * w


def ref_layer(x, w, b, eps):
    eps = float(np.float32(eps))
    xc = x - x.mean(-1, keepdims=True)
    y = xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def ref_rope(x, dims, traditional, base, scale, offset, freqs=None, forward=True):
    shape = x.shape
    x = x.reshape(shape[0], -1, shape[-2], shape[-1])
    B, N, T, D = x.shape
    half = dims // 2
    off = np.broadcast_to(np.asarray(offset, np.float64).reshape(-1), (B,))
    pos = (np.arange(T)[None, :] + off[:, None]) * scale  # (B, T)
    inv = 1.0 / np.asarray(freqs, np.float64) if freqs is not None else \
        base ** (-np.arange(half) / half)
    th = pos[:, None, :, None] * inv  # (B, 1, T, half)
    c, s = np.cos(th), np.sin(th)
    if not forward:
        s = -s
    out = x.copy()
    if traditional:
        x1, x2 = x[..., 0:dims:2], x[..., 1:dims:2]
        out[..., 0:dims:2] = x1 * c - x2 * s
        out[..., 1:dims:2] = x1 * s + x2 * c
    else:
        x1, x2 = x[..., :half], x[..., half:dims]
        out[..., :half] = x1 * c - x2 * s
        out[..., half:dims] = x1 * s + x2 * c
    return out.reshape(shape)


def ref_sdpa(q, k, v, scale, mask=None, sinks=None, causal=False, hidden=-np.inf):
    scale = float(np.float32(scale))  # MLX keeps the scale as a float32
    B, Nq, Tq, D = q.shape
    rep = Nq // k.shape[1]
    k, v = np.repeat(k, rep, 1), np.repeat(v, rep, 1)
    s = scale * q @ k.swapaxes(-1, -2)
    Tk = k.shape[2]
    if causal:
        vis = np.arange(Tq)[:, None] + Tk - Tq >= np.arange(Tk)[None]
        s = np.where(vis, s, hidden)
    if mask is not None:
        s = np.where(mask, s, hidden) if mask.dtype == bool else s + mask
    if sinks is not None:
        s = np.concatenate([np.broadcast_to(sinks[None, :, None, None], (B, Nq, Tq, 1)), s], -1)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    if sinks is not None:
        p = p[..., 1:]
    return p @ v


def fd_grad(f, xs, i, eps=1e-6):
    """Central differences of the scalar f(*xs) with respect to xs[i] (float64 NumPy)."""
    x = xs[i]
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + eps
        hi = f(*xs)
        x[idx] = old - eps
        lo = f(*xs)
        x[idx] = old
        g[idx] = (hi - lo) / (2 * eps)
    return g


# ---------------------------------------------------------------------------------------
# rms_norm / layer_norm


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 16), (2, 3, 33), (1, 1, 1)])
def test_rms_norm(rng, dtype, shape):
    x = rng.standard_normal(shape)
    w = rng.standard_normal(shape[-1])
    xm, wm = to_mx(x, dtype), to_mx(w, dtype)
    for weight in (None, wm):
        y = mx.fast.rms_norm(xm, weight, 1e-5)
        assert y.dtype == dtype and y.shape == shape
        close(y, ref_rms(to_np(xm), None if weight is None else to_np(wm), 1e-5), dtype, 2)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(1,), (9,), (4, 16), (2, 3, 65)])
def test_layer_norm(rng, dtype, shape):
    x = rng.standard_normal(shape) * 3 + 1
    w, b = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    xm, wm, bm = to_mx(x, dtype), to_mx(w, dtype), to_mx(b, dtype)
    for weight in (None, wm):
        for bias in (None, bm):
            y = mx.fast.layer_norm(xm, weight, bias, 1e-5)
            assert y.dtype == dtype and y.shape == shape
            ref = ref_layer(to_np(xm), None if weight is None else to_np(wm),
                            None if bias is None else to_np(bm), 1e-5)
            close(y, ref, dtype, 3)


def test_norms_noncontiguous_and_promotion(rng):
    x = to_mx(rng.standard_normal((16, 6, 5)))
    xt = x.transpose(2, 0, 1)[:, ::2]  # (5, 8, 6), strided
    w = to_mx(rng.standard_normal(6))
    close(mx.fast.rms_norm(xt, w, 1e-6), ref_rms(to_np(xt), to_np(w), 1e-6), mx.float32)
    close(mx.fast.layer_norm(xt, w, w, 1e-6), ref_layer(to_np(xt), to_np(w), to_np(w), 1e-6),
          mx.float32)
    xh = xt.astype(mx.float16)
    assert mx.fast.rms_norm(xh, w, 1e-5).dtype == mx.float32
    assert mx.fast.rms_norm(xh, None, 1e-5).dtype == mx.float16
    assert mx.fast.layer_norm(xh, None, w, 1e-5).dtype == mx.float16  # bias ignored for the type
    assert mx.fast.layer_norm(xh, w.astype(mx.float16), w, 1e-5).dtype == mx.float32
    # a large row accumulates in float32 for half inputs
    big = to_mx(rng.standard_normal((2, 4096)), mx.float16)
    close(mx.fast.rms_norm(big, None, 1e-5), ref_rms(to_np(big), None, 1e-5), mx.float16, 2)


def test_norms_nan_inf_and_empty():
    x = mx.array([[1.0, float("nan"), 2.0], [1.0, 2.0, 3.0], [float("inf"), 1.0, 1.0]])
    y = np.array(mx.fast.rms_norm(x, None, 1e-5))
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all() and np.isnan(y[2]).any()
    assert mx.fast.rms_norm(mx.zeros((0, 4)), None, 1e-5).shape == (0, 4)
    assert mx.fast.layer_norm(mx.zeros((3, 0)), None, None, 1e-5).shape == (3, 0)
    z = np.array(mx.fast.rms_norm(mx.zeros((2, 3)), None, 1e-5))
    assert (z == 0).all()


def test_norm_errors():
    x = mx.ones((2, 8))
    with pytest.raises(ValueError, match=r"\[rms_norm\] Input must have at least 1 dimension"):
        mx.fast.rms_norm(mx.array(1.0), None, 1e-5)
    with pytest.raises(ValueError, match=r"\[rms_norm\] \(\*weight\) must have 1 dimension but has 2"):
        mx.fast.rms_norm(x, mx.ones((1, 8)), 1e-5)
    with pytest.raises(ValueError, match=r"last dimension of x but has 7 elements"):
        mx.fast.rms_norm(x, mx.ones(7), 1e-5)
    with pytest.raises(ValueError, match=r"\[rms_norm\] Received unsupported type int32"):
        mx.fast.rms_norm(x.astype(mx.int32), None, 1e-5)
    with pytest.raises(ValueError, match=r"\[layer_norm\] bias must have 1 dimension but has 2"):
        mx.fast.layer_norm(x, None, mx.ones((8, 1)), 1e-5)
    with pytest.raises(ValueError, match=r"\[layer_norm\] weight must have the same size"):
        mx.fast.layer_norm(x, mx.ones(3), None, 1e-5)
    with pytest.raises(ValueError, match=r"\[layer_norm\] Received unsupported type int32"):
        mx.fast.layer_norm(x.astype(mx.int32), None, None, 1e-5)
    with pytest.raises(TypeError):
        mx.fast.rms_norm(x, None)


# ---------------------------------------------------------------------------------------
# rope


ROPE_CASES = [
    # shape, dims, traditional, base, scale, offset
    ((2, 3, 5, 8), 8, False, 10000.0, 1.0, 0),
    ((2, 3, 5, 8), 8, True, 10000.0, 1.0, 3),
    ((1, 1, 1, 4), 2, False, 500.0, 0.5, 7),
    ((2, 7, 12), 6, False, 10.0, 2.0, 1),       # 3-D: N = 1, dims < D
    ((2, 7, 12), 6, True, 10.0, 1.0, 0),
    ((2, 2, 3, 4, 10), 8, True, 1000.0, 1.0, 5),  # 5-D: axes 1..2 folded into N
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", ROPE_CASES)
def test_rope(rng, dtype, case):
    shape, dims, trad, base, scale, offset = case
    x = to_mx(rng.standard_normal(shape), dtype)
    y = mx.fast.rope(x, dims, traditional=trad, base=base, scale=scale, offset=offset)
    assert y.dtype == dtype and y.shape == shape
    # the angles are float32 as in MLX, so float64 inputs agree to float32 precision
    close(y, ref_rope(to_np(x), dims, trad, base, scale, offset),
          mx.float32 if dtype == mx.float64 else dtype, 5)


@pytest.mark.parametrize("trad", [False, True])
def test_rope_array_offsets_and_freqs(rng, trad):
    x = to_mx(rng.standard_normal((3, 2, 6, 16)))
    for off in (mx.array(4), mx.array([2]), mx.array([0, 5, 9]), mx.array([1, 2, 3], mx.int64),
                mx.array([1, 2, 3], mx.uint8)):
        y = mx.fast.rope(x, 12, traditional=trad, base=100.0, scale=1.5, offset=off)
        close(y, ref_rope(to_np(x), 12, trad, 100.0, 1.5, np.array(off)), mx.float32, 2)
    freqs = mx.array(rng.uniform(0.5, 4.0, 6).astype(np.float32))
    y = mx.fast.rope(x, 12, traditional=trad, base=None, scale=1.0, offset=2, freqs=freqs)
    close(y, ref_rope(to_np(x), 12, trad, None, 1.0, 2, freqs=np.array(freqs)), mx.float32, 2)


def test_rope_noncontiguous(rng):
    x = to_mx(rng.standard_normal((2, 6, 3, 8)))  # (B, T, N, D) -> (B, N, T, D)
    xt = x.transpose(0, 2, 1, 3)
    y = mx.fast.rope(xt, 8, traditional=False, base=10000.0, scale=1.0, offset=1)
    close(y, ref_rope(to_np(xt), 8, False, 10000.0, 1.0, 1), mx.float32, 2)
    assert mx.fast.rope(mx.zeros((0, 2, 3, 4)), 4, traditional=False, base=1.0, scale=1.0,
                        offset=0).shape == (0, 2, 3, 4)


def test_rope_errors():
    x = mx.ones((2, 3, 4, 8))
    r = mx.fast.rope
    with pytest.raises(ValueError, match=r"\[rope\] Neither base nor freqs has a value"):
        r(x, 8, traditional=False, base=None, scale=1.0, offset=0)
    with pytest.raises(ValueError, match=r"\[rope\] Only one of base or freqs"):
        r(x, 8, traditional=False, base=1.0, scale=1.0, offset=0, freqs=mx.ones(4))
    with pytest.raises(ValueError, match=r"freqs must be one dimensional with size 4 but got shape \(3\)"):
        r(x, 8, traditional=False, base=None, scale=1.0, offset=0, freqs=mx.ones(3))
    with pytest.raises(ValueError, match=r"\[rope\] dims must be even but got 9"):
        r(x, 9, traditional=False, base=10.0, scale=1.0, offset=0)
    with pytest.raises(ValueError, match=r"dims must not exceed the input's last dimension \(8\) but got 10"):
        r(x, 10, traditional=False, base=10.0, scale=1.0, offset=0)
    with pytest.raises(ValueError, match=r"dims must be positive but got 0"):
        r(x, 0, traditional=False, base=10.0, scale=1.0, offset=0)
    with pytest.raises(ValueError, match=r"at least 3 dimensions but got input with 2"):
        r(x[0, 0], 8, traditional=False, base=10.0, scale=1.0, offset=0)
    with pytest.raises(ValueError, match=r"must be a floating type but got int32"):
        r(x.astype(mx.int32), 8, traditional=False, base=10.0, scale=1.0, offset=0)
    with pytest.raises(ValueError, match=r"scalar or vector with 2 elements but has shape \(3\)"):
        r(x, 8, traditional=False, base=10.0, scale=1.0, offset=mx.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"at most one dimension but has shape \(1,2\)"):
        r(x, 8, traditional=False, base=10.0, scale=1.0, offset=mx.array([[1, 2]]))
    with pytest.raises(ValueError, match=r"offset must be an integer but got type float32"):
        r(x, 8, traditional=False, base=10.0, scale=1.0, offset=1.5)
    with pytest.raises(TypeError):
        r(x, 8, traditional=False, base=10.0, scale=1.0)


# ---------------------------------------------------------------------------------------
# scaled_dot_product_attention

SDPA_SHAPES = [
    # B, Nq, Nkv, Tq, Tk, D, Dv
    (1, 1, 1, 1, 1, 4, 4),
    (1, 4, 2, 3, 5, 8, 6),
    (2, 8, 1, 1, 300, 16, 16),     # MQA decode
    (1, 6, 3, 37, 70, 16, 8),      # GQA prefill, query blocks with a tail
    (1, 2, 2, 1, 1100, 32, 32),    # decode over chunked keys
    (2, 4, 2, 300, 290, 8, 12),    # blocked path (many queries), more queries than keys
]


def sdpa_inputs(rng, shape, dtype):
    B, Nq, Nkv, Tq, Tk, D, Dv = shape
    q = to_mx(rng.standard_normal((B, Nq, Tq, D)), dtype)
    k = to_mx(rng.standard_normal((B, Nkv, Tk, D)), dtype)
    v = to_mx(rng.standard_normal((B, Nkv, Tk, Dv)), dtype)
    return q, k, v


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SDPA_SHAPES)
def test_sdpa_masks(rng, dtype, shape):
    q, k, v = sdpa_inputs(rng, shape, dtype)
    B, Nq, Nkv, Tq, Tk, D, Dv = shape
    qn, kn, vn = to_np(q), to_np(k), to_np(v)
    sc = D ** -0.5
    hid = FINFO_MIN[dtype]
    f = mx.fast.scaled_dot_product_attention
    o = f(q, k, v, scale=sc)
    assert o.shape == (B, Nq, Tq, Dv) and o.dtype == dtype
    close(o, ref_sdpa(qn, kn, vn, sc), dtype, 3)
    close(f(q, k, v, scale=sc, mask="causal"), ref_sdpa(qn, kn, vn, sc, causal=True, hidden=hid),
          dtype, 3)
    bm = rng.random((Nq, Tq, Tk)) > 0.3
    close(f(q, k, v, scale=sc, mask=mx.array(bm)), ref_sdpa(qn, kn, vn, sc, mask=bm, hidden=hid),
          dtype, 3)
    am = rng.standard_normal((B, 1, Tq, Tk))
    amx = to_mx(am, dtype)
    close(f(q, k, v, scale=sc, mask=amx), ref_sdpa(qn, kn, vn, sc, mask=to_np(amx)), dtype, 3)
    sinks = to_mx(rng.standard_normal(Nq), dtype)
    close(f(q, k, v, scale=sc, sinks=sinks, mask="causal"),
          ref_sdpa(qn, kn, vn, sc, sinks=to_np(sinks), causal=True, hidden=hid), dtype, 3)


def test_sdpa_causal_shorter_and_longer_queries(rng):
    f = mx.fast.scaled_dot_product_attention
    # 12 > 5 and 70 > 40: the first rows see no key (tiled and blocked paths)
    for tq, tk in [(3, 10), (10, 10), (12, 5), (64, 200), (70, 40)]:
        q, k, v = sdpa_inputs(rng, (2, 4, 2, tq, tk, 8, 8), mx.float32)
        o = f(q, k, v, scale=0.5, mask="causal")
        ref = ref_sdpa(to_np(q), to_np(k), to_np(v), 0.5, causal=True,
                       hidden=FINFO_MIN[mx.float32])
        close(o, ref, mx.float32, 3)


def test_sdpa_noncontiguous_promotion_and_edges(rng):
    f = mx.fast.scaled_dot_product_attention
    x = to_mx(rng.standard_normal((2, 9, 4, 8)))  # (B, T, H, D)
    q = x.transpose(0, 2, 1, 3)
    k = x[:, ::2].transpose(0, 2, 1, 3)
    v = x[:, ::2, :, ::-1].transpose(0, 2, 1, 3)
    close(f(q, k, v, scale=0.3), ref_sdpa(to_np(q), to_np(k), to_np(v), 0.3), mx.float32, 3)
    # promotion: float16 q with float32 k/v gives float32; integer additive masks are accepted
    o = f(q.astype(mx.float16), k, v, scale=0.3, mask=mx.zeros((5,), mx.int32))
    assert o.dtype == mx.float32
    # a row whose additive mask is all -inf gives NaN (MLX's fused kernels do too)
    am = np.zeros((9, 5))
    am[0] = -np.inf
    o = np.array(f(q, k, v, scale=0.3, mask=mx.array(am.astype(np.float32))))
    assert np.isnan(o[:, :, 0]).all() and np.isfinite(o[:, :, 1:]).all()
    # a partly -inf row ignores those keys
    am = np.zeros((9, 5))
    am[:, :3] = -np.inf
    o = f(q, k, v, scale=0.3, mask=mx.array(am.astype(np.float32)))
    close(o, ref_sdpa(to_np(q), to_np(k), to_np(v), 0.3, mask=am), mx.float32, 3)
    # the blocked path (many queries) on strided views
    y = to_mx(rng.standard_normal((1, 80, 2, 8)))
    qb, kb = y.transpose(0, 2, 1, 3), y[:, ::-2].transpose(0, 2, 1, 3)
    close(f(qb, kb, kb, scale=0.3, mask="causal"),
          ref_sdpa(to_np(qb), to_np(kb), to_np(kb), 0.3, causal=True, hidden=FINFO_MIN[mx.float32]),
          mx.float32, 3)
    # float16 inputs are widened exactly (subnormals, extremes, inf, NaN): one key weighs 1
    vals = np.array([6e-8, -3e-5, 65504, -np.inf, np.inf, np.nan, 0.0, -1.5], np.float16)
    v16 = mx.array(vals).reshape(1, 1, 1, 8)
    o16 = f(mx.zeros((1, 1, 1, 4), mx.float16), mx.zeros((1, 1, 1, 4), mx.float16), v16, scale=1.0)
    np.testing.assert_array_equal(np.array(o16).reshape(-1), vals)
    # no keys: an empty weighted sum
    o = f(q, k[:, :, :0], v[:, :, :0], scale=0.3)
    assert o.shape == (2, 4, 9, 8) and (np.array(o) == 0).all()


def test_sdpa_errors():
    f = mx.fast.scaled_dot_product_attention
    q, k, v = mx.ones((1, 4, 3, 8)), mx.ones((1, 2, 5, 8)), mx.ones((1, 2, 5, 6))
    pre = r"\[scaled_dot_product_attention\] "
    with pytest.raises(ValueError, match=pre + r"invalid mask option 'foo'"):
        f(q, k, v, scale=1.0, mask="foo")
    with pytest.raises(TypeError):
        f(q, k, v, scale=1.0, mask=3)
    with pytest.raises(TypeError):
        f(q, k, v)
    with pytest.raises(ValueError, match=pre + r"the mask with shape \(1,1,1,1,1\) expected to have at most rank 4"):
        f(q, k, v, scale=1.0, mask=mx.ones((1, 1, 1, 1, 1)))
    with pytest.raises(ValueError):
        f(q, k, v, scale=1.0, mask=mx.ones((2, 5)))
    with pytest.raises(ValueError, match=pre + r"Mask type must promote to output type float32"):
        f(q, k, v, scale=1.0, mask=mx.ones((3, 5), mx.float64))
    with pytest.raises(ValueError, match=pre + r"Received invalid shape for sinks \(3\)"):
        f(q, k, v, scale=1.0, sinks=mx.ones(3))
    with pytest.raises(ValueError, match=pre + r"Type of sinks must promote"):
        f(q, k, v, scale=1.0, sinks=mx.ones(4, mx.float64))
    with pytest.raises(ValueError, match=pre + r"input with shape \(4,3,8\) expected to be rank 4"):
        f(q[0], k, v, scale=1.0)
    with pytest.raises(ValueError, match=pre + r"mismatching batch dimension for input with shape \(2,2,5,8\)"):
        f(q, mx.ones((2, 2, 5, 8)), v, scale=1.0)
    with pytest.raises(ValueError, match=pre + r"query, keys expected to have matching last dimension"):
        f(q, mx.ones((1, 2, 5, 7)), v, scale=1.0)
    with pytest.raises(ValueError, match=pre + r"keys, values expected to have matching n_kv_heads"):
        f(q, k, mx.ones((1, 3, 5, 6)), scale=1.0)
    with pytest.raises(ValueError, match=pre + r"n_heads must be a multiple of n_kv_heads, found n_heads 3"):
        f(mx.ones((1, 3, 3, 8)), k, v, scale=1.0)
    with pytest.raises(ValueError, match=pre + r"Received unsupported type int32"):
        f(q.astype(mx.int32), k.astype(mx.int32), v.astype(mx.int32), scale=1.0)
    with pytest.raises(ValueError):
        f(q, k, mx.ones((1, 2, 4, 6)), scale=1.0)


# ---------------------------------------------------------------------------------------
# gradients


def f64(a):
    return mx.array(np.asarray(a, np.float64), dtype=mx.float64)


def check_vjp(fn, args, rng, argnums, tol=1e-6):
    """mx.vjp of fn (mx float64 arrays) against central differences of <fn(x), c>."""
    arrs = [f64(a) for a in args]
    out = fn(*arrs)
    c = rng.standard_normal(out.shape)
    _, vjps = mx.vjp(lambda *xs: fn(*xs), arrs, [f64(c)])
    xs = [np.array(a, np.float64) for a in args]

    def scalar(*ys):
        return float((np.array(fn(*[f64(y) for y in ys])) * c).sum())

    for i in argnums:
        np.testing.assert_allclose(np.array(vjps[i]), fd_grad(scalar, xs, i), rtol=tol, atol=tol)


def check_jvp(fn, args, rng, tol=1e-6):
    arrs = [f64(a) for a in args]
    ts = [rng.standard_normal(np.shape(a)) for a in args]
    _, jv = mx.jvp(fn, arrs, [f64(t) for t in ts])
    eps = 1e-6
    hi = np.array(fn(*[f64(a + eps * t) for a, t in zip(args, ts)]))
    lo = np.array(fn(*[f64(a - eps * t) for a, t in zip(args, ts)]))
    np.testing.assert_allclose(np.array(jv[0]), (hi - lo) / (2 * eps), rtol=tol, atol=tol)


def test_norm_grads(rng):
    x = rng.standard_normal((3, 6))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    check_vjp(lambda x, w: mx.fast.rms_norm(x, w, 1e-5), [x, w], rng, [0, 1])
    check_vjp(lambda x: mx.fast.rms_norm(x, None, 1e-5), [x], rng, [0])
    check_vjp(lambda x, w, b: mx.fast.layer_norm(x, w, b, 1e-5), [x, w, b], rng, [0, 1, 2])
    check_vjp(lambda x, b: mx.fast.layer_norm(x, None, b, 1e-5), [x, b], rng, [0, 1])
    check_jvp(lambda x, w: mx.fast.rms_norm(x, w, 1e-5), [x, w], rng)
    check_jvp(lambda x, w, b: mx.fast.layer_norm(x, w, b, 1e-5), [x, w, b], rng)
    # second order: the gradient of a gradient component against differences of mx.grad
    g1 = mx.grad(lambda x: (mx.fast.rms_norm(x, f64(w), 1e-5) ** 2 * x).sum())
    check_vjp(lambda x: g1(x), [x], rng, [0], tol=1e-5)
    g2 = mx.grad(lambda x: (mx.fast.layer_norm(x, f64(w), f64(b), 1e-5) ** 3).sum())
    check_vjp(lambda x: g2(x), [x], rng, [0], tol=1e-5)


def test_norm_grad_float32_matches_float64(rng):
    x = rng.standard_normal((4, 32))
    w = rng.standard_normal(32)
    for dt, tol in ((mx.float32, 1e-4), (mx.float16, 3e-2)):
        g = mx.grad(lambda x, w: (mx.fast.rms_norm(x, w, 1e-5) * mx.arange(32)).sum(), (0, 1))
        g64 = g(f64(x), f64(w))
        gl = g(to_mx(x, dt), to_mx(w, dt))
        assert gl[0].dtype == dt
        for a, r in zip(gl, g64):
            np.testing.assert_allclose(to_np(a), np.array(r), rtol=tol, atol=tol * 10)


def test_rope_grads(rng):
    x = rng.standard_normal((2, 2, 3, 6))
    for trad in (False, True):
        f = lambda x: mx.fast.rope(x, 4, traditional=trad, base=50.0, scale=0.7, offset=2)
        check_vjp(f, [x], rng, [0])
        check_jvp(f, [x], rng)
    fo = lambda x: mx.fast.rope(x, 6, traditional=False, base=50.0, scale=1.0,
                                offset=mx.array([1, 4]))
    check_vjp(fo, [x], rng, [0])
    with pytest.raises(ValueError, match=r"vjp for offset or frequencies not supported"):
        mx.grad(lambda fr: mx.fast.rope(f64(x), 4, traditional=False, base=None, scale=1.0,
                                        offset=0, freqs=fr).sum())(mx.ones(2))


def test_sdpa_grads(rng):
    q = rng.standard_normal((1, 4, 3, 5))
    k = rng.standard_normal((1, 2, 4, 5))
    v = rng.standard_normal((1, 2, 4, 3))
    S = mx.fast.scaled_dot_product_attention
    check_vjp(lambda q, k, v: S(q, k, v, scale=0.4), [q, k, v], rng, [0, 1, 2])
    check_vjp(lambda q, k, v: S(q, k, v, scale=0.4, mask="causal"), [q, k, v], rng, [0, 1, 2])
    am = rng.standard_normal((4, 3, 4))
    check_vjp(lambda q, k, v, m: S(q, k, v, scale=0.4, mask=m), [q, k, v, am], rng, [0, 1, 2, 3])
    sinks = rng.standard_normal(4)
    check_vjp(lambda q, k, v, s: S(q, k, v, scale=0.4, sinks=s), [q, k, v, sinks], rng,
              [0, 1, 2, 3])
    bm = mx.array(rng.random((3, 4)) > 0.4)
    check_vjp(lambda q, k, v: S(q, k, v, scale=0.4, mask=bm), [q, k, v], rng, [0, 1, 2])
    check_jvp(lambda q, k, v, s: S(q, k, v, scale=0.4, sinks=s, mask="causal"),
              [q, k, v, sinks], rng)
    check_jvp(lambda q, k, v, m: S(q, k, v, scale=0.4, mask=m), [q, k, v, am], rng)
    # second order through the composed derivatives
    g = mx.grad(lambda q: (S(q, f64(k), f64(v), scale=0.4) ** 2).sum())
    check_vjp(lambda q: g(q), [q], rng, [0], tol=1e-5)


# ---------------------------------------------------------------------------------------
# vmap against a loop


def check_vmap(fn, args, in_axes):
    out = fn_vm = mx.vmap(fn, in_axes=in_axes)(*args)
    n = next(a.shape[ax] for a, ax in zip(args, in_axes) if ax is not None)
    for i in range(n):
        sl = [a if ax is None else mx.take(a, i, axis=ax) for a, ax in zip(args, in_axes)]
        np.testing.assert_allclose(np.array(out[i]), np.array(fn(*sl)), rtol=1e-5, atol=1e-6)
    return fn_vm


def test_vmap(rng):
    x = to_mx(rng.standard_normal((3, 4, 6)))
    w = to_mx(rng.standard_normal((3, 6)))
    check_vmap(lambda x, w: mx.fast.rms_norm(x, w, 1e-5), [x, w[0]], (0, None))
    check_vmap(lambda x, w: mx.fast.rms_norm(x, w, 1e-5), [x, w], (0, 0))
    check_vmap(lambda x, w: mx.fast.rms_norm(x, w, 1e-5), [x[0], w], (None, 0))
    # the batch on the normalized axis
    f = mx.vmap(lambda x: mx.fast.layer_norm(x, None, None, 1e-5), in_axes=2)
    ref = mx.fast.layer_norm(x.transpose(2, 0, 1), None, None, 1e-5)
    np.testing.assert_allclose(np.array(f(x)), np.array(ref), rtol=1e-5, atol=1e-6)
    check_vmap(lambda x, w, b: mx.fast.layer_norm(x, w, b, 1e-5), [x, w[0], w], (0, None, 0))
    a = to_mx(rng.standard_normal((3, 2, 2, 5, 8)))
    rope = lambda a, o: mx.fast.rope(a, 6, traditional=True, base=100.0, scale=1.0, offset=o)
    check_vmap(rope, [a, mx.array(2)], (0, None))
    check_vmap(rope, [a, mx.array([1, 4, 7])], (1, None))
    check_vmap(rope, [a[0], mx.array([1, 4, 7])], (None, 0))
    check_vmap(rope, [a, mx.array([[1, 4], [0, 2], [5, 5]])], (0, 0))
    fr = mx.array(rng.uniform(0.5, 3.0, (3, 3)).astype(np.float32))
    rope_f = lambda a, o, f: mx.fast.rope(a, 6, traditional=False, base=None, scale=1.0,
                                          offset=o, freqs=f)
    check_vmap(rope_f, [a, mx.array(2), fr], (0, None, 0))
    check_vmap(rope_f, [a[0], mx.array([[1, 4], [0, 2], [5, 5]]), fr.T], (None, 0, 1))
    q = to_mx(rng.standard_normal((3, 1, 4, 2, 6)))
    k = to_mx(rng.standard_normal((3, 1, 2, 5, 6)))
    v = to_mx(rng.standard_normal((3, 1, 2, 5, 4)))
    sinks = to_mx(rng.standard_normal((3, 4)))
    S = mx.fast.scaled_dot_product_attention
    check_vmap(lambda q, k, v: S(q, k, v, scale=0.5, mask="causal"), [q, k, v], (0, 0, 0))
    check_vmap(lambda q, k, v: S(q, k, v, scale=0.5), [q, k[0], v[0]], (0, None, None))
    check_vmap(lambda q, k, v, s: S(q, k, v, scale=0.5, sinks=s), [q[0], k, v, sinks],
               (None, 0, 0, 0))
    m = to_mx(rng.standard_normal((3, 2, 5)))
    check_vmap(lambda q, k, v, m: S(q, k, v, scale=0.5, mask=m), [q, k[0], v[0], m], (0, None, None, 0))


# ---------------------------------------------------------------------------------------
# custom kernels


def test_metal_kernel_raises():
    k = mx.fast.metal_kernel("k", ["a"], ["b"], "b[0] = a[0];")
    with pytest.raises(RuntimeError, match=r"\[metal_kernel\] No Metal back-end"):
        k(inputs=[mx.ones(3)], output_shapes=[(3,)], output_dtypes=[mx.float32],
          grid=(1, 1, 1), threadgroup=(1, 1, 1))
    with pytest.raises(TypeError):
        mx.fast.metal_kernel("k", ["a"], ["b"])
    # cuda_kernel and precompiled_cuda_kernel: test_custom_kernels.py


# ---------------------------------------------------------------------------------------
# golden values of Apple MLX 0.32 (Linux CPU build): data/fast_golden.npz holds float32
# copies of seeded inputs (already rounded to each dtype) and of MLX's outputs for
# rms_norm/layer_norm (eps 1e-5), rope (dims 12 offset 3; traditional dims 16 base 500
# scale 0.5 offsets [2, 9]; freqs linspace(0.5, 3, 6) offset 1) and attention (scale 0.25:
# causal, a boolean mask with a fully hidden row, sinks, 9 causal queries over 7 keys).

GOLDEN = __import__("pathlib").Path(__file__).parent / "data" / "fast_golden.npz"
GOLD_TOL = {"f16": 2e-3, "bf16": 1.6e-2, "f32": 2e-6}
GOLD_DT = {"f16": mx.float16, "bf16": mx.bfloat16, "f32": mx.float32}


@pytest.mark.parametrize("tag", ["f16", "bf16", "f32"])
def test_golden_mlx(tag):
    g = np.load(GOLDEN)
    dt = GOLD_DT[tag]
    m = lambda name: mx.array(g[f"{name}_{tag}"]).astype(dt)  # noqa: E731
    x, w, b = m("norm_x"), m("norm_w"), m("norm_b")
    a, q, k, v = m("rope_x"), m("q"), m("k"), m("v")
    S = mx.fast.scaled_dot_product_attention
    got = {
        "rms": mx.fast.rms_norm(x, w, 1e-5),
        "layer": mx.fast.layer_norm(x, w, b, 1e-5),
        "rope": mx.fast.rope(a, 12, traditional=False, base=10000.0, scale=1.0, offset=3),
        "rope_trad": mx.fast.rope(a, 16, traditional=True, base=500.0, scale=0.5,
                                  offset=mx.array([2, 9])),
        "rope_freqs": mx.fast.rope(a, 12, traditional=False, base=None, scale=1.0, offset=1,
                                   freqs=mx.array(np.linspace(0.5, 3.0, 6).astype(np.float32))),
        "sdpa_causal": S(q, k, v, scale=0.25, mask="causal"),
        "sdpa_bool": S(q, k, v, scale=0.25, mask=mx.array(g["bool_mask"])),
        "sdpa_sinks": S(q, k, v, scale=0.25, sinks=m("sinks")),
        "sdpa_long_q": S(m("q2"), k, v, scale=0.25, mask="causal"),
    }
    tol = GOLD_TOL[tag]
    for name, y in got.items():
        assert y.dtype == dt, name
        ref = g[f"{name}_{tag}"].astype(np.float64)
        np.testing.assert_allclose(to_np(y), ref, rtol=tol, atol=tol * max(1.0, np.abs(ref).max()),
                                   err_msg=name)


@pytest.mark.parametrize("dtype", FLOATS)
def test_sdpa_decode_long_keys(rng, dtype):
    """Decode as a language model runs it: 1 query, heads of 128, a key count that is no
    multiple of the blocks, K/V both contiguous and as (B, T, H, D) views swapped to
    (B, H, T, D); the key chunks are split over the pool and merged."""
    B, H, Tk, D = 1, 6, 2333, 128
    q = to_mx(rng.standard_normal((B, H, 1, D)), dtype)
    kt = to_mx(rng.standard_normal((B, Tk, H, D)), dtype)
    vt = to_mx(rng.standard_normal((B, Tk, H, D)), dtype)
    k, v = mx.swapaxes(kt, 1, 2), mx.swapaxes(vt, 1, 2)
    ref = ref_sdpa(to_np(q), to_np(k), to_np(v), D**-0.5)
    for kk, vv in ((k, v), (mx.contiguous(k), mx.contiguous(v))):
        out = mx.fast.scaled_dot_product_attention(q, kk, vv, scale=D**-0.5)
        assert out.dtype == dtype and out.shape == (B, H, 1, D)
        np.testing.assert_allclose(to_np(out), ref, rtol=0,
                                   atol=TOL[dtype] * max(1.0, np.abs(ref).max()))
