"""mlx.nn layers (spec/python-api.md section 26) against float64 NumPy references of the same
math on seeded inputs: Identity, Linear, Bilinear, Embedding, Conv1d-3d, ConvTranspose1d-3d,
pooling, normalization layers (BatchNorm train/eval and running statistics), Dropout
variants; initialization ranges and weight shapes; constructor and input errors; gradients
of layer parameters through nn.value_and_grad against central finite differences."""
import itertools
import math

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_unflatten

HAS_BERNOULLI = hasattr(mx.random, "bernoulli")


def arr(rng, *shape, dtype=mx.float32):
    return mx.array(rng.normal(size=shape), dtype=dtype)


def f64(a):
    return np.array(a.astype(mx.float32) if a.dtype == mx.bfloat16 else a).astype(np.float64)


def close(a, expected, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(f64(a), expected, rtol=rtol, atol=atol)


# ---- NumPy references ----------------------------------------------------------------------

def np_conv(x, w, stride, padding, dilation, groups):
    """Channels-last N-d cross-correlation; w is (C_out, *K, C_in/groups)."""
    nd = x.ndim - 2
    stride, padding, dilation = ([v] * nd if isinstance(v, int) else list(v)
                                 for v in (stride, padding, dilation))
    x = np.pad(x, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)])
    n, *spatial, cin = x.shape
    cout, *kernel, cg = w.shape
    out_sp = [(s - d * (k - 1) - 1) // st + 1
              for s, k, st, d in zip(spatial, kernel, stride, dilation)]
    y = np.zeros((n, *out_sp, cout))
    og = cout // groups
    for g in range(groups):
        xs = x[..., g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        for kidx in itertools.product(*[range(k) for k in kernel]):
            sl = tuple(slice(ki * d, ki * d + st * (o - 1) + 1, st)
                       for ki, d, st, o in zip(kidx, dilation, stride, out_sp))
            patch = xs[(slice(None),) + sl]
            y[..., g * og:(g + 1) * og] += patch @ ws[(slice(None),) + kidx].T
    return y


def np_conv_transpose(x, w, stride, padding, dilation, output_padding):
    """Channels-last N-d transposed convolution with a (C_out, *K, C_in) weight: input
    position i scatters x[i] * w[k] to output position i * stride + k * dilation, then
    ``padding`` is cropped from both sides and ``output_padding`` zeros kept at the end."""
    nd = x.ndim - 2
    stride, padding, dilation, output_padding = (
        [v] * nd if isinstance(v, int) else list(v)
        for v in (stride, padding, dilation, output_padding))
    n, *spatial, _ = x.shape
    cout, *kernel, _ = w.shape
    full = [(s - 1) * st + d * (k - 1) + 1 + op
            for s, st, d, k, op in zip(spatial, stride, dilation, kernel, output_padding)]
    y = np.zeros((n, *full, cout))
    for kidx in itertools.product(*[range(k) for k in kernel]):
        sl = tuple(slice(ki * d, ki * d + st * (s - 1) + 1, st)
                   for ki, d, st, s in zip(kidx, dilation, stride, spatial))
        y[(slice(None),) + sl] += x @ w[(slice(None),) + kidx].T
    return y[(slice(None),) + tuple(slice(p, f - p) for p, f in zip(padding, full))]


def np_pool(x, kernel, stride, padding, reduce, pad_value):
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)], constant_values=pad_value)
    out_sp = [(s - k) // st + 1 for s, k, st in zip(x.shape[1:-1], kernel, stride)]
    y = np.zeros((x.shape[0], *out_sp, x.shape[-1]))
    for o in itertools.product(*[range(v) for v in out_sp]):
        sl = tuple(slice(oi * st, oi * st + k) for oi, st, k in zip(o, stride, kernel))
        win = x[(slice(None),) + sl + (slice(None),)]
        y[(slice(None),) + o] = reduce(win.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
    return y


def np_layer_norm(x, eps, axis=-1):
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


# ---- Identity / Linear / Bilinear / Embedding --------------------------------------------

def test_identity(rng):
    x = arr(rng, 3, 2)
    layer = nn.Identity(1, 2, foo=3)
    assert layer(x) is x and layer.parameters() == {}


def test_linear(rng):
    mx.random.seed(0)
    layer = nn.Linear(6, 4)
    assert layer.weight.shape == (4, 6) and layer.bias.shape == (4,)
    k = 1 / math.sqrt(6)
    for p in (layer.weight, layer.bias):
        v = np.array(p)
        assert v.min() >= -k and v.max() <= k and v.std() > k / 4
    w, b = f64(layer.weight), f64(layer.bias)
    for shape in [(6,), (5, 6), (2, 3, 6)]:
        x = arr(rng, *shape)
        close(layer(x), f64(x) @ w.T + b)
    x = arr(rng, 6, 5).T  # non-contiguous
    close(layer(x), f64(x) @ w.T + b)
    nob = nn.Linear(3, 2, bias=False)
    assert "bias" not in nob
    x = arr(rng, 4, 3)
    close(nob(x), f64(x) @ f64(nob.weight).T)
    assert repr(nob) == "Linear(input_dims=3, output_dims=2, bias=False)"
    with pytest.raises(ValueError):
        layer(arr(rng, 2, 5))


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16, mx.float64])
def test_linear_dtypes(dtype, rng):
    layer = nn.Linear(5, 3)
    layer.set_dtype(dtype)
    x = arr(rng, 4, 5, dtype=dtype)
    y = layer(x)
    assert y.dtype == dtype
    tol = {mx.float16: 5e-3, mx.bfloat16: 5e-2, mx.float64: 1e-12}[dtype]
    close(y, f64(x) @ f64(layer.weight).T + f64(layer.bias), rtol=tol, atol=tol)


