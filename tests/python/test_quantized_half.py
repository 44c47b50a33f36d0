"""quantized_matmul and gather_qmm with 4-bit affine weights and float16/bfloat16 x, scales
and biases (on the GPU: the tensor-core GEMV up to 8 rows of x, with x staged in shared memory
or not and rows long enough to need more than 48 KB of it; beyond, the wgmma GEMM on a Hopper
GPU, unpack + GEMM elsewhere) against float64 NumPy products of the dequantized weights: row
tails, k tails, every group size, batches, gathers, both orientations, the GEMM's tile edges
and a layer-sized matrix."""
import numpy as np
import pytest

import mlx.core as mx

XTOL = {mx.float16: 4e-3, mx.bfloat16: 3e-2}  # of max |reference|, as test_quantized.py


def f64(a):
    return np.array(a.astype(mx.float32)).astype(np.float64)


def weights(rng, shape, g, dtype):
    w = mx.array((rng.standard_normal(shape) * 0.05).astype(np.float32)).astype(dtype)
    wq, s, b = mx.quantize(w, group_size=g, bits=4)
    d = mx.dequantize(wq, s, b, group_size=g, bits=4, dtype=mx.float32, stream=mx.cpu)
    return wq, s, b, f64(d)


def check(y, ref, dtype):
    np.testing.assert_allclose(f64(y), ref, rtol=0, atol=XTOL[dtype] * np.abs(ref).max())


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
@pytest.mark.parametrize("g", [32, 64, 128])
@pytest.mark.parametrize("M", [1, 3, 8, 9, 70])
@pytest.mark.parametrize("N,K", [(40, 384), (256, 512), (48, 256)])
def test_transposed(rng, dtype, g, M, N, K):
    wq, s, b, D = weights(rng, (N, K), g, dtype)
    x = mx.array(rng.standard_normal((M, K)).astype(np.float32)).astype(dtype)
    y = mx.quantized_matmul(x, wq, s, b, transpose=True, group_size=g, bits=4)
    assert y.dtype == dtype and y.shape == (M, N)
    check(y, f64(x) @ D.T, dtype)


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
@pytest.mark.parametrize("g,K", [(32, 96), (64, 192), (32, 224), (64, 64)])
@pytest.mark.parametrize("M", [1, 6])
def test_k_not_a_multiple_of_128(rng, dtype, g, K, M):
    wq, s, b, D = weights(rng, (24, K), g, dtype)
    x = mx.array(rng.standard_normal((M, K)).astype(np.float32)).astype(dtype)
    y = mx.quantized_matmul(x, wq, s, b, transpose=True, group_size=g, bits=4)
    check(y, f64(x) @ D.T, dtype)


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
@pytest.mark.parametrize("M", [2, 33])
def test_not_transposed(rng, dtype, M):
    K, N = 96, 256
    wq, s, b, D = weights(rng, (K, N), 64, dtype)
    x = mx.array(rng.standard_normal((M, K)).astype(np.float32)).astype(dtype)
    y = mx.quantized_matmul(x, wq, s, b, transpose=False, group_size=64, bits=4)
    check(y, f64(x) @ D, dtype)


@pytest.mark.parametrize("M", [1, 5, 40])
def test_batched_weights_and_shared(rng, M):
    dt = mx.bfloat16
    wq, s, b, D = weights(rng, (3, 64, 256), 64, dt)
    x = mx.array(rng.standard_normal((3, M, 256)).astype(np.float32)).astype(dt)
    y = mx.quantized_matmul(x, wq, s, b)
    for i in range(3):
        check(y[i], f64(x[i]) @ D[i].T, dt)
    wq2, s2, b2, D2 = weights(rng, (80, 256), 32, dt)
    y2 = mx.quantized_matmul(x, wq2, s2, b2, group_size=32)
    for i in range(3):
        check(y2[i], f64(x[i]) @ D2.T, dt)


@pytest.mark.parametrize("M", [1, 20])
def test_gather(rng, M):
    dt = mx.float16
    E, N, K = 4, 48, 256
    wq, s, b, D = weights(rng, (E, N, K), 64, dt)
    x = mx.array(rng.standard_normal((5, M, K)).astype(np.float32)).astype(dt)
    lhs, rhs = np.array([4, 0, 2, 2, 1]), np.array([3, 3, 0, 1, 0])
    y = mx.gather_qmm(x, wq, s, b, lhs_indices=mx.array(lhs), rhs_indices=mx.array(rhs))
    assert y.shape == (5, M, N)
    for i in range(5):
        check(y[i], f64(x[lhs[i]]) @ D[rhs[i]].T, dt)


@pytest.mark.parametrize("dtype", [mx.bfloat16, mx.float16])
@pytest.mark.parametrize(
    "M,N,K,g",
    [(64, 100, 256, 64), (65, 200, 384, 128), (128, 136, 128, 32), (129, 128, 512, 64),
     (300, 260, 256, 64), (257, 36, 128, 128)],
)
def test_gemm_tile_edges(rng, dtype, M, N, K, g):
    # rows of x around the GEMM's 64/128/256-row tiles, output columns not a multiple of 8
    wq, s, b, D = weights(rng, (N, K), g, dtype)
    x = mx.array(rng.standard_normal((M, K)).astype(np.float32)).astype(dtype)
    y = mx.quantized_matmul(x, wq, s, b, group_size=g)
    check(y, f64(x) @ D.T, dtype)


def test_gather_prefill(rng):
    dt = mx.bfloat16
    E, N, K, M = 3, 136, 384, 72
    wq, s, b, D = weights(rng, (E, N, K), 32, dt)
    x = mx.array(rng.standard_normal((2, M, K)).astype(np.float32)).astype(dt)
    lhs, rhs = np.array([1, 1, 0]), np.array([2, 0, 2])
    y = mx.gather_qmm(x, wq, s, b, lhs_indices=mx.array(lhs), rhs_indices=mx.array(rhs),
                      group_size=32)
    for i in range(3):
        check(y[i], f64(x[lhs[i]]) @ D[rhs[i]].T, dt)


def test_layer_sized(rng):
    dt = mx.bfloat16
    N, K = 3840, 4096
    wq, s, b, D = weights(rng, (N, K), 64, dt)
    for M in (1, 24, 512):
        x = mx.array(rng.standard_normal((2, M, K)).astype(np.float32)).astype(dt)
        y = mx.quantized_matmul(x, wq, s, b)
        for i in range(2):
            check(y[i], f64(x[i]) @ D.T, dt)


@pytest.mark.parametrize("M", [1, 2, 3])
def test_decode_x_staging(rng, M):
    # M * K * 2 bytes of x: 8 and 16 KB stored in shared memory by the GEMV, 24 KB read from
    # global memory instead
    dt = mx.float16
    N, K = 72, 4096
    wq, s, b, D = weights(rng, (N, K), 64, dt)
    x = mx.array(rng.standard_normal((M, K)).astype(np.float32)).astype(dt)
    check(mx.quantized_matmul(x, wq, s, b), f64(x) @ D.T, dt)


@pytest.mark.parametrize("g", [32, 128])
def test_decode_long_rows(rng, g):
    # K = 32768: with g = 32 the GEMV's scale and bias words of a block pass 48 KB of shared
    # memory
    dt = mx.bfloat16
    N, K = 24, 32768
    wq, s, b, D = weights(rng, (N, K), g, dt)
    x = mx.array(rng.standard_normal((1, K)).astype(np.float32)).astype(dt)
    check(mx.quantized_matmul(x, wq, s, b, group_size=g), f64(x) @ D.T, dt)
