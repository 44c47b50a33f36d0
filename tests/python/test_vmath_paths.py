"""The vectorised CPU paths of the transcendental unary ops and the fused Compiled kernel:
float32/float16/bfloat16 results against NumPy float64, float64 results (and float64
softmax/logsumexp rows) within a few ulp of NumPy's, layout independence (strided,
broadcast and sliced inputs give the contiguous result bit for bit), special values, and
compiled == eager bit for bit on arrays large enough to be split over the thread pool."""
import numpy as np
import pytest

import mlx.core as mx

OPS = {
    "exp": (np.exp, (-80.0, 80.0)),
    "expm1": (np.expm1, (-20.0, 20.0)),
    "log": (np.log, (1e-30, 1e30)),
    "log2": (np.log2, (1e-30, 1e30)),
    "log10": (np.log10, (1e-30, 1e30)),
    "sin": (np.sin, (-1e4, 1e4)),
    "cos": (np.cos, (-1e4, 1e4)),
    "tanh": (np.tanh, (-12.0, 12.0)),
    "sigmoid": (lambda v: 1.0 / (1.0 + np.exp(-v)), (-30.0, 30.0)),
}
TOL = {mx.float32: 2e-6, mx.float16: 2e-3, mx.bfloat16: 1.6e-2}


def _inputs(name, n, seed):
    lo, hi = OPS[name][1]
    rng = np.random.default_rng(seed)
    if lo > 0:
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n)).astype(np.float32)
    return rng.uniform(lo, hi, n).astype(np.float32)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dt", [mx.float32, mx.float16, mx.bfloat16], ids=str)
def test_against_numpy(name, dt):
    seed = 11
    x = mx.array(_inputs(name, 4099, seed)).astype(dt)
    if dt != mx.float32:  # keep inside the narrow type's range
        x = mx.clip(x, -60000, 60000) if dt == mx.float16 else x
    xin = np.array(x.astype(mx.float32)).astype(np.float64)
    got = np.array(getattr(mx, name)(x).astype(mx.float32)).astype(np.float64)
    with np.errstate(all="ignore"):  # float16 inputs may flush to 0 (log gives -inf)
        want = OPS[name][0](xin)
        if dt == mx.float16:  # the exact result rounded to float16 may overflow or flush
            want = want.astype(np.float16).astype(np.float64)
    # sigmoid mirrors 1 - 1/(1 + e^x) for x < 0 as MLX does: absolute float accuracy there
    atol = max(TOL[dt] * 1e-3, 1e-7 if name == "sigmoid" else 0.0)
    ok = np.isclose(got, want, rtol=TOL[dt], atol=atol, equal_nan=True)
    assert ok.all(), f"seed {seed}: {name} {dt} at {xin[~ok][:4]}: {got[~ok][:4]} vs {want[~ok][:4]}"


@pytest.mark.parametrize("name", sorted(OPS) + ["erf"])
def test_layout_independent(name):
    seed = 5
    base = mx.array(_inputs(name if name != "erf" else "tanh", 64 * 48, seed).reshape(64, 48))
    f = getattr(mx, name)
    full = np.array(f(base))
    assert np.array_equal(np.array(f(base.T)), full.T, equal_nan=True), f"seed {seed}"
    assert np.array_equal(np.array(f(base[::3, 1::2])), full[::3, 1::2], equal_nan=True)
    row = base[7:8]
    assert np.array_equal(np.array(f(mx.broadcast_to(row, (5, 48)))),
                          np.broadcast_to(full[7:8], (5, 48)), equal_nan=True)
    for n in (1, 15, 16, 17, 33):  # tails shorter than a vector block
        assert np.array_equal(np.array(f(base.reshape(-1)[:n])), full.reshape(-1)[:n],
                              equal_nan=True)


