"""mx.random samplers beyond uniform/normal/randint, and normal's complex64 path
(spec/python-api.md section 19, spec/semantics.md 7.4): bit-exact golden vectors,
distribution statistics on large seeded samples, shapes, dtypes and MLX's errors."""
import json
import math
import os

import numpy as np
import pytest

import mlx.core as mx

# Golden vectors made with Apple MLX 0.32.4 (Linux CPU build): each case's values are
# getattr(mx.random, fn)(**eval(args), key=mx.random.key(seed)), exact (float.hex / ints).
with open(os.path.join(os.path.dirname(__file__), "data", "random_dist_golden.json")) as f:
    GOLDEN = json.load(f)["cases"]

# mx.erf is correctly rounded in float32, MLX's is a polynomial approximation a few ulp
# away; truncated_normal in float32 therefore agrees to float32 rounding, not to the bit.
# multivariate_normal goes through linalg.svd and matmul, whose last bits differ from
# MLX's LAPACK/BLAS.
# laplace goes through log1p, which is correctly rounded here and glibc's log1pf (off by
# an ulp at times) in MLX's Linux build: a few float32 samples differ in the last bit.
ULP_CASES = {"truncated_normal_scalar", "truncated_normal_default_shape",
             "truncated_normal_int_bounds", "multivariate_normal_basic",
             "multivariate_normal_batched", "laplace_f32", "laplace_loc_scale"}


def values_of(r):
    dt = str(r.dtype).split(".")[-1]
    if dt in ("float16", "bfloat16", "float32"):
        return dt, [float(v) for v in np.array(r.astype(mx.float32)).reshape(-1)]
    if dt == "float64":
        return dt, [float(v) for v in np.array(r).reshape(-1)]
    if dt == "complex64":
        return dt, [[float(v.real), float(v.imag)] for v in np.array(r).reshape(-1)]
    return dt, [int(v) for v in np.array(r).reshape(-1)]


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
def test_golden(case):
    # bit-exactness is a property of the CPU kernels (MLX's GPU results differ too)
    kwargs = {"stream": mx.cpu, **eval(case["args"])}
    r = getattr(mx.random, case["fn"])(**kwargs, key=mx.random.key(case["seed"]))
    dt, vals = values_of(r)
    assert dt == case["dtype"]
    assert list(r.shape) == case["shape"]
    def exact(v):
        if isinstance(v, list):
            return [float.fromhex(p) for p in v]
        return float.fromhex(v) if isinstance(v, str) else v

    want = [exact(v) for v in case["values"]]
    if case["name"] in ULP_CASES:
        np.testing.assert_allclose(vals, want, rtol=1e-5, atol=2e-6)
    else:
        assert vals == want


def ks_stat(samples, cdf):
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = len(x)
    c = cdf(x)
    return max(np.max(np.arange(1, n + 1) / n - c), np.max(c - np.arange(n) / n))


KS_BOUND = 1.95 / math.sqrt(100_000)  # alpha = 0.001 for n = 100000


def test_bernoulli_statistics():
    p = mx.array([0.0, 0.05, 0.3, 0.5, 0.95, 1.0])
    b = np.array(mx.random.bernoulli(p, shape=(50_000, 6), key=mx.random.key(1)))
    assert b.dtype == np.bool_
    freq = b.mean(axis=0)
    sd = np.sqrt(np.array(p) * (1 - np.array(p)) / 50_000)
    assert freq[0] == 0.0 and freq[-1] == 1.0
    assert np.all(np.abs(freq - np.array(p)) <= 5 * sd + 1e-12), freq


@pytest.mark.parametrize("lo,hi", [(-1.0, 1.0), (0.5, 3.0), (-3.0, -2.0)])
def test_truncated_normal_statistics(lo, hi):
    x = np.array(mx.random.truncated_normal(lo, hi, shape=(100_000,), key=mx.random.key(2)))
    assert x.min() >= lo and x.max() <= hi
    phi = lambda t: np.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    Phi = lambda t: 0.5 * (1 + np.vectorize(math.erf)(t / math.sqrt(2)))
    z = Phi(hi) - Phi(lo)
    assert ks_stat(x, lambda t: (Phi(t) - Phi(lo)) / z) < KS_BOUND
    mean = (phi(lo) - phi(hi)) / z
    assert abs(x.mean() - mean) < 0.01


