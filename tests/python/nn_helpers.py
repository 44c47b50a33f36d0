"""Helpers shared by the nn layer tests: float64 parameters set from a seeded generator,
parameters as NumPy arrays, and a central-difference gradient check of a layer's input."""
import numpy as np

import mlx.core as mx
from mlx.utils import tree_flatten, tree_map


def f64(x):
    return mx.array(np.asarray(x, np.float64), dtype=mx.float64)


def set_float64_params(module, rng, scale=0.5):
    """Replaces every parameter by float64 random values; returns {path: ndarray}."""
    module.update(tree_map(lambda p: mx.array(rng.standard_normal(p.shape) * scale,
                                              dtype=mx.float64), module.parameters()))
    return {k: np.array(v) for k, v in tree_flatten(module.parameters())}


def check_input_grad(f, x_np, rng, eps=1e-6, tol=1e-6):
    """mx.grad of sum(f(x) * w) against central differences (float64)."""
    w = f64(rng.standard_normal(f(f64(x_np)).shape))

    def loss(x):
        return (f(x) * w).sum()

    g = np.array(mx.grad(loss)(f64(x_np)))
    fd = np.zeros_like(x_np)
    for i in np.ndindex(x_np.shape):
        e = np.zeros_like(x_np)
        e[i] = eps
        fd[i] = (float(loss(f64(x_np + e))) - float(loss(f64(x_np - e)))) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=tol, atol=tol)
