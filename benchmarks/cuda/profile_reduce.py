"""Kernel times of our reductions and softmax next to PyTorch's, from PyTorch's profiler
(CUPTI sees every kernel of the process), per kernel, the mean over 20 runs.
Run: PYTHONPATH=<build>/python python3 benchmarks/cuda/profile_reduce.py"""
import torch  # before mlx.core
from torch.profiler import ProfilerActivity, profile

import mlx.core as mx


def kernels(fn, reps=20):
    for _ in range(3):
        fn()
    mx.synchronize()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            fn()
        mx.synchronize()
        torch.cuda.synchronize()
    out = []
    for ev in prof.key_averages():
        t = getattr(ev, "self_device_time_total", 0.0) or getattr(ev, "self_cuda_time_total", 0.0)
        if t > 0:
            out.append((t / reps, ev.key[:70]))
    return sorted(out, reverse=True)


def show(name, fn, nbytes, per_call=1):
    ks = [(t / per_call, k) for t, k in kernels(fn)]
    total = sum(t for t, _ in ks)
    print(f"{name:42s} {total:9.1f} us  {nbytes / total / 1e3:7.0f} GB/s", flush=True)
    for t, k in ks[:3]:
        print(f"      {t:9.1f} us  {k}")


def main():
    mx.set_default_device(mx.gpu)
    n = 2**28
    x = mx.random.normal((n,))
    mx.eval(x)
    tx = torch.randn(n, device="cuda")
    xr = x.reshape(n // 4096, 4096)
    txr = tx.view(n // 4096, 4096)
    show("ours sum f32 2^28", lambda: mx.eval(x.sum()), n * 4)
    show("torch sum f32 2^28", lambda: tx.sum(), n * 4)
    show("ours row sum (2^16, 4096)", lambda: mx.eval(xr.sum(axis=1)), n * 4)
    show("torch row sum", lambda: txr.sum(dim=1), n * 4)
    show("ours col sum (2^16, 4096)", lambda: mx.eval(xr.sum(axis=0)), n * 4)
    show("torch col sum", lambda: txr.sum(dim=0), n * 4)
    show("ours max f32 2^28", lambda: mx.eval(x.max()), n * 4)
    xc = x.reshape(n // 64, 64)
    show("ours col sum (2^22, 64)", lambda: mx.eval(xc.sum(axis=0)), n * 4)
    show("torch col sum (2^22, 64)", lambda: tx.view(n // 64, 64).sum(dim=0), n * 4)
    xb = x[: n // 2].astype(mx.bfloat16)
    mx.eval(xb)
    show("ours sum bf16 2^27", lambda: mx.eval(xb.sum()), n)
    show("ours col sum bf16 (2^15, 4096)", lambda: mx.eval(xb.reshape(-1, 4096).sum(axis=0)), n)
    del x, tx, xr, txr, xc, xb
    s = mx.random.normal((8192, 8192)).astype(mx.bfloat16)
    mx.eval(s)
    ts = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    nb = 2 * 8192 * 8192 * 2
    show("ours softmax bf16 (8192, 8192)", lambda: mx.eval(mx.softmax(s, axis=-1)), nb)
    show("torch softmax bf16 (8192, 8192)", lambda: torch.softmax(ts, dim=-1), nb)
    show("ours softmax bf16 (8192, 8192), 4 per eval",
         lambda: mx.eval([mx.softmax(s, axis=-1) for _ in range(4)]), nb, per_call=4)
    show("ours logsumexp bf16 (8192, 8192)", lambda: mx.eval(mx.logsumexp(s, axis=-1)), nb // 2)
    show("torch logsumexp bf16", lambda: torch.logsumexp(ts, dim=-1), nb // 2)
    f = mx.random.normal((1024, 4096))
    tf = torch.randn(1024, 4096, device="cuda")
    show("ours softmax f32 (1024, 4096)", lambda: mx.eval(mx.softmax(f, axis=-1)), 2 * 2**22 * 4)
    show("torch softmax f32 (1024, 4096)", lambda: torch.softmax(tf, dim=-1), 2 * 2**22 * 4)
    g = mx.random.normal((65536, 128)).astype(mx.bfloat16)
    tg = torch.randn(65536, 128, device="cuda", dtype=torch.bfloat16)
    show("ours softmax bf16 (65536, 128)", lambda: mx.eval(mx.softmax(g, axis=-1)), 2 * 2**23 * 2)
    show("torch softmax bf16 (65536, 128)", lambda: torch.softmax(tg, dim=-1), 2 * 2**23 * 2)
    h = mx.random.normal((256, 32768)).astype(mx.bfloat16)
    th = torch.randn(256, 32768, device="cuda", dtype=torch.bfloat16)
    show("ours softmax bf16 (256, 32768)", lambda: mx.eval(mx.softmax(h, axis=-1)), 2 * 2**23 * 2)
    show("torch softmax bf16 (256, 32768)", lambda: torch.softmax(th, dim=-1), 2 * 2**23 * 2)


if __name__ == "__main__":
    main()