def test_bilinear(rng):
    layer = nn.Bilinear(3, 4, 5)
    assert layer.weight.shape == (5, 4, 3) and layer.bias.shape == (5,)
    k = 1 / math.sqrt(3)
    assert np.abs(np.array(layer.weight)).max() <= k
    x1, x2 = arr(rng, 2, 6, 3), arr(rng, 2, 6, 4)
    expect = np.einsum("bni,oji,bnj->bno", f64(x1), f64(layer.weight), f64(x2)) + f64(layer.bias)
    close(layer(x1, x2), expect)
    nob = nn.Bilinear(2, 2, 1, bias=False)
    assert "bias" not in nob
    assert repr(layer) == "Bilinear(input1_dims=3, input2_dims=4, output_dims=5, bias=True)"


def test_embedding(rng):
    mx.random.seed(1)
    layer = nn.Embedding(50, 16)
    w = f64(layer.weight)
    assert w.shape == (50, 16)
    assert abs(w.std() - 0.25) < 0.03  # N(0, 1/dims)
    ids = mx.array([[1, 4, 49], [0, 0, 7]])
    close(layer(ids), w[np.array(ids)])
    close(layer(mx.array(3, dtype=mx.uint8)), w[3])
    x = arr(rng, 3, 16)
    close(layer.as_linear(x), f64(x) @ w.T, rtol=1e-4)
    assert repr(layer) == "Embedding(50, 16)"
    g = nn.value_and_grad(layer, lambda i: layer(i).sum())(mx.array([2, 2, 5]))[1]["weight"]
    expect = np.zeros((50, 16))
    expect[2] = 2
    expect[5] = 1
    close(g, expect)


# ---- convolutions --------------------------------------------------------------------------

CONV_CASES = [
    (nn.Conv1d, dict(in_channels=4, out_channels=6, kernel_size=3), (2, 9, 4)),
    (nn.Conv1d, dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=2,
                     dilation=2, groups=2), (2, 11, 4)),
    (nn.Conv2d, dict(in_channels=3, out_channels=4, kernel_size=(2, 3), stride=(1, 2),
                     padding=1), (2, 6, 7, 3)),
    (nn.Conv2d, dict(in_channels=4, out_channels=4, kernel_size=3, groups=4, dilation=2,
                     bias=False), (1, 8, 8, 4)),
    (nn.Conv3d, dict(in_channels=2, out_channels=3, kernel_size=2, stride=(1, 2, 1),
                     padding=(1, 0, 1)), (1, 4, 5, 4, 2)),
]


