"""Quantization (spec/python-api.md section 12, spec/semantics.md section 8): quantize and
dequantize bit for bit against golden data of the reference MLX (data/make_quantized.py),
round-trip error bounds, quantized_matmul and gather_qmm against float64 NumPy products of
the dequantized weights (both orientations, batches, every x dtype, non-contiguous inputs),
fp8 conversions, MLX's errors, gradients against central finite differences, vmap."""
import os
import sys

import numpy as np
import pytest

import mlx.core as mx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
from make_quantized import DTYPES, MODES, fp8_inputs, quantized_inputs, round_to  # noqa: E402

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "data", "quantized_golden.npz"))
FP_MODES = [("mxfp4", 32, 4), ("mxfp8", 32, 8), ("nvfp4", 16, 4)]
ALL_MODES = [("affine", g, b) for b in (1, 2, 3, 4, 5, 6, 8) for g in (32, 64, 128)] + FP_MODES
E2M1 = np.array([0, .5, 1, 1.5, 2, 3, 4, 6, -0., -.5, -1, -1.5, -2, -3, -4, -6])


def f64(a):
    if a.dtype == mx.bfloat16:
        a = a.astype(mx.float32)
    return np.array(a).astype(np.float64)


def unpack(wq, bits, n):
    """Codes of each row of the packed uint32 words (little-endian bit stream), NumPy."""
    wq = np.asarray(wq).astype(np.uint64)
    lead = wq.shape[:-1]
    flat = wq.reshape(-1, wq.shape[-1])
    bitv = ((flat[:, :, None] >> np.arange(32, dtype=np.uint64)) & 1).reshape(len(flat), -1)
    codes = (bitv[:, : n * bits].reshape(len(flat), n, bits)
             << np.arange(bits, dtype=np.uint64)).sum(-1)
    return codes.reshape(*lead, n)


def fp8_value(b):
    b = np.asarray(b).astype(np.int64)
    e, m = (b >> 3) & 15, b & 7
    v = np.where(e == 0, m / 8.0 * 2.0**-6, (1 + m / 8.0) * 2.0 ** (e - 7.0))
    v = np.where((b & 0x7F) == 0x7F, np.nan, v)
    return np.where(b & 0x80, -v, v)


def ref_dequantize(wq, scales, biases, g, bits, mode, n, global_scale=None):
    """float64 dequantization written from the format description."""
    codes = unpack(np.array(wq), bits, n)
    sc = np.array(scales.astype(mx.float32) if scales.dtype != mx.uint8 else scales)
    if mode == "affine":
        vals = codes.astype(np.float64)
        s, b = sc.astype(np.float64), f64(biases)
    else:
        vals = fp8_value(codes) if mode == "mxfp8" else E2M1[codes]
        s = fp8_value(sc) if mode == "nvfp4" else 2.0 ** (sc.astype(np.float64) - 127)
        if global_scale is not None:
            s = s * global_scale / (448 * 6)
        b = np.zeros_like(s)
    vals = vals.reshape(*vals.shape[:-1], -1, g)
    return (vals * s[..., None] + b[..., None]).reshape(codes.shape)


def quantized(rng, shape, mode="affine", g=None, bits=None, dtype=mx.float32):
    w = mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dtype)
    r = mx.quantize(w, group_size=g, bits=bits, mode=mode)
    return w, r[0], r[1], (r[2] if mode == "affine" else None)


