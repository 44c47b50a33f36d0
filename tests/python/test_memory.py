"""The memory API (spec/python-api.md section 16, DESIGN section 4): active memory returns to
its old value after del + synchronize, peak and reset, the cache limit and clear_cache."""
import gc

import mlx.core as mx

MB = 1 << 20


def settle():
    gc.collect()
    mx.synchronize()


def test_active_memory_returns_after_free():
    settle()
    before = mx.get_active_memory()
    a = mx.ones((1024, 1024)) + 1  # 4 MiB (ones alone may be a broadcast scalar)
    mx.eval(a)
    assert mx.get_active_memory() >= before + 4 * MB
    b = a * 2 + 1
    mx.eval(b)
    del a, b
    settle()
    assert mx.get_active_memory() == before


def test_peak_memory_and_reset():
    settle()
    mx.reset_peak_memory()
    assert mx.get_peak_memory() == 0 or mx.get_peak_memory() <= mx.get_active_memory()
    a = mx.ones((512, 1024)) + 1  # 2 MiB
    mx.eval(a)
    assert mx.get_peak_memory() >= 2 * MB
    del a
    settle()
    assert mx.get_peak_memory() >= 2 * MB
    mx.reset_peak_memory()
    assert mx.get_peak_memory() <= mx.get_active_memory()


def test_cache_limit_zero_keeps_nothing():
    prev = mx.set_cache_limit(0)
    try:
        a = mx.ones((256, 1024)) + 1
        mx.eval(a)
        del a
        settle()
        assert mx.get_cache_memory() == 0
    finally:
        mx.set_cache_limit(prev)
    assert mx.set_cache_limit(prev) == prev


def test_clear_cache():
    a = mx.ones((256, 1024)) * 3
    mx.eval(a)
    del a
    settle()
    mx.clear_cache()
    assert mx.get_cache_memory() == 0


def test_limits_return_previous():
    prev = mx.set_memory_limit(1 << 40)
    try:
        assert mx.set_memory_limit(1 << 40) == 1 << 40
        assert (mx.ones((4,)) * 2).tolist() == [2.0] * 4
    finally:
        mx.set_memory_limit(prev)
    w = mx.set_wired_limit(0)
    assert mx.set_wired_limit(w) == 0
    assert isinstance(prev, int) and prev > 0
