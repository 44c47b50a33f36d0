"""Positional encodings, MultiHeadAttention and the Transformer stacks against NumPy float64
references of the same math (weights set from a seeded generator): shapes, masks, pre/post
norm, activations, dropout in training and eval mode, checkpointing, and input gradients
against central differences. RoPE values are also checked against golden rows made with
Apple MLX 0.32."""
import math

import numpy as np
import pytest

import mlx.core as mx
import mlx.nn as nn
from nn_helpers import check_input_grad, f64, set_float64_params


def np_linear(p, prefix, x):
    y = x @ p[prefix + ".weight"].T
    return y + p[prefix + ".bias"] if prefix + ".bias" in p else y


def np_layer_norm(p, prefix, x, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * p[prefix + ".weight"] + p[prefix + ".bias"]


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_mha(p, prefix, q, k, v, heads, mask=None):
    q, k, v = (np_linear(p, f"{prefix}.{n}_proj", t) for n, t in (("query", q), ("key", k), ("value", v)))

    def split(t):
        return t.reshape(*t.shape[:-1], heads, -1).transpose(0, 2, 1, 3)

    q, k, v = split(q), split(k), split(v)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s + mask
    o = (np_softmax(s) @ v).transpose(0, 2, 1, 3)
    return np_linear(p, f"{prefix}.out_proj", o.reshape(*o.shape[:2], -1))


def np_relu(x):
    return np.maximum(x, 0)


def np_encoder_layer(p, pre, x, mask, heads, norm_first, act=np_relu):
    mlp = lambda y: np_linear(p, f"{pre}.linear2", act(np_linear(p, f"{pre}.linear1", y)))
    if norm_first:
        y = np_layer_norm(p, f"{pre}.ln1", x)
        x = x + np_mha(p, f"{pre}.attention", y, y, y, heads, mask)
        return x + mlp(np_layer_norm(p, f"{pre}.ln2", x))
    x = np_layer_norm(p, f"{pre}.ln1", x + np_mha(p, f"{pre}.attention", x, x, x, heads, mask))
    return np_layer_norm(p, f"{pre}.ln2", x + mlp(x))


def np_decoder_layer(p, pre, x, mem, xm, mm, heads, norm_first):
    mlp = lambda y: np_linear(p, f"{pre}.linear2", np_relu(np_linear(p, f"{pre}.linear1", y)))
    if norm_first:
        y = np_layer_norm(p, f"{pre}.ln1", x)
        x = x + np_mha(p, f"{pre}.self_attention", y, y, y, heads, xm)
        y = np_layer_norm(p, f"{pre}.ln2", x)
        x = x + np_mha(p, f"{pre}.cross_attention", y, mem, mem, heads, mm)
        return x + mlp(np_layer_norm(p, f"{pre}.ln3", x))
    x = np_layer_norm(p, f"{pre}.ln1", x + np_mha(p, f"{pre}.self_attention", x, x, x, heads, xm))
    x = np_layer_norm(p, f"{pre}.ln2", x + np_mha(p, f"{pre}.cross_attention", x, mem, mem, heads, mm))
    return np_layer_norm(p, f"{pre}.ln3", x + mlp(x))


def causal(n):
    return np.triu(np.full((n, n), np.finfo(np.float64).min), 1)


# ---- attention ----

@pytest.mark.parametrize("bias", [False, True])
def test_multihead_attention(bias, rng):
    m = nn.MultiHeadAttention(8, 2, query_input_dims=6, key_input_dims=5, value_input_dims=4,
                              value_dims=10, value_output_dims=3, bias=bias)
    p = set_float64_params(m, rng)
    assert ("query_proj.bias" in p) == bias and p["value_proj.weight"].shape == (10, 4)
    q, k, v = rng.standard_normal((2, 3, 6)), rng.standard_normal((2, 4, 5)), rng.standard_normal((2, 4, 4))
    mask = rng.standard_normal((2, 1, 3, 4))
    r = m(f64(q), f64(k), f64(v), f64(mask))
    assert r.shape == (2, 3, 3) and r.dtype == mx.float64
    np.testing.assert_allclose(np.array(r), _mha_ref(p, q, k, v, 2, mask), rtol=1e-7, atol=1e-8)


def _mha_ref(p, q, k, v, heads, mask):
    return np_mha({"m." + a: b for a, b in p.items()}, "m", q, k, v, heads, mask)


def test_causal_mask_and_errors(rng):
    mask = nn.MultiHeadAttention.create_additive_causal_mask(4)
    assert mask.dtype == mx.float32
    np.testing.assert_array_equal(np.array(mask), np.triu(np.full((4, 4), np.finfo(np.float32).min), 1))
    m16 = nn.MultiHeadAttention.create_additive_causal_mask(3, mx.float16)
    assert m16.dtype == mx.float16 and float(m16[0, 2]) == float(np.finfo(np.float16).min)
    with pytest.raises(ValueError, match=r"divisible by the number of heads \(6 % 4\) != 0"):
        nn.MultiHeadAttention(6, 4)
    m = nn.MultiHeadAttention(4, 2)
    p = set_float64_params(m, rng)
    x = rng.standard_normal((1, 4, 4))
    r = m(f64(x), f64(x), f64(x), f64(causal(4)))
    np.testing.assert_allclose(np.array(r), _mha_ref(p, x, x, x, 2, causal(4)), rtol=1e-7, atol=1e-8)
    # the first query attends to the first key only: changing later keys leaves it alone
    x2 = x.copy()
    x2[0, 3] += 1.0
    r2 = m(f64(x2), f64(x2), f64(x2), f64(causal(4)))
    np.testing.assert_allclose(np.array(r2)[0, 0], np.array(r)[0, 0], rtol=1e-12)


def test_attention_grad(rng):
    m = nn.MultiHeadAttention(4, 2, bias=True)
    set_float64_params(m, rng)
    mask = f64(causal(3))
    check_input_grad(lambda x: m(x, x, x, mask), rng.standard_normal((1, 3, 4)), rng)


# ---- encoder / decoder ----

@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_layer(norm_first, rng):
    layer = nn.TransformerEncoderLayer(8, 2, mlp_dims=12, norm_first=norm_first)
    p = {"l." + a: b for a, b in set_float64_params(layer, rng).items()}
    x = rng.standard_normal((2, 5, 8))
    r = layer(f64(x), f64(causal(5)))
    np.testing.assert_allclose(np.array(r), np_encoder_layer(p, "l", x, causal(5), 2, norm_first),
                               rtol=1e-7, atol=1e-8)


def test_encoder_layer_activation_and_default_mlp(rng):
    layer = nn.TransformerEncoderLayer(4, 1, activation=nn.gelu)
    assert layer.linear1.weight.shape == (16, 4)
    p = {"l." + a: b for a, b in set_float64_params(layer, rng).items()}
    x = rng.standard_normal((1, 3, 4))
    from math import erf
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2))))
    np.testing.assert_allclose(np.array(layer(f64(x), None)),
                               np_encoder_layer(p, "l", x, None, 1, True, gelu), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_and_decoder_stacks(norm_first, rng):
    enc = nn.TransformerEncoder(2, 8, 2, mlp_dims=8, norm_first=norm_first)
    dec = nn.TransformerDecoder(2, 8, 2, mlp_dims=8, norm_first=norm_first)
    pe = {"e." + a: b for a, b in set_float64_params(enc, rng).items()}
    pd = {"d." + a: b for a, b in set_float64_params(dec, rng).items()}
    src, tgt = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 3, 8))
    mem_ref = src
    for i in range(2):
        mem_ref = np_encoder_layer(pe, f"e.layers.{i}", mem_ref, None, 2, norm_first)
    mem_ref = np_layer_norm(pe, "e.ln", mem_ref)
    mem = enc(f64(src), None)
    np.testing.assert_allclose(np.array(mem), mem_ref, rtol=1e-7, atol=1e-8)
    y_ref = tgt
    for i in range(2):
        y_ref = np_decoder_layer(pd, f"d.layers.{i}", y_ref, mem_ref, causal(3), None, 2, norm_first)
    y_ref = np_layer_norm(pd, "d.ln", y_ref)
    y = dec(f64(tgt), mem, f64(causal(3)), None)
    np.testing.assert_allclose(np.array(y), y_ref, rtol=1e-7, atol=1e-8)