@pytest.mark.parametrize("cls,kw,shape", CONV_CASES)
def test_conv(cls, kw, shape, rng):
    layer = cls(**kw)
    groups = kw.get("groups", 1)
    nd = len(shape) - 2
    kernel = kw["kernel_size"]
    kernel = (kernel,) * nd if isinstance(kernel, int) else kernel
    assert layer.weight.shape == (kw["out_channels"], *kernel, kw["in_channels"] // groups)
    bound = 1 / math.sqrt(kw["in_channels"] // groups * math.prod(kernel))
    assert np.abs(np.array(layer.weight)).max() <= bound
    assert ("bias" in layer) == kw.get("bias", True)
    if "bias" in layer:
        layer.bias = arr(rng, kw["out_channels"])
    x = arr(rng, *shape)
    expect = np_conv(f64(x), f64(layer.weight), kw.get("stride", 1), kw.get("padding", 0),
                     kw.get("dilation", 1), groups)
    if "bias" in layer:
        expect = expect + f64(layer.bias)
    close(layer(x), expect, rtol=1e-4, atol=1e-5)


def test_conv_repr_and_errors():
    assert repr(nn.Conv1d(4, 6, 3, stride=2, groups=2)) == (
        "Conv1d(4, 6, kernel_size=3, stride=2, padding=0, dilation=1, groups=2, bias=True)")
    assert repr(nn.Conv2d(3, 4, (2, 3), padding=1, bias=False)) == (
        "Conv2d(3, 4, kernel_size=(2, 3), stride=(1, 1), padding=(1, 1), dilation=1, "
        "groups=1, bias=False)")
    assert repr(nn.Conv3d(2, 3, 2)) == (
        "Conv3d(2, 3, kernel_size=(2, 2, 2), stride=(1, 1, 1), padding=(0, 0, 0), "
        "dilation=1, bias=True)")
    with pytest.raises(ValueError, match=r"The number of input channels \(5\) must be "
                                         r"divisible by the number of groups \(2\)"):
        nn.Conv1d(5, 4, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3)(mx.zeros((1, 5, 5, 2)))


CONVT_CASES = [
    (nn.ConvTranspose1d, dict(in_channels=3, out_channels=2, kernel_size=3), (2, 5, 3)),
    (nn.ConvTranspose1d, dict(in_channels=3, out_channels=4, kernel_size=3, stride=2,
                              padding=1, dilation=2, output_padding=1), (1, 6, 3)),
    (nn.ConvTranspose2d, dict(in_channels=2, out_channels=3, kernel_size=(2, 3), stride=2,
                              padding=(0, 1), output_padding=(1, 0)), (2, 4, 3, 2)),
    (nn.ConvTranspose3d, dict(in_channels=2, out_channels=2, kernel_size=2, stride=(2, 1, 1),
                              bias=False), (1, 3, 2, 3, 2)),
]


@pytest.mark.parametrize("cls,kw,shape", CONVT_CASES)
def test_conv_transpose(cls, kw, shape, rng):
    layer = cls(**kw)
    nd = len(shape) - 2
    kernel = kw["kernel_size"]
    kernel = (kernel,) * nd if isinstance(kernel, int) else kernel
    assert layer.weight.shape == (kw["out_channels"], *kernel, kw["in_channels"])
    bound = 1 / math.sqrt(kw["in_channels"] * math.prod(kernel))
    assert np.abs(np.array(layer.weight)).max() <= bound
    if "bias" in layer:
        layer.bias = arr(rng, kw["out_channels"])
    x = arr(rng, *shape)
    expect = np_conv_transpose(f64(x), f64(layer.weight), kw.get("stride", 1),
                               kw.get("padding", 0), kw.get("dilation", 1),
                               kw.get("output_padding", 0))
    if "bias" in layer:
        expect = expect + f64(layer.bias)
    close(layer(x), expect, rtol=1e-4, atol=1e-5)


def test_conv_transpose_repr():
    assert repr(nn.ConvTranspose1d(3, 2, 3, stride=2, output_padding=1)) == (
        "ConvTranspose1d(3, 2, kernel_size=3, stride=2, padding=0, dilation=1, "
        "output_padding=1, bias=True)")
    assert repr(nn.ConvTranspose2d(3, 2, 3)) == (
        "ConvTranspose2d(3, 2, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), "
        "dilation=1, output_padding=(0, 0), bias=True)")


# ---- pooling -------------------------------------------------------------------------------

POOL_CASES = [
    (nn.MaxPool1d, (3,), dict(kernel_size=3, stride=2, padding=1), (2, 9, 3)),
    (nn.AvgPool1d, (2,), dict(kernel_size=2), (2, 8, 3)),
    (nn.AvgPool1d, (3,), dict(kernel_size=(3,), stride=(1,)), (1, 5, 2)),
    (nn.MaxPool2d, (2, 3), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)),
     (2, 5, 6, 3)),
    (nn.MaxPool2d, (2, 2), dict(kernel_size=2), (1, 6, 4, 2)),
    (nn.AvgPool2d, (3, 3), dict(kernel_size=3, stride=1, padding=1), (2, 4, 5, 3)),
    (nn.MaxPool3d, (2, 2, 2), dict(kernel_size=2, stride=1), (1, 3, 4, 3, 2)),
    (nn.AvgPool3d, (1, 2, 2), dict(kernel_size=(1, 2, 2)), (2, 2, 4, 4, 1)),
]


