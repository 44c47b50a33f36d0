"""mx.linalg's factorizations on the CUDA back-end (src/backend/cuda/linalg*.cu: cuSOLVER, and
one thread per matrix up to 32 x 32) against the CPU stream on the same seeded inputs:
reconstructions, orthogonality, the CPU's orderings, signs and pivots, both kernel paths
(small matrices and batches; larger ones), strided views, float32 / float64 / complex64,
and the CPU's errors. Skipped without the CUDA back-end and a GPU."""
import numpy as np
import pytest

import mlx.core as mx

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not (mx.is_available(mx.gpu) and mx.cuda.is_available()),
                                 reason="needs the CUDA back-end and an NVIDIA GPU")]

L = mx.linalg
FLOATS = [mx.float32, mx.float64]
NP = {mx.float32: np.float32, mx.float64: np.float64, mx.complex64: np.complex64}
TOL = {mx.float32: 2e-4, mx.float64: 1e-10, mx.complex64: 2e-4}
# (batch..., n, n): one-thread-per-matrix shapes, then cuSOLVER ones (n > 32, or 17..32
# with fewer than 8 matrices)
SQUARE = [(1, 1), (4, 4), (3, 5, 5), (2, 2, 3, 3), (12, 24, 24), (1000, 8, 8), (20, 20),
          (40, 40), (2, 40, 40), (256, 256)]


def gpu_cpu(fn):
    """fn(stream) on the GPU and on the CPU, as NumPy arrays (tuples stay tuples)."""
    def run(s):
        r = fn(s)
        return tuple(np.array(t) for t in r) if isinstance(r, (tuple, list)) else np.array(r)
    return run(mx.gpu), run(mx.cpu)


def close(got, want, dt, scale=1.0):
    """Within TOL[dt] * scale, relative to the largest magnitude of want (at least 1)."""
    tol = TOL[dt] * scale
    np.testing.assert_allclose(got, want, rtol=tol,
                               atol=tol * max(1.0, float(np.abs(want).max(initial=0))))


def same_set(got, want, atol):
    """Every value of got has one of want within atol, and the other way round."""
    d = np.abs(np.asarray(got)[:, None] - np.asarray(want)[None, :])
    assert d.min(axis=1).max() <= atol and d.min(axis=0).max() <= atol


def well(rng, shape):
    a = rng.standard_normal(shape)
    m, n = shape[-2], shape[-1]
    a[..., np.arange(min(m, n)), np.arange(min(m, n))] += 2 * max(m, n)
    return a


def spd(rng, shape):
    x = rng.standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def views(x, dt):
    """The matrices as a contiguous array, a transpose of a transpose and a strided slice."""
    a = mx.array(x, dtype=dt)
    t = mx.array(np.ascontiguousarray(np.swapaxes(x, -1, -2)), dtype=dt)
    big = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype=x.dtype)
    big[..., ::2] = x
    return [a, mx.swapaxes(t, -1, -2), mx.array(big, dtype=dt)[..., ::2]]


def eye_like(x):
    return np.broadcast_to(np.eye(x.shape[-1]), x.shape)


# ---- inverses ----

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", SQUARE)
def test_inv(rng, dt, shape):
    x = well(rng, shape)
    for a in views(x, dt)[: 1 if shape[-1] > 64 else 3]:
        g, c = gpu_cpu(lambda s: L.inv(a, stream=s))
        assert g.dtype == NP[dt] and g.shape == shape
        close(g, c, dt, 10)
        close(x @ g.astype(np.float64), eye_like(x), dt, 10)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", [(3, 5, 5), (64, 8, 8), (20, 20), (2, 40, 40)])
def test_tri_inv(rng, dt, upper, shape):
    x = well(rng, shape)
    tri = np.triu(x) if upper else np.tril(x)
    for a in views(x, dt):
        g, c = gpu_cpu(lambda s: L.tri_inv(a, upper=upper, stream=s))
        close(g, c, dt, 10)
        close(tri @ g.astype(np.float64), eye_like(x), dt, 10)
        tri_g = np.triu(g, 1) if not upper else np.tril(g, -1)
        assert not tri_g.any()  # the other triangle is zero


