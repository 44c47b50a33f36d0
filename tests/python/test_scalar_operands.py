"""One-element host operands of device ops (DESIGN section 4): element-wise kernels take them
by value, other kernels get an upload queued on their stream, and work on another stream waits
for that upload. On the CPU these are plain ops."""
import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, NP_DTYPES

DTYPES = [d for d in ALL_DTYPES if d != mx.bfloat16]


def np_of(a):
    return np.array(a.astype(mx.float32)) if a.dtype == mx.bfloat16 else np.array(a)


@pytest.mark.parametrize("dt", DTYPES, ids=str)
def test_scalar_operand_each_side_and_layout(rng, dt):
    x_np = (rng.integers(1, 9, (33, 17)) if dt != mx.bool_ else rng.integers(0, 2, (33, 17)))
    x_np = x_np.astype(NP_DTYPES[dt])
    s_np = np.array(3 if dt != mx.bool_ else True, dtype=NP_DTYPES[dt])
    x = mx.array(x_np)
    for xx, xn in [(x, x_np), (x.T, x_np.T), (x[::2, 1:], x_np[::2, 1:])]:  # linear and general
        got = mx.maximum(xx, mx.array(s_np))
        np.testing.assert_array_equal(np_of(got), np.maximum(xn, s_np))
        got = mx.minimum(mx.array(s_np), xx)  # the scalar first
        np.testing.assert_array_equal(np_of(got), np.minimum(s_np, xn))
        got = mx.equal(xx, mx.array(s_np))
        np.testing.assert_array_equal(np_of(got), xn == s_np)


def test_python_scalars_in_a_chain():
    a = mx.ones((16,))
    z = a
    for _ in range(100):
        z = z + 1.0
    z = 2 * z - 0.5
    np.testing.assert_array_equal(np.array(z), np.full(16, 201.5, np.float32))


def test_scalar_with_scalar_and_where():
    s, t = mx.array(2.5), mx.array(4.0)
    assert (s * t).item() == 10.0
    assert mx.where(mx.array(True), s, t).item() == 2.5
    x = mx.arange(10, dtype=mx.float32)
    got = mx.where(x > 4, x, mx.array(-1.0))  # a scalar as the ternary's third operand
    np.testing.assert_array_equal(np.array(got), np.where(np.arange(10) > 4, np.arange(10), -1))


def test_scalar_then_non_elementwise_kernel():
    s = mx.array(7.0)
    y = s + 1.0
    # the same host scalar next goes to kernels that take no values: an upload then
    assert mx.sum(mx.broadcast_to(s, (5,))).item() == 35.0
    assert mx.reshape(s, (1, 1)).item() == 7.0
    assert mx.array(3).astype(mx.float16).item() == 3.0  # a copy kernel reads device memory
    assert mx.array(2, dtype=mx.int8).astype(mx.float32).item() == 2.0
    assert y.item() == 8.0


def test_complex_and_int64_scalars():
    x = mx.array(np.arange(6, dtype=np.complex64) * (1 + 2j))
    got = x * mx.array(np.complex64(0.5 - 1j))
    np.testing.assert_allclose(np.array(got), np.arange(6) * (1 + 2j) * (0.5 - 1j), rtol=1e-6)
    big = np.int64(1) << 40
    got = mx.array(np.arange(4, dtype=np.int64)) + mx.array(big)
    np.testing.assert_array_equal(np.array(got), np.arange(4) + big)


def test_upload_used_by_two_streams(rng):
    """One host array first used by ops on two streams: the second stream waits for the
    upload the first queued."""
    dev = mx.default_device()
    s1, s2 = mx.new_stream(dev), mx.new_stream(dev)
    for n in [1000, 1 << 20, 1 << 22]:
        x_np = rng.standard_normal(n).astype(np.float32)
        x = mx.array(x_np)
        a = mx.sum(x, stream=s1)
        b = mx.cumsum(x, stream=s2)
        c = mx.sort(x, stream=s2)
        mx.eval(a, b, c)
        np.testing.assert_allclose(a.item(), x_np.astype(np.float64).sum(), rtol=1e-4,
                                   atol=1e-2)
        np.testing.assert_allclose(np.array(b)[-1], x_np.astype(np.float64).sum(), rtol=1e-3,
                                   atol=1e-1)
        np.testing.assert_array_equal(np.array(c), np.sort(x_np))
