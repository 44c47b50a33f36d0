"""mx.linalg (spec/python-api.md section 21) against numpy.linalg in float64 on seeded,
well-conditioned inputs: reconstructions (Q@R, U@diag(S)@Vt, L@L.T, L[p]@U), batches, both
float dtypes, non-contiguous inputs, MLX's errors, gradients against central differences,
vmap against a loop."""
import math

import numpy as np
import pytest

import mlx.core as mx


@pytest.fixture(autouse=True)
def _factorizations_on_the_cpu():
    """These tests check the CPU kernels against NumPy: under DEVICE=gpu they run on the CPU
    device too (test_linalg_gpu.py compares the CUDA kernels with them)."""
    previous = mx.default_device()
    mx.set_default_device(mx.cpu)
    yield
    mx.set_default_device(previous)


@pytest.mark.skipif(not mx.is_available(mx.gpu), reason="needs a GPU backend (none available)")
def test_gpu_stream_runs_factorizations():
    # MLX raises "not yet supported on the GPU" here; every GPU backend of this build has
    # kernels for the factorizations (CUDA's cuSOLVER ones, the fake device's CPU ones), so
    # they run on GPU streams and match the CPU's (docs/architecture.md, deviations)
    a = mx.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    b = mx.array([1.0, 2.0, 3.0])
    for fn in (lambda s: mx.linalg.inv(a, stream=s),
               lambda s: mx.linalg.svd(a, compute_uv=False, stream=s),
               lambda s: mx.linalg.eigh(a, stream=s)[0],
               lambda s: mx.linalg.cholesky(a, stream=s),
               lambda s: mx.linalg.solve(a, b, stream=s)):
        np.testing.assert_allclose(np.array(fn(mx.gpu)), np.array(fn(mx.cpu)), rtol=1e-5, atol=1e-6)
    assert mx.linalg.norm(mx.ones(4), stream=mx.gpu).item() == 2.0  # composed: any device

L = mx.linalg
FLOATS = [mx.float32, mx.float64]
NP = {mx.float32: np.float32, mx.float64: np.float64}
TOL = {mx.float32: 2e-4, mx.float64: 1e-10}


def well(rng, shape, dtype=np.float64):
    """Random matrices (..., m, n) with a dominant diagonal: well conditioned."""
    a = rng.standard_normal(shape)
    m, n = shape[-2], shape[-1]
    a[..., np.arange(min(m, n)), np.arange(min(m, n))] += 2 * max(m, n)
    return a.astype(dtype)


def spd(rng, shape):
    x = rng.standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def close(got, want, dt, scale=1.0):
    np.testing.assert_allclose(np.array(got), want, rtol=TOL[dt] * scale, atol=TOL[dt] * scale)


def strided_views(x, dt):
    """The same matrices as a contiguous array, a transpose of a transpose and a slice."""
    a = mx.array(x, dtype=dt)
    t = mx.array(np.ascontiguousarray(np.swapaxes(x, -1, -2)), dtype=dt)
    big = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype=NP[dt])
    big[..., ::2] = x
    return [a, mx.swapaxes(t, -1, -2), mx.array(big, dtype=dt)[..., ::2]]


# ---- inverses ----

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (3, 5, 5), (2, 2, 3, 3)])
def test_inv(rng, dt, shape):
    x = well(rng, shape)
    for a in strided_views(x, dt):
        r = L.inv(a)
        assert r.dtype == dt and r.shape == shape
        close(r, np.linalg.inv(x), dt)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("upper", [False, True])
def test_tri_inv(rng, dt, upper):
    x = well(rng, (3, 5, 5))
    tri = np.triu(x) if upper else np.tril(x)
    for a in strided_views(x, dt):
        r = L.tri_inv(a, upper=upper)
        close(r, np.linalg.inv(tri), dt)
    close(L.tri_inv(mx.array(x, dtype=dt), upper), np.linalg.inv(tri), dt)


