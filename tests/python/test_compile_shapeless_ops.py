"""mx.compile(shapeless=True) of the convolutions, GatherMM, the quantized ops and the other
primitives whose output shapes MLX re-infers (Primitive::output_shapes): each compiled
function, called on 2-3 new input shapes, equals the eager function."""
import numpy as np
import pytest

import mlx.core as mx


def _rand(rng, *shape, dtype=mx.float32):
    return mx.array(rng.standard_normal(shape).astype(np.float32)).astype(dtype)


def _qw(rng, n, k, bits=4, group_size=32):
    return mx.quantize(_rand(rng, n, k), group_size=group_size, bits=bits)


def _check(fn, calls, seed, rtol=1e-4, atol=1e-4):
    cf = mx.compile(fn, shapeless=True)
    for args in calls:
        got, ref = cf(*args), fn(*args)
        if not isinstance(got, (list, tuple)):
            got, ref = [got], [ref]
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert g.shape == r.shape and g.dtype == r.dtype, (seed, [a.shape for a in args])
            np.testing.assert_allclose(np.array(g.astype(mx.float32)), np.array(r.astype(mx.float32)),
                                       rtol=rtol, atol=atol, err_msg=f"seed {seed}")


@pytest.fixture
def seeded():
    seed = 1234
    return seed, np.random.default_rng(seed)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16])
def test_conv1d(seeded, dtype):
    seed, rng = seeded
    r = lambda *s: _rand(rng, *s, dtype=dtype)
    tol = 1e-4 if dtype == mx.float32 else 5e-2
    _check(lambda x, w: mx.conv1d(x, w, stride=2, padding=1),
           [(r(1, 9, 2), r(4, 3, 2)), (r(2, 12, 2), r(4, 3, 2)), (r(3, 5, 2), r(6, 3, 2))], seed, tol, tol)


def test_conv2d_dilated_grouped(seeded):
    seed, rng = seeded
    r = lambda *s: _rand(rng, *s)
    _check(lambda x, w: mx.conv2d(x, w, padding=(1, 0), dilation=(1, 2), groups=2),
           [(r(1, 6, 7, 4), r(2, 3, 2, 2)), (r(2, 8, 9, 4), r(2, 3, 2, 2)), (r(1, 5, 6, 4), r(4, 2, 2, 2))], seed)


def test_conv_transpose_and_conv3d(seeded):
    seed, rng = seeded
    r = lambda *s: _rand(rng, *s)
    _check(lambda x, w: mx.conv_transpose1d(x, w, stride=2, padding=1),
           [(r(1, 5, 2), r(3, 3, 2)), (r(2, 7, 2), r(3, 3, 2)), (r(1, 4, 2), r(5, 3, 2))], seed)
    _check(lambda x, w: mx.conv3d(x, w, stride=(1, 2, 1)),
           [(r(1, 4, 5, 4, 1), r(2, 2, 2, 2, 1)), (r(2, 5, 6, 3, 1), r(2, 2, 2, 2, 1))], seed)


def test_conv_weight_gradient(seeded):
    # the weight gradient (ConvolutionWeight) has the kernel's shape whatever the input size
    seed, rng = seeded
    r = lambda *s: _rand(rng, *s)
    g = lambda x, w, c: mx.vjp(lambda w: mx.conv1d(x, w, padding=1), [w], [c])[1][0]
    _check(g, [(r(1, 6, 2), r(3, 3, 2), r(1, 6, 3)), (r(2, 9, 2), r(3, 3, 2), r(2, 9, 3)),
               (r(3, 4, 2), r(5, 3, 2), r(3, 4, 5))], seed, 1e-3, 1e-3)


def test_conv_channel_mismatch_raises(seeded):
    _, rng = seeded
    cf = mx.compile(lambda x, w: mx.conv1d(x, w), shapeless=True)
    cf(_rand(rng, 1, 5, 2), _rand(rng, 3, 2, 2))
    with pytest.raises(ValueError, match=r"\[conv\]"):
        cf(_rand(rng, 1, 5, 3), _rand(rng, 3, 2, 2))


def test_gather_mm(seeded):
    seed, rng = seeded
    r = lambda *s: _rand(rng, *s)
    _check(lambda a, b, i, j: mx.gather_mm(a, b, i, j),
           [(r(2, 3, 4), r(3, 4, 5), mx.array([0, 1]), mx.array([0, 2])),
            (r(2, 5, 4), r(3, 4, 6), mx.array([1, 1, 0]), mx.array([2, 2, 1])),
            (r(3, 2, 7), r(4, 7, 2), mx.array([[0], [2]]), mx.array([[3], [1]]))], seed)
    _check(lambda a, b, j: mx.gather_mm(a, b, None, j, sorted_indices=True),
           [(r(2, 3, 4), r(3, 4, 5), mx.array([0, 2])), (r(2, 6, 4), r(5, 4, 2), mx.array([1, 4]))], seed)


@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_matmul(seeded, bits):
    seed, rng = seeded
    q = lambda n, k: _qw(rng, n, k, bits)
    f = lambda x, w, s, b: mx.quantized_matmul(x, w, s, b, transpose=True, group_size=32, bits=bits)
    _check(f, [(_rand(rng, 3, 64), *q(8, 64)), (_rand(rng, 5, 64), *q(8, 64)), (_rand(rng, 2, 128), *q(16, 128))], seed)
    f2 = lambda x, w, s, b: mx.quantized_matmul(x, w, s, b, transpose=False, group_size=32, bits=bits)
    _check(f2, [(_rand(rng, 3, 64), *q(64, 64)), (_rand(rng, 5, 32), *q(32, 128))], seed)
    f3 = lambda x, w, s, b: mx.quantized_matmul(x, w, s, b, transpose=True, group_size=32, bits=bits)
    _check(f3, [(_rand(rng, 2, 3, 64), *q(8, 64)), (_rand(rng, 4, 1, 64), *q(16, 64))], seed)

    def qb(e, n, k):
        return [a.reshape(e, n, -1) for a in q(e * n, k)]

    _check(f3, [(_rand(rng, 2, 3, 64), *qb(2, 8, 64)), (_rand(rng, 3, 1, 64), *qb(3, 4, 64)),
                (_rand(rng, 2, 5, 64), *qb(2, 16, 64))], seed)