@pytest.mark.parametrize("shape,col", [((2, 2), None), ((40, 40), 5), ((3, 6, 6), 2),
                                       ((3, 40, 40), 7)])
def test_singular_inverse_raises(rng, shape, col):
    # a zero column makes that pivot exactly zero: LAPACK's info, the first such column
    if col is None:
        x = np.array([[1.0, 2.0], [2.0, 4.0]])
    else:
        x = well(rng, shape)
        (x[1] if x.ndim == 3 else x)[:, col] = 0.0
    code = 2 if col is None else col + 1
    for s, where in ((mx.gpu, "gpu"), (mx.cpu, "cpu")):
        with pytest.raises(RuntimeError, match=rf"\[Inverse::eval_{where}\] LU factorization "
                                               rf"failed with error code {code}$"):
            mx.eval(L.inv(mx.array(x, dtype=mx.float32), stream=s))


@pytest.mark.parametrize("n", [2, 6, 40])
def test_triangular_zero_diagonal_raises(n):
    x = np.tril(np.ones((n, n))) + n * np.eye(n)
    x[n // 2, n // 2] = 0.0
    for s in (mx.gpu, mx.cpu):
        with pytest.raises(RuntimeError, match=rf"triangular inversion failed with error code {n // 2 + 1}"):
            mx.eval(L.tri_inv(mx.array(x), stream=s))
    with pytest.raises(RuntimeError, match="triangular inversion failed"):
        mx.eval(L.solve(mx.array([[1.0, 2.0], [2.0, 4.0]]), mx.array([1.0, 2.0]), stream=mx.gpu))


# ---- Cholesky ----

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", SQUARE)
def test_cholesky(rng, dt, shape):
    a = spd(rng, shape)
    for upper in (False, True):
        # only the requested triangle is read
        junk = a + (np.tril if upper else np.triu)(np.full_like(a, 100.0), -1 if upper else 1)
        g, c = gpu_cpu(lambda s: L.cholesky(mx.array(junk, dtype=dt), upper=upper, stream=s))
        close(g, c, dt, 10)
        f = g.astype(np.float64)
        rec = np.swapaxes(f, -1, -2) @ f if upper else f @ np.swapaxes(f, -1, -2)
        close(rec, a, dt, 10)
        assert not (np.tril(g, -1) if upper else np.triu(g, 1)).any()


def test_cholesky_not_positive_definite_matches_cpu(rng):
    # no error, LAPACK's partial factor: MLX 0.32's value, and matrices whose last pivot fails
    g, c = gpu_cpu(lambda s: L.cholesky(mx.array([[1.0, 2.0], [2.0, 1.0]]), stream=s))
    np.testing.assert_allclose(g, [[1.0, 0.0], [2.0, -3.0]])
    np.testing.assert_allclose(c, g)
    for n in (5, 32):
        a = spd(rng, (n, n))
        schur = a[-1, -1] - a[-1, :-1] @ np.linalg.solve(a[:-1, :-1], a[:-1, -1])
        a[-1, -1] -= schur + 1.0
        for upper in (False, True):
            g, c = gpu_cpu(lambda s: L.cholesky(mx.array(a, dtype=mx.float32), upper=upper,
                                                stream=s))
            close(g, c, mx.float32, 10)
            assert g[-1, -1] < 0
    bad = spd(rng, (40, 40)) - 200 * np.eye(40)
    mx.eval(L.cholesky(mx.array(bad, dtype=mx.float32), stream=mx.gpu))  # no error


# ---- LU ----

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 4, 4), (1000, 8, 8), (20, 20),
                                   (40, 40), (50, 30), (30, 50), (2, 36, 36)])
def test_lu(rng, dt, shape):
    x = rng.standard_normal(shape)
    m, n = shape[-2:]
    k = min(m, n)
    for a in views(x, dt):
        (gp, gl, gu), (cp, cl, cu) = gpu_cpu(lambda s: L.lu(a, stream=s))
        np.testing.assert_array_equal(gp, cp)
        close(gl, cl, dt, 20)
        close(gu, cu, dt, 20)
        recon = np.take_along_axis(gl.astype(np.float64), gp[..., None].astype(np.int64), -2) @ gu
        close(recon, x, dt, 20)
        (glu, gpiv), (clu, cpiv) = gpu_cpu(lambda s: L.lu_factor(a, stream=s))
        assert gpiv.dtype == np.uint32 and gpiv.shape == shape[:-2] + (k,)
        np.testing.assert_array_equal(gpiv, cpiv)
        close(glu, clu, dt, 20)


