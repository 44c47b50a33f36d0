"""Regression: SliceUpdate may be given its update's buffer by the scheduler (the update is
a fresh row-contiguous array of the output's size while the source is still being
computed); the kernel must keep the update aside before copying the source in."""
import numpy as np

import mlx.core as mx


def test_full_region_update_into_lazy_source():
    z = mx.zeros((4,)) * 1  # unevaluated source: its buffer cannot be donated yet
    z[::-1] = mx.array([1.0, 2.0, 3.0, 4.0])
    assert z.tolist() == [4.0, 3.0, 2.0, 1.0]
    z = mx.zeros((2, 3))
    z[:] = mx.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert z.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_reversed_slice_gradient():
    x = mx.array(np.arange(6, dtype=np.float32).reshape(2, 3))
    c = mx.array(np.arange(6, dtype=np.float32).reshape(2, 3) + 1)
    _, (g,) = mx.vjp(lambda a: a[:, ::-1], [x], [c])
    np.testing.assert_array_equal(np.array(g), np.array(c)[:, ::-1])
