"""Benchmark cases of mx.fast: rms_norm on a (4096, 4096) float32 matrix and the attention
decode step (one query over 4096 keys, 32 heads of 128), each against the composed NumPy
reference of its definition (spec/semantics.md section 12)."""
try:
    import numpy as np
except ImportError:  # the runner prints the peer as absent
    np = None

import mlx.core as mx

NORM = (4096, 4096)
DECODE_Q, DECODE_KV = (1, 32, 1, 128), (1, 32, 4096, 128)


def _inputs(shapes, seed=0):
    rng = np.random.default_rng(seed) if np else None
    if rng is None:
        keys = mx.random.split(mx.random.key(seed), len(shapes))
        return [mx.random.normal(s, key=keys[i]) for i, s in enumerate(shapes)]
    return [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def rms_ours():
    x, w = (mx.array(a) for a in _inputs([NORM, NORM[-1:]]))
    mx.eval(x, w)
    return None, lambda _: mx.eval(mx.fast.rms_norm(x, w, 1e-5))


def rms_numpy():
    x, w = _inputs([NORM, NORM[-1:]])

    def run(_):
        x * (1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-5)) * w

    return None, run


def decode_ours():
    q, k, v = (mx.array(a) for a in _inputs([DECODE_Q, DECODE_KV, DECODE_KV]))
    mx.eval(q, k, v)
    scale = DECODE_Q[-1] ** -0.5
    return None, lambda _: mx.eval(mx.fast.scaled_dot_product_attention(q, k, v, scale=scale))


def decode_numpy():
    q, k, v = _inputs([DECODE_Q, DECODE_KV, DECODE_KV])
    scale = DECODE_Q[-1] ** -0.5

    def run(_):
        s = (q * scale) @ k.swapaxes(-1, -2)
        p = np.exp(s - s.max(-1, keepdims=True))
        (p / p.sum(-1, keepdims=True)) @ v

    return None, run


def fast_cases(case):
    """The cases, built with the runner's Case class."""
    return [
        case("fast.rms_norm", f"{NORM} float32", rms_ours, rms_numpy),
        case("fast.sdpa decode (1 query)", "q(1,32,1,128) kv(1,32,4096,128)", decode_ours,
             decode_numpy),
    ]