def test_lu_golden_and_empty():
    a = mx.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 10.0]])
    p, _, u = L.lu(a, stream=mx.gpu)
    assert np.array(p).tolist() == [1, 2, 0]
    np.testing.assert_allclose(np.array(u), [[7, 8, 10], [0, 0.857143, 1.571429], [0, 0, -0.5]], atol=1e-5)
    assert np.array(L.lu_factor(a, stream=mx.gpu)[1]).tolist() == [2, 2, 2]
    lu, piv = L.lu_factor(mx.array([[1.0, 2.0], [2.0, 4.0]]), stream=mx.gpu)
    assert np.array(piv).tolist() == [1, 1]
    np.testing.assert_allclose(np.array(lu), [[2, 4], [0.5, 0]])
    p, l, u = L.lu(mx.zeros((3, 0)), stream=mx.gpu)
    assert np.array(p).tolist() == [0, 1, 2] and l.shape == (3, 0) and u.shape == (0, 0)


# ---- QR ----

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", [(5, 5), (6, 3), (3, 6), (2, 3, 4, 5), (1000, 8, 8), (20, 20),
                                   (50, 30), (30, 50), (2, 40, 40), (256, 256)])
def test_qr(rng, dt, shape):
    x = rng.standard_normal(shape)
    k = min(shape[-2:])
    for a in views(x, dt)[: 1 if shape[-1] > 64 else 3]:
        (gq, gr), (cq, cr) = gpu_cpu(lambda s: L.qr(a, stream=s))
        assert gq.shape == shape[:-1] + (k,) and gr.shape == shape[:-2] + (k, shape[-1])
        # LAPACK's signs: the same Q and R as the CPU's
        close(gr, cr, dt, 50)
        close(gq, cq, dt, 50)
        qn = gq.astype(np.float64)
        close(qn @ gr, x, dt, 20)
        close(np.swapaxes(qn, -1, -2) @ qn, np.broadcast_to(np.eye(k), qn.shape[:-2] + (k, k)), dt, 20)
        np.testing.assert_array_equal(np.tril(gr, -1), 0)


# ---- SVD ----

@pytest.mark.parametrize("dt", FLOATS + [mx.complex64])
@pytest.mark.parametrize("shape", [(5, 5), (6, 3), (3, 6), (2, 3, 4, 5), (1000, 8, 8), (40, 60),
                                   (60, 40), (2, 36, 33), (256, 256)])
def test_svd(rng, dt, shape):
    x = rng.standard_normal(shape)
    if dt == mx.complex64:
        x = x + 1j * rng.standard_normal(shape)
    m, n = shape[-2:]
    k = min(m, n)
    for a in views(x, dt)[: 1 if shape[-1] > 64 else 3]:
        (gu, gs, gv), (_, cs, _) = gpu_cpu(lambda s: L.svd(a, stream=s))
        assert gu.shape == shape[:-2] + (m, m) and gs.shape == shape[:-2] + (k,)
        assert gv.shape == shape[:-2] + (n, n) and gs.dtype == (np.float64 if dt == mx.float64 else np.float32)
        close(gs, cs, dt, 20)  # descending, as the CPU's
        un, vn = gu.astype(np.complex128), gv.astype(np.complex128)
        close((un[..., :, :k] * gs[..., None, :]) @ vn[..., :k, :], x, dt, 50)
        close(np.conj(np.swapaxes(un, -1, -2)) @ un, eye_like(un), dt, 20)
        close(vn @ np.conj(np.swapaxes(vn, -1, -2)), eye_like(vn), dt, 20)
        g, c = gpu_cpu(lambda s: L.svd(a, compute_uv=False, stream=s))
        close(g, c, dt, 20)


def test_svd_empty_and_norms(rng):
    u, s, vt = L.svd(mx.zeros((2, 0)), stream=mx.gpu)
    np.testing.assert_array_equal(np.array(u), np.eye(2))
    assert s.shape == (0,) and vt.shape == (0, 0)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    for ord in (2, -2, "nuc"):
        g, c = gpu_cpu(lambda st: L.norm(mx.array(x), ord=ord, stream=st))
        np.testing.assert_allclose(g, c, rtol=1e-5)
    g, c = gpu_cpu(lambda st: L.pinv(mx.array(x), stream=st))
    close(g, c, mx.float32, 20)


