"""Writes pooling_golden.npz: Apple MLX 0.32 (CPU) max and average pooling outputs and input
gradients (vjp with a random cotangent) on a small float32 input with ties, a NaN and inf
windows, for tiled and overlapping/padded windows. Run with a Python that has the reference
MLX installed:  python make_pooling.py"""
import os

import mlx.core as mx
import mlx.nn as nn
import numpy as np

rng = np.random.default_rng(20261122)
x = rng.integers(-3, 4, size=(2, 8, 8, 5)).astype(np.float32)
x[0, 0, 0, 0] = np.nan
x[1, 2:4, 2:4, 1] = np.inf
out = {"x": x}
cases = {"max2": nn.MaxPool2d(2), "avg2": nn.AvgPool2d(2), "max2x4": nn.MaxPool2d((2, 4)),
         "max3s1p1": nn.MaxPool2d(3, 1, 1), "avg3s2p1": nn.AvgPool2d(3, 2, 1)}
for name, layer in cases.items():
    y = layer(mx.array(x))
    g = mx.array(rng.normal(size=y.shape).astype(np.float32))
    _, (dx,) = mx.vjp(layer, [mx.array(x)], [g])
    out[name + "_y"] = np.array(y)
    out[name + "_g"] = np.array(g)
    out[name + "_dx"] = np.array(dx)
np.savez_compressed(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "pooling_golden.npz"), **out)