@pytest.mark.parametrize("dt", FLOATS)
def test_cholesky_and_inverse(rng, dt):
    a = spd(rng, (2, 3, 6, 6))
    for upper in (False, True):
        f = L.cholesky(mx.array(a, dtype=dt), upper=upper)
        fn = np.array(f).astype(np.float64)
        lo = np.linalg.cholesky(a)
        close(f, np.swapaxes(lo, -1, -2) if upper else lo, dt, 10)
        rec = np.swapaxes(fn, -1, -2) @ fn if upper else fn @ np.swapaxes(fn, -1, -2)
        np.testing.assert_allclose(rec, a, rtol=TOL[dt] * 10, atol=TOL[dt] * 10 * np.abs(a).max())
        ci = L.cholesky_inv(f, upper=upper)
        np.testing.assert_allclose(np.array(ci), np.linalg.inv(a), rtol=TOL[dt] * 50, atol=TOL[dt] * 10)
    # only the requested triangle is read
    junk = a + np.triu(np.ones_like(a) * 100, 1)
    close(L.cholesky(mx.array(junk, dtype=dt)), np.linalg.cholesky(a), dt, 10)


def test_cholesky_not_positive_definite_matches_mlx():
    # MLX 0.32 returns LAPACK's partial factor without an error (values from MLX 0.32)
    r = L.cholesky(mx.array([[1.0, 2.0], [2.0, 1.0]]))
    np.testing.assert_allclose(np.array(r), [[1.0, 0.0], [2.0, -3.0]])


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (3, 6), (2, 5, 4)])
def test_pinv(rng, dt, shape):
    x = rng.standard_normal(shape)
    close(L.pinv(mx.array(x, dtype=dt)), np.linalg.pinv(x), dt, 20)


def test_pinv_rank_deficient_and_zero():
    r = np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1], [0, 0, 0]])
    np.testing.assert_allclose(np.array(L.pinv(mx.array(r, dtype=mx.float64))), np.linalg.pinv(r),
                               atol=1e-10)
    np.testing.assert_array_equal(np.array(L.pinv(mx.zeros((2, 3)))), np.zeros((3, 2)))


def test_singular_inverse_raises():
    with pytest.raises(RuntimeError, match=r"\[Inverse::eval_cpu\] LU factorization failed"):
        mx.eval(L.inv(mx.array([[1.0, 2.0], [2.0, 4.0]])))
    with pytest.raises(RuntimeError, match="triangular inversion failed"):
        mx.eval(L.tri_inv(mx.array([[1.0, 0.0], [2.0, 0.0]])))


# ---- decompositions ----

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", [(5, 5), (6, 3), (3, 6), (2, 3, 4, 4), (1, 1)])
def test_qr(rng, dt, shape):
    x = rng.standard_normal(shape)
    k = min(shape[-2:])
    for a in strided_views(x, dt):
        q, r = L.qr(a)
        assert q.shape == shape[:-1] + (k,) and r.shape == shape[:-2] + (k, shape[-1])
        qn, rn = np.array(q).astype(np.float64), np.array(r).astype(np.float64)
        np.testing.assert_allclose(qn @ rn, x, atol=TOL[dt] * 10)
        np.testing.assert_allclose(np.swapaxes(qn, -1, -2) @ qn, np.broadcast_to(np.eye(k), qn.shape[:-2] + (k, k)),
                                   atol=TOL[dt] * 10)
        np.testing.assert_array_equal(np.tril(rn, -1), 0)
        # the same signs as LAPACK / numpy
        close(r, np.linalg.qr(x)[1], dt, 20)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", [(5, 5), (6, 3), (3, 6), (2, 3, 4, 5)])
def test_svd(rng, dt, shape):
    x = rng.standard_normal(shape)
    m, n = shape[-2:]
    k = min(m, n)
    for a in strided_views(x, dt):
        u, s, vt = L.svd(a)
        assert u.shape == shape[:-2] + (m, m) and s.shape == shape[:-2] + (k,)
        assert vt.shape == shape[:-2] + (n, n) and s.dtype == dt
        un, sn, vn = (np.array(t).astype(np.float64) for t in (u, s, vt))
        np.testing.assert_allclose(sn, np.linalg.svd(x, compute_uv=False), rtol=TOL[dt] * 10, atol=TOL[dt] * 10)
        np.testing.assert_allclose((un[..., :, :k] * sn[..., None, :]) @ vn[..., :k, :], x, atol=TOL[dt] * 20)
        np.testing.assert_allclose(np.swapaxes(un, -1, -2) @ un, np.broadcast_to(np.eye(m), un.shape), atol=TOL[dt] * 10)
        np.testing.assert_allclose(vn @ np.swapaxes(vn, -1, -2), np.broadcast_to(np.eye(n), vn.shape), atol=TOL[dt] * 10)
        s_only = L.svd(a, compute_uv=False)
        assert isinstance(s_only, mx.array)
        close(s_only, np.linalg.svd(x, compute_uv=False), dt, 10)