# ---- eigen decompositions ----

@pytest.mark.parametrize("dt", FLOATS + [mx.complex64])
@pytest.mark.parametrize("shape", [(3, 5, 5), (1000, 8, 8), (40, 40), (2, 50, 50), (256, 256)])
def test_eigh(rng, dt, shape):
    a = spd(rng, shape) - shape[-1] * np.eye(shape[-1])
    if dt == mx.complex64:
        y = rng.standard_normal(shape)
        a = a + 1j * (y - np.swapaxes(y, -1, -2))
    for uplo in ("L", "U"):
        junk = a + (np.triu if uplo == "L" else np.tril)(np.full_like(a, 50.0), 1 if uplo == "L" else -1)
        (gw, gv), (cw, _) = gpu_cpu(lambda s: L.eigh(mx.array(junk, dtype=dt), UPLO=uplo, stream=s))
        atol = TOL[dt] * 10 * float(np.abs(a).max())
        np.testing.assert_allclose(gw, cw, rtol=0, atol=atol)  # ascending, as the CPU's
        vn = gv.astype(np.complex128)
        np.testing.assert_allclose(a @ vn, vn * gw[..., None, :], rtol=0, atol=2 * atol)
        close(np.conj(np.swapaxes(vn, -1, -2)) @ vn, eye_like(vn), dt, 50)
        g, c = gpu_cpu(lambda s: L.eigvalsh(mx.array(junk, dtype=dt), UPLO=uplo, stream=s))
        np.testing.assert_allclose(g, c, rtol=0, atol=atol)


@pytest.mark.parametrize("dt", FLOATS + [mx.complex64])
@pytest.mark.parametrize("shape", [(2, 5, 5), (40, 40)])
def test_eig(rng, dt, shape):
    x = rng.standard_normal(shape)
    if dt == mx.complex64:
        x = x + 1j * rng.standard_normal(shape)
    a = mx.array(x.astype(NP[dt]))
    (gw, gv), (cw, _) = gpu_cpu(lambda s: L.eig(a, stream=s))
    assert gw.dtype == np.complex64 and gv.dtype == np.complex64 and gv.shape == shape
    n = shape[-1]
    for b in np.ndindex(shape[:-2]):
        same_set(gw[b], cw[b], 1e-3 * n)
    wn, vn = gw.astype(np.complex128), gv.astype(np.complex128)
    np.testing.assert_allclose(x @ vn, vn * wn[..., None, :], atol=1e-3 * n)
    g, c = gpu_cpu(lambda s: L.eigvals(a, stream=s))
    for b in np.ndindex(shape[:-2]):
        same_set(g[b], gw[b], 1e-4 * n)


def test_eig_rotation_conjugate_pair():
    w, v = L.eig(mx.array([[0.0, -1.0], [1.0, 0.0]]), stream=mx.gpu)
    np.testing.assert_allclose(np.sort_complex(np.array(w)), [-1j, 1j], atol=1e-6)
    vn = np.array(v)
    np.testing.assert_allclose(np.array([[0, -1], [1, 0]]) @ vn, vn * np.array(w), atol=1e-6)


# ---- composed ops on the GPU stream ----

@pytest.mark.parametrize("dt", FLOATS)
def test_solve_det_cholesky_inv(rng, dt):
    a = well(rng, (3, 40, 40))
    b = rng.standard_normal((3, 40, 2))
    g, c = gpu_cpu(lambda s: L.solve(mx.array(a, dtype=dt), mx.array(b, dtype=dt), stream=s))
    close(g, c, dt, 20)
    g, c = gpu_cpu(lambda s: L.det(mx.array(a[..., :6, :6], dtype=dt), stream=s))
    close(g, c, dt, 20)
    p = spd(rng, (2, 6, 6))
    g, c = gpu_cpu(lambda s: L.cholesky_inv(L.cholesky(mx.array(p, dtype=dt), stream=s), stream=s))
    close(g, c, dt, 50)
