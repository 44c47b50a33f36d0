"""mlx.nn.losses against NumPy float64 references for every reduction, option and float dtype;
gradients against central finite differences, vmap against a loop, edge cases (empty, NaN,
non-contiguous inputs) and the ValueErrors MLX raises for bad shapes and reductions."""
import math

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn

L = nn.losses
REDUCTIONS = ["none", "mean", "sum"]
FLOATS = [mx.float16, mx.bfloat16, mx.float32, mx.float64]
TOL = {mx.float16: (5e-3, 5e-3), mx.bfloat16: (4e-2, 4e-2), mx.float32: (2e-5, 2e-6),
       mx.float64: (1e-7, 1e-9)}  # MLX's own float64 exp/log keep ~1e-8


FLOAT64_TESTS = {"test_gradients_match_finite_differences", "test_vmap_matches_loop"}


def _is_float64_test(node):
    params = getattr(node, "callspec", None)
    dtype = params.params.get("dtype") if params is not None else None
    return (isinstance(dtype, mx.Dtype) and dtype == mx.float64) or \
        node.originalname in FLOAT64_TESTS


@pytest.fixture(autouse=True)
def _float64_on_cpu(request):
    """float64 lives on the CPU only: tests in float64 run on the CPU stream."""
    if _is_float64_test(request.node):
        with mx.stream(mx.cpu):
            yield
    else:
        yield


def _mx(a, dtype=mx.float32):
    if dtype == mx.float64:
        return _f64(a)
    return mx.array(np.asarray(a, np.float64).astype(np.float32)).astype(dtype)


def _f64(a):
    return mx.array(np.asarray(a, np.float64), mx.float64)


def _np(a):
    return np.array(a.astype(mx.float32) if a.dtype in (mx.bfloat16, mx.float16) else a,
                    np.float64)


def _reduce(x, reduction):
    return {"none": x, "mean": np.mean(x), "sum": np.sum(x)}[reduction]


def _close(got, want, dtype):
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(_np(got), want, rtol=rtol, atol=atol)


