"""nn.Upsample and the functional upsample_nearest/linear/cubic (spec/python-api.md sections 26
and 30): float64 NumPy references for nearest and linear resizing, golden outputs of every
mode for fixed inputs, dtypes, errors, repr and gradients."""
import os

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from mlx.nn.layers.upsample import upsample_cubic, upsample_linear, upsample_nearest

# Inputs x1/x2/x3 (NumPy default_rng(1234) normals) and the outputs of MLX 0.32's
# nn.Upsample for the settings below, saved with np.savez_compressed.
GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "data", "nn_upsample_golden.npz"))
CASES = {
    "nearest_2": ("x2", dict(scale_factor=2)),
    "nearest_1.5": ("x2", dict(scale_factor=1.5)),
    "nearest_0.6_1.4": ("x2", dict(scale_factor=(0.6, 1.4))),
    "linear_2": ("x2", dict(scale_factor=2, mode="linear")),
    "linear_1.7_ac": ("x2", dict(scale_factor=1.7, mode="linear", align_corners=True)),
    "linear_0.5_aa": ("x2", dict(scale_factor=0.5, mode="linear", antialias=True)),
    "cubic_2": ("x2", dict(scale_factor=2, mode="cubic")),
    "cubic_2.5_ac": ("x2", dict(scale_factor=(2.5, 1.2), mode="cubic", align_corners=True)),
    "cubic_0.4_aa": ("x2", dict(scale_factor=(0.6, 0.4), mode="cubic", antialias=True)),
    "linear1d_3": ("x1", dict(scale_factor=3, mode="linear")),
    "cubic1d_0.5": ("x1", dict(scale_factor=0.5, mode="cubic")),
    "linear3d_2": ("x3", dict(scale_factor=2, mode="linear")),
    "nearest3d_1.5": ("x3", dict(scale_factor=1.5)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    src, kw = CASES[name]
    out = nn.Upsample(**kw)(mx.array(GOLDEN[src]))
    expect = GOLDEN[name]
    assert out.shape == expect.shape
    np.testing.assert_allclose(np.array(out), expect, rtol=1e-5, atol=1e-5)


def np_linear_1d(x, m, align_corners):
    """Linear resize of axis 1 of a float64 array to m samples."""
    n = x.shape[1]
    i = np.arange(m, dtype=np.float64)
    if align_corners:
        pos = i * ((n - 1) / max(m - 1, 1))
    else:
        scale = m / n
        pos = (i + 0.5) / scale - 0.5
    pos = np.clip(pos, 0, n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo).reshape((1, m) + (1,) * (x.ndim - 2))
    return x[:, lo] * (1 - frac) + x[:, hi] * frac


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("scale", [2, 3])
def test_linear_matches_numpy(scale, align_corners, rng):
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    out = nn.Upsample(scale, "linear", align_corners)(mx.array(x))
    expect = np_linear_1d(x.astype(np.float64), 5 * scale, align_corners)
    np.testing.assert_allclose(np.array(out), expect, rtol=1e-5, atol=1e-6)
    # 2-D is the 1-D resize applied along each axis
    x2 = rng.normal(size=(1, 3, 4, 2)).astype(np.float32)
    out = nn.Upsample(scale, "linear", align_corners)(mx.array(x2))
    step = np_linear_1d(x2.astype(np.float64), 3 * scale, align_corners)
    expect = np.swapaxes(np_linear_1d(np.swapaxes(step, 1, 2), 4 * scale, align_corners), 1, 2)
    np.testing.assert_allclose(np.array(out), expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16, mx.float32, mx.int32])
def test_nearest_integer_scale_repeats(dtype, rng):
    x = mx.array(rng.integers(-5, 5, size=(2, 3, 4, 2))).astype(dtype)
    out = nn.Upsample((2, 3))(x)
    assert out.dtype == dtype
    expect = np.repeat(np.repeat(np.array(x.astype(mx.float32)), 2, axis=1), 3, axis=2)
    np.testing.assert_array_equal(np.array(out.astype(mx.float32)), expect)
    assert upsample_nearest(x, (2, 3)).shape == (2, 6, 12, 2)


def test_functional_forms_and_noncontiguous(rng):
    x = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    xm = mx.array(x)
    np.testing.assert_allclose(np.array(upsample_linear(xm, (2.0, 2.0))),
                               np.array(nn.Upsample(2, "linear")(xm)))
    np.testing.assert_allclose(np.array(upsample_cubic(xm, (2.0, 2.0), align_corners=True)),
                               np.array(nn.Upsample(2, "cubic", True)(xm)))
    xt = mx.array(np.ascontiguousarray(np.swapaxes(x, 1, 2)))
    out_t = nn.Upsample(2, "linear")(mx.swapaxes(xt, 1, 2))
    np.testing.assert_allclose(np.array(out_t), np.array(nn.Upsample(2, "linear")(xm)),
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="A scale needs to be provided for each spatial "
                                         "dimension"):
        upsample_linear(xm, (2.0,))


def test_errors_and_repr():
    with pytest.raises(ValueError, match=r"\[Upsample\] Got unsupported upsampling algorithm: "
                                         r"bilinear"):
        nn.Upsample(2, "bilinear")
    with pytest.raises(ValueError, match="Antialiasing is not supported for nearest"):
        nn.Upsample(2, antialias=True)
    with pytest.raises(ValueError, match="antialias=True with align_corners=True"):
        nn.Upsample(2, "linear", align_corners=True, antialias=True)
    with pytest.raises(ValueError, match="at least 1 spatial dimension"):
        nn.Upsample(2)(mx.zeros((2, 3)))
    with pytest.raises(ValueError, match="One scale per spatial dimension is required"):
        nn.Upsample((2, 2))(mx.zeros((1, 4, 3)))
    assert repr(nn.Upsample(2)) == ("Upsample(scale_factor=2.0, mode='nearest', "
                                    "align_corners=False)")
    assert repr(nn.Upsample((1, 2), "linear", antialias=True)) == (
        "Upsample(scale_factor=(1.0, 2.0), mode='linear', align_corners=False, antialias=True)")


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_gradient_is_adjoint(mode, rng):
    """Resizing is linear in x: <up(x), v> == <x, up^T(v)>, with up^T from mx.vjp."""
    x = mx.array(rng.normal(size=(1, 3, 4, 2)).astype(np.float32))
    layer = nn.Upsample(1.5 if mode == "nearest" else 2, mode)
    y = layer(x)
    v = mx.array(rng.normal(size=y.shape).astype(np.float32))
    _, (g,) = mx.vjp(layer, [x], [v])
    np.testing.assert_allclose((y * v).sum().item(), (x * g).sum().item(), rtol=1e-4)
    # and the gradient of each input entry matches a finite difference
    xn = np.array(x).astype(np.float64)
    idx = (0, 1, 2, 1)
    bumped = xn.copy()
    bumped[idx] += 1.0
    diff = (np.array(layer(mx.array(bumped.astype(np.float32)))) - np.array(y)) * np.array(v)
    np.testing.assert_allclose(diff.sum(), np.array(g)[idx], rtol=1e-3, atol=1e-4)
