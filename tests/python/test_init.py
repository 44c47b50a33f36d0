"""mlx.nn.init: shapes and dtypes, exact fan computations (the bounds and spreads they imply),
sample statistics on large shapes, sparse and identity structure, errors, and values that
match MLX's for the same random seed (data/init_golden.json)."""
import json
import math
import os

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn

I = nn.init
LOW_PRECISION = {mx.float16: 1e-3, mx.bfloat16: 1e-2}


def _np(a):
    return np.array(a.astype(mx.float32), np.float64)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16])
@pytest.mark.parametrize("make", [
    lambda d: I.constant(0.5, d), lambda d: I.normal(dtype=d), lambda d: I.uniform(dtype=d),
    lambda d: I.glorot_normal(d), lambda d: I.glorot_uniform(d), lambda d: I.he_normal(d),
    lambda d: I.he_uniform(d), lambda d: I.sparse(0.5, dtype=d),
], ids=["constant", "normal", "uniform", "glorot_normal", "glorot_uniform", "he_normal",
        "he_uniform", "sparse"])
def test_shape_and_dtype(make, dtype):
    template = mx.zeros((6, 3), dtype=mx.int32)  # the template's dtype plays no part
    out = make(dtype)(template)
    assert out.shape == (6, 3) and out.dtype == dtype


def test_constant_and_identity():
    out = I.constant(-2.5)(mx.zeros((2, 0, 3)))
    assert out.shape == (2, 0, 3)
    assert I.constant(7, mx.int32)(mx.zeros((2, 2))).tolist() == [[7, 7], [7, 7]]
    assert I.constant(0.25, mx.float16)(mx.zeros((3,))).tolist() == [0.25] * 3
    eye = I.identity()(mx.zeros((4, 4)))
    assert eye.dtype == mx.float32 and np.array_equal(np.array(eye), np.eye(4))
    assert I.identity(mx.int8)(mx.zeros((2, 2))).tolist() == [[1, 0], [0, 1]]
    for bad in ((2, 3), (4,), (2, 2, 2)):
        with pytest.raises(ValueError, match=r"The input array must be a square matrix but "
                                             rf"got shape \({bad[0]},"):
            I.identity()(mx.zeros(bad))


def test_normal_and_uniform_statistics():
    mx.random.seed(11)
    x = _np(I.normal(mean=1.5, std=0.5)(mx.zeros((400, 500))))
    assert abs(x.mean() - 1.5) < 0.005 and abs(x.std() - 0.5) < 0.005
    u = _np(I.uniform(low=-3.0, high=1.0)(mx.zeros((400, 500))))
    assert u.min() >= -3.0 and u.max() < 1.0
    assert abs(u.mean() + 1.0) < 0.01 and abs(u.std() - 4 / math.sqrt(12)) < 0.01
    assert u.min() < -2.99 and u.max() > 0.99


FAN_CASES = [
    ((300, 200), 200, 300),
    ((64, 3, 3, 32), 32 * 9, 64 * 9),  # conv weight (out, kh, kw, in)
    ((40, 5, 30), 30 * 5, 40 * 5),
    ((1, 1), 1, 1),
]


@pytest.mark.parametrize("shape,fan_in,fan_out", FAN_CASES)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_glorot_uniform_limit(shape, fan_in, fan_out, gain):
    mx.random.seed(3)
    limit = gain * math.sqrt(6.0 / (fan_in + fan_out))
    x = _np(I.glorot_uniform()(mx.zeros(shape), gain=gain))
    assert np.abs(x).max() <= limit * (1 + 1e-6)
    if x.size > 1000:
        assert np.abs(x).max() > 0.99 * limit
        assert abs(x.std() - limit / math.sqrt(3)) < 0.03 * limit


@pytest.mark.parametrize("shape,fan_in,fan_out", FAN_CASES[:3])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_he_uniform_limit(shape, fan_in, fan_out, mode, gain):
    mx.random.seed(4)
    fan = fan_in if mode == "fan_in" else fan_out
    limit = gain * math.sqrt(3.0 / fan)
    x = _np(I.he_uniform()(mx.zeros(shape), mode=mode, gain=gain))
    assert limit * 0.99 < np.abs(x).max() <= limit * (1 + 1e-6)


@pytest.mark.parametrize("shape,fan_in,fan_out", FAN_CASES[:3])
@pytest.mark.parametrize("gain", [1.0, 3.0])
def test_normal_spreads(shape, fan_in, fan_out, gain):
    mx.random.seed(5)
    a = mx.zeros(shape)
    x = _np(I.glorot_normal()(a, gain))
    want = gain * math.sqrt(2.0 / (fan_in + fan_out))
    assert abs(x.std() - want) < 0.03 * want and abs(x.mean()) < 0.05 * want
    for mode, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
        x = _np(I.he_normal()(a, mode, gain))
        want = gain / math.sqrt(fan)
        assert abs(x.std() - want) < 0.03 * want