def _logsumexp(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def _rounded(rng, shape, dtype, scale=1.0):
    """A random mx array in ``dtype`` and the float64 values it holds."""
    a = _mx(rng.standard_normal(shape) * scale, dtype)
    return a, _np(a)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_indices(reduction, dtype, axis, smoothing, rng):
    logits, x = _rounded(rng, (5, 7), dtype, 2.0)
    n = x.shape[axis]
    t = rng.integers(0, n, size=x.shape[1 - (axis % 2)])
    targets = mx.array(t.astype(np.int32))
    got = L.cross_entropy(logits, targets, axis=axis, label_smoothing=smoothing,
                          reduction=reduction)
    picked = np.take_along_axis(x, np.expand_dims(t, axis), axis).squeeze(axis)
    want = (_logsumexp(x, axis) - (1 - smoothing) * picked
            - smoothing * np.mean(x, axis=axis))
    assert got.dtype == dtype
    _close(got, _reduce(want, reduction), dtype)


@pytest.mark.parametrize("tdtype", [mx.uint8, mx.int16, mx.uint32, mx.int64])
def test_cross_entropy_target_dtypes_and_weights(tdtype, rng):
    logits, x = _rounded(rng, (2, 3, 4), mx.float32)
    t = rng.integers(0, 4, size=(2, 3))
    w = rng.uniform(size=(2, 3))
    got = L.cross_entropy(logits, mx.array(t).astype(tdtype), weights=_mx(w), reduction="sum")
    picked = np.take_along_axis(x, t[..., None], -1)[..., 0]
    _close(got, np.sum((_logsumexp(x, -1) - picked) * w.astype(np.float32)), mx.float32)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_probabilities(reduction, smoothing, rng):
    logits, x = _rounded(rng, (4, 6), mx.float32, 3.0)
    p = rng.uniform(size=(4, 6))
    p /= p.sum(-1, keepdims=True)
    got = L.cross_entropy(logits, _mx(p), axis=-1, label_smoothing=smoothing,
                          reduction=reduction)
    shifted = x - x.max(-1, keepdims=True)
    want = (_logsumexp(shifted, -1) - (1 - smoothing) * np.sum(shifted * p, -1)
            - smoothing * shifted.mean(-1))
    _close(got, _reduce(want, reduction), mx.float32)
    onehot = L.cross_entropy(logits, mx.array(np.eye(6)[[0, 5, 2, 3]].astype(np.float32)))
    index = L.cross_entropy(logits, mx.array([0, 5, 2, 3]))
    np.testing.assert_allclose(np.array(onehot), np.array(index), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_binary_cross_entropy(reduction, dtype, rng):
    inputs, x = _rounded(rng, (3, 5), dtype, 3.0)
    targets = _mx(rng.uniform(size=(3, 5)), dtype)
    t = _np(targets)
    w = _mx(rng.uniform(size=(3, 5)), dtype)
    got = L.binary_cross_entropy(inputs, targets, weights=w, reduction=reduction)
    want = (np.logaddexp(0, x) - x * t) * _np(w)
    _close(got, _reduce(want, reduction), dtype)

    probs = mx.sigmoid(inputs)
    p = _np(probs)
    got = L.binary_cross_entropy(probs, targets, with_logits=False, reduction=reduction)
    with np.errstate(divide="ignore"):  # low-precision sigmoids round to exactly 0 or 1
        want = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(_np(got), _reduce(want, reduction), rtol=rtol * 4,
                               atol=atol * 4)


def test_binary_cross_entropy_clips_logs():
    p = mx.array([0.0, 1.0, 0.0, 1.0])
    t = mx.array([1.0, 0.0, 0.0, 1.0])
    got = L.binary_cross_entropy(p, t, with_logits=False, reduction="none")
    assert got.tolist() == [100.0, 100.0, 0.0, 0.0]
    assert L.binary_cross_entropy(p, t, with_logits=False).item() == 50.0
    big = L.binary_cross_entropy(mx.array([1000.0, -1000.0]), mx.array([0.0, 1.0]),
                                 reduction="none")
    assert big.tolist() == [1000.0, 1000.0]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_elementwise_regression_losses(reduction, dtype, rng):
    a, x = _rounded(rng, (4, 3), dtype, 2.0)
    b, y = _rounded(rng, (4, 3), dtype, 2.0)
    d = x - y
    _close(L.mse_loss(a, b, reduction), _reduce(d * d, reduction), dtype)
    _close(L.l1_loss(a, b, reduction), _reduce(np.abs(d), reduction), dtype)
    for beta in (1.0, 0.3):
        want = np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)
        _close(L.smooth_l1_loss(a, b, beta=beta, reduction=reduction),
               _reduce(want, reduction), dtype)
    for delta in (1.0, 0.5):
        want = np.where(np.abs(d) <= delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))
        _close(L.huber_loss(a, b, delta=delta, reduction=reduction),
               _reduce(want, reduction), dtype)
    _close(L.log_cosh_loss(a, b, reduction), _reduce(np.log(np.cosh(d)), reduction), dtype)
    sign = _mx(np.sign(rng.standard_normal((4, 3))), dtype)
    _close(L.hinge_loss(a, sign, reduction),
           _reduce(np.maximum(1 - x * _np(sign), 0), reduction), dtype)
    for margin in (0.0, 0.5):
        _close(L.margin_ranking_loss(a, b, sign, margin=margin, reduction=reduction),
               _reduce(np.maximum(0, -_np(sign) * d + margin), reduction), dtype)


def test_default_reductions(rng):
    a, b = _mx(rng.standard_normal((3, 2))), _mx(rng.standard_normal((3, 2)))
    assert L.mse_loss(a, b).ndim == 0 and L.l1_loss(a, b).ndim == 0
    assert L.smooth_l1_loss(a, b).ndim == 0 and L.gaussian_nll_loss(a, b, mx.abs(b)).ndim == 0
    assert L.binary_cross_entropy(a, mx.sigmoid(b)).ndim == 0
    for loss in (L.huber_loss, L.log_cosh_loss, L.hinge_loss):
        assert loss(a, b).shape == (3, 2)
    assert L.margin_ranking_loss(a, b, mx.sign(a)).shape == (3, 2)
    assert L.cross_entropy(a, mx.array([0, 1, 1])).shape == (3,)
    assert L.nll_loss(a, mx.array([0, 1, 1])).shape == (3,)
    assert L.kl_div_loss(a, b).shape == (3,)
    assert L.triplet_loss(a, b, a * 2).shape == (3,)
    assert L.cosine_similarity_loss(a, b).shape == (3,)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [mx.float16, mx.float32, mx.float64])
