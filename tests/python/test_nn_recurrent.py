"""RNN, GRU and LSTM against NumPy float64 references of the same recurrences (weights set
from a seeded generator): batched (N, L, D) and unbatched (L, D) inputs, initial states,
bias on and off, custom nonlinearity, parameter shapes, errors, and input gradients
against central differences."""
import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from nn_helpers import check_input_grad, f64, set_float64_params


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_rnn(p, x, h=None, act=np.tanh):
    xs = x @ p["Wxh"].T + (p["bias"] if "bias" in p else 0)
    out = []
    for t in range(x.shape[-2]):
        pre = xs[..., t, :] + (h @ p["Whh"].T if h is not None else 0)
        h = act(pre)
        out.append(h)
    return np.stack(out, -2)


def np_gru(p, x, h=None):
    H = p["Wh"].shape[1]
    xs = x @ p["Wx"].T + (p["b"] if "b" in p else 0)
    bhn = p.get("bhn", 0)
    out = []
    for t in range(x.shape[-2]):
        xt = xs[..., t, :]
        hp = h @ p["Wh"].T if h is not None else np.zeros(xt.shape[:-1] + (3 * H,))
        r = sigmoid(xt[..., :H] + hp[..., :H])
        z = sigmoid(xt[..., H:2 * H] + hp[..., H:2 * H])
        n = np.tanh(xt[..., 2 * H:] + r * (hp[..., 2 * H:] + bhn))
        h = (1 - z) * n + (z * h if h is not None else 0)
        out.append(h)
    return np.stack(out, -2)


def np_lstm(p, x, h=None, c=None):
    H = p["Wh"].shape[1]
    xs = x @ p["Wx"].T + (p["bias"] if "bias" in p else 0)
    hs, cs = [], []
    for t in range(x.shape[-2]):
        g = xs[..., t, :] + (h @ p["Wh"].T if h is not None else 0)
        i, f, gg, o = (g[..., k * H:(k + 1) * H] for k in range(4))
        i, f, gg, o = sigmoid(i), sigmoid(f), np.tanh(gg), sigmoid(o)
        c = f * c + i * gg if c is not None else i * gg
        h = o * np.tanh(c)
        hs.append(h)
        cs.append(c)
    return np.stack(hs, -2), np.stack(cs, -2)


SHAPES = [(2, 5, 3), (5, 3), (1, 1, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_hidden", [False, True])
def test_rnn(shape, bias, with_hidden, rng):
    m = nn.RNN(3, 4, bias=bias)
    p = set_float64_params(m, rng)
    assert p["Wxh"].shape == (4, 3) and p["Whh"].shape == (4, 4) and ("bias" in p) == bias
    x = rng.standard_normal(shape)
    h = rng.standard_normal(shape[:-2] + (4,)) if with_hidden else None
    r = m(f64(x), None if h is None else f64(h))
    assert r.shape == shape[:-1] + (4,) and r.dtype == mx.float64
    np.testing.assert_allclose(np.array(r), np_rnn(p, x, h), rtol=1e-10, atol=1e-12)


def test_rnn_nonlinearity_and_errors(rng):
    m = nn.RNN(3, 4, nonlinearity=nn.relu)
    p = set_float64_params(m, rng)
    x = rng.standard_normal((2, 4, 3))
    np.testing.assert_allclose(np.array(m(f64(x))), np_rnn(p, x, act=lambda v: np.maximum(v, 0)),
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="Nonlinearity must be callable"):
        nn.RNN(3, 4, nonlinearity="tanh")
    # default init: uniform in +-1/sqrt(hidden), float32
    m = nn.RNN(3, 16)
    assert m.Wxh.dtype == mx.float32 and float(mx.abs(m.Wxh).max()) <= 0.25


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_hidden", [False, True])
def test_gru(shape, bias, with_hidden, rng):
    m = nn.GRU(3, 4, bias=bias)
    p = set_float64_params(m, rng)
    assert p["Wx"].shape == (12, 3) and p["Wh"].shape == (12, 4) and ("bhn" in p) == bias
    x = rng.standard_normal(shape)
    h = rng.standard_normal(shape[:-2] + (4,)) if with_hidden else None
    r = m(f64(x), None if h is None else f64(h))
    assert r.shape == shape[:-1] + (4,)
    np.testing.assert_allclose(np.array(r), np_gru(p, x, h), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("state", ["none", "hidden", "both"])
def test_lstm(shape, bias, state, rng):
    m = nn.LSTM(3, 4, bias=bias)
    p = set_float64_params(m, rng)
    assert p["Wx"].shape == (16, 3) and p["Wh"].shape == (16, 4) and ("bias" in p) == bias
    x = rng.standard_normal(shape)
    h = rng.standard_normal(shape[:-2] + (4,)) if state != "none" else None
    c = rng.standard_normal(shape[:-2] + (4,)) if state == "both" else None
    hs, cs = m(f64(x), None if h is None else f64(h), None if c is None else f64(c))
    rh, rc = np_lstm(p, x, h, c)
    assert hs.shape == cs.shape == shape[:-1] + (4,)
    np.testing.assert_allclose(np.array(hs), rh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.array(cs), rc, rtol=1e-10, atol=1e-12)


def test_recurrent_grads(rng):
    for m in (nn.RNN(2, 3), nn.GRU(2, 3), nn.LSTM(2, 3)):
        set_float64_params(m, rng)
        f = (lambda x, m=m: m(x)[0]) if isinstance(m, nn.LSTM) else m
        check_input_grad(f, rng.standard_normal((2, 3, 2)), rng)
    # gradients reach the parameters: d loss / d Wh of a GRU against central differences
    m = nn.GRU(2, 3)
    p = set_float64_params(m, rng)
    x, h0 = f64(rng.standard_normal((1, 3, 2))), f64(rng.standard_normal((1, 3)))

    def loss(params):
        m.update(params)
        return (m(x, h0) ** 2).sum()

    g = mx.grad(loss)({"Wh": f64(p["Wh"])})["Wh"]
    eps, k = 1e-6, (4, 1)
    e = np.zeros_like(p["Wh"])
    e[k] = eps
    fd = (float(loss({"Wh": f64(p["Wh"] + e)})) - float(loss({"Wh": f64(p["Wh"] - e)}))) / (2 * eps)
    assert abs(float(g[k]) - fd) < 1e-6