def test_transformer_end_to_end_and_custom(rng):
    t = nn.Transformer(dims=8, num_heads=2, num_encoder_layers=1, num_decoder_layers=2, mlp_dims=16)
    assert len(t.encoder.layers) == 1 and len(t.decoder.layers) == 2
    p = {"t." + a: b for a, b in set_float64_params(t, rng).items()}
    src, tgt = rng.standard_normal((1, 4, 8)), rng.standard_normal((1, 3, 8))
    mem = np_layer_norm(p, "t.encoder.ln", np_encoder_layer(p, "t.encoder.layers.0", src, None, 2, True))
    y = tgt
    for i in range(2):
        y = np_decoder_layer(p, f"t.decoder.layers.{i}", y, mem, causal(3), None, 2, True)
    y = np_layer_norm(p, "t.decoder.ln", y)
    r = t(f64(src), f64(tgt), None, f64(causal(3)), None)
    np.testing.assert_allclose(np.array(r), y, rtol=1e-7, atol=1e-8)
    enc = nn.TransformerEncoder(1, 8, 2)
    t2 = nn.Transformer(dims=8, num_heads=2, num_decoder_layers=1, custom_encoder=enc)
    assert t2.encoder is enc


def _dropout_layer(rng):
    layer = nn.TransformerEncoderLayer(8, 2, mlp_dims=8, dropout=0.5)
    p = {"l." + a: b for a, b in set_float64_params(layer, rng).items()}
    x = rng.standard_normal((2, 6, 8))
    return layer, x, np_encoder_layer(p, "l", x, None, 2, True)


