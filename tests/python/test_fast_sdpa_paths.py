"""scaled_dot_product_attention in the float16/bfloat16 shapes of language models, against a
float64 NumPy reference: head dims 64 and 128 with many queries (the CUDA tensor-core prefill)
and with 1-4 queries over long keys (the split-key decode), with causal, boolean and
additive masks, sinks, grouped-query heads, tails of every tile size and (B, T, H, D) views."""
import numpy as np
import pytest

import mlx.core as mx

from test_fast import FINFO_MIN, close, ref_sdpa, to_mx, to_np

HALVES = [mx.float16, mx.bfloat16]


def inputs(rng, B, Nq, Nkv, Tq, Tk, D, Dv, dtype, bthd=False):
    if bthd:  # (B, T, H, D) buffers seen as (B, H, T, D)
        q = to_mx(rng.standard_normal((B, Tq, Nq, D)), dtype).swapaxes(1, 2)
        k = to_mx(rng.standard_normal((B, Tk, Nkv, D)), dtype).swapaxes(1, 2)
        v = to_mx(rng.standard_normal((B, Tk, Nkv, Dv)), dtype).swapaxes(1, 2)
    else:
        q = to_mx(rng.standard_normal((B, Nq, Tq, D)), dtype)
        k = to_mx(rng.standard_normal((B, Nkv, Tk, D)), dtype)
        v = to_mx(rng.standard_normal((B, Nkv, Tk, Dv)), dtype)
    return q, k, v


PREFILL = [
    # B, Nq, Nkv, Tq, Tk, D, bthd
    (1, 4, 4, 128, 128, 128, False),
    (2, 4, 2, 67, 130, 64, False),     # GQA, tails of the query and key tiles
    (2, 4, 2, 67, 144, 64, False),     # the same with masks copied as tiles (keys % 16 == 0)
    (1, 2, 1, 200, 150, 128, True),    # more queries than keys, strided views
    (1, 2, 2, 5, 64, 64, False),       # one key tile, one query tile mostly padding
    (1, 2, 2, 70, 133, 128, False),    # odd keys: mask rows of every alignment
]


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("shape", PREFILL)
def test_sdpa_prefill_heads_64_128(rng, dtype, shape):
    B, Nq, Nkv, Tq, Tk, D, bthd = shape
    q, k, v = inputs(rng, B, Nq, Nkv, Tq, Tk, D, D, dtype, bthd)
    qn, kn, vn = to_np(q), to_np(k), to_np(v)
    sc = D ** -0.5
    hid = FINFO_MIN[dtype]
    f = mx.fast.scaled_dot_product_attention
    o = f(q, k, v, scale=sc)
    assert o.shape == (B, Nq, Tq, D) and o.dtype == dtype
    close(o, ref_sdpa(qn, kn, vn, sc), dtype, 3)
    close(f(q, k, v, scale=sc, mask="causal"), ref_sdpa(qn, kn, vn, sc, causal=True, hidden=hid),
          dtype, 3)
    bm = rng.random((Nq, Tq, Tk)) > 0.3
    bm[:, 1 % Tq] = False  # a row that sees no key averages the values
    close(f(q, k, v, scale=sc, mask=mx.array(bm)), ref_sdpa(qn, kn, vn, sc, mask=bm, hidden=hid),
          dtype, 3)
    am = rng.standard_normal((B, 1, Tq, Tk))
    am[..., ::3] = -np.inf
    amx = to_mx(am, dtype)
    close(f(q, k, v, scale=sc, mask=amx), ref_sdpa(qn, kn, vn, sc, mask=to_np(amx)), dtype, 3)
    im = mx.array(rng.integers(-2, 3, (Tq, Tk)).astype(np.int32))  # integer additive masks
    close(f(q, k, v, scale=sc, mask=im), ref_sdpa(qn, kn, vn, sc, mask=to_np(im)), dtype, 3)
    sinks = to_mx(rng.standard_normal(Nq), dtype)
    close(f(q, k, v, scale=sc, sinks=sinks, mask="causal"),
          ref_sdpa(qn, kn, vn, sc, sinks=to_np(sinks), causal=True, hidden=hid), dtype, 3)
    close(f(q, k, v, scale=sc, sinks=sinks), ref_sdpa(qn, kn, vn, sc, sinks=to_np(sinks)),
          dtype, 3)


@pytest.mark.parametrize("dtype", HALVES)
def test_sdpa_prefill_wide_grid(rng, dtype):
    """Unmasked D = 128 with enough query tiles for two blocks per SM of a 132-SM card (the
    prefill's 32-rows-per-warp variant), with a query tail, GQA and sinks."""
    B, Nq, Nkv, Tq, Tk, D = 2, 16, 4, 1030, 520, 128
    q, k, v = inputs(rng, B, Nq, Nkv, Tq, Tk, D, D, dtype)
    qn, kn, vn = to_np(q), to_np(k), to_np(v)
    sc = D ** -0.5
    f = mx.fast.scaled_dot_product_attention
    close(f(q, k, v, scale=sc), ref_sdpa(qn, kn, vn, sc), dtype, 3)
    sinks = to_mx(rng.standard_normal(Nq), dtype)
    close(f(q, k, v, scale=sc, sinks=sinks), ref_sdpa(qn, kn, vn, sc, sinks=to_np(sinks)),
          dtype, 3)


DECODE = [
    # B, Nq, Nkv, Tq, Tk, D, Dv, bthd
    (1, 8, 8, 1, 3000, 128, 128, False),
    (2, 8, 2, 3, 2333, 128, 64, True),   # GQA, several queries, Dv < D, strided views
    (1, 4, 1, 4, 700, 64, 64, False),
    (1, 2, 2, 2, 1, 64, 64, False),      # causal: the first query sees no key
]


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("shape", DECODE)
def test_sdpa_decode_splits(rng, dtype, shape):
    B, Nq, Nkv, Tq, Tk, D, Dv, bthd = shape
    q, k, v = inputs(rng, B, Nq, Nkv, Tq, Tk, D, Dv, dtype, bthd)
    qn, kn, vn = to_np(q), to_np(k), to_np(v)
    sc = D ** -0.5
    hid = FINFO_MIN[dtype]
    f = mx.fast.scaled_dot_product_attention
    close(f(q, k, v, scale=sc), ref_sdpa(qn, kn, vn, sc), dtype, 3)
    close(f(q, k, v, scale=sc, mask="causal"), ref_sdpa(qn, kn, vn, sc, causal=True, hidden=hid),
          dtype, 3)
    bm = rng.random((B, Nq, Tq, Tk)) > 0.5
    close(f(q, k, v, scale=sc, mask=mx.array(bm)), ref_sdpa(qn, kn, vn, sc, mask=bm, hidden=hid),
          dtype, 3)
    am = to_mx(rng.standard_normal((Tq, Tk)), dtype)
    sinks = to_mx(rng.standard_normal(Nq), mx.float32)
    close(f(q, k, v, scale=sc, mask=am, sinks=sinks.astype(dtype)),
          ref_sdpa(qn, kn, vn, sc, mask=to_np(am), sinks=to_np(sinks.astype(dtype))), dtype, 3)