def test_quantized_matmul_inner_mismatch_raises(seeded):
    _, rng = seeded
    f = mx.compile(lambda x, w, s, b: mx.quantized_matmul(x, w, s, b, group_size=32, bits=4), shapeless=True)
    f(_rand(rng, 3, 64), *_qw(rng, 8, 64))
    with pytest.raises(ValueError):
        f(_rand(rng, 3, 64), *_qw(rng, 8, 128))


def test_gather_qmm(seeded):
    seed, rng = seeded

    def q(e, n, k):
        return [a.reshape(e, n, -1) for a in _qw(rng, e * n, k)]

    f = lambda x, w, s, b, i, j: mx.gather_qmm(x, w, s, b, i, j, transpose=True, group_size=32, bits=4)
    _check(f, [(_rand(rng, 2, 1, 64), *q(2, 4, 64), mx.array([0, 1]), mx.array([1, 0])),
               (_rand(rng, 3, 2, 64), *q(3, 8, 64), mx.array([2, 0, 1]), mx.array([1, 2, 2])),
               (_rand(rng, 1, 5, 128), *q(2, 4, 128), mx.array([0, 0]), mx.array([1, 0]))], seed)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_quantize_dequantize(seeded, bits):
    seed, rng = seeded
    _check(lambda x: mx.quantize(x, group_size=32, bits=bits),
           [(_rand(rng, 4, 64),), (_rand(rng, 6, 128),), (_rand(rng, 1, 32),)], seed)
    _check(lambda w, s, b: mx.dequantize(w, s, b, group_size=32, bits=bits),
           [_qw(rng, 4, 64, bits), _qw(rng, 6, 128, bits), _qw(rng, 1, 32, bits)], seed)
    _check(lambda x: mx.dequantize(*mx.quantize(x, group_size=64, bits=bits), group_size=64, bits=bits),
           [(_rand(rng, 4, 64),), (_rand(rng, 3, 192),)], seed)


def test_quantize_group_mismatch_raises(seeded):
    _, rng = seeded
    f = mx.compile(lambda x: mx.quantize(x, group_size=32, bits=4), shapeless=True)
    f(_rand(rng, 4, 64))
    with pytest.raises(ValueError):
        f(_rand(rng, 4, 48))


def test_fast_and_other_ops(seeded):
    seed, rng = seeded
    r = lambda *s: _rand(rng, *s)
    _check(lambda x: mx.hadamard_transform(x, scale=0.5), [(r(3, 8),), (r(5, 8),), (r(2, 16),)], seed)
    _check(lambda x, w: mx.fast.rms_norm(x, w, 1e-5), [(r(3, 8), r(8)), (r(5, 4), r(4)), (r(1, 16), r(16))], seed)
    _check(lambda x, w, b: mx.fast.layer_norm(x, w, b, 1e-5), [(r(3, 8), r(8), r(8)), (r(5, 4), r(4), r(4))], seed)
    _check(lambda q, k, v: mx.fast.scaled_dot_product_attention(q, k, v, scale=0.5),
           [(r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 4)), (r(2, 2, 4, 4), r(2, 2, 6, 4), r(2, 2, 6, 4)),
            (r(1, 1, 2, 8), r(1, 1, 3, 8), r(1, 1, 3, 8))], seed)
    _check(lambda x, i: mx.slice(x, i, axes=(0,), slice_size=(1, 3)),
           [(r(4, 3), mx.array([1])), (r(6, 3), mx.array([5]))], seed)
    _check(lambda x: mx.from_fp8(mx.to_fp8(x), mx.float32), [(r(3, 4),), (r(5, 2),), (r(7,),)], seed)


def test_eigh(seeded):
    seed, rng = seeded
    r = lambda *s: _rand(rng, *s)
    f = lambda x: mx.linalg.eigh(x + x.swapaxes(-1, -2), stream=mx.cpu)
    cf = mx.compile(f, shapeless=True)
    for x in (r(3, 3), r(4, 4), r(2, 5, 5)):
        (w, v), (w0, _) = cf(x), f(x)
        assert w.shape == w0.shape and v.shape == x.shape
        np.testing.assert_allclose(np.array(w), np.array(w0), rtol=1e-4, atol=1e-4, err_msg=f"seed {seed}")
    _check(lambda x: mx.linalg.eigvalsh(x + x.T, stream=mx.cpu), [(r(3, 3),), (r(6, 6),)], seed)
    with pytest.raises(ValueError):
        cf(r(3, 4))


def test_still_uninferable_as_mlx():
    for fn, x in [(lambda x: x[1:], mx.ones((3, 4))),
                  (lambda x: mx.pad(x, 1), mx.ones((3,))),
                  (lambda x: mx.fft.fft(x), mx.ones((4,))),
                  (lambda x: mx.linalg.inv(x, stream=mx.cpu), mx.eye(3))]:
        with pytest.raises(ValueError, match="cannot infer output shapes"):
            mx.compile(fn, shapeless=True)(x)