def test_svd_complex64(rng):
    x = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    u, s, vt = L.svd(mx.array(x.astype(np.complex64)))
    assert u.dtype == mx.complex64 and s.dtype == mx.float32 and vt.dtype == mx.complex64
    un, sn, vn = np.array(u), np.array(s), np.array(vt)
    np.testing.assert_allclose((un[:, :3] * sn) @ vn[:3], x, atol=1e-4)
    np.testing.assert_allclose(sn, np.linalg.svd(x, compute_uv=False), atol=1e-4)


@pytest.mark.parametrize("dt", FLOATS)
def test_eigh(rng, dt):
    a = spd(rng, (3, 5, 5)) - 5 * np.eye(5)
    for uplo in ("L", "U"):
        junk = a + (np.triu if uplo == "L" else np.tril)(np.full_like(a, 50.0), 1 if uplo == "L" else -1)
        w, v = L.eigh(mx.array(junk, dtype=dt), UPLO=uplo)
        wn, vn = np.array(w).astype(np.float64), np.array(v).astype(np.float64)
        np.testing.assert_allclose(wn, np.linalg.eigvalsh(a), rtol=TOL[dt] * 10, atol=TOL[dt] * 50)
        np.testing.assert_allclose(a @ vn, vn * wn[..., None, :], atol=TOL[dt] * 200)
        close(L.eigvalsh(mx.array(junk, dtype=dt), UPLO=uplo), np.linalg.eigvalsh(a), dt, 50)
    # MLX: any UPLO other than "L" reads the upper triangle
    close(L.eigvalsh(mx.array(a, dtype=dt), "X"), np.linalg.eigvalsh(a), dt, 50)


def test_eigh_complex64(rng):
    x = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    h = x @ x.conj().T
    w, v = L.eigh(mx.array(h.astype(np.complex64)))
    assert w.dtype == mx.float32 and v.dtype == mx.complex64
    np.testing.assert_allclose(np.array(w), np.linalg.eigvalsh(h), rtol=1e-4, atol=1e-4)
    vn = np.array(v)
    np.testing.assert_allclose(h @ vn, vn * np.array(w), atol=1e-3)


@pytest.mark.parametrize("dt", FLOATS + [mx.complex64])
def test_eig(rng, dt):
    x = rng.standard_normal((2, 5, 5))
    if dt == mx.complex64:
        x = x + 1j * rng.standard_normal((2, 5, 5))
    a = mx.array(x.astype(np.complex64 if dt == mx.complex64 else NP[dt]))
    w, v = L.eig(a)
    assert w.dtype == mx.complex64 and v.dtype == mx.complex64 and v.shape == (2, 5, 5)
    wn, vn = np.array(w).astype(np.complex128), np.array(v).astype(np.complex128)
    np.testing.assert_allclose(x @ vn, vn * wn[..., None, :], atol=1e-4)
    ref = np.linalg.eigvals(x)
    key = lambda z: np.sort_complex(np.round(z, 4))
    for b in range(2):
        np.testing.assert_allclose(key(wn[b]), key(ref[b]), atol=1e-3)
        np.testing.assert_allclose(np.sort_complex(np.array(L.eigvals(a)[b])), np.sort_complex(wn[b]), atol=1e-5)


def test_eig_rotation_conjugate_pair():
    w, v = L.eig(mx.array([[0.0, -1.0], [1.0, 0.0]]))
    np.testing.assert_allclose(np.array(w), [1j, -1j], atol=1e-6)
    vn = np.array(v)
    np.testing.assert_allclose(np.array([[0, -1], [1, 0]]) @ vn, vn * np.array(w), atol=1e-6)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 4, 4)])