@pytest.mark.parametrize("name", sorted(OPS) + ["erf"])
def test_special_values(name):
    vals = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-38, 88.8, -104.0,
                     1e30, -1e30, 3.0e38], np.float32)
    got = np.array(getattr(mx, name)(mx.array(vals))).astype(np.float64)
    ref = {"erf": np.vectorize(__import__("math").erf)}.get(name, OPS.get(name, (None,))[0])
    with np.errstate(all="ignore"):
        want = ref(vals.astype(np.float64)).astype(np.float32).astype(np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    fin = ~np.isnan(want)
    assert np.allclose(got[fin], want[fin], rtol=2e-6, atol=0), (vals[fin], got[fin], want[fin])
    assert np.array_equal(np.signbit(got[fin & (want == 0)]), np.signbit(want[fin & (want == 0)]))


def _chain(x, y):
    z = mx.exp(x * 0.5) + y
    z = mx.sqrt(mx.abs(z) + 1.0) * y - x
    z = mx.sigmoid(z) + mx.erf(y) * mx.log(mx.abs(x) + 1.0)
    return mx.tanh(z) * 0.5 + mx.sin(x) * mx.cos(y)


@pytest.mark.parametrize("n", [7, 2048, 2049, 200003])
def test_compiled_matches_eager(n):
    seed = 3
    k1, k2 = mx.random.split(mx.random.key(seed))
    x = mx.random.normal((n,), key=k1) * 3
    y = mx.random.normal((n,), key=k2)
    eager = np.array(_chain(x, y))
    fused = np.array(mx.compile(_chain)(x, y))
    assert np.array_equal(eager, fused, equal_nan=True), f"seed {seed} n {n}"


def test_compiled_broadcast_and_strided_inputs():
    seed = 4
    k1, k2 = mx.random.split(mx.random.key(seed))
    x = mx.random.normal((300, 257), key=k1)
    y = mx.random.normal((257,), key=k2)
    xt = mx.random.normal((257, 300), key=k1).T  # a transposed (gathered) input
    for a, b in ((x, y), (xt, y), (x, mx.array(0.25))):
        assert np.array_equal(np.array(_chain(a, b)), np.array(mx.compile(_chain)(a, b)),
                              equal_nan=True), f"seed {seed}"
    for dt in (mx.float16, mx.bfloat16):
        a, b = x.astype(dt), y.astype(dt)
        assert np.array_equal(np.array(_chain(a, b).astype(mx.float32)),
                              np.array(mx.compile(_chain)(a, b).astype(mx.float32)),
                              equal_nan=True)


# ---- float64: the vmath64 loops (exp, expm1, log, log1p, sin, cos, tanh) ----
OPS64 = {
    "exp": (np.exp, (-700.0, 700.0)),
    "expm1": (np.expm1, (-40.0, 40.0)),
    "log": (np.log, (1e-300, 1e300)),
    "log1p": (np.log1p, (1e-300, 1e300)),
    "sin": (np.sin, (-4e5, 4e5)),
    "cos": (np.cos, (-4e5, 4e5)),
    "tanh": (np.tanh, (-25.0, 25.0)),
}
# ulp bounds: ours against the exact value plus NumPy's own error (within 1 ulp)
ULP64 = {"exp": 2, "expm1": 3, "log": 2, "log1p": 3, "sin": 2, "cos": 2, "tanh": 4}


def _inputs64(name, n, rng):
    lo, hi = OPS64[name][1]
    if lo > 0:
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    return rng.uniform(lo, hi, n) * np.exp(rng.uniform(-30, 0, n))  # small values too


def _ulps64(got, want):
    spacing = np.spacing(np.abs(want))
    return np.abs(got - want) / spacing


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000, 300001])
@pytest.mark.parametrize("name", sorted(OPS64))
def test_float64_against_numpy(rng, name, n):
    x = _inputs64(name, n, rng)
    got = np.array(getattr(mx, name)(mx.array(x, dtype=mx.float64)))
    assert got.dtype == np.float64
    want = OPS64[name][0](x)
    fin = np.isfinite(want) & (want != 0)
    assert (_ulps64(got[fin], want[fin]) <= ULP64[name]).all()
    np.testing.assert_array_equal(got[~fin], want[~fin])


@pytest.mark.parametrize("name", sorted(OPS64))
def test_float64_layouts_and_specials(rng, name):
    x = _inputs64(name, 4000, rng).reshape(40, 100)
    a = mx.array(x, dtype=mx.float64)
    whole = np.array(getattr(mx, name)(a))
    for view, ref in [(a.T, whole.T), (a[:, ::3], whole[:, ::3]), (a[::-1], whole[::-1]),
                      (mx.broadcast_to(a[:1], (5, 100)), np.broadcast_to(whole[:1], (5, 100)))]:
        np.testing.assert_array_equal(np.array(getattr(mx, name)(view)), ref)
    sp = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-310, 1.0, -1.0,
                   709.79, -745.2, 1e300, -1e300, 2.0**19, -(2.0**20), 1e22])
    with np.errstate(all="ignore"):
        want = OPS64[name][0](sp)
    got = np.array(getattr(mx, name)(mx.array(sp, dtype=mx.float64)))
    same = (np.isnan(got) & np.isnan(want)) | (got == want)
    close = np.isfinite(want) & (want != 0)
    same[close] |= _ulps64(got[close], want[close]) <= ULP64[name]
    assert same.all(), (sp[~same], got[~same], want[~same])
    zero = want == 0
    assert (np.signbit(got[zero]) == np.signbit(want[zero])).all()


@pytest.mark.parametrize("name", ["exp", "log", "sin", "cos", "tanh", "expm1", "log1p"])
def test_float64_grad_finite_differences_and_vmap(rng, name):
    x = np.abs(rng.standard_normal(6)) + 0.5
    f = getattr(mx, name)
    g = np.array(mx.grad(lambda v: mx.sum(f(v)))(mx.array(x, dtype=mx.float64)))
    h = 1e-6
    fd = (np.array(f(mx.array(x + h, dtype=mx.float64))) -
          np.array(f(mx.array(x - h, dtype=mx.float64)))) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)
    xb = mx.array(rng.standard_normal((3, 9)) + 2.0, dtype=mx.float64)
    got = mx.vmap(f)(xb)
    np.testing.assert_array_equal(np.array(got), np.stack([np.array(f(xb[i])) for i in range(3)]))


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (4, 4097), (2, 3, 33)])
def test_float64_softmax_logsumexp_rows(rng, shape):
    x = rng.standard_normal(shape) * 30
    a = mx.array(x, dtype=mx.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    want = e / e.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.array(mx.softmax(a, axis=-1)), want, rtol=1e-14, atol=1e-300)
    lse = x.max(-1) + np.log(e.sum(-1))
    np.testing.assert_allclose(np.array(mx.logsumexp(a, axis=-1)), lse, rtol=1e-14)
    t = np.swapaxes(x, 0, -1)  # a strided view: rows gathered into scratch
    et = np.exp(t - t.max(-1, keepdims=True))
    np.testing.assert_allclose(np.array(mx.softmax(mx.swapaxes(a, 0, -1), axis=-1)),
                               et / et.sum(-1, keepdims=True), rtol=1e-14, atol=1e-300)
    sp = mx.array([[0.0, -np.inf, 1.0], [np.nan, 0.0, 0.0], [-np.inf] * 3], dtype=mx.float64)
    s = np.array(mx.softmax(sp, axis=-1))
    np.testing.assert_allclose(s[0], [1 / (1 + np.e), 0, np.e / (1 + np.e)], rtol=1e-15)
    assert np.isnan(s[1]).all() and np.isnan(s[2]).all()