def test_nll_and_kl_div(reduction, dtype, rng):
    logits, x = _rounded(rng, (3, 4, 5), dtype)
    logp = x - _logsumexp(x, -1)[..., None]
    inputs = _mx(logp, dtype)
    lp = _np(inputs)
    t = rng.integers(0, 5, size=(3, 4))
    _close(L.nll_loss(inputs, mx.array(t), reduction=reduction),
           _reduce(-np.take_along_axis(lp, t[..., None], -1)[..., 0], reduction), dtype)
    t1 = rng.integers(0, 4, size=(3, 5))
    _close(L.nll_loss(inputs, mx.array(t1), axis=1, reduction=reduction),
           _reduce(-np.take_along_axis(lp, t1[:, None], 1)[:, 0], reduction), dtype)
    targets = _mx(rng.standard_normal((3, 4, 5)) - 2, dtype)
    tt = _np(targets)
    for axis in (-1, 0):
        _close(L.kl_div_loss(inputs, targets, axis=axis, reduction=reduction),
               _reduce(np.sum(np.exp(tt) * (tt - lp), axis=axis), reduction), dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("eps", [1e-6, 0.5])
def test_gaussian_nll_loss(reduction, full, eps, rng):
    a, x = _rounded(rng, (6, 2), mx.float32)
    b, y = _rounded(rng, (6, 2), mx.float32)
    v = _mx(rng.uniform(0, 2, size=(6, 2)))
    var = np.maximum(_np(v), eps)
    want = 0.5 * (np.log(var) + (y - x) ** 2 / var) + (0.5 * math.log(2 * math.pi) if full else 0)
    got = L.gaussian_nll_loss(a, b, v, full=full, eps=eps, reduction=reduction)
    _close(got, _reduce(want, reduction), mx.float32)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin,axis,eps", [(2, 1.0, -1, 1e-6), (1, 0.5, -1, 1e-6),
                                                (3, 2.0, 0, 1e-6), (2, 3.0, -1, 0.5)])
def test_triplet_loss(reduction, p, margin, axis, eps, rng):
    arrays = [_rounded(rng, (4, 6), mx.float32) for _ in range(3)]
    (a, xa), (pos, xp), (neg, xn) = arrays

    def dist(u, w):
        return (np.sum(np.abs(u - w) ** p, axis=axis) + eps) ** (1 / p)

    want = np.maximum(dist(xa, xp) - dist(xa, xn) + margin, 0)
    got = L.triplet_loss(a, pos, neg, axis=axis, p=p, margin=margin, eps=eps,
                         reduction=reduction)
    _close(got, _reduce(want, reduction), mx.float32)
    # identical anchors and positives: the distance is eps ** (1 / p), not 0
    same = L.triplet_loss(a, a, neg, axis=axis, p=p, margin=margin, eps=eps, reduction="none")
    _close(same, np.maximum(eps ** (1 / p) - dist(xa, xn) + margin, 0), mx.float32)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("axis,eps", [(1, 1e-8), (0, 1e-8), (-1, 10.0)])
def test_cosine_similarity_loss(reduction, axis, eps, rng):
    a, x = _rounded(rng, (5, 4), mx.float32)
    b, y = _rounded(rng, (5, 4), mx.float32)
    norms = np.linalg.norm(x, axis=axis) * np.linalg.norm(y, axis=axis)
    want = np.sum(x * y, axis=axis) / np.maximum(norms, eps)
    got = L.cosine_similarity_loss(a, b, axis=axis, eps=eps, reduction=reduction)
    _close(got, _reduce(want, reduction), mx.float32)


# ---------------------------------------------------------------- edge cases and errors