@pytest.mark.parametrize("cls,kernel,kw,shape", POOL_CASES)
def test_pooling(cls, kernel, kw, shape, rng):
    layer = cls(**kw)
    nd = len(kernel)
    stride = kw.get("stride", kernel)
    stride = (stride,) * nd if isinstance(stride, int) else stride
    pad = kw.get("padding", 0)
    pad = (pad,) * nd if isinstance(pad, int) else pad
    is_max = cls.__name__.startswith("Max")
    x = arr(rng, *shape)
    expect = np_pool(f64(x), kernel, stride, pad, np.max if is_max else np.mean,
                     -np.inf if is_max else 0.0)
    close(layer(x), expect)
    # non-contiguous input
    xt = mx.swapaxes(arr(rng, shape[0], shape[-1], *shape[1:-1]), 1, -1)
    if nd > 1:
        xt = mx.swapaxes(mx.swapaxes(xt, 1, -1), 1, -1)
    expect = np_pool(f64(xt), kernel, stride, pad, np.max if is_max else np.mean,
                     -np.inf if is_max else 0.0)
    close(layer(xt), expect)


def test_pooling_repr_and_errors():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.AvgPool1d(3, 1, 1)) == "AvgPool1d(kernel_size=(3,), stride=(1,), padding=(1,))"
    with pytest.raises(ValueError, match=r"\[MaxPool1d\] 'kernel_size' must be an integer or "
                                         r"a tuple containing 1 integer"):
        nn.MaxPool1d((2, 2))
    with pytest.raises(ValueError, match=r"\[AvgPool2d\] 'stride' must be an integer or a "
                                         r"tuple containing 2 integers"):
        nn.AvgPool2d(2, stride=(1, 1, 1))
    with pytest.raises(ValueError, match=r"\[MaxPool3d\] 'kernel_size' must be positive but "
                                         r"got \(0, 2, 2\)"):
        nn.MaxPool3d((0, 2, 2))
    with pytest.raises(ValueError, match=r"\[AvgPool2d\] 'padding' must be non-negative"):
        nn.AvgPool2d(2, padding=-1)
    with pytest.raises(ValueError, match="at least 1 spatial dimension"):
        nn.MaxPool1d(2)(mx.zeros((4, 3)))
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        nn.MaxPool2d(2)(mx.zeros((1, 4, 3)))


def test_pooling_grad(rng):
    x = arr(rng, 1, 6, 2)
    g = mx.grad(lambda a: nn.MaxPool1d(2)(a).sum())(x)
    xn = f64(x).reshape(1, 3, 2, 2)
    expect = (xn == xn.max(axis=2, keepdims=True)).astype(np.float64).reshape(1, 6, 2)
    close(g, expect)
    g = mx.grad(lambda a: nn.AvgPool1d(3, 1)(a).sum())(x)
    close(g, np.array([1, 2, 3, 3, 2, 1])[None, :, None] / 3 * np.ones((1, 6, 2)))