def test_fan_errors():
    for init in (I.glorot_normal(), I.glorot_uniform(), I.he_normal(), I.he_uniform()):
        with pytest.raises(ValueError, match="Glorot / He initialization requires at least 2 "
                                             "dimensional input but input with 1 dimensions"):
            init(mx.zeros((5,)))
    for init in (I.he_normal(), I.he_uniform()):
        with pytest.raises(ValueError, match="Invalid mode: fan_avg. Valid modes are: "
                                             "fan_in, fan_out"):
            init(mx.zeros((2, 2)), mode="fan_avg")


@pytest.mark.parametrize("shape,sparsity", [((50, 40), 0.3), ((7, 9), 0.0), ((6, 10), 1.0),
                                            ((5, 3), 0.5)])
def test_sparse_structure(shape, sparsity):
    mx.random.seed(6)
    x = _np(I.sparse(sparsity, mean=2.0, std=0.5)(mx.zeros(shape)))
    zeros = math.ceil(sparsity * shape[1])
    assert x.shape == shape
    np.testing.assert_array_equal((x == 0).sum(axis=1), np.full(shape[0], zeros))
    if shape == (50, 40):
        kept = x[x != 0]
        assert abs(kept.mean() - 2.0) < 0.05 and abs(kept.std() - 0.5) < 0.05
        # the zeroed columns differ between rows
        assert len({tuple(np.flatnonzero(row == 0)) for row in x}) > 40


def test_sparse_errors():
    for shape in ((4,), (2, 3, 4)):
        with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
            I.sparse(0.5)(mx.zeros(shape))


_HAS_QR = hasattr(mx.linalg, "qr")
needs_qr = pytest.mark.skipif(not _HAS_QR, reason="mx.linalg.qr is not available")


@needs_qr
@pytest.mark.parametrize("shape,gain", [((6, 6), 1.0), ((4, 9), 2.0), ((9, 4), 0.5)])
@pytest.mark.parametrize("dtype", [mx.float32, mx.float16])
def test_orthogonal(shape, gain, dtype):
    mx.random.seed(7)
    q = I.orthogonal(gain=gain, dtype=dtype)(mx.zeros(shape))
    assert q.shape == shape and q.dtype == dtype
    x = _np(q) / gain
    gram = x @ x.T if shape[0] <= shape[1] else x.T @ x
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=LOW_PRECISION.get(dtype, 1e-5) * 10)


def test_orthogonal_errors():
    with pytest.raises(ValueError, match="Orthogonal initialization requires a 2D array but "
                                         "got a 3D array"):
        I.orthogonal()(mx.zeros((2, 2, 2)))


def test_same_seed_same_values():
    for make in (I.normal, I.uniform, I.glorot_uniform, I.he_normal):
        mx.random.seed(9)
        a = make()(mx.zeros((3, 4)))
        mx.random.seed(9)
        b = make()(mx.zeros((3, 4)))
        c = make()(mx.zeros((3, 4)))
        assert mx.array_equal(a, b) and not mx.array_equal(b, c)


# Made with MLX 0.32 (Linux CPU): for each case, mx.random.seed(case["seed"]) then
# nn.init.<name>(...)(mx.zeros(case["shape"]), *case["args"]), flattened as float32.
with open(os.path.join(os.path.dirname(__file__), "data", "init_golden.json")) as fh:
    GOLDEN = json.load(fh)

FACTORIES = {
    "normal": lambda: I.normal(0.5, 2.0),
    "normal_f16": lambda: I.normal(dtype=mx.float16),
    "uniform": lambda: I.uniform(-2.0, 3.0),
    "uniform_bf16": lambda: I.uniform(dtype=mx.bfloat16),
    "glorot_normal": lambda: I.glorot_normal(),
    "glorot_normal_gain": lambda: I.glorot_normal(),
    "glorot_uniform": lambda: I.glorot_uniform(),
    "he_normal": lambda: I.he_normal(),
    "he_normal_fan_out": lambda: I.he_normal(),
    "he_uniform": lambda: I.he_uniform(),
    "he_uniform_fan_out": lambda: I.he_uniform(),
    "sparse": lambda: I.sparse(0.4, 1.0, 0.5),
    "orthogonal": lambda: I.orthogonal(),
    "orthogonal_tall": lambda: I.orthogonal(gain=2.0),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_matches_mlx_for_the_same_seed(name):
    case = GOLDEN[name]
    if name.startswith("orthogonal") and not _HAS_QR:
        pytest.skip("mx.linalg.qr is not available")
    mx.random.seed(case["seed"])
    out = FACTORIES[name]()(mx.zeros(tuple(case["shape"])), *case["args"])
    assert str(out.dtype).split(".")[-1] == case["dtype"]
    assert out.shape == tuple(case["shape"])
    tol = 1e-4 if name.startswith("orthogonal") else 1e-6
    np.testing.assert_allclose(_np(out).ravel(), case["values"], rtol=tol, atol=tol)
