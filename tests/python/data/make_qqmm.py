"""Writes qqmm_mlx.npz: the outputs of Apple MLX 0.32 (CPU) for mx.qqmm of one row x
(float32 and float16) against a packed w, in the modes nvfp4 and mxfp8 (the case MLX's CPU
evaluates). Run with a Python that has the reference MLX installed:  python make_qqmm.py"""
import os

import mlx.core as mx
import numpy as np

rng = np.random.default_rng(7)
out = {}
for mode in ["nvfp4", "mxfp8"]:
    x = rng.standard_normal((1, 64)).astype(np.float32)
    w = rng.standard_normal((48, 64)).astype(np.float32)
    wq, s = mx.quantize(mx.array(w), mode=mode)
    out[f"{mode}_x"] = x
    out[f"{mode}_w"] = w
    out[f"{mode}_y"] = np.array(mx.qqmm(mx.array(x), wq, s, mode=mode))
    y16 = mx.qqmm(mx.array(x).astype(mx.float16), wq, s, mode=mode)
    out[f"{mode}_y16"] = np.array(y16.astype(mx.float32))
np.savez_compressed(os.path.join(os.path.dirname(os.path.abspath(__file__)), "qqmm_mlx.npz"),
                    **out)