def test_lu_and_lu_factor(rng, dt, shape):
    x = rng.standard_normal(shape)
    m, n = shape[-2:]
    k = min(m, n)
    for a in strided_views(x, dt):
        p, l, u = L.lu(a)
        assert p.dtype == mx.uint32 and p.shape == shape[:-1]
        assert l.shape == shape[:-2] + (m, k) and u.shape == shape[:-2] + (k, n)
        pn, ln, un = np.array(p), np.array(l).astype(np.float64), np.array(u).astype(np.float64)
        np.testing.assert_array_equal(np.tril(un, -1), 0)
        np.testing.assert_array_equal(np.triu(ln[..., :k, :], 1), 0)
        np.testing.assert_allclose(np.take_along_axis(ln, pn[..., None].astype(np.int64), -2) @ un, x,
                                   atol=TOL[dt] * 20)
        lu, piv = L.lu_factor(a)
        assert lu.shape == shape and piv.shape == shape[:-2] + (k,) and piv.dtype == mx.uint32
        lun = np.array(lu).astype(np.float64)
        np.testing.assert_allclose(np.tril(lun, -1)[..., :, :k], np.tril(ln, -1), atol=TOL[dt])
        np.testing.assert_allclose(np.triu(lun)[..., :k, :], un, atol=TOL[dt])


def test_lu_golden():
    # values from MLX 0.32 (pivots and permutation of a 3x3 and a singular 2x2)
    a = mx.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 10.0]])
    p, _, u = L.lu(a)
    assert np.array(p).tolist() == [1, 2, 0]
    np.testing.assert_allclose(np.array(u), [[7, 8, 10], [0, 0.857143, 1.571429], [0, 0, -0.5]], atol=1e-5)
    assert np.array(L.lu_factor(a)[1]).tolist() == [2, 2, 2]
    lu, piv = L.lu_factor(mx.array([[1.0, 2.0], [2.0, 4.0]]))
    assert np.array(piv).tolist() == [1, 1]
    np.testing.assert_allclose(np.array(lu), [[2, 4], [0.5, 0]])


# ---- solves, determinants, cross ----

@pytest.mark.parametrize("dt", FLOATS)
def test_solve(rng, dt):
    a = well(rng, (3, 4, 4))
    for bshape in [(4,), (4, 2), (3, 4, 3), (1, 4, 1)]:
        b = rng.standard_normal(bshape)
        r = L.solve(mx.array(a, dtype=dt), mx.array(b, dtype=dt))
        want = np.linalg.solve(a, b[..., None])[..., 0] if b.ndim == 1 else np.linalg.solve(a, b)
        assert r.dtype == dt
        close(r, want, dt, 10)
    a2 = well(rng, (4, 4))
    b2 = rng.standard_normal((4,))
    for av in strided_views(a2, dt):
        close(L.solve(av, mx.array(b2, dtype=dt)), np.linalg.solve(a2, b2), dt, 10)
    # mixed dtypes promote
    r = L.solve(mx.array(a2), mx.array(b2.astype(np.float32)))
    assert r.dtype == mx.float32


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("upper", [False, True])
def test_solve_triangular(rng, dt, upper):
    a = well(rng, (2, 5, 5))
    tri = np.triu(a) if upper else np.tril(a)
    for bshape in [(5,), (5, 3), (2, 5, 2)]:
        b = rng.standard_normal(bshape)
        r = L.solve_triangular(mx.array(a, dtype=dt), mx.array(b, dtype=dt), upper=upper)
        want = np.linalg.solve(tri, b[..., None])[..., 0] if b.ndim == 1 else np.linalg.solve(tri, b)
        close(r, want, dt, 10)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 6])
@pytest.mark.parametrize("dt", FLOATS)
def test_det_slogdet(rng, dt, n):
    x = rng.standard_normal((3, n, n))
    d = L.det(mx.array(x, dtype=dt))
    assert d.dtype == dt and d.shape == (3,)
    close(d, np.linalg.det(x), dt, 10)
    s, ld = L.slogdet(mx.array(x, dtype=dt))
    rs, rld = np.linalg.slogdet(x)
    np.testing.assert_array_equal(np.array(s), rs)
    close(ld, rld, dt, 10)