def test_non_contiguous_and_broadcast_inputs(rng):
    base, x = _rounded(rng, (6, 4), mx.float32)
    other, y = _rounded(rng, (4, 6), mx.float32)
    _close(L.mse_loss(base.T, other, "none"), (x.T - y) ** 2, mx.float32)
    _close(L.l1_loss(base[::2], other.T[1::2], "sum"), np.abs(x[::2] - y.T[1::2]).sum(),
           mx.float32)
    t = rng.integers(0, 6, size=4)
    picked = x.T[np.arange(4), t]
    _close(L.cross_entropy(base.T, mx.array(t)), _logsumexp(x.T, -1) - picked, mx.float32)
    # hinge, huber and log-cosh do not require equal shapes: they broadcast
    _close(L.huber_loss(base, mx.array(0.5)), np.where(np.abs(x - 0.5) <= 1,
                                                       0.5 * (x - 0.5) ** 2,
                                                       np.abs(x - 0.5) - 0.5), mx.float32)


def test_empty_and_special_values():
    e = mx.zeros((0, 3))
    assert L.mse_loss(e, e, "none").shape == (0, 3)
    assert L.mse_loss(e, e, "sum").item() == 0.0
    assert math.isnan(L.mse_loss(e, e, "mean").item())
    with pytest.raises(ValueError, match=r"\[logsumexp\] Received empty array"):
        L.cross_entropy(mx.zeros((0, 4)), mx.zeros((0,), mx.int32))
    nan = L.mse_loss(mx.array([1.0, float("nan")]), mx.array([0.0, 0.0]), "none")
    assert nan[0].item() == 1.0 and math.isnan(nan[1].item())
    # a -inf logit is a class of probability zero; the others stay finite
    ce = L.cross_entropy(mx.array([[0.0, -float("inf")], [1.0, 1.0]]), mx.array([0, 1]))
    np.testing.assert_allclose(np.array(ce), [0.0, math.log(2)], atol=1e-7)
    assert L.log_cosh_loss(mx.array([1000.0]), mx.array([0.0])).item() == pytest.approx(
        1000 - math.log(2))


@pytest.mark.parametrize("call", [
    lambda a, b: L.mse_loss(a, b, "avg"),
    lambda a, b: L.cross_entropy(a, b, reduction="max"),
    lambda a, b: L.huber_loss(a, b, reduction=None),
    lambda a, b: L.kl_div_loss(a, b, reduction="Mean"),
])
def test_invalid_reduction(call):
    a = mx.zeros((2, 3))
    with pytest.raises(ValueError, match=r"Invalid reduction\. Must be one of "
                                         r"\('none', 'mean', 'sum'\)\."):
        call(a, a)


def test_shape_errors():
    a, b = mx.zeros((2, 3)), mx.zeros((3, 2))
    with pytest.raises(ValueError, match=r"Predictions shape \(2, 3\) does not match "
                                         r"targets shape \(3, 2\)\."):
        L.mse_loss(a, b)
    for loss in (L.l1_loss, L.smooth_l1_loss):
        with pytest.raises(ValueError, match="Predictions shape"):
            loss(a, b)
    with pytest.raises(ValueError, match=r"Inputs shape \(2, 3\) does not match targets "
                                         r"shape \(3, 2\)\."):
        L.binary_cross_entropy(a, b)
    with pytest.raises(ValueError, match=r"Inputs shape \(2, 3\) does not match vars shape"):
        L.gaussian_nll_loss(a, a, b)
    with pytest.raises(ValueError, match=r"Targets shape \(3,\) does not match logits shape "
                                         r"\(2, 3\)\."):
        L.cross_entropy(a, mx.zeros((3,), mx.int32))
    with pytest.raises(ValueError, match=r"Targets shape \(2, 2\) does not match"):
        L.cross_entropy(a, mx.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"Weights with shape \(3,\) is not the same as "
                                         r"output loss with shape \(2,\)\."):
        L.cross_entropy(a, mx.zeros((2,), mx.int32), weights=mx.ones((3,)))
    with pytest.raises(ValueError, match=r"Weights with shape \(2,\) is not the same"):
        L.binary_cross_entropy(a, a, weights=mx.ones((2,)))
    with pytest.raises(ValueError, match=r"inputs1.shape=\(2, 3\), inputs2.shape=\(2, 3\), "
                                         r"and targets.shape=\(3, 2\)\."):
        L.margin_ranking_loss(a, a, b)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"Label smoothing must be in \[0, 1\), got"):
            L.cross_entropy(a, mx.zeros((2,), mx.int32), label_smoothing=bad)