# ---------------------------------------------------------------------------------------
# bit-exact packing against the reference


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode,g,b", MODES)
def test_quantize_golden(mode, g, b, dtype):
    dt = getattr(mx, dtype)
    w = mx.array(round_to(quantized_inputs(1), dtype)).astype(dt)
    res = mx.quantize(w, group_size=g, bits=b, mode=mode)
    key = f"{mode}_g{g}_b{b}_{dtype}"
    assert len(res) == (3 if mode == "affine" else 2)
    assert res[0].dtype == mx.uint32 and res[0].shape == (2, 384 * b // 32)
    np.testing.assert_array_equal(np.array(res[0]), GOLDEN[key + "_wq"])
    if mode == "affine":
        assert res[1].dtype == dt and res[2].dtype == dt
        np.testing.assert_array_equal(np.array(res[1].astype(mx.float32)), GOLDEN[key + "_scales"])
        np.testing.assert_array_equal(np.array(res[2].astype(mx.float32)), GOLDEN[key + "_biases"])
    else:
        assert res[1].dtype == mx.uint8
        np.testing.assert_array_equal(np.array(res[1]), GOLDEN[key + "_scales"])
    deq = mx.dequantize(*res, group_size=g, bits=b, mode=mode)
    assert deq.dtype == (dt if mode == "affine" else mx.bfloat16)
    np.testing.assert_array_equal(np.array(deq.astype(mx.float32)), GOLDEN[key + "_deq"])
    # dequantize of the reference's own packed data equals its dequantize
    ref = [mx.array(GOLDEN[key + "_wq"]), mx.array(GOLDEN[key + "_scales"])]
    if mode == "affine":
        ref = [ref[0], ref[1].astype(dt), mx.array(GOLDEN[key + "_biases"]).astype(dt)]
    else:
        ref[1] = ref[1].astype(mx.uint8)
    deq2 = mx.dequantize(*ref, group_size=g, bits=b, mode=mode)
    np.testing.assert_array_equal(np.array(deq2.astype(mx.float32)), GOLDEN[key + "_deq"])
    # and equals the float64 formula up to rounding (float16/bfloat16 round q * s and the sum
    # separately, so near-cancelling groups differ by more: checked in float32 only)
    if dtype == "float32" or mode != "affine":
        expect = ref_dequantize(*ref if mode == "affine" else (ref[0], ref[1], None), g, b, mode,
                                384)
        np.testing.assert_allclose(f64(deq), expect, rtol=1e-2, atol=1e-6 * np.abs(expect).max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_nvfp4_global_scale_golden(dtype):
    dt = getattr(mx, dtype)
    w = mx.array(round_to(quantized_inputs(1), dtype)).astype(dt)
    gs = mx.array(3.5, mx.float32)
    wq, sc = mx.quantize(w, mode="nvfp4", global_scale=gs)
    np.testing.assert_array_equal(np.array(wq), GOLDEN[f"nvfp4gs_{dtype}_wq"])
    np.testing.assert_array_equal(np.array(sc), GOLDEN[f"nvfp4gs_{dtype}_scales"])
    deq = mx.dequantize(wq, sc, mode="nvfp4", global_scale=gs, dtype=mx.float32)
    np.testing.assert_array_equal(np.array(deq), GOLDEN[f"nvfp4gs_{dtype}_deq"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_fp8_golden(dtype):
    dt = getattr(mx, dtype)
    x = mx.array(round_to(fp8_inputs(), dtype)).astype(dt)
    np.testing.assert_array_equal(np.array(mx.to_fp8(x)), GOLDEN[f"to_fp8_{dtype}"])
    got = np.array(mx.from_fp8(mx.arange(256).astype(mx.uint8), dt).astype(mx.float32))
    np.testing.assert_array_equal(got, GOLDEN[f"from_fp8_{dtype}"])
    np.testing.assert_array_equal(got, fp8_value(np.arange(256)).astype(np.float32))


def test_fp8_round_trip_and_defaults(rng):
    x = mx.array((rng.standard_normal(1000) * 50).astype(np.float32))
    y = mx.from_fp8(mx.to_fp8(x))
    assert y.dtype == mx.bfloat16 and mx.to_fp8(x).dtype == mx.uint8
    xv, yv = f64(x), f64(y)
    small = np.abs(xv) < 448
    assert np.all(np.abs(yv[small] - xv[small]) <= np.maximum(np.abs(xv[small]) * 2**-4, 2**-10))
    np.testing.assert_array_equal(np.array(mx.to_fp8(mx.array([1e6, -1e6, np.inf]))),
                                  [0x7E, 0xFE, 0x7E])
    assert mx.to_fp8(mx.zeros((0, 3))).shape == (0, 3)
    # non-contiguous input
    a = mx.array(rng.standard_normal((8, 6)).astype(np.float32))
    np.testing.assert_array_equal(np.array(mx.to_fp8(a.T)), np.array(mx.to_fp8(a)).T)
    np.testing.assert_array_equal(np.array(mx.from_fp8(mx.to_fp8(a)[::2], mx.float32)),
                                  np.array(mx.from_fp8(mx.to_fp8(a), mx.float32))[::2])


# ---------------------------------------------------------------------------------------
# round trips, shapes, layouts


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 6, 8])
@pytest.mark.parametrize("g", [32, 64, 128])
def test_affine_round_trip_bound(rng, bits, g):
    w = rng.standard_normal((3, 5, 256)).astype(np.float32)
    wq, s, b = mx.quantize(mx.array(w), group_size=g, bits=bits)
    assert wq.shape == (3, 5, 256 * bits // 32) and s.shape == (3, 5, 256 // g)
    d = f64(mx.dequantize(wq, s, b, group_size=g, bits=bits))
    grp = w.reshape(3, 5, -1, g)
    span = (grp.max(-1) - grp.min(-1))[..., None]
    err = np.abs(d - w).reshape(3, 5, -1, g)
    # half a step of the grid, or a full step where the zero-point shift clips the edge
    bound = span / (2**bits - 1) * (1.0 if bits > 1 else 0.5) + 1e-5
    assert np.all(err <= bound), float((err - bound).max())


@pytest.mark.parametrize("mode,g,bits", FP_MODES)
def test_fp_round_trip_bound(rng, mode, g, bits):
    w = rng.standard_normal((4, 128)).astype(np.float32)
    wq, s = mx.quantize(mx.array(w), mode=mode)
    d = f64(mx.dequantize(wq, s, mode=mode, dtype=mx.float32))
    amax = np.abs(w.reshape(4, -1, g)).max(-1, keepdims=True)
    rel = 0.5 if bits == 4 else 0.13
    assert np.all(np.abs(d - w).reshape(4, -1, g) <= rel * amax + 1e-6)
    np.testing.assert_allclose(d, ref_dequantize(wq, s, None, g, bits, mode, 128), rtol=0, atol=0)


def test_quantize_layouts_and_empty(rng):
    w = rng.standard_normal((128, 6)).astype(np.float32)
    a = mx.quantize(mx.array(w).T)  # non-contiguous input
    b = mx.quantize(mx.array(np.ascontiguousarray(w.T)))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.array(x), np.array(y))
    wq, s, bb = mx.quantize(mx.zeros((0, 64)))
    assert wq.shape == (0, 8) and s.shape == (0, 1)
    wq, s, bb = mx.quantize(mx.zeros((3, 0)))
    assert wq.shape == (3, 0) and mx.dequantize(wq, s, bb).shape == (3, 0)
    # constant and zero groups are exact
    c = mx.array(np.full((2, 64), -1.25, np.float32))
    for bits in (2, 4, 8):
        np.testing.assert_array_equal(f64(mx.dequantize(*mx.quantize(c, bits=bits), bits=bits)),
                                      np.full((2, 64), -1.25))
    z = mx.zeros((1, 64))
    np.testing.assert_array_equal(f64(mx.dequantize(*mx.quantize(z))), np.zeros((1, 64)))
    d = mx.dequantize(*mx.quantize(mx.array(w.T)), dtype=mx.float16)
    assert d.dtype == mx.float16


# ---------------------------------------------------------------------------------------
# quantized_matmul and gather_qmm


QMM_CASES = [("affine", 64, 4), ("affine", 32, 3), ("affine", 128, 8), ("affine", 64, 2),
             ("affine", 32, 5), ("affine", 64, 6), ("affine", 32, 1)] + FP_MODES
XTOL = {mx.float32: 2e-5, mx.float16: 4e-3, mx.bfloat16: 3e-2, mx.float64: 2e-5}


@pytest.mark.parametrize("mode,g,bits", QMM_CASES)
@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("M", [1, 3, 33])
def test_quantized_matmul(rng, mode, g, bits, transpose, M):
    N, K = 128, 128
    _, wq, s, b = quantized(rng, (N, K) if transpose else (K, N), mode, g, bits)
    x = rng.standard_normal((M, K)).astype(np.float32)
    y = mx.quantized_matmul(mx.array(x), wq, s, b, transpose, g, bits, mode)
    assert y.shape == (M, N) and y.dtype == mx.float32
    D = ref_dequantize(wq, s, b, g, bits, mode, K if transpose else N)
    ref = x.astype(np.float64) @ (D.T if transpose else D)
    np.testing.assert_allclose(f64(y), ref, rtol=0, atol=XTOL[mx.float32] * np.abs(ref).max())


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16])
@pytest.mark.parametrize("mode", ["affine", "mxfp4", "nvfp4"])
def test_quantized_matmul_dtypes(rng, dtype, mode):
    _, wq, s, b = quantized(rng, (32, 64), mode, dtype=dtype if mode == "affine" else mx.float32)
    x = mx.array(rng.standard_normal((2, 5, 64)).astype(np.float32)).astype(dtype)
    y = mx.quantized_matmul(x, wq, s, b, mode=mode)
    assert y.dtype == dtype and y.shape == (2, 5, 32)
    g = {"affine": 64, "mxfp4": 32, "nvfp4": 16}[mode]
    ref = f64(x) @ ref_dequantize(wq, s, b, g, 4, mode, 64).T
    np.testing.assert_allclose(f64(y), ref, rtol=0, atol=XTOL[dtype] * np.abs(ref).max() * 2)
    if mode == "affine":  # promotion of x with the scales
        y2 = mx.quantized_matmul(x.astype(mx.float16), wq, s.astype(mx.float32),
                                 b.astype(mx.float32))
        assert y2.dtype == mx.float32