# ---- normalization -------------------------------------------------------------------------

def test_layer_norm(rng):
    x = arr(rng, 2, 3, 8)
    layer = nn.LayerNorm(8)
    assert np.all(np.array(layer.weight) == 1) and np.all(np.array(layer.bias) == 0)
    layer.weight, layer.bias = arr(rng, 8), arr(rng, 8)
    close(layer(x), np_layer_norm(f64(x), 1e-5) * f64(layer.weight) + f64(layer.bias))
    plain = nn.LayerNorm(8, eps=1e-2, affine=False)
    assert plain.parameters() == {}
    close(plain(x), np_layer_norm(f64(x), 1e-2))
    nobias = nn.LayerNorm(8, bias=False)
    assert set(nobias.parameters()) == {"weight"}
    close(nobias(x.T.T[:, ::2]), np_layer_norm(f64(x)[:, ::2], 1e-5))
    assert repr(layer) == "LayerNorm(8, eps=1e-05, affine=True)"
    with pytest.raises(ValueError, match=r"\[LayerNorm\] 'eps' must be positive but got 0"):
        nn.LayerNorm(4, eps=0)


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16, mx.float32])
def test_layer_and_rms_norm_dtypes(dtype, rng):
    x = arr(rng, 4, 16, dtype=dtype) * 10 + 3
    tol = {mx.float16: 1e-2, mx.bfloat16: 5e-2, mx.float32: 1e-5}[dtype]
    for layer in (nn.LayerNorm(16), nn.RMSNorm(16)):
        assert layer(x).dtype == mx.float32  # float32 parameters promote
        layer.set_dtype(dtype)
        y = layer(x)
        assert y.dtype == dtype
        xn = f64(x)
        expect = (np_layer_norm(xn, 1e-5) if isinstance(layer, nn.LayerNorm)
                  else xn / np.sqrt((xn**2).mean(-1, keepdims=True) + 1e-5))
        close(y, expect, rtol=tol, atol=tol)


def test_rms_norm(rng):
    x = arr(rng, 3, 5, 6)
    layer = nn.RMSNorm(6, eps=1e-3)
    layer.weight = arr(rng, 6)
    xn = f64(x)
    close(layer(x), xn / np.sqrt((xn**2).mean(-1, keepdims=True) + 1e-3) * f64(layer.weight))
    assert repr(layer) == "RMSNorm(6, eps=0.001)"
    with pytest.raises(ValueError, match=r"\[RMSNorm\] 'eps' must be positive"):
        nn.RMSNorm(4, eps=-1.0)


def test_group_norm(rng):
    x = arr(rng, 2, 3, 4, 6)
    xn = f64(x)
    layer = nn.GroupNorm(3, 6)
    layer.weight, layer.bias = arr(rng, 6), arr(rng, 6)
    # channel c in group c % 3
    g = xn.reshape(2, -1, 3)
    expect = ((g - g.mean(1, keepdims=True)) / np.sqrt(g.var(1, keepdims=True) + 1e-5))
    close(layer(x), expect.reshape(xn.shape) * f64(layer.weight) + f64(layer.bias), rtol=1e-4)
    pt = nn.GroupNorm(3, 6, affine=False, pytorch_compatible=True)
    g = xn.reshape(2, -1, 3, 2)  # consecutive channels
    expect = (g - g.mean((1, 3), keepdims=True)) / np.sqrt(g.var((1, 3), keepdims=True) + 1e-5)
    close(pt(x), expect.reshape(xn.shape), rtol=1e-4)
    assert pt.parameters() == {}
    assert repr(pt) == "GroupNorm(3, 6, eps=1e-05, affine=False, pytorch_compatible=True)"
    with pytest.raises(ValueError, match=r"The number of features \(5\) must be evenly "
                                         r"divisible by the number of groups \(2\)"):
        nn.GroupNorm(2, 5)
    with pytest.raises(ValueError, match=r"The number of groups \(0\) must be a positive"):
        nn.GroupNorm(0, 4)
    with pytest.raises(ValueError, match=r"The number of features \(0\)"):
        nn.GroupNorm(1, 0)


