"""mx.fft (spec/python-api.md section 20) against numpy.fft in float64: every transform over
lengths 1..64, primes, powers of two and composite sizes; n/s/axes/norm; batched,
non-contiguous and broadcast inputs; every input dtype; empty and NaN/inf inputs; errors;
fftfreq/rfftfreq and the shifts; gradients against central finite differences (vjp, grad,
jvp, grad of grad), vmap against a loop, compile, and concurrent use of the plan cache."""
import math
import threading

import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES, NP_DTYPES

NORMS = ["backward", "ortho", "forward"]


def crandn(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def c64(x):
    return mx.array(np.asarray(x).astype(np.complex64))


def f32(x):
    return mx.array(np.asarray(x).astype(np.float32))


def check(got, ref, rtol=1e-5):
    """Compares with an error relative to the reference's largest magnitude (FFT errors are
    spread over the output, so an element-wise relative tolerance would be meaningless)."""
    got = np.array(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if ref.size == 0:
        return
    scale = max(np.max(np.abs(ref)), 1.0)
    err = np.max(np.abs(got.astype(np.complex128) - ref)) / scale
    assert err <= rtol, f"relative error {err:.3g} > {rtol}"


# ---------------------------------------------------------------- lengths

PRIMES = [97, 1009, 4099]
POW2 = [2 ** k for k in range(17)]
COMPOSITE = [6 * 49, 2310, 121, 13 * 17, 4 * 67, 2 * 71, 3 ** 7, 1000, 5 ** 5, 2 * 3 * 1009]
LENGTHS = sorted(set(range(1, 65)) | set(PRIMES) | set(POW2) | set(COMPOSITE))


@pytest.mark.parametrize("n", LENGTHS)
def test_lengths_all_1d(rng, n):
    x = crandn(rng, n)
    check(mx.fft.fft(c64(x)), np.fft.fft(x))
    check(mx.fft.ifft(c64(x)), np.fft.ifft(x))
    xr = x.real
    check(mx.fft.rfft(f32(xr)), np.fft.rfft(xr))
    spec = np.fft.rfft(xr)
    check(mx.fft.irfft(c64(spec), n=n), np.fft.irfft(spec, n=n))


def test_length_2_pow_20(rng):
    x = crandn(rng, 1 << 20)
    check(mx.fft.fft(c64(x)), np.fft.fft(x))


def test_round_trip_large_prime(rng):
    x = crandn(rng, 10007)
    back = mx.fft.ifft(mx.fft.fft(c64(x)))
    check(back, x)


# ---------------------------------------------------------------- n, s, axes, norm

@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_1d_axis_norm(rng, norm, axis):
    x = crandn(rng, (5, 8, 6))
    X = c64(x)
    check(mx.fft.fft(X, axis=axis, norm=norm), np.fft.fft(x, axis=axis, norm=norm))
    check(mx.fft.ifft(X, axis=axis, norm=norm), np.fft.ifft(x, axis=axis, norm=norm))
    check(mx.fft.rfft(f32(x.real), axis=axis, norm=norm), np.fft.rfft(x.real, axis=axis, norm=norm))
    check(mx.fft.irfft(X, axis=axis, norm=norm), np.fft.irfft(x, axis=axis, norm=norm))


@pytest.mark.parametrize("n", [1, 3, 4, 7, 12, 17])
def test_1d_n_pads_and_truncates(rng, n):
    x = crandn(rng, (3, 8))
    X = c64(x)
    check(mx.fft.fft(X, n=n), np.fft.fft(x, n=n))
    check(mx.fft.ifft(X, n, 0), np.fft.ifft(x, n, 0))
    check(mx.fft.rfft(f32(x.real), n=n), np.fft.rfft(x.real, n=n))
    check(mx.fft.irfft(X, n=n), np.fft.irfft(x, n=n))
    check(mx.fft.irfft(X, n=n, axis=0), np.fft.irfft(x, n=n, axis=0))


@pytest.mark.parametrize("norm", NORMS)
def test_2d_and_nd_norm(rng, norm):
    x = crandn(rng, (6, 10, 7))
    X, XR = c64(x), f32(x.real)
    for name in ["fft2", "ifft2", "fftn", "ifftn", "irfft2", "irfftn"]:
        check(getattr(mx.fft, name)(X, norm=norm), getattr(np.fft, name)(x, norm=norm))
    for name in ["rfft2", "rfftn"]:
        check(getattr(mx.fft, name)(XR, norm=norm), getattr(np.fft, name)(x.real, norm=norm))


@pytest.mark.parametrize("s,axes", [
    ([3, 12], [2, 0]), ([4, 4], [0, 1]), ([9], [-1]), ([2, 5, 8], [1, 2, 0]), ([1, 1], [0, 2]),
])
def test_nd_s_axes(rng, s, axes):
    x = crandn(rng, (6, 10, 7))
    X, XR = c64(x), f32(x.real)
    check(mx.fft.fftn(X, s=s, axes=axes), np.fft.fftn(x, s=s, axes=axes))
    check(mx.fft.ifftn(X, s, axes), np.fft.ifftn(x, s, axes))
    check(mx.fft.rfftn(XR, s=s, axes=axes), np.fft.rfftn(x.real, s=s, axes=axes))
    check(mx.fft.irfftn(X, s=s, axes=axes), np.fft.irfftn(x, s=s, axes=axes))
    if len(axes) == 2:
        check(mx.fft.fft2(X, s=s, axes=axes), np.fft.fft2(x, s=s, axes=axes))
        check(mx.fft.irfft2(X, s=s, axes=axes), np.fft.irfft2(x, s=s, axes=axes))


def test_axes_subsets_and_defaults(rng):
    x = crandn(rng, (4, 5, 6))
    X = c64(x)
    check(mx.fft.fftn(X, axes=[1]), np.fft.fftn(x, axes=[1]))
    check(mx.fft.fft2(X, axes=(0, 2)), np.fft.fft2(x, axes=(0, 2)))
    check(mx.fft.fft2(X, axes=None), np.fft.fftn(x))
    check(mx.fft.rfftn(f32(x.real), axes=[2, 0]), np.fft.rfftn(x.real, axes=[2, 0]))
    check(mx.fft.irfftn(X, axes=[-1, 0]), np.fft.irfftn(x, axes=[-1, 0]))
    # no axes: the input unchanged (not even cast), as MLX
    r = mx.fft.fftn(f32(x.real), axes=[])
    assert r.dtype == mx.float32
    np.testing.assert_array_equal(np.array(r), x.real.astype(np.float32))


def test_irfft_default_n_and_ignored_imaginary_edges():
    # the imaginary parts of the DC and Nyquist terms do not contribute (as NumPy and MLX)
    y = np.array([1 + 1j, 2 + 1j, 3 + 1j])
    check(mx.fft.irfft(c64(y)), np.fft.irfft(y))
    assert mx.fft.irfft(c64(y)).shape == (4,)
    check(mx.fft.irfft(c64(y), n=5), np.fft.irfft(y, n=5))


def test_positional_arguments(rng):
    x = crandn(rng, (4, 6))
    X = c64(x)
    check(mx.fft.fft(X, 5, 0, "ortho", mx.cpu), np.fft.fft(x, 5, 0, "ortho"))
    check(mx.fft.fftn(X, [3, 4], [0, 1], "forward"), np.fft.fftn(x, [3, 4], [0, 1], norm="forward"))
    check(mx.fft.fftfreq(5, 0.5, mx.cpu), np.fft.fftfreq(5, 0.5))
    check(mx.fft.fftshift(X, [0], mx.cpu), np.fft.fftshift(x, [0]))


# ---------------------------------------------------------------- dtypes

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_input_dtypes(rng, dtype):
    vals = rng.integers(0, 2 if dtype == mx.bool_ else 5, size=(3, 8))
    if dtype == mx.bfloat16:
        x = mx.array(vals.astype(np.float32)).astype(dtype)
    else:
        x = mx.array(vals.astype(NP_DTYPES[dtype]))
    ref = vals.astype(np.float64)
    r = mx.fft.fft(x)
    assert r.dtype == mx.complex64
    check(r, np.fft.fft(ref))
    r = mx.fft.ifft(x)
    assert r.dtype == mx.complex64
    check(r, np.fft.ifft(ref))
    r = mx.fft.rfft(x)
    assert r.dtype == mx.complex64
    check(r, np.fft.rfft(ref))
    r = mx.fft.irfft(x)
    assert r.dtype == mx.float32
    check(r, np.fft.irfft(ref))
    r = mx.fft.fft2(x)
    assert r.dtype == mx.complex64
    check(r, np.fft.fft2(ref))


def test_rfft_of_complex_takes_real_part(rng):
    x = crandn(rng, 9)
    check(mx.fft.rfft(c64(x)), np.fft.rfft(x.real))
    z = crandn(rng, (3, 4))
    check(mx.fft.rfftn(c64(z)), np.fft.rfftn(z.real))


def test_float64_input_gives_complex64(rng):
    x = rng.standard_normal(16)
    r = mx.fft.fft(mx.array(x, dtype=mx.float64))
    assert r.dtype == mx.complex64
    check(r, np.fft.fft(x))


# ---------------------------------------------------------------- layouts

def test_non_contiguous_inputs(rng):
    x = crandn(rng, (6, 10, 7))
    X = c64(x)
    xt = x.transpose(2, 0, 1)
    check(mx.fft.fft2(mx.transpose(X, (2, 0, 1))), np.fft.fft2(xt))
    check(mx.fft.fftn(mx.transpose(X, (2, 0, 1))), np.fft.fftn(xt))
    check(mx.fft.fft(X[::2, 1:, ::3], axis=1), np.fft.fft(x[::2, 1:, ::3], axis=1))
    check(mx.fft.fft(X[:, ::-1], axis=1), np.fft.fft(x[:, ::-1], axis=1))
    check(mx.fft.ifft(X[::-1, :, 2:5], axis=0), np.fft.ifft(x[::-1, :, 2:5], axis=0))
    xr = x.real
    XR = f32(xr)
    check(mx.fft.rfftn(mx.transpose(XR, (1, 2, 0))), np.fft.rfftn(xr.transpose(1, 2, 0)))
    check(mx.fft.rfft(XR[:, ::2, :], axis=1), np.fft.rfft(xr[:, ::2, :], axis=1))
    check(mx.fft.irfftn(mx.transpose(X, (2, 0, 1))), np.fft.irfftn(xt))
    check(mx.fft.irfft(X[:, 1::2], axis=1), np.fft.irfft(x[:, 1::2], axis=1))


def test_broadcast_input(rng):
    row = crandn(rng, 12)
    X = mx.broadcast_to(c64(row), (5, 12))
    check(mx.fft.fft(X), np.fft.fft(np.broadcast_to(row, (5, 12))))
    check(mx.fft.fft(X, axis=0), np.fft.fft(np.broadcast_to(row, (5, 12)), axis=0))
    XR = mx.broadcast_to(f32(row.real)[:, None], (12, 4))
    check(mx.fft.rfft(XR, axis=0), np.fft.rfft(np.broadcast_to(row.real[:, None], (12, 4)), axis=0))


def test_large_batched(rng):
    x = rng.standard_normal((64, 2048))
    X = f32(x)
    check(mx.fft.fft(X, axis=0), np.fft.fft(x, axis=0))
    check(mx.fft.rfft2(X), np.fft.rfft2(x))
    check(mx.fft.irfft2(mx.fft.rfft2(X)), x)
    check(mx.fft.fft2(c64(x).T), np.fft.fft2(x.T))


# ---------------------------------------------------------------- edge values

def test_empty_and_size_one():
    r = mx.fft.fft(mx.zeros((0, 4)))
    assert r.shape == (0, 4) and r.dtype == mx.complex64
    assert mx.fft.rfft(mx.zeros((0, 6))).shape == (0, 4)
    assert mx.fft.irfft(mx.zeros((0, 3))).shape == (0, 4)
    assert mx.fft.fftn(mx.zeros((3, 0, 2)), axes=[0, 2]).shape == (3, 0, 2)
    check(mx.fft.fft(mx.array([2.5])), np.array([2.5 + 0j]))
    check(mx.fft.irfft(c64([3 + 0j]), n=1), np.array([3.0]))
    check(mx.fft.rfft(mx.ones((4, 1))), np.fft.rfft(np.ones((4, 1))))


def test_nan_and_inf_propagate(rng):
    x = rng.standard_normal((3, 8))
    x[1, 3] = np.nan
    x[2, 5] = np.inf
    r = np.array(mx.fft.fft(f32(x)))
    assert np.all(np.isfinite(r[0]))
    check(r[0], np.fft.fft(x[0]))
    assert np.isnan(r[1]).any()
    assert not np.isfinite(r[2]).all()
    r = np.array(mx.fft.rfft(f32(x)))
    assert np.all(np.isfinite(r[0])) and np.isnan(r[1]).any() and not np.isfinite(r[2]).all()


# ---------------------------------------------------------------- errors

def test_errors():
    x = mx.ones((4, 6))
    with pytest.raises(ValueError, match=r"\[fft\] Invalid norm"):
        mx.fft.fft(x, norm="foo")
    with pytest.raises(ValueError, match=r"\[rfftn\] Invalid norm"):
        mx.fft.rfftn(x, norm="Ortho")
    with pytest.raises(ValueError, match=r"Invalid FFT output size requested \(0\)"):
        mx.fft.fft(x, n=0)
    with pytest.raises(ValueError, match=r"Invalid FFT output size requested \(-1\)"):
        mx.fft.rfft(x, n=-1)
    with pytest.raises(ValueError, match=r"Invalid FFT output size requested \(3,-2\)"):
        mx.fft.fftn(x, s=[3, -2], axes=[0, 1])
    with pytest.raises(ValueError, match=r"Invalid FFT output size requested \(0\)"):
        mx.fft.irfft(mx.ones((1,), mx.complex64))  # default n = 2 * (1 - 1)
    with pytest.raises(ValueError, match=r"Duplicated axis received \(-1,1\)"):
        mx.fft.fftn(x, axes=[-1, 1])
    with pytest.raises(ValueError, match="Shape and axes have different sizes"):
        mx.fft.fftn(x, s=[3, 4, 5], axes=[0, 1])
    with pytest.raises(ValueError, match=r"\[fft2\] `axes` should not be `None`"):
        mx.fft.fft2(x, s=[2, 3], axes=None)
    with pytest.raises(ValueError, match=r"\[irfftn\] `axes` should not be `None`"):
        mx.fft.irfftn(x, s=[2, 3])
    with pytest.raises(ValueError, match=r"Invalid FFT output size requested \(0,6\)"):
        mx.fft.fftn(mx.zeros((0, 6)))
    with pytest.raises(IndexError):
        mx.fft.fft(x, axis=2)
    with pytest.raises(IndexError):
        mx.fft.fft(x, axis=-3)
    with pytest.raises(IndexError):
        mx.fft.fftn(x, axes=[0, 2])
    with pytest.raises(IndexError):
        mx.fft.fft2(mx.ones(4))
    with pytest.raises(IndexError):
        mx.fft.fft(mx.array(1.0))
    with pytest.raises(TypeError):
        mx.fft.fft(x, norm=None)
    with pytest.raises(TypeError):
        mx.fft.fft(x, n=2.5)


# ---------------------------------------------------------------- frequencies and shifts

@pytest.mark.parametrize("n", [1, 2, 5, 6, 7, 16])
@pytest.mark.parametrize("d", [1.0, 0.3, -2.0, 4])
def test_fftfreq(n, d):
    r = mx.fft.fftfreq(n, d)
    assert r.dtype == mx.float32
    np.testing.assert_allclose(np.array(r), np.fft.fftfreq(n, d), rtol=1e-6, atol=1e-7)
    r = mx.fft.rfftfreq(n, d=d)
    assert r.dtype == mx.float32
    np.testing.assert_allclose(np.array(r), np.fft.rfftfreq(n, d), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array(mx.fft.fftfreq(n)), np.fft.fftfreq(n), rtol=1e-6)


def test_fftfreq_errors():
    for f in (mx.fft.fftfreq, mx.fft.rfftfreq):
        with pytest.raises(ValueError, match="`n` must be greater than 0"):
            f(0)
        with pytest.raises(ValueError, match="`n` must be greater than 0"):
            f(-3)
        with pytest.raises(ValueError, match="`d` must be non-zero"):
            f(4, 0.0)


@pytest.mark.parametrize("shape", [(5,), (6,), (4, 7), (3, 1, 6), (0, 3)])
@pytest.mark.parametrize("axes", [None, [0], [-1], [0, -1]])
def test_shifts(rng, shape, axes):
    x = rng.integers(-50, 50, size=shape).astype(np.int32)
    X = mx.array(x)
    r = mx.fft.fftshift(X, axes=axes)
    assert r.dtype == mx.int32
    np.testing.assert_array_equal(np.array(r), np.fft.fftshift(x, axes=axes))
    np.testing.assert_array_equal(np.array(mx.fft.ifftshift(X, axes)), np.fft.ifftshift(x, axes))
    np.testing.assert_array_equal(np.array(mx.fft.ifftshift(mx.fft.fftshift(X, axes), axes)), x)


def test_shift_edge_cases(rng):
    x = crandn(rng, (4, 5))
    check(mx.fft.fftshift(c64(x), axes=1), np.fft.fftshift(x, axes=1))
    check(mx.fft.fftshift(c64(x), axes=[0, 0]), x)  # duplicate axes roll twice, as MLX
    np.testing.assert_array_equal(np.array(mx.fft.fftshift(mx.array(3))), 3)
    with pytest.raises(IndexError, match=r"\[fftshift\] Invalid axis 2 for array with 2"):
        mx.fft.fftshift(c64(x), axes=[2])
    with pytest.raises(IndexError, match=r"\[ifftshift\] Invalid axis -3"):
        mx.fft.ifftshift(c64(x), axes=[-3])


# ---------------------------------------------------------------- gradients

def finite_diff(f, x, eps=1e-4):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def real_loss_np(y, w1, w2):
    return float(np.sum(y.real * w1) + np.sum(y.imag * w2)) if np.iscomplexobj(y) else float(np.sum(y * w1))


def real_loss_mx(y, w1, w2):
    if y.dtype == mx.complex64:
        return mx.sum(mx.real(y) * w1) + mx.sum(mx.imag(y) * w2)
    return mx.sum(y * w1)


# (mx function, numpy function, kwargs, input shape)
GRAD_CASES = [
    ("fft", {}, (6,)),
    ("fft", {"n": 9, "norm": "ortho"}, (6,)),
    ("fft", {"n": 4, "axis": 0}, (6, 3)),
    ("ifft", {"norm": "forward"}, (5, 4)),
    ("rfft", {}, (8,)),
    ("rfft", {}, (7,)),
    ("rfft", {"n": 10, "axis": 0, "norm": "ortho"}, (6, 2)),
    ("irfft", {}, (5,)),
    ("irfft", {"n": 7}, (5,)),
    ("irfft", {"n": 4, "norm": "forward"}, (3, 5)),
    ("fft2", {}, (3, 4)),
    ("ifftn", {"s": [4, 3], "axes": [1, 0]}, (3, 5)),
    ("rfft2", {}, (4, 6)),
    ("rfftn", {"s": [5, 3], "axes": [0, 1], "norm": "forward"}, (4, 4)),
    ("irfft2", {}, (4, 3)),
    ("irfftn", {"s": [3, 5], "axes": [1, 0], "norm": "ortho"}, (4, 4)),
]


def _out_shape(name, kw, shape, rng):
    return getattr(np.fft, name)(np.zeros(shape), **kw).shape


@pytest.mark.parametrize("name,kw,shape", GRAD_CASES, ids=lambda v: str(v))
def test_grad_real_input(rng, name, kw, shape):
    x = rng.standard_normal(shape)
    out_shape = _out_shape(name, kw, shape, rng)
    w1, w2 = rng.standard_normal(out_shape), rng.standard_normal(out_shape)
    W1, W2 = f32(w1), f32(w2)
    fmx = lambda a: real_loss_mx(getattr(mx.fft, name)(a, **kw), W1, W2)  # noqa: E731
    fnp = lambda a: real_loss_np(getattr(np.fft, name)(a, **kw), w1, w2)  # noqa: E731
    g = mx.grad(fmx)(f32(x))
    np.testing.assert_allclose(np.array(g), finite_diff(fnp, x), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name,kw,shape", GRAD_CASES, ids=lambda v: str(v))
def test_grad_complex_input(rng, name, kw, shape):
    """MLX's convention for a real loss of a complex input: dL/dRe + i dL/dIm."""
    z = crandn(rng, shape)
    out_shape = _out_shape(name, kw, shape, rng)
    w1, w2 = rng.standard_normal(out_shape), rng.standard_normal(out_shape)
    W1, W2 = f32(w1), f32(w2)
    fmx = lambda a: real_loss_mx(getattr(mx.fft, name)(a, **kw), W1, W2)  # noqa: E731
    g = np.array(mx.grad(fmx)(c64(z)))
    src = (lambda v: v.real) if name.startswith("rfft") else (lambda v: v)
    f_re = lambda a: real_loss_np(getattr(np.fft, name)(src(a + 1j * z.imag), **kw), w1, w2)  # noqa: E731
    f_im = lambda b: real_loss_np(getattr(np.fft, name)(src(z.real + 1j * b), **kw), w1, w2)  # noqa: E731
    np.testing.assert_allclose(g.real, finite_diff(f_re, z.real), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(g.imag, finite_diff(f_im, z.imag), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name,kw,shape", GRAD_CASES[::2], ids=lambda v: str(v))
def test_jvp(rng, name, kw, shape):
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    _, (jv,) = mx.jvp(lambda a: getattr(mx.fft, name)(a, **kw), [f32(x)], [f32(t)])
    eps = 1e-4
    f = getattr(np.fft, name)
    ref = (f(x + eps * t, **kw) - f(x - eps * t, **kw)) / (2 * eps)
    check(jv, ref, rtol=1e-4)


def test_vjp_golden_values():
    # golden values from Apple MLX 0.32 (mx.vjp on the CPU) for the cotangent conventions
    x = mx.array([1.0, 2.0, -1.0, 0.5])
    _, (g,) = mx.vjp(mx.fft.rfft, [x], [mx.array([1 + 1j, 2 - 1j, 0.5 + 3j])])
    np.testing.assert_allclose(np.array(g), [3.5, 1.5, -0.5, -0.5], atol=1e-6)
    _, (g,) = mx.vjp(lambda a: mx.fft.irfft(a, n=5), [mx.array([1 + 1j, 2 - 1j, 0.5 + 3j])],
                     [mx.array([1.0, 2, 3, 4, 5])])
    np.testing.assert_allclose(np.array(g), [3 + 0j, -1 + 1.37638j, -1 + 0.32492j], atol=1e-5)
    xc = x.astype(mx.complex64) * (1 + 0.5j)
    _, (g,) = mx.vjp(mx.fft.fft, [xc], [mx.array([1 + 1j, 2 - 1j, 0.5 + 3j, 1j])])
    np.testing.assert_allclose(np.array(g), [3.5 + 4j, 2.5 + 0j, -0.5 + 4j, -1.5 - 4j], atol=1e-6)
    _, (g,) = mx.vjp(mx.fft.irfft2, [mx.array([[1.0, 2.0], [3.0, 4.0]]).astype(mx.complex64)],
                     [mx.array([[1.0, 2], [3, 4]])])
    np.testing.assert_allclose(np.array(g), [[2.5, -0.5], [-1, 0]], atol=1e-6)


def test_grad_of_grad(rng):
    x = rng.standard_normal(6)
    w = rng.standard_normal(4)
    v = rng.standard_normal(6)
    W = f32(w)

    def f(a):  # |rfft(a)|^2 weighted: quadratic, so its Hessian is constant
        y = mx.fft.rfft(a)
        return mx.sum((mx.real(y) ** 2 + mx.imag(y) ** 2) * W)

    def f_np_grad(a):
        return np.array(mx.grad(f)(f32(a))).astype(np.float64)

    hv = mx.grad(lambda a: mx.sum(mx.grad(f)(a) * f32(v)))(f32(x))
    eps = 1e-3
    ref = (f_np_grad(x + eps * v) - f_np_grad(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(np.array(hv), ref, rtol=2e-3, atol=2e-3)


# ---------------------------------------------------------------- vmap and compile

@pytest.mark.parametrize("name,kw,in_axis", [
    ("fft", {}, 0), ("fft", {"n": 5}, 1), ("ifft", {"axis": 0}, 1), ("rfft", {"n": 6}, 0),
    ("irfft", {}, 1), ("irfft", {"n": 7, "axis": 0}, 0), ("fft2", {}, 2), ("rfftn", {}, 0),
    ("irfftn", {"s": [4, 5], "axes": [0, 1]}, 2),
])
def test_vmap_matches_loop(rng, name, kw, in_axis):
    x = crandn(rng, (3, 4, 6))
    X = c64(x) if not name.startswith("rfft") else f32(x.real)
    f = lambda a: getattr(mx.fft, name)(a, **kw)  # noqa: E731
    got = mx.vmap(f, in_axes=in_axis)(X)
    loop = mx.stack([f(mx.take(X, i, axis=in_axis)) for i in range(X.shape[in_axis])])
    check(got, np.array(loop), rtol=1e-6)


def test_compile_matches_eager(rng):
    x = f32(rng.standard_normal((4, 8)))

    def f(a):
        return mx.abs(mx.fft.irfft(mx.fft.rfft(a) * 2.0, n=8)) + mx.real(mx.fft.fft2(a))

    check(mx.compile(f)(x), np.array(f(x)), rtol=1e-6)


def test_concurrent_plans(rng):
    lengths = [97, 128, 360, 1009, 4096, 3 ** 6, 2 * 71]
    data = {n: crandn(rng, (2, n)) for n in lengths}
    errors = []

    def work(ns):
        try:
            for _ in range(3):
                for n in ns:
                    r = np.array(mx.fft.fft(c64(data[n])))
                    ref = np.fft.fft(data[n])
                    if np.max(np.abs(r - ref)) > 1e-4 * max(np.max(np.abs(ref)), 1):
                        errors.append(n)
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(lengths[i:] + lengths[:i],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_error_scales_like_float32():
    """Accuracy of float32 arithmetic with accurate twiddles: the error stays within a
    small multiple of eps * log2(n) relative to the output's RMS."""
    rng = np.random.default_rng(1234)
    for n in [4096, 65536, 1009, 4 * 67 * 9, 3 ** 9]:
        x = crandn(rng, n).astype(np.complex64).astype(np.complex128)
        ref = np.fft.fft(x)
        got = np.array(mx.fft.fft(c64(x))).astype(np.complex128)
        rms = math.sqrt(np.mean(np.abs(ref) ** 2))
        err = math.sqrt(np.mean(np.abs(got - ref) ** 2)) / rms
        assert err < 6e-8 * 4 * math.log2(n), (n, err)


def test_export_round_trip(rng, tmp_path):
    path = str(tmp_path / "fft.mlxfn")
    x = f32(rng.standard_normal((3, 8)))

    def f(a):
        return mx.fft.irfft(mx.fft.rfft2(a, norm="ortho"), n=7), mx.fft.fftn(a, s=(4, 5), axes=(1, 0))

    mx.export_function(path, f, x)
    got = mx.import_function(path)(x)
    want = f(x)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.array(g), np.array(w))


def test_shapeless_compile_raises_as_mlx(rng):
    x = f32(rng.standard_normal((3, 8)))
    with pytest.raises(ValueError, match="FFT cannot infer output shapes"):
        mx.compile(lambda a: mx.fft.rfft(a), shapeless=True)(x)