# ---------------------------------------------------------------- transformations


def _finite_difference(f, x, h=1e-6):
    flat = np.array(x).ravel()
    grad = np.zeros_like(flat)
    for i in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(_f64(up.reshape(x.shape))).item()
                   - f(_f64(down.reshape(x.shape))).item()) / (2 * h)
    return grad.reshape(x.shape)


def _grad_cases(rng):
    y = _f64(rng.standard_normal((3, 4)))
    u = _f64(rng.uniform(0.2, 2.0, size=(3, 4)))
    t = mx.array(rng.integers(0, 4, size=3).astype(np.int32))
    s = _f64(np.sign(rng.standard_normal((3, 4))))
    return {
        "cross_entropy": lambda x: L.cross_entropy(x, t, weights=u[:, 0], label_smoothing=0.2,
                                                   reduction="sum"),
        "cross_entropy_probs": lambda x: L.cross_entropy(x, mx.softmax(y, axis=0), axis=0,
                                                         reduction="mean"),
        "bce": lambda x: L.binary_cross_entropy(x, mx.sigmoid(y), weights=u),
        "bce_probs": lambda x: L.binary_cross_entropy(mx.sigmoid(x), mx.sigmoid(y),
                                                      with_logits=False),
        "mse": lambda x: L.mse_loss(x, y),
        "l1": lambda x: L.l1_loss(x, y, "sum"),
        "nll": lambda x: L.nll_loss(x, t, reduction="sum"),
        "gaussian_nll": lambda x: L.gaussian_nll_loss(x, y, x * x + u, full=True),
        "kl_div": lambda x: L.kl_div_loss(x, y, reduction="mean"),
        "smooth_l1": lambda x: L.smooth_l1_loss(x, y, beta=0.5),
        "triplet": lambda x: L.triplet_loss(x, y, u, p=3, margin=5.0, reduction="sum"),
        "hinge": lambda x: L.hinge_loss(x, s, "sum"),
        "huber": lambda x: L.huber_loss(x, y, delta=0.5, reduction="sum"),
        "log_cosh": lambda x: L.log_cosh_loss(x, y, "mean"),
        "cosine": lambda x: L.cosine_similarity_loss(x, y, reduction="sum"),
        "margin_ranking": lambda x: L.margin_ranking_loss(x, y, s, margin=0.3,
                                                          reduction="sum"),
    }


GRAD_NAMES = list(_grad_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("name", GRAD_NAMES)
def test_gradients_match_finite_differences(name, rng):
    f = _grad_cases(rng)[name]
    x = _f64(rng.standard_normal((3, 4)))
    if name in ("hinge", "l1", "smooth_l1", "huber", "margin_ranking"):
        x = x + mx.array(0.05)  # keep away from the kinks at ties by a random shift
    grad = mx.grad(f)(x)
    assert grad.dtype == mx.float64
    np.testing.assert_allclose(np.array(grad), _finite_difference(f, x), rtol=1e-5, atol=1e-6)
    v = _f64(rng.standard_normal((3, 4)))
    _, (tangent,) = mx.jvp(f, [x], [v])
    assert tangent.item() == pytest.approx(float(np.sum(np.array(grad) * np.array(v))),
                                           rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", ["cross_entropy", "bce", "mse", "nll", "triplet", "cosine",
                                  "gaussian_nll", "huber"])
def test_vmap_matches_loop(name, rng):
    batch = _f64(rng.standard_normal((5, 3, 4)))
    f = _grad_cases(rng)[name]
    got = mx.vmap(f)(batch)
    want = [f(batch[i]).item() for i in range(5)]
    np.testing.assert_allclose(np.array(got), want, rtol=1e-9, atol=1e-12)


def test_vmap_over_targets(rng):
    logits = mx.array(rng.standard_normal((6, 5)).astype(np.float32))
    targets = mx.array(rng.integers(0, 5, size=(3, 6)).astype(np.int32))
    got = mx.vmap(lambda t: L.cross_entropy(logits, t, reduction="mean"))(targets)
    want = [L.cross_entropy(logits, targets[i], reduction="mean").item() for i in range(3)]
    np.testing.assert_allclose(np.array(got), want, rtol=1e-6)
