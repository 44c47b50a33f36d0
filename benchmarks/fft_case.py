"""The FFT benchmark case: a one-dimensional FFT of 2^20 complex64 values (ours vs numpy.fft)."""

import mlx.core as mx

try:
    import numpy as np
except ImportError:  # the runner reports NumPy as absent
    np = None

FFT_N = 1 << 20


def _data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal(FFT_N) + 1j * rng.standard_normal(FFT_N)).astype(np.complex64)


def fft_ours():
    if np is not None:
        x = mx.array(_data())
    else:
        x = mx.random.normal((FFT_N,), key=mx.random.key(0)).astype(mx.complex64)
    mx.eval(x)
    return None, lambda _: mx.eval(mx.fft.fft(x))


def fft_numpy():
    x = _data()
    return None, lambda _: np.fft.fft(x)