def test_quantized_matmul_batched_and_strided(rng):
    _, wq, s, b = quantized(rng, (3, 32, 64))
    x = rng.standard_normal((2, 1, 4, 64)).astype(np.float32)
    y = mx.quantized_matmul(mx.array(x), wq, s, b)
    assert y.shape == (2, 3, 4, 32)
    D = ref_dequantize(wq, s, b, 64, 4, "affine", 64)
    np.testing.assert_allclose(f64(y), x @ np.swapaxes(D, -1, -2), atol=1e-4)
    # vector x, transposed and sliced operands
    _, wq2, s2, b2 = quantized(rng, (48, 128))
    xv = rng.standard_normal(128).astype(np.float32)
    D2 = ref_dequantize(wq2, s2, b2, 64, 4, "affine", 128)
    np.testing.assert_allclose(f64(mx.quantized_matmul(mx.array(xv), wq2, s2, b2)), D2 @ xv,
                               atol=1e-4)
    xt = mx.array(rng.standard_normal((128, 7)).astype(np.float32)).T
    np.testing.assert_allclose(f64(mx.quantized_matmul(xt, wq2, s2, b2)), f64(xt) @ D2.T,
                               atol=1e-4)
    ws, ss, bs = wq2[::2], s2[::2], b2[::2]
    np.testing.assert_allclose(f64(mx.quantized_matmul(xt, ws, ss, bs)), f64(xt) @ D2[::2].T,
                               atol=1e-4)
    assert mx.quantized_matmul(mx.zeros((0, 128)), wq2, s2, b2).shape == (0, 48)


def test_quantized_matmul_large_decode_and_prefill(rng):
    _, wq, s, b = quantized(rng, (640, 512))
    D = ref_dequantize(wq, s, b, 64, 4, "affine", 512)
    for M in (1, 200):
        x = rng.standard_normal((M, 512)).astype(np.float32)
        ref = x @ D.T
        y = f64(mx.quantized_matmul(mx.array(x), wq, s, b))
        np.testing.assert_allclose(y, ref, atol=2e-5 * np.abs(ref).max())
        _, wqn, sn, bn = quantized(rng, (512, 640))
        Dn = ref_dequantize(wqn, sn, bn, 64, 4, "affine", 640)
        refn = x @ Dn
        yn = f64(mx.quantized_matmul(mx.array(x), wqn, sn, bn, transpose=False))
        np.testing.assert_allclose(yn, refn, atol=2e-5 * np.abs(refn).max())


