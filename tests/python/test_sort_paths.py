"""The CPU sort's separate paths against NumPy's stable sort: short rows of every length up to
past the vector networks' limit (many rows at once), long rows that take the top-digit pass
(even and skewed key distributions, 32- and 64-bit keys, key+index pairs), and the same
checks in child processes on one thread and without the vector networks."""
import os
import subprocess
import sys

import numpy as np
import pytest

import mlx.core as mx

REAL = [mx.bool_, mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32,
        mx.int64, mx.float16, mx.float32, mx.float64, mx.bfloat16]
NP = {mx.bool_: np.bool_, mx.uint8: np.uint8, mx.uint16: np.uint16, mx.uint32: np.uint32,
      mx.uint64: np.uint64, mx.int8: np.int8, mx.int16: np.int16, mx.int32: np.int32,
      mx.int64: np.int64, mx.float16: np.float16, mx.float32: np.float32,
      mx.float64: np.float64, mx.bfloat16: np.float32}


def values(rng, shape, dt, ties=False):
    """Random values of dt (exact in it), with NaN, +-inf, -0.0 and 0.0 among floats; ties:
    few distinct values, so stability shows."""
    t = NP[dt]
    if dt == mx.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if ties:
        x = rng.integers(0, 5, shape).astype(t)
    elif np.issubdtype(t, np.integer):
        info = np.iinfo(t)
        x = rng.integers(info.min, info.max, shape, dtype=t, endpoint=True)
    else:
        x = (rng.standard_normal(shape) * 100).astype(t)
        if dt == mx.bfloat16:
            x = (x.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    if np.issubdtype(t, np.floating):
        flat = x.reshape(-1)
        n = flat.size
        for k, v in enumerate([np.nan, np.inf, -np.inf, -0.0, 0.0, -np.nan]):
            flat[k::7 + k] = v if n > 7 else flat[k::7 + k]
    return x


def mx_of(x, dt):
    return mx.array(x, dtype=mx.float64) if dt == mx.float64 else mx.array(x).astype(dt)


def bits(x):
    x = np.ascontiguousarray(x)
    return x.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


def check(x, dt, axis=-1):
    a = mx_of(x, dt)
    ref_i = np.argsort(x, axis=axis, kind="stable")
    np.testing.assert_array_equal(np.array(mx.argsort(a, axis=axis)), ref_i)
    got = mx.sort(a, axis=axis)
    got = np.array(got.astype(mx.float32)) if dt == mx.bfloat16 else np.array(got)
    want = np.take_along_axis(x, ref_i, axis)
    if dt == mx.bfloat16:  # NaNs as the bfloat16 input holds them
        want = np.array(mx.array(want).astype(mx.bfloat16).astype(mx.float32))
    np.testing.assert_array_equal(bits(got), bits(want))


@pytest.mark.parametrize("dt", REAL)
def test_short_rows_every_length(rng, dt):
    for n in list(range(1, 34)) + [47, 63, 64, 65, 100, 127, 128, 129, 200, 255, 256, 257, 300,
                                   511, 512, 513, 1000, 1024, 1025]:
        for ties in [False, True]:
            check(values(rng, (5, n), dt, ties), dt)


@pytest.mark.parametrize("dt", [mx.float32, mx.int32, mx.uint32, mx.float64, mx.int64, mx.float16])
def test_many_short_rows_and_strided_axes(rng, dt):
    x = values(rng, (3000, 100), dt)
    check(x, dt)
    check(x, dt, axis=0)  # rows of 3000 along a strided axis
    check(np.ascontiguousarray(x[:, :64].T), dt, axis=0)
    a = mx_of(x, dt)[::3, 1::2]  # sliced rows
    ref = x[::3, 1::2]
    np.testing.assert_array_equal(np.array(mx.argsort(a, axis=-1)), np.argsort(ref, -1, kind="stable"))


@pytest.mark.parametrize("dt", [mx.float32, mx.int32, mx.uint32, mx.float64, mx.int64, mx.uint64,
                                mx.float16, mx.bfloat16])
def test_long_rows_top_digit_pass(rng, dt):
    n = 300001
    check(values(rng, n, dt), dt)
    check(values(rng, n, dt, ties=True), dt)  # one bucket: the plain LSD path
    if np.issubdtype(NP[dt], np.floating):
        x = np.abs(values(rng, n, dt))  # half the buckets empty
        check(x, dt)
        y = (rng.random(n) + 1.0).astype(NP[dt])  # [1, 2): few top digits, large buckets
        if dt == mx.bfloat16:
            y = (y.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
        check(y, dt)


def test_long_rows_skewed_buckets(rng):
    n = 400000
    x = rng.standard_normal(n).astype(np.float32)
    x[: n // 2] = 3.0  # one bucket holds half the row
    rng.shuffle(x)
    check(x, mx.float32)
    z = rng.integers(0, 1000, n).astype(np.int32)
    z[::5] = -(2**31)
    check(z, mx.int32)


SCRIPT = r"""
import numpy as np, mlx.core as mx
rng = np.random.default_rng(7)
for shape in [(2000, 100), (50, 256), (300, 17), (40, 1000), (400000,)]:
    for dt in [mx.float32, mx.int64, mx.float64, mx.int32]:
        x = rng.standard_normal(shape) * 1000
        x = x.astype({mx.float32: np.float32, mx.int64: np.int64, mx.float64: np.float64,
                      mx.int32: np.int32}[dt])
        if dt in (mx.float32, mx.float64):
            x.reshape(-1)[::13] = np.nan
            x.reshape(-1)[1::11] = -0.0
        a = mx.array(x, dtype=dt)
        i = np.argsort(x, axis=-1, kind="stable")
        assert np.array_equal(np.array(mx.argsort(a)), i), (shape, dt)
        s = np.array(mx.sort(a))
        w = np.take_along_axis(x, i, -1)
        assert np.array_equal(s.view(np.uint8), w.view(np.uint8)), (shape, dt)
        if len(shape) == 1:
            k = shape[0] // 3
            j = np.array(mx.argpartition(a, k)).astype(np.int64)
            assert np.array_equal(np.sort(j), np.arange(shape[0])), (shape, dt)
            assert x[j[k]] == x[i[k]] or (np.isnan(x[j[k]]) and np.isnan(x[i[k]])), (shape, dt)
print("ok")
"""


@pytest.mark.parametrize("env", [{"MLX_NUM_THREADS": "1"}, {"MLX_VMATH_ISA": "baseline"},
                                 {"MLX_VMATH_ISA": "avx2"}])
def test_one_thread_and_no_vector_networks(env):
    e = dict(os.environ, **env)
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=e, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def order_key(x):
    """Ranks in MLX's order as float64 (NaN last; -0.0 equal to 0.0)."""
    f = x.astype(np.float64)
    return np.where(np.isnan(f), np.inf, f), np.isnan(f)


@pytest.mark.parametrize("dt", [mx.float32, mx.int32, mx.uint32, mx.uint8, mx.float64, mx.int64,
                                mx.float16, mx.bfloat16])
def test_long_partitions(rng, dt):
    n = 150001
    for ties in [False, True]:
        x = values(rng, n, dt, ties)
        a = mx_of(x, dt)
        held = np.array(a.astype(mx.float32)) if dt == mx.bfloat16 else x
        xv, xn = order_key(held)
        srt = np.lexsort((xv, xn))  # NaNs after everything, by value otherwise
        for kth in [0, 1, 777, n // 2, n - 2, n - 1]:
            i = np.array(mx.argpartition(a, kth)).astype(np.int64)
            np.testing.assert_array_equal(np.sort(i), np.arange(n))
            k, kn = xv[i[kth]], xn[i[kth]]
            assert k == xv[srt[kth]] and kn == xn[srt[kth]]
            before, after = i[:kth], i[kth + 1:]
            assert ((xn[before] < kn) | ((xn[before] == kn) & (xv[before] <= k))).all()
            assert ((xn[after] > kn) | ((xn[after] == kn) & (xv[after] >= k))).all()
            p = mx.partition(a, kth)
            p = np.array(p.astype(mx.float32)) if dt == mx.bfloat16 else np.array(p)
            pv, pn = order_key(p)
            assert pv[kth] == k and pn[kth] == kn
            assert ((pn[:kth] < kn) | ((pn[:kth] == kn) & (pv[:kth] <= k))).all()
            assert ((pn[kth + 1:] > kn) | ((pn[kth + 1:] == kn) & (pv[kth + 1:] >= k))).all()
            np.testing.assert_array_equal(np.sort(bits(p)), np.sort(bits(held)))
            np.testing.assert_array_equal(bits(p), bits(held[i]))  # partition == argpartition