def test_det_dtypes_and_singular():
    assert L.det(mx.array([[1, 2], [3, 4]])).dtype == mx.float32
    assert L.det(mx.array([[1, 2], [3, 4]], dtype=mx.float16)).dtype == mx.float16
    assert L.det(mx.array([[1.0, 2.0], [2.0, 4.0]])).item() == 0.0
    s, ld = L.slogdet(mx.zeros((4, 4)))
    assert s.item() == 0.0 and ld.item() == -math.inf
    s, ld = L.slogdet(mx.array([[0.0, 1.0], [1.0, 0.0]]))
    assert s.item() == -1.0 and ld.item() == 0.0
    with pytest.raises(ValueError, match=r"\[linalg::lu_factor\] Arrays must have type float32"):
        L.det(mx.ones((4, 4), dtype=mx.float16))


def test_cross(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    f64 = lambda v: mx.array(v, dtype=mx.float64)
    close(L.cross(f64(a), f64(b)), np.cross(a, b), mx.float64)
    close(L.cross(f64(a.T), f64(b.T), axis=0), np.cross(a.T, b.T, axis=0), mx.float64)
    close(L.cross(f64(a)[::2], f64(b)[1::2]), np.cross(a[::2], b[1::2]), mx.float64)
    a2 = rng.standard_normal((5, 1, 2))
    b3 = rng.standard_normal((4, 3))
    want = np.cross(np.concatenate([a2, np.zeros((5, 1, 1))], -1), b3)
    close(L.cross(mx.array(a2, dtype=mx.float64), mx.array(b3, dtype=mx.float64)), want, mx.float64)
    r = L.cross(mx.array([1, 2, 3]), mx.array([4, 5, 6]))
    assert r.dtype == mx.int32 and np.array(r).tolist() == [-3, 6, -3]
    assert L.cross(mx.array([1, 2, 3], mx.int8), mx.array([1, 2, 3], mx.float16)).dtype == mx.float16


# ---- norms ----

NORM_X = np.array([[1.0, -2, 3], [4, 5, -6]])


@pytest.mark.parametrize("ord", [None, 0, 1, 2, 3, -1, -2, 0.5, math.inf, -math.inf, "fro", "nuc", "f"])
@pytest.mark.parametrize("axis", [None, 0, (0, 1), (1, 0), (-1,)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_norm_against_numpy(ord, axis, keepdims):
    a = mx.array(NORM_X)
    np_ord = "fro" if ord == "f" else ord
    try:
        want = np.linalg.norm(NORM_X, ord=np_ord, axis=axis, keepdims=keepdims)
    except ValueError:
        want = None
    if want is None or (axis is not None and ord is not None and
                        (isinstance(ord, str) and np.ndim(axis) == 0 or isinstance(ord, str) and len(axis) == 1)):
        with pytest.raises(ValueError, match=r"\[linalg::norm\]"):
            L.norm(a, ord=ord, axis=axis, keepdims=keepdims)
        return
    r = L.norm(a, ord=ord, axis=axis, keepdims=keepdims)
    if ord is None and axis is None and keepdims:
        want = np.reshape(want, (1, 1))
    assert r.shape == np.shape(want)
    np.testing.assert_allclose(np.array(r), want, rtol=1e-5, atol=1e-5)


def test_norm_forms(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    a = mx.array(x)
    np.testing.assert_allclose(np.array(L.norm(a)), np.linalg.norm(x.ravel()), rtol=1e-5)
    assert L.norm(a, keepdims=True).shape == (1, 1, 1)
    for ord in [1, -1, 2, -2, math.inf, -math.inf, "fro", "nuc"]:
        for ax in [(0, 1), (2, 0), (-1, -2), (1, 2)]:
            want = np.linalg.norm(x.astype(np.float64), ord=ord, axis=ax, keepdims=True)
            got = L.norm(a, ord=ord, axis=ax, keepdims=True)
            np.testing.assert_allclose(np.array(got), want, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(np.array(L.norm(a, ord, ax)), np.squeeze(want, ax), rtol=1e-4, atol=1e-4)
    assert L.norm(mx.array([3, 4])).dtype == mx.float32
    assert L.norm(mx.array([3, 4], mx.float16)).dtype == mx.float16
    assert L.norm(mx.array([3 + 4j, 0])).item() == pytest.approx(5.0)
    assert L.norm(mx.array([3 + 4j, 0]), ord=1).dtype == mx.complex64
    assert L.norm(mx.array([3.0, 0.0]), ord=0).item() == 1.0
    assert L.norm(mx.array([0.0, 1.0]), ord=-1).item() == 0.0
    assert math.isnan(L.norm(mx.array([math.nan, 1.0]), ord=math.inf).item())
    assert L.norm(mx.zeros((0,))).item() == 0.0
    assert mx.matrix_norm is L.norm
    np.testing.assert_allclose(np.array(L.norm(a, axis=())), np.abs(x), rtol=1e-6)


def test_norm_errors():
    x = mx.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"\[linalg::norm\] Received too many axes for norm."):
        L.norm(x, ord=2)
    with pytest.raises(ValueError, match="too many axes"):
        L.norm(x, axis=(0, 1, 2))
    with pytest.raises(ValueError, match="too many axes"):
        L.norm(mx.array(3.0), ord=1)
    with pytest.raises(ValueError, match=r"Norm 'fro' only supported for matrices, but received 3 axis/axes."):
        L.norm(x, ord="fro")
    with pytest.raises(ValueError, match=r"Invalid ord value 'abc' for matrix norm."):
        L.norm(x, ord="abc", axis=(0, 1))
    with pytest.raises(ValueError, match=r"Invalid ord 3 for matrix norm."):
        L.norm(x, ord=3, axis=(0, 1))
    with pytest.raises(IndexError):
        L.norm(x, ord=1, axis=5)
    with pytest.raises(TypeError):
        L.norm(x, ord=[1])


# ---- errors ----

@pytest.mark.parametrize("name,cplx", [("inv", False), ("tri_inv", False), ("cholesky", False),
                                       ("cholesky_inv", False), ("pinv", False), ("qr", False),
                                       ("lu", False), ("lu_factor", False), ("svd", True),
                                       ("eig", True), ("eigvals", True), ("eigh", True),
                                       ("eigvalsh", True)])
def test_dtype_and_rank_errors(name, cplx):
    f = getattr(L, name)
    label = "inv" if name == "tri_inv" else name
    types = "float32, float64 or complex64" if cplx else "float32 or float64"
    for bad in (mx.int32, mx.float16, mx.bfloat16) + (() if cplx else (mx.complex64,)):
        with pytest.raises(ValueError, match=rf"\[linalg::{label}\] Arrays must have type {types}\. "
                                             rf"Received array with type {bad}"[:-1].replace("mlx.core.", "")):
            f(mx.ones((2, 2), dtype=bad))
    with pytest.raises(ValueError, match=rf"\[linalg::{label}\] .* must have >= 2 dimensions. "
                                         r"Received array with 1 dimensions."):
        f(mx.ones((3,)))


def test_square_errors():
    cases = [(L.inv, "inv", "Inverses are only defined for square matrices."),
             (L.tri_inv, "inv", "Inverses are only defined for square matrices."),
             (L.cholesky, "cholesky", "Cholesky decomposition is only defined for square matrices."),
             (L.cholesky_inv, "cholesky_inv", "Cholesky inverse is only defined for square matrices."),
             (L.eig, "eig", "Only defined for square matrices."),
             (L.eigvals, "eigvals", "Only defined for square matrices."),
             (L.eigh, "eigh", "Only defined for square matrices."),
             (L.eigvalsh, "eigvalsh", "Only defined for square matrices."),
             (L.det, "det", "Only defined for square matrices."),
             (L.slogdet, "slogdet", "Only defined for square matrices.")]
    for f, name, msg in cases:
        with pytest.raises(ValueError, match=rf"\[linalg::{name}\] {msg}"):
            f(mx.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\[linalg::det\] Complex inputs are not supported."):
        L.det(mx.ones((2, 2), dtype=mx.complex64))


def test_solve_errors():
    with pytest.raises(ValueError, match=r"\[linalg::solve\] First input must have >= 2 dimensions"):
        L.solve(mx.ones((2,)), mx.ones((2,)))
    with pytest.raises(ValueError, match=r"Second input must have >= 1 dimensions"):
        L.solve(mx.eye(2), mx.array(1.0))
    with pytest.raises(ValueError, match=r"First input must be a square matrix. Received array with shape \(2,3\)."):
        L.solve(mx.ones((2, 3)), mx.ones((2,)))
    with pytest.raises(ValueError, match=r"Last dimension of first input with shape \(2,2\) must match second "
                                         r"to last dimension of second input with shape \(3\)."):
        L.solve(mx.eye(2), mx.ones((3,)))
    with pytest.raises(ValueError, match=r"\[linalg::solve_triangular\] Input arrays must promote to float32 or "
                                         r"float64.  Received arrays with type int32 and int32."):
        L.solve_triangular(mx.array([[1, 0], [1, 1]]), mx.array([1, 2]))
    with pytest.raises(TypeError):
        L.solve_triangular(mx.eye(2), mx.ones((2,)), True)  # upper is keyword-only
    with pytest.raises(RuntimeError, match="triangular inversion failed"):
        mx.eval(L.solve(mx.array([[1.0, 2.0], [2.0, 4.0]]), mx.array([1.0, 2.0])))


def test_cross_errors():
    with pytest.raises(ValueError, match=r"\[linalg::cross\] The specified axis must have size 2 or 3."):
        L.cross(mx.ones(4), mx.ones(4))
    with pytest.raises(IndexError, match=r"\[linalg::cross\] Axis 5 is out of bounds for array with 2 dimensions."):
        L.cross(mx.ones((3, 2)), mx.ones((3, 2)), axis=5)


def test_empty_matrices():
    assert L.inv(mx.zeros((0, 0))).shape == (0, 0)
    assert L.inv(mx.zeros((2, 0, 0))).shape == (2, 0, 0)
    assert L.cholesky(mx.zeros((0, 3, 3))).shape == (0, 3, 3)
    u, s, vt = L.svd(mx.zeros((2, 0)))
    np.testing.assert_array_equal(np.array(u), np.eye(2))
    assert s.shape == (0,) and vt.shape == (0, 0)
    q, r = L.qr(mx.zeros((3, 0)))
    assert q.shape == (3, 0) and r.shape == (0, 0)
    p, l, u = L.lu(mx.zeros((3, 0)))
    assert np.array(p).tolist() == [0, 1, 2] and l.shape == (3, 0) and u.shape == (0, 0)
    assert L.eigvalsh(mx.zeros((0, 0))).shape == (0,)
    assert L.det(mx.zeros((0, 0))).item() == 1.0


def test_nan_input_propagates():
    r = np.array(L.inv(mx.array([[math.nan, 1.0], [1.0, 2.0]])))
    assert np.isnan(r).any()
    w = np.array(L.eigvalsh(mx.array([[math.nan, 1.0], [1.0, 2.0]])))
    assert w.shape == (2,)


# ---- gradients and vmap ----

def fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def scalar_fns(rng):
    w = rng.standard_normal((4, 4))
    W = mx.array(w)
    return w, [
        ("inv", lambda x: (L.inv(x) * W).sum(), False),
        ("tri_inv", lambda x: (L.tri_inv(x) * W).sum(), False),
        ("tri_inv_upper", lambda x: (L.tri_inv(x, upper=True) * W).sum(), False),
        ("cholesky", lambda x: (L.cholesky(x) * W).sum(), True),
        ("cholesky_upper", lambda x: (L.cholesky(x, upper=True) * W).sum(), True),
        ("cholesky_inv", lambda x: (L.cholesky_inv(L.cholesky(x)) * W).sum(), True),
        ("solve_triangular", lambda x: (L.solve_triangular(x, W[0]) * W[1]).sum(), False),
        ("eigvalsh", lambda x: (L.eigvalsh(x) * W[0]).sum(), True),
        ("eigh_vectors", lambda x: (mx.abs(L.eigh(x)[1]) * W).sum(), True),
        ("eigh_upper", lambda x: (mx.abs(L.eigh(x, UPLO="U")[1]) * W + L.eigh(x, UPLO="U")[0]).sum(), True),
        ("svd_values", lambda x: (L.svd(x, compute_uv=False) * W[0]).sum(), False),
        ("svd_S_output", lambda x: (L.svd(x)[1] * W[0]).sum(), False),
        ("norm_nuc", lambda x: L.norm(x, "nuc"), False),
        ("norm_2", lambda x: L.norm(x, 2), False),
        ("det3", lambda x: L.det(x[:3, :3]), False),
        ("slogdet3", lambda x: L.slogdet(x[1:, 1:])[1], False),
        ("norm_fro", lambda x: L.norm(x * W), False),
        ("cross", lambda x: (L.cross(x[:, :3], x[:, 1:]) * W[:, :3]).sum(), False),
    ]


def test_gradients_against_finite_differences(rng):
    w, fns = scalar_fns(rng)
    a = well(rng, (4, 4))
    s = spd(rng, (4, 4))
    for name, f, sym in fns:
        x = s if sym else a
        x64 = mx.array(x, dtype=mx.float64)
        g = np.array(mx.grad(f)(x64))
        want = fd_grad(lambda y: f(mx.array(y, dtype=mx.float64)).item(), x)
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6, err_msg=name)
        if name in ("svd_S_output",):
            continue
        t = mx.jvp(f, (x64,), (mx.array(w, dtype=mx.float64),))[1][0].item()
        assert t == pytest.approx((want * w).sum(), rel=1e-5, abs=1e-6), name


def test_grad_of_grad_inverse(rng):
    a = well(rng, (3, 3))
    w = rng.standard_normal((3, 3))
    W = mx.array(w, dtype=mx.float64)
    inner = lambda x: (mx.grad(lambda y: (L.inv(y) * W).sum())(x) * W).sum()
    g = np.array(mx.grad(inner)(mx.array(a, dtype=mx.float64)))
    want = fd_grad(lambda y: inner(mx.array(y, dtype=mx.float64)).item(), a)
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


def test_no_vjp_where_mlx_has_none():
    a = mx.array([[2.0, 1.0], [1.0, 3.0]])
    with pytest.raises(Exception):
        mx.grad(lambda x: L.qr(x)[1].sum())(a)
    with pytest.raises(Exception):
        mx.grad(lambda x: L.lu_factor(x)[0].sum())(a)
    with pytest.raises(Exception):
        mx.grad(lambda x: L.svd(x)[0].sum())(a)


@pytest.mark.parametrize("name", ["inv", "tri_inv", "cholesky", "qr", "svd", "svd_values", "eig", "eigvals",
                                  "eigh", "eigvalsh", "lu", "lu_factor", "solve", "det", "det5", "slogdet",
                                  "pinv", "norm"])
def test_vmap_against_loop(rng, name):
    fns = {
        "inv": L.inv, "tri_inv": lambda x: L.tri_inv(x, upper=True), "cholesky": L.cholesky,
        "qr": L.qr, "svd": lambda x: L.svd(x)[1], "svd_values": lambda x: L.svd(x, compute_uv=False),
        "eig": lambda x: L.eig(x)[0], "eigvals": L.eigvals, "eigh": lambda x: L.eigh(x)[0],
        "eigvalsh": L.eigvalsh, "lu": lambda x: L.lu(x)[2], "lu_factor": L.lu_factor,
        "solve": lambda x: L.solve(x, mx.ones((5,))), "det": lambda x: L.det(x[:3, :3]), "det5": L.det,
        "slogdet": L.slogdet, "pinv": L.pinv, "norm": lambda x: L.norm(x, "nuc"),
    }
    f = fns[name]
    xs = np.stack([spd(rng, (5, 5)) for _ in range(3)], axis=1).astype(np.float32)  # batch on axis 1
    got = mx.vmap(f, in_axes=1)(mx.array(xs))
    got = got if isinstance(got, (list, tuple)) else [got]
    loop = [f(mx.array(xs[:, i])) for i in range(3)]
    loop = [l if isinstance(l, (list, tuple)) else [l] for l in loop]
    for k, g in enumerate(got):
        want = np.stack([np.array(l[k]) for l in loop])
        if name in ("eig", "eigvals"):
            np.testing.assert_allclose(np.sort_complex(np.array(g)), np.sort_complex(want), rtol=1e-4, atol=1e-3)
        else:
            np.testing.assert_allclose(np.array(g), want, rtol=1e-4, atol=1e-4)
