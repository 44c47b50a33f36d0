"""gpu_lm.py: GPU timings of the language-model kernels (quantized matmul decode and prefill,
attention decode) against their bandwidth bounds and bf16 cuBLAS through PyTorch.

Kernel times come from PyTorch's profiler (CUPTI sees every kernel of the process); wall
times are per operation over a batch of independent operations evaluated together. The
bandwidth is a measured device-to-device copy (bytes read plus written). PyTorch must be
imported before mlx.core. Run: PYTHONPATH=<build>/python python3 benchmarks/gpu_lm.py
"""
import time

import torch  # noqa: F401  (before mlx.core)
from torch.profiler import ProfilerActivity, profile

import mlx.core as mx


def copy_bandwidth():
    a = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    for _ in range(3):
        b.copy_(a)
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(10):
        b.copy_(a)
    e.record()
    torch.cuda.synchronize()
    return 2 * a.numel() * 10 / (s.elapsed_time(e) * 1e-3)


def rel_err(y, ref):
    y = y.astype(mx.float32)
    return (mx.linalg.norm(y - ref) / mx.linalg.norm(ref)).item()


def torch_ms(fn, reps=20):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(reps):
        fn()
    e.record()
    torch.cuda.synchronize()
    return s.elapsed_time(e) / reps


def mlx_times(make, reps=20):
    """(kernel ms per op from the profiler, wall ms per op over a batch of reps)."""
    for _ in range(3):
        mx.eval(make())
    mx.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            mx.eval(make())
        mx.synchronize()
    dev_us = 0.0
    per = []
    for ev in prof.key_averages():
        t = getattr(ev, "self_device_time_total", 0.0) or getattr(ev, "self_cuda_time_total", 0.0)
        dev_us += t
        if t > 0:
            per.append((t / reps, ev.key[:60]))
    for t, name in sorted(per, reverse=True)[:3]:
        print(f"    {t:8.1f} us  {name}")
    t0 = time.perf_counter()
    mx.eval([make() for _ in range(reps)])
    mx.synchronize()
    wall = (time.perf_counter() - t0) / reps * 1e3
    return dev_us / reps / 1e3, wall