def test_dropout_eval_mode(rng):
    layer, x, ref = _dropout_layer(rng)
    layer.eval()
    np.testing.assert_allclose(np.array(layer(f64(x), None)), ref, rtol=1e-7, atol=1e-8)


@pytest.mark.skipif(not hasattr(mx.random, "bernoulli"), reason="mx.random.bernoulli is not available")
def test_dropout_training_mode(rng):
    layer, x, ref = _dropout_layer(rng)
    assert layer.training
    assert not np.allclose(np.array(layer(f64(x), None)), ref)


def test_checkpoint_same_values_and_grads(rng):
    plain = nn.TransformerEncoder(2, 4, 2, mlp_dims=8)
    ck = nn.TransformerEncoder(2, 4, 2, mlp_dims=8, checkpoint=True)
    set_float64_params(plain, rng)
    ck.update(plain.parameters())
    x = f64(rng.standard_normal((1, 3, 4)))
    np.testing.assert_allclose(np.array(ck(x, None)), np.array(plain(x, None)), rtol=1e-12)
    g1 = mx.grad(lambda x: (plain(x, None) ** 2).sum())(x)
    g2 = mx.grad(lambda x: (ck(x, None) ** 2).sum())(x)
    np.testing.assert_allclose(np.array(g2), np.array(g1), rtol=1e-10, atol=1e-12)
    check_input_grad(lambda x: ck(x, None), rng.standard_normal((1, 3, 4)), rng)


def test_decoder_layer_grad(rng):
    layer = nn.TransformerDecoderLayer(4, 2, mlp_dims=4, norm_first=False)
    set_float64_params(layer, rng)
    mem = f64(rng.standard_normal((1, 2, 4)))
    check_input_grad(lambda x: layer(x, mem, None, None), rng.standard_normal((1, 3, 4)), rng)


# ---- positional encodings ----

def np_rope(x, dims, traditional, base, scale, offset):
    half = dims // 2
    inv = base ** (-np.arange(half) * 2.0 / dims)
    pos = (np.arange(x.shape[-2]) + offset) * scale
    th = pos[:, None] * inv[None]
    c, s = np.cos(th), np.sin(th)
    y = x.copy()
    if traditional:
        a, b = x[..., 0:dims:2], x[..., 1:dims:2]
        y[..., 0:dims:2], y[..., 1:dims:2] = a * c - b * s, a * s + b * c
    else:
        a, b = x[..., :half], x[..., half:dims]
        y[..., :half], y[..., half:dims] = a * c - b * s, a * s + b * c
    return y


ROPE_CASES = [(8, False, 10000, 1.0, 0), (6, False, 100, 0.5, 3), (8, True, 10000, 1.0, 2),
              (4, True, 50, 2.0, 0)]
