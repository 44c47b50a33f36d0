"""Writes quantized_golden.npz: the outputs of Apple MLX 0.32 (CPU) for mx.quantize,
mx.dequantize, mx.to_fp8 and mx.from_fp8 on the seeded inputs of quantized_inputs() below.
Run with a Python that has the reference MLX installed:  python make_quantized.py
The tests rebuild the inputs with the same function and compare bit for bit."""
import os
import sys

import numpy as np

SHAPE = (2, 384)
MODES = [("affine", g, b) for b in (1, 2, 3, 4, 5, 6, 8) for g in (32, 64, 128)]
MODES += [("mxfp4", 32, 4), ("mxfp8", 32, 8), ("nvfp4", 16, 4)]
DTYPES = ("float32", "float16", "bfloat16")


def quantized_inputs(seed):
    """A (2, 384) float32 array with some special groups (zeros, constants, one sign)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(SHAPE).astype(np.float32)
    w[0, :32] = 0.0
    w[1, 32:64] = 1.5
    w[1, 64:128] = -np.abs(w[1, 64:128]) * 3.0
    w[0, 128:160] *= 100.0
    w[1, 160:192] *= 1e-3
    return w


def round_to(w, dtype):
    """The float32 values of w rounded to dtype (what the tests feed as that dtype)."""
    if dtype == "float16":
        return w.astype(np.float16).astype(np.float32)
    if dtype == "bfloat16":
        bits = w.view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
        return bits.astype(np.uint32).view(np.float32)
    return w


def fp8_inputs():
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, 448.0, 464.0, 463.9, 500.0, -1000.0, 1e-3, 2.0**-9,
            2.0**-10, 3 * 2.0**-10, np.inf, -np.inf, np.nan, 240.0, 0.1, 17.3]
    rng = np.random.default_rng(7)
    extra = rng.standard_normal(236).astype(np.float32) * 30
    return np.concatenate([np.array(vals, np.float32), extra]).astype(np.float32)


def main():
    import mlx.core as mx

    out = {}
    for d in DTYPES:
        dt = getattr(mx, d)
        w = mx.array(round_to(quantized_inputs(1), d)).astype(dt)
        for mode, g, b in MODES:
            key = f"{mode}_g{g}_b{b}_{d}"
            res = mx.quantize(w, group_size=g, bits=b, mode=mode)
            deq = mx.dequantize(*res, group_size=g, bits=b, mode=mode)
            mx.eval(res, deq)
            out[key + "_wq"] = np.array(res[0])
            out[key + "_scales"] = np.array(res[1].astype(mx.float32)) if mode == "affine" \
                else np.array(res[1])
            if mode == "affine":
                out[key + "_biases"] = np.array(res[2].astype(mx.float32))
            out[key + "_deq"] = np.array(deq.astype(mx.float32))
        gs = mx.array(3.5, mx.float32)
        res = mx.quantize(w, mode="nvfp4", global_scale=gs)
        deq = mx.dequantize(*res, mode="nvfp4", global_scale=gs, dtype=mx.float32)
        out[f"nvfp4gs_{d}_wq"] = np.array(res[0])
        out[f"nvfp4gs_{d}_scales"] = np.array(res[1])
        out[f"nvfp4gs_{d}_deq"] = np.array(deq)
        x = mx.array(round_to(fp8_inputs(), d)).astype(dt)
        out[f"to_fp8_{d}"] = np.array(mx.to_fp8(x))
        out[f"from_fp8_{d}"] = np.array(mx.from_fp8(mx.arange(256).astype(mx.uint8), dt)
                                        .astype(mx.float32))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quantized_golden.npz")
    np.savez_compressed(path, **out)
    print("wrote", path, sum(v.nbytes for v in out.values()), "bytes raw")


if __name__ == "__main__":
    sys.exit(main())