@pytest.mark.parametrize("sorted_indices", [False, True])
@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("mode", ["affine", "mxfp8"])
def test_gather_qmm(rng, sorted_indices, transpose, mode):
    E, N, K = 4, 64, 64
    _, wq, s, b = quantized(rng, (E, N, K) if transpose else (E, K, N), mode)
    g = 64 if mode == "affine" else 32
    D = ref_dequantize(wq, s, b, g, 4 if mode == "affine" else 8, mode, K if transpose else N)
    x = rng.standard_normal((6, 2, K)).astype(np.float32)
    rhs = np.array([3, 0, 2, 2, 1, 0])
    if sorted_indices:
        rhs = np.sort(rhs)
    y = mx.gather_qmm(mx.array(x), wq, s, b, rhs_indices=mx.array(rhs), transpose=transpose,
                      mode=mode, sorted_indices=sorted_indices)
    assert y.shape == (6, 2, N)
    for i in range(6):
        Wi = D[rhs[i]].T if transpose else D[rhs[i]]
        np.testing.assert_allclose(f64(y[i]), x[i] @ Wi, atol=1e-4)
    lhs = np.array([[5, 1], [0, 0]])
    rhs2 = np.array([[1], [3]])
    y2 = mx.gather_qmm(mx.array(x), wq, s, b, mx.array(lhs), mx.array(rhs2), transpose,
                       mode=mode)
    assert y2.shape == (2, 2, 2, N)
    for i in range(2):
        for j in range(2):
            Wi = D[rhs2[i, 0]].T if transpose else D[rhs2[i, 0]]
            np.testing.assert_allclose(f64(y2[i, j]), x[lhs[i, j]] @ Wi, atol=1e-4)
    # no indices: quantized_matmul
    y3 = mx.gather_qmm(mx.array(x[:4, :, :]), wq, s, b, transpose=transpose, mode=mode)
    assert y3.shape == (4, 2, N)


# ---------------------------------------------------------------------------------------
# errors


def raises(exc, match, f):
    with pytest.raises(exc) as e:
        f()
    assert match in str(e.value), str(e.value)


def test_errors(rng):
    w = mx.array(rng.standard_normal((4, 64)).astype(np.float32))
    raises(ValueError, "[quantize] The requested number of bits 7 is not supported. The "
           "supported bits are 1, 2, 3, 4, 5, 6 and 8.", lambda: mx.quantize(w, bits=7))
    raises(ValueError, "[quantize] The requested group size 16 is not supported. The supported "
           "group sizes are 32, 64, and 128.", lambda: mx.quantize(w, group_size=16))
    raises(ValueError, "[quantize] The last dimension of the matrix needs to be divisible by the "
           "quantization group size 128. However the provided  matrix has shape (4,64)",
           lambda: mx.quantize(w, group_size=128))
    raises(ValueError, "at least 2 dimension but it has only 1.", lambda: mx.quantize(w[0]))
    raises(ValueError, "Only real floating types can be quantized but w has type int32.",
           lambda: mx.quantize(w.astype(mx.int32)))
    raises(ValueError, "[quantize] mxfp4 quantization requires group size 32 but got 64.",
           lambda: mx.quantize(w, group_size=64, mode="mxfp4"))
    raises(ValueError, "[quantize] mxfp8 quantization requires bits to be 8 but got 4.",
           lambda: mx.quantize(w, bits=4, mode="mxfp8"))
    raises(ValueError, "[quantize] Invalid quantization mode 'foo'.",
           lambda: mx.quantize(w, mode="foo"))
    raises(ValueError, "Global scale is only supported for 'nvfp4' quantization mode.",
           lambda: mx.quantize(w, global_scale=mx.array(1.0)))
    raises(ValueError, "Global scale must be a scalar but got shape (2).",
           lambda: mx.quantize(w, mode="nvfp4", global_scale=mx.array([1.0, 2.0])))
    raises(ValueError, "Global scale must have dtype float32 but got float16.",
           lambda: mx.quantize(w, mode="nvfp4", global_scale=mx.array(1.0, mx.float16)))
    wq, s, b = mx.quantize(w)
    x = mx.array(rng.standard_normal((3, 64)).astype(np.float32))
    raises(ValueError, "[quantized_matmul] Biases must be provided for affine quantization.",
           lambda: mx.quantized_matmul(x, wq, s))
    raises(ValueError, "[quantized_matmul] The weight matrix should be uint32 but received int32",
           lambda: mx.quantized_matmul(x, wq.astype(mx.int32), s, b))
    raises(ValueError, "The shapes of the weight and scales are incompatible based on bits and "
           "group_size. w.shape() == (4,8) and scales.shape() == (4,1) with group_size=64 and "
           "bits=8", lambda: mx.quantized_matmul(x, wq, s, b, bits=8))
    raises(ValueError, "Scales and biases should have the same shape. Received scales with "
           "shape (4,1) and biases with (2,1)", lambda: mx.quantized_matmul(x, wq, s, b[:2]))
    raises(ValueError, "Last dimension of first input with shape (..., 32) does not match the "
           "expanded quantized matrix (64, 4) computed from shape (4,8) with group_size=64, "
           "bits=4 and transpose=true", lambda: mx.quantized_matmul(x[:, :32], wq, s, b))
    raises(ValueError, "Only real floating types are supported but scales.dtype() == int32 and "
           "biases.dtype() == int32.",
           lambda: mx.quantized_matmul(x, wq, s.astype(mx.int32), b.astype(mx.int32)))
    y = mx.quantized_matmul(x.astype(mx.int32), wq, s, b)  # promoted with the scales
    assert y.dtype == mx.float32
    wf, sf = mx.quantize(w, mode="mxfp4")
    raises(ValueError, "[quantized_matmul] Biases must be null for quantization mode 'mxfp4'.",
           lambda: mx.quantized_matmul(x, wf, sf, b, mode="mxfp4"))
    raises(ValueError, "[dequantize] Scale type must be uint8 but received type float32.",
           lambda: mx.dequantize(wf, sf.astype(mx.float32), mode="mxfp4"))
    raises(ValueError, "[dequantize] Shape of scales and biases does not match the matrix given "
           "the quantization parameters. Provided matrix of shape (4,8) and scales/biases of "
           "shape (4,1) with group_size=64 and bits=8.", lambda: mx.dequantize(wq, s, b, bits=8))
    raises(ValueError, "[dequantize] Only real floating types are supported but output dtype == "
           "int32.", lambda: mx.dequantize(wq, s, b, dtype=mx.int32))
    raises(ValueError, "[dequantize] The matrix should be given as a uint32",
           lambda: mx.dequantize(wq.astype(mx.int32), s, b))
    raises(ValueError, "[gather_qmm] Got indices with invalid dtype. Indices must be integral.",
           lambda: mx.gather_qmm(x[:, None], wq, s, b, rhs_indices=mx.array([0.0])))
    raises(ValueError, "[to_fp8] Only real floating types are supported but x.dtype() == int32.",
           lambda: mx.to_fp8(mx.array([1, 2])))
    raises(ValueError, "[from_fp8] Input must have type uint8 but x.dtype() == int32.",
           lambda: mx.from_fp8(mx.array([1, 2])))
    raises(ValueError, "[QuantizedMatmul::vjp] no gradient wrt the quantized weights.",
           lambda: mx.grad(lambda w_: mx.quantized_matmul(x, w_, s, b).sum())(wq))


# ---------------------------------------------------------------------------------------
# transformations


def central_diff(f, x, eps=1e-3):
    x = np.array(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("mode", ["affine", "nvfp4"])
def test_vjp_jvp_x(rng, transpose, mode):
    _, wq, s, b = quantized(rng, (32, 64) if transpose else (64, 64), mode)
    x0 = rng.standard_normal((2, 64)).astype(np.float32)
    c = rng.standard_normal((2, 32 if transpose else 64)).astype(np.float32)

    def f(x):
        return (mx.quantized_matmul(x, wq, s, b, transpose, mode=mode) * mx.array(c)).sum()

    g = f64(mx.grad(f)(mx.array(x0)))
    # f is linear in x: a wide step keeps float32 rounding out of the difference
    num = central_diff(lambda v: float(f(mx.array(v.astype(np.float32)))), x0, eps=0.25)
    np.testing.assert_allclose(g, num, rtol=1e-2, atol=1e-2)
    t = rng.standard_normal(x0.shape).astype(np.float32)
    _, jt = mx.jvp(lambda x: mx.quantized_matmul(x, wq, s, b, transpose, mode=mode),
                   [mx.array(x0)], [mx.array(t)])
    ref = f64(mx.quantized_matmul(mx.array(t), wq, s, b, transpose, mode=mode))
    np.testing.assert_allclose(f64(jt[0]), ref, atol=1e-5)


def test_grad_scales_biases(rng):
    _, wq, s, b = quantized(rng, (8, 64), g=32)
    x = mx.array(rng.standard_normal((3, 64)).astype(np.float32))
    c = mx.array(rng.standard_normal((3, 8)).astype(np.float32))

    def f(s_, b_):
        return (mx.quantized_matmul(x, wq, s_, b_, group_size=32) * c).sum()

    gs, gb = mx.grad(f, argnums=(0, 1))(s, b)
    ns = central_diff(lambda v: float(f(mx.array(v.astype(np.float32)), b)), np.array(s))
    nb = central_diff(lambda v: float(f(s, mx.array(v.astype(np.float32)))), np.array(b))
    np.testing.assert_allclose(f64(gs), ns, rtol=1e-2, atol=2e-2)
    np.testing.assert_allclose(f64(gb), nb, rtol=1e-2, atol=2e-2)
    # dequantize is linear in scales and biases
    cd = mx.array(rng.standard_normal((8, 64)).astype(np.float32))
    h = lambda s_, b_: (mx.dequantize(wq, s_, b_, group_size=32) * cd).sum()  # noqa: E731
    gs2, gb2 = mx.grad(h, argnums=(0, 1))(s, b)
    ns2 = central_diff(lambda v: float(h(mx.array(v.astype(np.float32)), b)), np.array(s))
    np.testing.assert_allclose(f64(gs2), ns2, rtol=1e-2, atol=2e-2)
    np.testing.assert_allclose(f64(gb2), f64(cd).reshape(8, 2, 32).sum(-1), rtol=1e-5)


def test_gather_qmm_vjp(rng):
    _, wq, s, b = quantized(rng, (3, 16, 64))
    x0 = rng.standard_normal((4, 2, 64)).astype(np.float32)
    lhs = mx.array([0, 3, 3, 1])
    rhs = mx.array([2, 0, 1, 2])
    c = mx.array(rng.standard_normal((4, 2, 16)).astype(np.float32))

    def f(x):
        return (mx.gather_qmm(x, wq, s, b, lhs, rhs) * c).sum()

    g = f64(mx.grad(f)(mx.array(x0)))
    # f is linear in x: a wide step keeps float32 rounding out of the difference
    num = central_diff(lambda v: float(f(mx.array(v.astype(np.float32)))), x0, eps=0.25)
    np.testing.assert_allclose(g, num, rtol=1e-2, atol=1e-2)


def test_vmap(rng):
    _, wq, s, b = quantized(rng, (16, 64))
    xs = mx.array(rng.standard_normal((5, 3, 64)).astype(np.float32))
    for ax in (0, 1):
        xin = xs if ax == 0 else mx.swapaxes(xs, 0, 1)
        y = mx.vmap(lambda x: mx.quantized_matmul(x, wq, s, b), in_axes=ax)(xin)
        for i in range(5):
            np.testing.assert_allclose(f64(y[i]), f64(mx.quantized_matmul(xs[i], wq, s, b)),
                                       atol=1e-5)
    ws = mx.array(rng.standard_normal((4, 8, 64)).astype(np.float32))
    q = mx.vmap(lambda w: mx.quantize(w, bits=8)[0])(ws)
    for i in range(4):
        np.testing.assert_array_equal(np.array(q[i]), np.array(mx.quantize(ws[i], bits=8)[0]))
    r = mx.quantize(ws)
    d = mx.vmap(lambda w_: mx.dequantize(w_, r[1][0], r[2][0]))(r[0])
    for i in range(4):
        np.testing.assert_array_equal(np.array(d[i]),
                                      np.array(mx.dequantize(r[0][i], r[1][0], r[2][0])))
    x8 = mx.array(rng.standard_normal((3, 10)).astype(np.float32))
    np.testing.assert_array_equal(np.array(mx.vmap(mx.to_fp8, in_axes=1)(x8)),
                                  np.array(mx.to_fp8(x8)).T)


# ---------------------------------------------------------------------------------------
# mlx.nn quantized layers


def test_nn_quantized_layers(rng):
    import mlx.nn as nn
    from mlx.utils import tree_flatten

    lin = nn.Linear(64, 32)
    emb = nn.Embedding(10, 64)
    model = nn.Sequential(lin, nn.ReLU(), nn.Linear(32, 64, bias=False), emb)
    x = mx.array(rng.standard_normal((3, 64)).astype(np.float32))
    w0, b0, we = f64(lin.weight), f64(lin.bias), f64(emb.weight)
    nn.quantize(model, group_size=32, bits=8)
    ql, qe = model.layers[0], model.layers[3]
    assert isinstance(ql, nn.QuantizedLinear) and isinstance(qe, nn.QuantizedEmbedding)
    assert (ql.group_size, ql.bits, ql.mode) == (32, 8, "affine")
    assert [k for k, _ in tree_flatten(model.trainable_parameters())] == ["layers.0.bias"]
    D = ref_dequantize(ql.weight, ql.scales, ql.biases, 32, 8, "affine", 64)
    np.testing.assert_allclose(D, w0, atol=2 * np.ptp(w0) / 255 + 1e-6)
    np.testing.assert_allclose(f64(ql(x)), f64(x) @ D.T + b0, atol=1e-4)
    De = ref_dequantize(qe.weight, qe.scales, qe.biases, 32, 8, "affine", 64)
    np.testing.assert_allclose(De, we, atol=2 * np.ptp(we) / 255 + 1e-6)
    idx = mx.array([[1, 7], [0, 0]])
    np.testing.assert_allclose(f64(qe(idx)), De[np.array(idx)], atol=1e-6)
    np.testing.assert_allclose(f64(qe.as_linear(x)), f64(x) @ De.T, atol=1e-4)
    # a predicate returning per-layer arguments, fp modes, to_quantized
    m2 = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64))
    nn.quantize(m2, class_predicate=lambda p, m: {"group_size": 32, "bits": 2}
                if p == "layers.1" else False)
    assert isinstance(m2.layers[0], nn.Linear) and m2.layers[1].bits == 2
    q4 = nn.Linear(64, 16).to_quantized(mode="mxfp4")
    assert (q4.group_size, q4.bits) == (32, 4) and "biases" not in q4
    assert q4(x).shape == (3, 16)
    q5 = nn.QuantizedLinear(64, 16, bias=False, mode="nvfp4")
    assert q5.group_size == 16 and "bias" not in q5


# ---------------------------------------------------------------------------------------
# the integer decode path: transposed affine products with at most 8 rows of x, K >= 512
# and at least 2^20 weights quantize each row of x to int8 per weight group (scale
# amax / 127, round half to even) and add mid * scale * (rounding residual of the group),
# mid = (2^bits - 1) / 2. It is checked tightly against a float64 model of that scheme,
# and against the exact product within the documented tolerance of the int8 rounding.

CPU_KERNEL = pytest.mark.skipif(os.environ.get("DEVICE", "cpu").lower() == "gpu",
                                reason="the int8 decode path is the CPU kernel's; GPUs keep float")
QDOT_EXACT_TOL = 2e-2   # of max |ref|: the int8 rounding of x (measured about 0.5-0.9%)
QDOT_MODEL_TOL = 4e-6   # of max |ref|: float32 accumulation against the float64 model


def fast_codes(wq, bits, n):
    """Codes of each row (little-endian bit stream) via unpackbits: (rows, n) int64."""
    raw = np.ascontiguousarray(np.array(wq)).view(np.uint8)
    bitv = np.unpackbits(raw.reshape(-1, raw.shape[-1]), axis=-1, bitorder="little")
    return (bitv[:, : n * bits].reshape(-1, n, bits).astype(np.int64)
            << np.arange(bits)).sum(-1)


def qdot_model(x, codes, s, b, g, bits):
    """float64 result of the int8 scheme for x (M, K) and codes (N, K)."""
    M, K = x.shape
    xg = x.reshape(M, -1, g)
    amax = np.abs(xg).max(-1, keepdims=True).astype(np.float32)
    inv = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1), 0).astype(np.float32)
    xq = np.rint(xg * inv).astype(np.float64)
    d = (amax / np.float32(127)).astype(np.float64)
    s64, b64 = np.asarray(s, np.float64), np.asarray(b, np.float64)
    cg = codes.reshape(codes.shape[0], -1, g).astype(np.float64)
    main = np.einsum("mgi,ngi,ng->mn", xq * d, cg, s64)
    xsum = xg.astype(np.float64).sum(-1)
    resid = xsum - (xq * d).sum(-1)
    return main + xsum @ b64.T + (2**bits - 1) / 2 * (resid @ s64.T)


def qdot_case(rng, N, K, g, bits, M, dtype=np.float32):
    w = mx.array((rng.standard_normal((N, K)) * 0.05).astype(np.float32))
    wq, s, b = mx.quantize(w, group_size=g, bits=bits)
    x = rng.standard_normal((M, K)).astype(np.float32)
    codes = fast_codes(wq, bits, K)
    sf, bf = np.array(s), np.array(b)
    D = (codes.reshape(N, -1, g) * sf[..., None].astype(np.float64)
         + bf[..., None]).reshape(N, K)
    return wq, s, b, x, codes, D


@CPU_KERNEL
@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 6, 8])
@pytest.mark.parametrize("g", [32, 64, 128])
def test_qdot_decode_every_bits(rng, bits, g):
    # N odd (uneven thread split), K = 9 * 128: the packed rows end mid vector
    N, K = 911, 1152
    M = {32: 1, 64: 3, 128: 8}[g]
    wq, s, b, x, codes, D = qdot_case(rng, N, K, g, bits, M)
    y = f64(mx.quantized_matmul(mx.array(x), wq, s, b, True, g, bits))
    ref = x.astype(np.float64) @ D.T
    scale = np.abs(ref).max()
    model = qdot_model(x, codes, np.array(s), np.array(b), g, bits)
    np.testing.assert_allclose(y, model, rtol=0, atol=QDOT_MODEL_TOL * scale)
    np.testing.assert_allclose(y, ref, rtol=0, atol=QDOT_EXACT_TOL * scale)
    # the float path (9 rows of x) agrees with the exact product tightly
    x9 = np.concatenate([x, rng.standard_normal((9 - M, K)).astype(np.float32)])
    y9 = f64(mx.quantized_matmul(mx.array(x9), wq, s, b, True, g, bits))
    ref9 = x9.astype(np.float64) @ D.T
    np.testing.assert_allclose(y9, ref9, rtol=0, atol=2e-5 * np.abs(ref9).max())


@CPU_KERNEL
def test_qdot_baseline_isa_matches(rng, tmp_path):
    """MLX_QDOT_ISA=baseline runs the portable rows: same scheme, same results."""
    import subprocess
    N, K, g, bits = 1024, 1024, 64, 4
    wq, s, b, x, codes, D = qdot_case(rng, N, K, g, bits, 2)
    np.savez(tmp_path / "in.npz", wq=np.array(wq), s=np.array(s), b=np.array(b), x=x)
    script = ("import numpy as np, mlx.core as mx, sys\n"
              "d = np.load(sys.argv[1])\n"
              "y = mx.quantized_matmul(mx.array(d['x']), mx.array(d['wq']), mx.array(d['s']),"
              " mx.array(d['b']), True, 64, 4)\n"
              "np.save(sys.argv[2], np.array(y))\n")
    env = dict(os.environ, MLX_QDOT_ISA="baseline")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "in.npz"),
                    str(tmp_path / "out.npy")], env=env, check=True)
    yb = np.load(tmp_path / "out.npy").astype(np.float64)
    y = f64(mx.quantized_matmul(mx.array(x), wq, s, b, True, g, bits))
    model = qdot_model(x, codes, np.array(s), np.array(b), g, bits)
    scale = np.abs(model).max()
    np.testing.assert_allclose(yb, model, rtol=0, atol=QDOT_MODEL_TOL * scale)
    np.testing.assert_allclose(y, yb, rtol=0, atol=QDOT_MODEL_TOL * scale)


@CPU_KERNEL
def test_qdot_dtypes_edges_and_batches(rng):
    N, K, g, bits = 1024, 1024, 64, 4
    wq, s, b, x, codes, D = qdot_case(rng, N, K, g, bits, 2)
    ref = x.astype(np.float64) @ D.T
    scale = np.abs(ref).max()
    for dt, tol in ((mx.float16, 4e-3), (mx.bfloat16, 3e-2)):
        xd = mx.array(x).astype(dt)
        y = mx.quantized_matmul(xd, wq, s.astype(dt), b.astype(dt))
        assert y.dtype == dt
        refd = f64(xd) @ (codes.reshape(N, -1, g) * f64(s.astype(dt))[..., None]
                          + f64(b.astype(dt))[..., None]).reshape(N, K).T
        np.testing.assert_allclose(f64(y), refd, rtol=0, atol=(QDOT_EXACT_TOL + tol) * scale)
    # a zero group, a zero row, a transposed (non-contiguous) x, a vector x
    xz = x.copy()
    xz[0, :g] = 0
    xz[1] = 0
    y = f64(mx.quantized_matmul(mx.array(xz), wq, s, b))
    np.testing.assert_allclose(y, qdot_model(xz, codes, np.array(s), np.array(b), g, bits),
                               rtol=0, atol=QDOT_MODEL_TOL * scale)
    assert np.all(y[1] == 0)
    xt = mx.array(np.ascontiguousarray(x.T)).T
    np.testing.assert_allclose(f64(mx.quantized_matmul(xt, wq, s, b)),
                               qdot_model(x, codes, np.array(s), np.array(b), g, bits),
                               rtol=0, atol=QDOT_MODEL_TOL * scale)
    yv = f64(mx.quantized_matmul(mx.array(x[0]), wq, s, b))
    assert yv.shape == (N,)
    np.testing.assert_allclose(yv, ref[0], rtol=0, atol=QDOT_EXACT_TOL * scale)
    # inf / NaN in x take the float path: NaN rows stay NaN, an inf gives +-inf (NaN where a
    # weight dequantizes to 0), finite rows are the float path's exact-tolerance results
    xn = np.concatenate([x, x[:1]])
    xn[0, 5] = np.nan
    xn[1, 7] = np.inf
    yn = f64(mx.quantized_matmul(mx.array(xn), wq, s, b))
    assert np.all(np.isnan(yn[0])) and not np.any(np.isfinite(yn[1]))
    inf_ok = np.isinf(yn[1])
    assert inf_ok.mean() > 0.5
    np.testing.assert_array_equal(np.sign(yn[1][inf_ok]), np.sign(D[inf_ok, 7]))
    np.testing.assert_allclose(yn[2], ref[0], rtol=0, atol=2e-5 * scale)
    # batches of x against one matrix, and gather_qmm's decode over two experts
    xb = rng.standard_normal((3, 1, K)).astype(np.float32)
    yb = f64(mx.quantized_matmul(mx.array(xb), wq, s, b))
    for i in range(3):
        np.testing.assert_allclose(yb[i], qdot_model(xb[i], codes, np.array(s), np.array(b),
                                                     g, bits), rtol=0, atol=QDOT_MODEL_TOL * scale)
    w2 = mx.array((rng.standard_normal((2, N, K)) * 0.05).astype(np.float32))
    wq2, s2, b2 = mx.quantize(w2, group_size=g, bits=bits)
    lhs, rhs = mx.array([0, 1, 2, 0]), mx.array([1, 0, 1, 1])
    yg = f64(mx.gather_qmm(mx.array(xb), wq2, s2, b2, lhs_indices=lhs, rhs_indices=rhs))
    assert yg.shape == (4, 1, N)
    for i, (li, ri) in enumerate(zip(np.array(lhs), np.array(rhs))):
        c = fast_codes(wq2[ri], bits, K)
        np.testing.assert_allclose(yg[i], qdot_model(xb[li], c, np.array(s2[ri]),
                                                     np.array(b2[ri]), g, bits),
                                   rtol=0, atol=QDOT_MODEL_TOL * scale)


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 8])
@pytest.mark.parametrize("gs", [32, 64, 128])
def test_untransposed_decode_rows(rng, bits, gs):
    """transpose=False with a few rows of x (the column-block decode kernel for 4 and 8 bits,
    the general one otherwise) against the dequantized product in float64."""
    K, N = 96, 640
    w = mx.array(rng.standard_normal((K, N)).astype(np.float32))
    wq, s, b = mx.quantize(w, group_size=gs, bits=bits)
    wd = f64(mx.dequantize(wq, s, b, group_size=gs, bits=bits))
    for M in (1, 2, 5, 8):
        x = rng.standard_normal((M, K)).astype(np.float32)
        y = mx.quantized_matmul(mx.array(x), wq, s, b, transpose=False, group_size=gs, bits=bits)
        ref = x.astype(np.float64) @ wd
        np.testing.assert_allclose(f64(y), ref, rtol=2e-5, atol=2e-5 * np.abs(ref).max())
    x = np.ones((1, K), np.float32)
    x[0, 3] = np.nan
    y = mx.quantized_matmul(mx.array(x), wq, s, b, transpose=False, group_size=gs, bits=bits)
    assert np.isnan(f64(y)).all()