# Made with Apple MLX 0.32: np.round(nn.RoPE(*case[:4])(x, offset=case[4]), 5).ravel()[::7]
# for x = (np.arange(80) % 11 - 5).reshape(2, 5, 8) / 4 (float32).
ROPE_GOLDEN = [
    [-1.25, 0.5, -0.4874800145626068, 1.274749994277954, -0.3533399999141693, -0.7509899735450745, 1.0, -0.09983000159263611, 0.4161500036716461, 0.7494999766349792, -0.28738000988960266, -0.9566199779510498],
    [0.41032999753952026, 0.5, -0.5, 1.2994799613952637, -0.10155999660491943, 0.26385998725891113, 1.067139983177185, -0.3132599890232086, 0.950760006904602, 0.75, -0.25, -1.1122299432754517],
    [1.429479956626892, 0.5005000233650208, -0.49924999475479126, 1.2889900207519531, 0.22470000386238098, -1.1836400032043457, 0.7317299842834473, -0.035280000418424606, 0.08603999763727188, 0.751990020275116, -0.25, -1.1727999448776245],
    [-1.25, 0.5, -0.5, 1.25, 0.25, -1.22406005859375, 1.0, -0.22732000052928925, 0.08603999763727188, 0.75, -0.25, -1.25],
]


@pytest.mark.parametrize("k", range(len(ROPE_CASES)))
def test_rope(k, rng):
    dims, trad, base, scale, off = ROPE_CASES[k]
    x = (np.arange(80) % 11 - 5).reshape(2, 5, 8).astype(np.float32) / 4
    r = nn.RoPE(dims, traditional=trad, base=base, scale=scale)(mx.array(x), offset=off)
    assert r.shape == x.shape and r.dtype == mx.float32
    np.testing.assert_allclose(np.array(r), np_rope(x.astype(np.float64), dims, trad, base, scale, off),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(r).ravel()[::7], ROPE_GOLDEN[k], atol=2e-5)
    xr = rng.standard_normal((3, 2, 4, 8))
    r = nn.RoPE(dims, traditional=trad, base=base, scale=scale)(mx.array(xr, dtype=mx.float32), offset=off)
    np.testing.assert_allclose(np.array(r), np_rope(xr, dims, trad, base, scale, off), rtol=1e-5, atol=1e-5)


def test_sinusoidal_and_alibi():
    pe = nn.SinusoidalPositionalEncoding(6, cos_first=True, full_turns=True)
    x = np.array([0.5, 2.0])
    freqs = np.exp((1 - np.arange(3) / 2) * (np.log(1) - np.log(1e-4)) + np.log(1e-4)) * 2 * np.pi
    y = x[:, None] * freqs
    ref = np.concatenate([np.cos(y), np.sin(y)], -1) * math.sqrt(2 / 6)
    np.testing.assert_allclose(np.array(pe(f64(x))), ref, rtol=1e-5, atol=1e-6)
    pe2 = nn.SinusoidalPositionalEncoding(2, scale=1.0)
    np.testing.assert_allclose(np.array(pe2(mx.array([3.0]))), [[np.sin(3.0), np.cos(3.0)]], rtol=1e-6)
    with pytest.raises(ValueError, match="dims must be positive and even but got 5"):
        nn.SinusoidalPositionalEncoding(5)
    # slopes: 2^(-8 i / n) for a power of two n; 6 heads take 4's and every other of 8's
    np.testing.assert_allclose(np.array(nn.ALiBi.create_alibi_slope(4)).ravel(),
                               [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8])
    np.testing.assert_allclose(np.array(nn.ALiBi.create_alibi_slope(6)).ravel(),
                               [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3])
    scores = np.zeros((1, 2, 3, 4))
    mask = np.full((3, 4), -1.0)
    r = nn.ALiBi()(mx.array(scores, dtype=mx.float32), offset=1, mask=mx.array(mask, dtype=mx.float32))
    q, k = np.arange(1, 4), np.arange(4)
    ref = -np.abs(q[:, None] - k[None])[None, None] * np.array([2 ** -4, 2 ** -8])[None, :, None, None] - 1
    np.testing.assert_allclose(np.array(r), ref, rtol=1e-6)
    assert r.shape == (1, 2, 3, 4)
