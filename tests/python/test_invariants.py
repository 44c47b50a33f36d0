"""Invariant tests of the core, driven from Python (DESIGN section 10): deep graphs through
eval/free/grad/DOT, threads, flat memory over many iterations, errors raised inside compute
tasks, donation on the KV-cache update, and residency under the fake device backend."""
import gc
import io
import os
import resource
import subprocess
import sys
import threading

import numpy as np
import pytest

import mlx.core as mx


def test_deep_chain_eval_free_grad():
    x = mx.array(0.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    mx.eval(y)
    assert y.item() == 1_000_000.0
    del y

    def f(x):
        y = x
        for _ in range(100_000):
            y = y + x
        return y.sum()

    g = mx.grad(f)(mx.array([1.0, 2.0]))
    assert g.tolist() == [100_001.0, 100_001.0]


def test_deep_graph_dot_export():
    y = mx.array(1.0)
    for _ in range(50_000):
        y = y * 1.0
    buf = io.StringIO()
    mx.export_to_dot(buf, y)
    text = buf.getvalue()
    assert text.startswith("digraph") and text.count("Multiply") >= 50_000


def test_threads_build_and_evaluate():
    errors = []

    def work(i):
        try:
            a = mx.ones((32, 32)) * (i + 1)
            for _ in range(200):
                b = (a @ a).sum()
                mx.eval(b)
                assert b.item() == 32 * 32 * 32 * (i + 1) ** 2
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_stream_from_another_thread_raises():
    s = mx.new_stream(mx.cpu)
    out = []

    def work():
        try:
            mx.eval(mx.add(mx.array(1), mx.array(2), stream=s))
            out.append("no error")
        except RuntimeError as e:
            out.append(str(e))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out and out[0] != "no error"
    assert mx.add(mx.array(1), mx.array(2), stream=s).item() == 3


def _rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_flat_memory_over_many_iterations():
    x = mx.ones((64,)) + 1

    def step(x):
        return (mx.exp(x) * x).sum()

    g = mx.grad(step)
    for _ in range(1000):  # warm the allocator and the Python caches
        mx.eval(g(x))
    mx.synchronize()
    gc.collect()  # arrays in reference cycles left by earlier tests must not die mid-loop
    active = mx.get_active_memory()
    rss = _rss_kb()
    for _ in range(100_000):
        y = g(x)
        mx.eval(y)
        del y
    mx.synchronize()
    gc.collect()
    assert mx.get_active_memory() == active
    assert _rss_kb() - rss < 64 * 1024  # kB


def test_donation_kv_cache_peak_memory_flat():
    cache = mx.zeros((1, 8, 4096, 128))
    k = mx.ones((1, 8, 1, 128))
    mx.eval(cache, k)
    nbytes = cache.nbytes
    for i in range(10):
        cache[..., i : i + 1, :] = k
        mx.eval(cache)
    mx.reset_peak_memory()
    for i in range(10, 1000):
        cache[..., i : i + 1, :] = k
        mx.eval(cache)
    assert mx.get_peak_memory() < mx.get_active_memory() + nbytes // 4
    assert cache[0, 0, 999, 0].item() == 1.0 and cache[0, 0, 1000, 0].item() == 0.0


_FAKE_GPU_SCRIPT = r"""
import mlx.core as mx
import numpy as np
assert mx.default_device() == mx.gpu
x = np.arange(1000, dtype=np.float32)
mx.synchronize(mx.default_stream(mx.cpu))
base = mx.get_active_memory()
a = mx.array(x)
b = mx.add(a, a)            # GPU: a is uploaded, b lives on the device
mx.eval(b)
mid = mx.get_active_memory()
assert mid - base >= 3 * 4000, (mid, base)
assert np.array_equal(np.array(b), 2 * x)   # host mirror
assert mx.get_active_memory() - mid >= 4000
c = mx.add(b, b, stream=mx.cpu)             # CPU op on the mirror
assert np.array_equal(np.array(c), 4 * x)
del a, b, c
mx.synchronize(mx.default_stream(mx.cpu)); mx.synchronize()
assert mx.get_active_memory() == base, (mx.get_active_memory(), base)
print("ok")
"""


def test_residency_under_fake_device():
    env = dict(os.environ, MLX_FAKE_GPU="1")
    r = subprocess.run([sys.executable, "-c", _FAKE_GPU_SCRIPT], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


_TASK_ERROR_SCRIPT = r"""
import mlx.core as mx
a = mx.array([1.0] * 256)  # host data (mx.ones would be a broadcast scalar, passed by value)
b = mx.exp(a)            # runs on the fake GPU: uploading a allocates inside the task
mx._testing.inject_allocation_failures(1, in_tasks_only=True)
try:
    mx.eval(b)
    raise SystemExit("no error")
except RuntimeError as e:
    assert "[malloc] Unable to allocate" in str(e), str(e)
c = mx.exp(a)
assert abs(c[0].item() - 2.718281828) < 1e-5
print("ok")
"""


def test_error_inside_task_reaches_eval():
    env = dict(os.environ, MLX_FAKE_GPU="1")
    r = subprocess.run([sys.executable, "-c", _TASK_ERROR_SCRIPT], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr
