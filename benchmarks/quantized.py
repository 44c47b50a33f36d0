"""Benchmark factories of the quantized matmul cases (registered in __main__.py): a 4-bit
affine (14336, 4096) weight times x of 1 row (decode) or 512 rows (prefill); the NumPy peer
is the float32 matmul with the dequantized weight (what the quantized kernel replaces)."""
import numpy as np

import mlx.core as mx

QMM_N, QMM_K = 14336, 4096


def _weights():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((QMM_N, QMM_K), dtype=np.float32)
    q = mx.quantize(mx.array(w), group_size=64, bits=4)
    mx.eval(q)
    return w, q


def qmm_ours(m):
    def make():
        _, (wq, s, b) = _weights()
        x = mx.array(np.random.default_rng(1).standard_normal((m, QMM_K), dtype=np.float32))
        return None, lambda _: mx.eval(mx.quantized_matmul(x, wq, s, b))
    return make


def qmm_numpy(m):
    def make():
        w, _ = _weights()
        wt = np.ascontiguousarray(w.T)
        x = np.random.default_rng(1).standard_normal((m, QMM_K), dtype=np.float32)
        return None, lambda _: x @ wt
    return make