def test_instance_norm(rng):
    x = arr(rng, 2, 4, 5, 3)
    xn = f64(x)
    expect = (xn - xn.mean((1, 2), keepdims=True)) / np.sqrt(xn.var((1, 2), keepdims=True) + 1e-5)
    layer = nn.InstanceNorm(3)
    assert layer.parameters() == {}
    close(layer(x), expect, rtol=1e-4)
    aff = nn.InstanceNorm(3, affine=True)
    aff.weight, aff.bias = arr(rng, 3), arr(rng, 3)
    close(aff(x), expect * f64(aff.weight) + f64(aff.bias), rtol=1e-4)
    x1 = arr(rng, 2, 7, 3)
    xn = f64(x1)
    close(layer(x1), (xn - xn.mean(1, keepdims=True)) / np.sqrt(xn.var(1, keepdims=True) + 1e-5),
          rtol=1e-4)
    with pytest.raises(ValueError, match="InstanceNorm expects inputs with at least 3 "
                                         "dimensions"):
        layer(mx.zeros((2, 3)))
    assert repr(aff) == "InstanceNorm(3, eps=1e-05, affine=True)"


def test_batch_norm_train_eval(rng):
    layer = nn.BatchNorm(4, momentum=0.2)
    assert sorted(k for k, _ in tree_flatten(layer.parameters())) == [
        "bias", "running_mean", "running_var", "weight"]
    assert sorted(k for k, _ in tree_flatten(layer.trainable_parameters())) == ["bias", "weight"]
    layer.unfreeze()
    assert sorted(k for k, _ in tree_flatten(layer.trainable_parameters())) == ["bias", "weight"]
    x = arr(rng, 5, 3, 4) * 2 + 1
    xn = f64(x)
    mean, var = xn.mean((0, 1)), xn.var((0, 1))
    close(layer(x), (xn - mean) / np.sqrt(var + 1e-5), rtol=1e-4)
    close(layer.running_mean, 0.2 * mean)
    close(layer.running_var, 0.8 + 0.2 * xn.var((0, 1), ddof=1), rtol=1e-5)
    rm, rv = f64(layer.running_mean), f64(layer.running_var)
    layer.eval()
    y = arr(rng, 2, 4)
    close(layer(y), (f64(y) - rm) / np.sqrt(rv + 1e-5), rtol=1e-4)
    close(layer.running_mean, rm)  # evaluation leaves the statistics alone
    nostats = nn.BatchNorm(4, affine=False, track_running_stats=False)
    assert nostats.parameters() == {}
    nostats.eval()
    close(nostats(x), (xn - mean) / np.sqrt(var + 1e-5), rtol=1e-4)
    assert repr(layer) == ("BatchNorm(4, eps=1e-05, momentum=0.2, affine=True, "
                           "track_running_stats=True)")


def test_batch_norm_errors():
    layer = nn.BatchNorm(3)
    with pytest.raises(ValueError, match="Expected input tensor to have 2, 3 or 4 dimensions, "
                                         "but got 5"):
        layer(mx.zeros((1, 1, 1, 2, 3)))
    with pytest.raises(ValueError, match="BatchNorm training requires more than one value per "
                                         "channel."):
        layer(mx.zeros((1, 3)))
    layer.eval()
    assert layer(mx.zeros((1, 3))).shape == (1, 3)
    with pytest.raises(ValueError, match=r"\[BatchNorm\] 'eps' must be positive"):
        nn.BatchNorm(3, eps=0.0)


# ---- dropout -------------------------------------------------------------------------------

def test_dropout_construction_and_eval(rng):
    for cls in (nn.Dropout, nn.Dropout2d, nn.Dropout3d):
        with pytest.raises(ValueError, match=r"The dropout probability 1.0 is not in \[0, 1\)"):
            cls(1.0)
        with pytest.raises(ValueError, match=r"The dropout probability -0.1 is not in"):
            cls(-0.1)
        assert repr(cls(0.25)) == f"{cls.__name__}(p=0.25)"
    x = arr(rng, 2, 3, 4, 5)
    for layer in (nn.Dropout(0.5), nn.Dropout2d(0.5), nn.Dropout3d(0.5)):
        layer.eval()
        assert layer(x) is x
    assert nn.Dropout(0.0)(x) is x  # p = 0 is the identity even in training
    with pytest.raises(ValueError, match="Received input with 2 dimensions. Expected 3 or 4 "
                                         "dimensions."):
        nn.Dropout2d()(mx.zeros((3, 4)))
    with pytest.raises(ValueError, match="Received input with 3 dimensions. Expected 4 or 5 "
                                         "dimensions."):
        nn.Dropout3d().eval()(mx.zeros((3, 4, 5)))


@pytest.mark.skipif(not HAS_BERNOULLI, reason="mx.random.bernoulli is not available")
def test_dropout_training():
    mx.random.seed(7)
    x = mx.ones((200, 50))
    y = np.array(nn.Dropout(0.25)(x))
    kept = y != 0
    assert np.allclose(y[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02
    x = mx.ones((8, 6, 5, 40))
    y = np.array(nn.Dropout2d(0.5)(x))
    chan = y[:, :1, :1, :]
    assert np.all(y == chan)  # whole channels dropped or kept
    assert set(np.unique(y)) <= {0.0, 2.0}
    x = mx.ones((4, 3, 3, 3, 30))
    y = np.array(nn.Dropout3d(0.5)(x))
    assert np.all(y == y[:, :1, :1, :1, :])


# ---- gradients through nn.value_and_grad ---------------------------------------------------

def check_param_grads(model, loss, eps=1e-6, rtol=1e-5, atol=1e-7):
    model.set_dtype(mx.float64, predicate=None)
    _, grads = nn.value_and_grad(model, loss)()
    params = dict(tree_flatten(model.trainable_parameters()))
    assert sorted(k for k, _ in tree_flatten(grads)) == sorted(params)
    for key, g in tree_flatten(grads):
        base = np.array(params[key])
        num = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            vals = []
            for sign in (1, -1):
                pert = base.copy()
                pert[idx] += sign * eps
                model.update(tree_unflatten([(key, mx.array(pert, dtype=mx.float64))]))
                vals.append(loss().item())
            num[idx] = (vals[0] - vals[1]) / (2 * eps)
        model.update(tree_unflatten([(key, params[key])]))
        np.testing.assert_allclose(np.array(g), num, rtol=rtol, atol=atol, err_msg=key)


GRAD_LAYERS = {
    "linear": (lambda: nn.Linear(3, 2), (4, 3)),
    "bilinear": (lambda: nn.Bilinear(2, 3, 2), None),
    "conv1d": (lambda: nn.Conv1d(4, 2, 3, stride=2, padding=1, groups=2), (2, 7, 4)),
    "conv2d": (lambda: nn.Conv2d(2, 2, 2, padding=1), (1, 3, 3, 2)),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(2, 2, 3, stride=2), (1, 4, 2)),
    "layer_norm": (lambda: nn.LayerNorm(5), (3, 5)),
    "rms_norm": (lambda: nn.RMSNorm(5), (3, 5)),
    "group_norm": (lambda: nn.GroupNorm(2, 4), (2, 3, 4)),
    "instance_norm": (lambda: nn.InstanceNorm(3, affine=True), (2, 4, 3)),
    "batch_norm": (lambda: nn.BatchNorm(3), (6, 3)),
    "prelu": (lambda: nn.PReLU(3), (4, 3)),
    "embedding": (lambda: nn.Embedding(5, 3), None),
}


@pytest.mark.parametrize("name", sorted(GRAD_LAYERS))
def test_layer_param_grads(name, rng):
    make, shape = GRAD_LAYERS[name]
    mx.random.seed(3)
    layer = make()
    if name == "bilinear":
        x1 = mx.array(rng.normal(size=(4, 2)), dtype=mx.float64)
        x2 = mx.array(rng.normal(size=(4, 3)), dtype=mx.float64)
        inputs = (x1, x2)
    elif name == "embedding":
        inputs = (mx.array([[0, 3, 3], [4, 1, 0]]),)
    else:
        inputs = (mx.array(rng.normal(size=shape), dtype=mx.float64),)
    probe = None

    def loss():
        out = layer(*inputs)
        nonlocal probe
        if probe is None:
            probe = mx.array(rng.normal(size=out.shape), dtype=mx.float64)
        return (out * probe).sum()

    if name in ("layer_norm", "rms_norm", "group_norm", "instance_norm", "batch_norm"):
        layer.update(tree_unflatten([(k, mx.array(rng.normal(size=v.shape)))
                                     for k, v in tree_flatten(layer.trainable_parameters())]))
    check_param_grads(layer, loss)


def test_input_grad_through_norms(rng):
    """The input gradient of normalization layers (their statistics depend on it)."""
    for layer, shape in [(nn.LayerNorm(4, affine=False), (3, 4)),
                         (nn.RMSNorm(4), (3, 4)),
                         (nn.GroupNorm(2, 4, pytorch_compatible=True, affine=False), (2, 3, 4)),
                         (nn.BatchNorm(4, affine=False), (5, 4))]:
        layer.set_dtype(mx.float64, predicate=None)
        xn = rng.normal(size=shape)
        w = rng.normal(size=shape)

        def f(a):
            return (layer(a) * mx.array(w, dtype=mx.float64)).sum()

        g = np.array(mx.grad(f)(mx.array(xn, dtype=mx.float64)))
        num = np.zeros_like(xn)
        for idx in np.ndindex(xn.shape):
            hi, lo = xn.copy(), xn.copy()
            hi[idx] += 1e-6
            lo[idx] -= 1e-6
            num[idx] = (f(mx.array(hi, dtype=mx.float64)).item()
                        - f(mx.array(lo, dtype=mx.float64)).item()) / 2e-6
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6, err_msg=type(layer).__name__)


def test_vmap_linear_and_layer_norm(rng):
    lin, ln = nn.Linear(4, 3), nn.LayerNorm(4)
    x = arr(rng, 5, 2, 4)
    for layer in (lin, ln):
        out = mx.vmap(layer)(x)
        loop = mx.stack([layer(x[i]) for i in range(5)])
        np.testing.assert_allclose(np.array(out), np.array(loop), rtol=1e-5, atol=1e-6)


@pytest.fixture
def bernoulli(monkeypatch):
    """mx.random.bernoulli, or (where the build lacks it) a stand-in for this test only:
    uniform(shape) < p, which is the distribution MLX's bernoulli samples."""
    if not HAS_BERNOULLI:
        def fallback(p=0.5, shape=None, key=None, stream=None):
            return mx.random.uniform(shape=shape, key=key) < p
        monkeypatch.setattr(mx.random, "bernoulli", fallback, raising=False)
    return mx.random.bernoulli


def test_dropout_masks_and_scaling(bernoulli):
    mx.random.seed(9)
    layer = nn.Dropout(0.4)
    x = mx.array(np.random.default_rng(2).normal(size=(100, 60)).astype(np.float32))
    y, xn = np.array(layer(x)), np.array(x)
    kept = y != 0
    np.testing.assert_allclose(y[kept], xn[kept] / 0.6, rtol=1e-6)
    assert abs(kept.mean() - 0.6) < 0.03
    for layer, spatial in [(nn.Dropout2d(0.5), 2), (nn.Dropout3d(0.5), 3)]:
        x = mx.ones((6,) + (4,) * spatial + (30,))
        y = np.array(layer(x))
        first = y[(slice(None),) + (slice(0, 1),) * spatial]
        assert np.all(y == first)  # one decision per (sample, channel)
        assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (first != 0).mean() < 0.7
    y = np.array(nn.Dropout2d(0.5)(mx.ones((5, 4, 30))))  # unbatched (H, W, C)
    assert np.all(y == y[:1, :1])
    # the gradient flows through the kept elements only, scaled
    layer = nn.Dropout(0.5)
    x = mx.ones((50,))
    mx.random.seed(4)
    y = layer(x)
    mx.random.seed(4)
    g = mx.grad(lambda a: layer(a).sum())(x)
    np.testing.assert_array_equal(np.array(g), np.array(y))