def main():
    mx.set_default_device(mx.gpu)
    bw = copy_bandwidth()
    rows = [("copy bandwidth", f"{bw / 1e12:.2f} TB/s", "", "")]
    N, K, gs, bits = 14336, 4096, 64, 4
    w = (mx.random.normal((N, K)) * 0.02).astype(mx.bfloat16)
    wq, sc, bi = mx.quantize(w, group_size=gs, bits=bits)
    mx.eval(wq, sc, bi)
    qbytes = wq.nbytes + sc.nbytes + bi.nbytes
    for M in (1, 512):
        x = mx.random.normal((M, K)).astype(mx.bfloat16)
        mx.eval(x)
        y = mx.quantized_matmul(x, wq, sc, bi, transpose=True, group_size=gs, bits=bits)
        wd = mx.dequantize(wq, sc, bi, group_size=gs, bits=bits).astype(mx.float32)
        print(f"  qmm M={M} relative error vs float32: {rel_err(y, x.astype(mx.float32) @ wd.T):.2e}")
        ker, wall = mlx_times(
            lambda: mx.quantized_matmul(x, wq, sc, bi, transpose=True, group_size=gs, bits=bits))
        xt = torch.randn(M, K, dtype=torch.bfloat16, device="cuda")
        wt = torch.randn(N, K, dtype=torch.bfloat16, device="cuda")
        ref = torch_ms(lambda: xt @ wt.T)
        if M == 1:
            bound = (qbytes + x.nbytes + M * N * 2) / bw * 1e3
            rows.append((f"qmm 4b g64 bf16 M={M} N={N} K={K}", f"{ker * 1e3:.1f} us (wall {wall * 1e3:.1f})",
                         f"bound {bound * 1e3:.1f} us: {bound / ker:.0%}", f"cuBLAS bf16 {ref * 1e3:.1f} us"))
        else:
            rows.append((f"qmm 4b g64 bf16 M={M} N={N} K={K}", f"{ker * 1e3:.1f} us (wall {wall * 1e3:.1f})",
                         f"{ker / ref:.2f}x cuBLAS", f"cuBLAS bf16 {ref * 1e3:.1f} us"))
    H, T, D = 32, 4096, 128
    q = mx.random.normal((1, H, 1, D)).astype(mx.bfloat16)
    k = mx.random.normal((1, H, T, D)).astype(mx.bfloat16)
    v = mx.random.normal((1, H, T, D)).astype(mx.bfloat16)
    mx.eval(q, k, v)
    o = mx.fast.scaled_dot_product_attention(q, k, v, scale=D ** -0.5)
    qf, kf, vf = (t.astype(mx.float32) for t in (q, k, v))
    r = mx.softmax((qf * D ** -0.5) @ kf.swapaxes(-1, -2), axis=-1) @ vf
    print(f"  sdpa decode relative error vs float32: {rel_err(o, r):.2e}")
    ker, wall = mlx_times(lambda: mx.fast.scaled_dot_product_attention(q, k, v, scale=D ** -0.5))
    bound = (k.nbytes + v.nbytes) / bw * 1e3
    qt = torch.randn(1, H, 1, D, dtype=torch.bfloat16, device="cuda")
    kt = torch.randn(1, H, T, D, dtype=torch.bfloat16, device="cuda")
    vt = torch.randn(1, H, T, D, dtype=torch.bfloat16, device="cuda")
    ref = torch_ms(lambda: torch.nn.functional.scaled_dot_product_attention(qt, kt, vt))
    rows.append((f"sdpa decode bf16 H={H} T={T} D={D}", f"{ker * 1e3:.1f} us (wall {wall * 1e3:.1f})",
                 f"bound {bound * 1e3:.1f} us: {bound / ker:.0%}", f"torch sdpa {ref * 1e3:.1f} us"))
    Tq = 2048
    q2 = mx.random.normal((1, H, Tq, D)).astype(mx.bfloat16)
    k2 = mx.random.normal((1, H, Tq, D)).astype(mx.bfloat16)
    v2 = mx.random.normal((1, H, Tq, D)).astype(mx.bfloat16)
    mx.eval(q2, k2, v2)
    ker, wall = mlx_times(
        lambda: mx.fast.scaled_dot_product_attention(q2, k2, v2, scale=D ** -0.5, mask="causal"), reps=5)
    q2t = torch.randn(1, H, Tq, D, dtype=torch.bfloat16, device="cuda")
    ref = torch_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q2t, q2t, q2t, is_causal=True))
    rows.append((f"sdpa prefill causal bf16 H={H} T={Tq} D={D}", f"{ker * 1e3:.1f} us (wall {wall * 1e3:.1f})",
                 f"{ker / ref:.2f}x torch", f"torch sdpa {ref * 1e3:.1f} us"))
    am = (mx.random.normal((Tq, Tq)) * 0.5).astype(mx.bfloat16)
    bm = mx.random.uniform(shape=(Tq, Tq)) > 0.1
    mx.eval(am, bm)
    amt = torch.randn(Tq, Tq, dtype=torch.bfloat16, device="cuda") * 0.5
    bmt = torch.rand(Tq, Tq, device="cuda") > 0.1
    for name, m, mt in (("additive bf16", am, amt), ("boolean", bm, bmt)):
        ker, wall = mlx_times(
            lambda: mx.fast.scaled_dot_product_attention(q2, k2, v2, scale=D ** -0.5, mask=m), reps=5)
        ref = torch_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q2t, q2t, q2t,
                                                                                attn_mask=mt))
        rows.append((f"sdpa prefill {name} mask ({Tq},{Tq}) H={H} D={D}",
                     f"{ker * 1e3:.1f} us (wall {wall * 1e3:.1f})", f"{ker / ref:.2f}x torch",
                     f"torch sdpa {ref * 1e3:.1f} us"))
    for r in rows:
        print(" | ".join(r))


if __name__ == "__main__":
    main()