def test_gumbel_statistics():
    x = np.array(mx.random.gumbel((100_000,), key=mx.random.key(3)))
    assert ks_stat(x, lambda t: np.exp(-np.exp(-t))) < KS_BOUND
    assert abs(x.mean() - np.euler_gamma) < 0.02
    assert abs(x.var() - math.pi ** 2 / 6) < 0.05


@pytest.mark.parametrize("loc,scale", [(0.0, 1.0), (2.0, 0.5), (-1.0, 3.0)])
def test_laplace_statistics(loc, scale):
    x = np.array(mx.random.laplace((100_000,), loc=loc, scale=scale, key=mx.random.key(4)))
    cdf = lambda t: np.where(t < loc, 0.5 * np.exp((t - loc) / scale),
                             1 - 0.5 * np.exp(-(t - loc) / scale))
    assert ks_stat(x, cdf) < KS_BOUND
    assert abs(x.mean() - loc) < 0.02 * scale
    assert abs(x.var() / (2 * scale * scale) - 1) < 0.03


@pytest.mark.parametrize("kind", ["rows", "one_dist_shape", "num_samples"])
def test_categorical_frequencies(kind):
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(3, 6)).astype(np.float32)
    n = 60_000
    key = mx.random.key(6)
    if kind == "rows":
        s = np.array(mx.random.categorical(mx.array(np.repeat(logits, n // 3, axis=0)), key=key))
        s = s.reshape(3, n // 3)
    elif kind == "one_dist_shape":
        logits = logits[:1]
        s = np.array(mx.random.categorical(mx.array(logits[0]), shape=(1, n), key=key))
    else:
        s = np.array(mx.random.categorical(mx.array(logits), num_samples=n // 3, key=key))
    assert s.dtype == np.uint32
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    for row, probs in zip(s, p):
        freq = np.bincount(row, minlength=6) / len(row)
        sd = np.sqrt(probs * (1 - probs) / len(row))
        assert np.all(np.abs(freq - probs) <= 5 * sd), (freq, probs)


def test_categorical_infinite_logits():
    logits = mx.array([[-np.inf, 0.0, -np.inf], [0.0, -np.inf, -np.inf]])
    s = mx.random.categorical(logits, num_samples=100, key=mx.random.key(7))
    assert np.all(np.array(s)[0] == 1) and np.all(np.array(s)[1] == 0)
    s = mx.random.categorical(mx.array([-np.inf, -np.inf, 5.0]), shape=(50,), key=mx.random.key(8))
    assert np.all(np.array(s) == 2)


def test_permutation_is_uniform():
    counts = np.zeros((4, 4))
    for i in range(2000):
        p = np.array(mx.random.permutation(4, key=mx.random.key(i)))
        assert sorted(p.tolist()) == [0, 1, 2, 3]
        counts[np.arange(4), p] += 1
    assert np.all(np.abs(counts / 2000 - 0.25) < 0.05), counts


def test_permutation_array():
    x = mx.arange(30).reshape(5, 6)
    for axis in (0, 1, -1, -2):
        p = np.array(mx.random.permutation(x, axis=axis, key=mx.random.key(9)))
        ax = axis % 2
        assert sorted(p.sum(axis=1 - ax).tolist()) == sorted(np.array(x).sum(axis=1 - ax).tolist())
        perm = np.array(mx.random.permutation(x.shape[ax], key=mx.random.key(9)))
        assert np.array_equal(p, np.take(np.array(x), perm, axis=ax))
    # non-contiguous input
    xt = mx.arange(12).reshape(3, 4).T
    p = np.array(mx.random.permutation(xt, key=mx.random.key(10)))
    perm = np.array(mx.random.permutation(4, key=mx.random.key(10)))
    assert np.array_equal(p, np.array(xt)[perm])
    big = np.array(mx.random.permutation(10_000, key=mx.random.key(11)))
    assert np.array_equal(np.sort(big), np.arange(10_000))


def test_complex_normal_statistics():
    z = np.array(mx.random.normal((100_000,), dtype=mx.complex64, key=mx.random.key(15)))
    assert z.dtype == np.complex64
    for part in (z.real, z.imag):
        assert ks_stat(part, lambda t: 0.5 * (1 + np.vectorize(math.erf)(t))) < KS_BOUND  # N(0, 1/2)
    assert abs(np.mean(z.real * z.imag)) < 0.01


def test_multivariate_normal_statistics():
    previous = mx.default_device()
    mx.set_default_device(mx.cpu)  # as MLX runs it (its SVD has no GPU kernel there)
    try:
        _multivariate_normal_statistics()
    finally:
        mx.set_default_device(previous)


def _multivariate_normal_statistics():
    rng = np.random.default_rng(12)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + 0.5 * np.eye(3)
    mean = np.array([1.0, -1.0, 2.0])
    x = np.array(mx.random.multivariate_normal(mx.array(mean.astype(np.float32)),
                                               mx.array(cov.astype(np.float32)), shape=(100_000,),
                                               key=mx.random.key(13), stream=mx.cpu))
    assert x.shape == (100_000, 3)
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(x.T), cov, rtol=0.03, atol=0.03)
    # batched: each batch entry has its own covariance; singular covariances work too
    covs = mx.array(np.stack([np.eye(2), [[1.0, 1.0], [1.0, 1.0]]]).astype(np.float32))
    y = np.array(mx.random.multivariate_normal(mx.zeros((2,)), covs, shape=(50_000, 2),
                                               key=mx.random.key(14), stream=mx.cpu))
    assert y.shape == (50_000, 2, 2)
    np.testing.assert_allclose(np.cov(y[:, 0].T), np.eye(2), atol=0.03)
    # the float32 SVD leaves the zero singular value at about eps * |cov| (its value depends on
    # the LAPACK kernels of the machine), whose square root scales the second direction
    assert np.all(np.abs(y[:, 1, 0] - y[:, 1, 1]) <= 3e-3 * (1 + np.abs(y[:, 1, 0])))


def test_global_key_sequence():
    """Without key= each sampler takes sub-key 1 of split(state) as MLX does."""
    for fn, kw in [("bernoulli", dict(p=0.5, shape=(8,))), ("gumbel", dict(shape=(8,))),
                   ("laplace", dict(shape=(8,))), ("truncated_normal", dict(lower=-1, upper=1, shape=(8,))),
                   ("categorical", dict(logits=mx.zeros((8, 4)))), ("permutation", dict(x=8))]:
        mx.random.seed(123)
        a = getattr(mx.random, fn)(**kw)
        b = getattr(mx.random, fn)(**kw, key=mx.random.split(mx.random.key(123))[1])
        assert mx.array_equal(a, b).item(), fn
        c = getattr(mx.random, fn)(**kw)
        assert mx.random.state[0].tolist() != mx.random.split(mx.random.key(123))[0].tolist()
        del c


def test_shapes_and_dtypes():
    k = mx.random.key(0)
    assert mx.random.bernoulli(key=k).shape == ()
    assert mx.random.bernoulli(0.2, (0, 3), key=k).shape == (0, 3)
    assert mx.random.bernoulli(mx.array([0.1, 0.2]), (4, 2), key=k).shape == (4, 2)
    pt = mx.array(np.full((3, 2), 0.5, np.float32)).T
    assert mx.random.bernoulli(pt, key=k).shape == (2, 3)
    assert mx.random.truncated_normal(mx.zeros((2, 1)), mx.ones((3,)), key=k).shape == (2, 3)
    assert mx.random.truncated_normal(0, 1, dtype=None, key=k).dtype == mx.float32
    for dt in (mx.float16, mx.bfloat16, mx.float32):
        assert mx.random.gumbel((2,), dtype=dt, key=k).dtype == dt
        assert mx.random.truncated_normal(-1, 1, (2,), dtype=dt, key=k).dtype == dt
    for dt in (mx.float16, mx.bfloat16, mx.float32, mx.float64):
        assert mx.random.laplace((2,), dtype=dt, key=k).dtype == dt
    assert mx.random.gumbel(key=k).shape == ()
    assert mx.random.gumbel((0,), key=k).shape == (0,)
    lg = mx.zeros((4, 5))
    assert mx.random.categorical(lg, key=k).shape == (4,)
    assert mx.random.categorical(lg, axis=0, key=k).shape == (5,)
    assert mx.random.categorical(lg, shape=(3, 4), key=k).shape == (3, 4)
    assert mx.random.categorical(lg, num_samples=7, key=k).shape == (4, 7)
    assert mx.random.categorical(lg, axis=0, num_samples=7, key=k).shape == (5, 7)
    assert mx.random.categorical(mx.zeros((5,)), key=k).shape == ()
    assert mx.random.categorical(mx.zeros((5,), mx.int32), shape=(0,), key=k).shape == (0,)
    sl = mx.array(np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32))[::2, 1::2]
    got = mx.random.categorical(sl, key=k)
    assert mx.array_equal(got, mx.random.categorical(mx.array(np.array(sl)), key=k)).item()
    assert mx.random.permutation(0, key=k).shape == (0,)
    assert mx.random.permutation(5, key=k).dtype == mx.uint32
    assert mx.random.permutation(mx.zeros((3, 4), mx.float16), axis=1, key=k).dtype == mx.float16


@pytest.mark.parametrize("call,exc,msg", [
    (lambda k: mx.random.bernoulli(1, key=k), ValueError, "[bernoulli] bernoulli probability `p` must be a float type."),
    (lambda k: mx.random.bernoulli(mx.array([1 + 1j]), key=k), ValueError, "must be a float type"),
    (lambda k: mx.random.bernoulli(mx.array([0.5, 0.3]), shape=(3,), key=k), ValueError,
     "[broadcast_shapes] Shapes (3) and (2) cannot be broadcast."),
    (lambda k: mx.random.bernoulli(mx.array([0.1, 0.2, 0.3]), shape=(1,), key=k), ValueError,
     "[bernoulli] shape of `p` is incompatible with argument `shape`."),
    (lambda k: mx.random.truncated_normal(-1, 1, dtype=mx.int32, key=k), ValueError,
     "[trunc_normal] trunc_normal only accepts floating point dtypes."),
    (lambda k: mx.random.truncated_normal(-1, 1, (3,), dtype=mx.float64, key=k), RuntimeError,
     "[uniform] Unsupported type."),
    (lambda k: mx.random.truncated_normal(mx.zeros((2, 1)), mx.ones((3,)), shape=(4,), key=k), ValueError,
     "[broadcast_shapes] Shapes (4) and (2,3) cannot be broadcast."),
    (lambda k: mx.random.gumbel((2,), dtype=mx.int32, key=k), ValueError,
     "[uniform] Can only generate uniform numbers with real floating point type."),
    (lambda k: mx.random.gumbel((2,), dtype=mx.float64, key=k), RuntimeError, "[uniform] Unsupported type."),
    (lambda k: mx.random.laplace((2,), dtype=mx.int32, key=k), ValueError,
     "[laplace] Only real floating point types are supported."),
    (lambda k: mx.random.laplace((2,), dtype=mx.complex64, key=k), ValueError, "[laplace]"),
    (lambda k: mx.random.categorical(mx.zeros((4, 5)), axis=2, key=k), IndexError,
     "[categorical] Invalid axis 2 for logits with 2 dimensions."),
    (lambda k: mx.random.categorical(mx.array(1.0), key=k), IndexError,
     "[categorical] Invalid axis -1 for logits with 0 dimensions."),
    (lambda k: mx.random.categorical(mx.zeros((4, 5)), shape=(4,), num_samples=2, key=k), ValueError,
     "[categorical] At most one of shape or num_samples can be specified."),
    (lambda k: mx.random.categorical(mx.zeros((4, 5)), shape=(3,), key=k), ValueError,
     "[broadcast_shapes] Shapes (3) and (4) cannot be broadcast."),
    (lambda k: mx.random.categorical(mx.zeros((1, 1, 5)), shape=(4,), key=k), ValueError,
     "[categorical] Requested shape (4) is not broadcast compatible with reduced logits shape(1,1)."),
    (lambda k: mx.random.categorical(mx.zeros((4, 5)), num_samples=-1, key=k), ValueError,
     "[bits] Negative dimensions not allowed."),
    (lambda k: mx.random.categorical(mx.zeros((0,)), key=k), ValueError, "[argmax]"),
    (lambda k: mx.random.categorical(mx.zeros((4, 5)), num_samples=0, key=k), ValueError,
     "[argmax] Cannot argmax reduce zero size array."),
    (lambda k: mx.random.permutation(-1, key=k), ValueError, "[bits] Negative dimensions not allowed."),
    (lambda k: mx.random.permutation(mx.zeros((3, 4)), axis=2, key=k), IndexError, "[permutation]"),
    (lambda k: mx.random.permutation(mx.array(3), key=k), IndexError, "[permutation]"),
    (lambda k: mx.random.permutation(3.0, key=k), TypeError, "permutation()"),
    (lambda k: mx.random.gumbel((2,), key=mx.array([1, 2])), ValueError, "[bits]"),
    (lambda k: mx.random.multivariate_normal(mx.zeros(3), mx.eye(3), dtype=mx.float16, key=k),
     ValueError, "[multivariate_normal] dtype must be float32."),
    (lambda k: mx.random.multivariate_normal(mx.array(1.0), mx.eye(3), key=k), ValueError,
     "[multivariate_normal] mean must have at least one dimension."),
    (lambda k: mx.random.multivariate_normal(mx.zeros(3), mx.zeros(3), key=k), ValueError,
     "[multivariate_normal] cov must have at least two dimensions."),
    (lambda k: mx.random.multivariate_normal(mx.zeros(3), mx.zeros((3, 2)), key=k), ValueError,
     "[multivariate_normal] last two dimensions of cov must be equal."),
    (lambda k: mx.random.multivariate_normal(mx.zeros(2), mx.eye(3), key=k), ValueError,
     "[multivariate_normal] mean and cov must have compatible shapes."),
    (lambda k: mx.random.multivariate_normal(mx.zeros((2, 4)), mx.eye(4), shape=(3,), key=k,
                                             stream=mx.cpu), ValueError,
     "[broadcast_shapes] Shapes (2) and (3) cannot be broadcast."),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc) as e:
        call(mx.random.key(0))
    assert msg in str(e.value)


@pytest.mark.parametrize("fn", [
    lambda k: mx.random.bernoulli(0.5, (4,), key=k),
    lambda k: mx.random.gumbel((4,), key=k),
    lambda k: mx.random.laplace((4,), dtype=mx.float16, key=k),
    lambda k: mx.random.truncated_normal(-1, 1, (4,), key=k),
    lambda k: mx.random.categorical(mx.zeros((2, 5)), key=k),
    lambda k: mx.random.categorical(mx.arange(5.0), shape=(3,), key=k),
    lambda k: mx.random.permutation(5, key=k),
    lambda k: mx.random.normal((2,), dtype=mx.complex64, key=k),
], ids=["bernoulli", "gumbel", "laplace", "truncated_normal", "categorical",
        "categorical_inverse_cdf", "permutation", "normal_complex64"])
def test_vmap_over_keys(fn):
    keys = mx.random.split(mx.random.key(21), 3)
    assert mx.array_equal(mx.vmap(fn)(keys), mx.stack([fn(k) for k in keys])).item()


def test_gradients_through_samplers():
    rng = np.random.default_rng(22)
    x = mx.array(rng.normal(size=(4, 3)).astype(np.float32))
    w = mx.array(rng.normal(size=(4, 3)).astype(np.float32))
    key = mx.random.key(23)
    f = lambda a: (mx.random.permutation(a * a, axis=0, key=key) * w).sum()
    g = np.array(mx.grad(f)(x))
    perm = np.array(mx.random.permutation(4, key=key))
    xn, wn, eps = np.array(x, np.float64), np.array(w, np.float64), 1e-3
    fd = np.zeros_like(xn)
    for i in np.ndindex(*xn.shape):
        e = np.zeros_like(xn)
        e[i] = eps
        fd[i] = ((((xn + e) ** 2)[perm] * wn).sum() - (((xn - e) ** 2)[perm] * wn).sum()) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-3, atol=1e-3)
    # with the key fixed, truncated_normal is a smooth function of its bounds
    tn = lambda lo, hi: mx.random.truncated_normal(lo, hi, (6,), key=key).sum()
    lo, hi, eps = mx.array(-0.5), mx.array(1.5), 1e-2
    g_lo, g_hi = mx.grad(tn, argnums=(0, 1))(lo, hi)
    fd_lo = (tn(lo + eps, hi) - tn(lo - eps, hi)) / (2 * eps)
    fd_hi = (tn(lo, hi + eps) - tn(lo, hi - eps)) / (2 * eps)
    np.testing.assert_allclose([float(g_lo), float(g_hi)], [float(fd_lo), float(fd_hi)], rtol=1e-2)
