"""GPU speed table (issue: CUDA backend): ours vs PyTorch on the same GPU, one run.

    python benchmarks/gpu_speed.py [--quick]

Prints the device-to-device copy bandwidth, then for each case our median time, PyTorch's,
the ratio torch/ours (>1 means we are faster) and our fraction of the copy bandwidth where
the case is memory-bound. Every timed run of ours ends in mx.synchronize(); torch's in
torch.cuda.synchronize().
"""
import argparse
import statistics
import time

try:  # imported before mlx.core: importing torch after our extension crashes (open bug)
    import torch
except ImportError as e:  # a peer, never a dependency
    torch = None
    TORCH_ABSENT = f"absent: {e}"

import mlx.core as mx


def bench(fn, sync, warmup=3, repeat=10):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ours_sync():
    mx.synchronize()


def torch_sync():
    torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    args = ap.parse_args()
    assert mx.default_device() == mx.gpu, "needs a GPU"
    n = 2**24 if args.quick else 2**28
    mm = 2048 if args.quick else 8192

    # measured copy bandwidth (torch), bytes read + written
    bw = None
    if torch is not None:
        t = torch.empty(n, dtype=torch.float32, device="cuda")
        u = torch.empty_like(t)
        dt = bench(lambda: u.copy_(t), torch_sync)
        bw = 2 * n * 4 / dt
        del t, u
    print(f"device: {mx.device_info().get('device_name', '?')}; copy bandwidth "
          f"{bw / 1e9:.0f} GB/s (torch copy_)" if bw else "copy bandwidth: torch absent")

    print(f"{'case':40s} {'ours':>12s} {'torch':>12s} {'torch/ours':>12s} {'of copy bw':>10s}",
          flush=True)

    def case(name, ours, theirs, nbytes=None):
        try:
            to = bench(ours, ours_sync)
        except RuntimeError as e:  # a kernel not there yet: say so, keep going
            print(f"{name:40s} absent: {e}", flush=True)
            return
        tt = bench(theirs, torch_sync) if torch is not None else None
        frac = f"{nbytes / to / bw * 100:5.1f}%" if nbytes and bw else "   -  "
        ratio = f"{tt / to:6.2f}" if tt else TORCH_ABSENT
        ts = f"{tt * 1e3:9.3f} ms" if tt else "      -     "
        print(f"{name:40s} {to * 1e3:9.3f} ms {ts} {ratio:>12s} {frac:>10s}", flush=True)

    # elementwise and reductions over n float32
    x = mx.random.normal((n,)); y = mx.random.normal((n,)); mx.eval(x, y)
    tx = torch.randn(n, device="cuda") if torch else None
    ty = torch.randn(n, device="cuda") if torch else None
    case(f"add f32 n=2^{n.bit_length() - 1}", lambda: mx.eval(x + y), lambda: tx + ty, 3 * n * 4)
    case(f"exp f32 n=2^{n.bit_length() - 1}", lambda: mx.eval(mx.exp(x)), lambda: torch.exp(tx), 2 * n * 4)
    case(f"sum f32 n=2^{n.bit_length() - 1}", lambda: mx.eval(x.sum()), lambda: tx.sum(), n * 4)
    xr = x.reshape(n // 4096, 4096); txr = tx.reshape(n // 4096, 4096) if torch else None
    case("row sum (n/4096, 4096)", lambda: mx.eval(xr.sum(axis=1)), lambda: txr.sum(dim=1), n * 4)
    case("col sum (n/4096, 4096)", lambda: mx.eval(xr.sum(axis=0)), lambda: txr.sum(dim=0), n * 4)
    del x, y, xr, tx, ty, txr

    # matmul
    for dt_name, mdt, tdt in (("bf16", mx.bfloat16, "bfloat16"), ("f32", mx.float32, "float32")):
        a = mx.random.normal((mm, mm)).astype(mdt); b = mx.random.normal((mm, mm)).astype(mdt)
        mx.eval(a, b)
        ta = torch.randn(mm, mm, device="cuda", dtype=getattr(torch, tdt)) if torch else None
        tb = torch.randn(mm, mm, device="cuda", dtype=getattr(torch, tdt)) if torch else None
        if torch:
            torch.backends.cuda.matmul.allow_tf32 = False
        case(f"matmul {dt_name} {mm}^3", lambda: mx.eval(a @ b), lambda: ta @ tb)
        del a, b, ta, tb

    # softmax over rows, bf16
    if hasattr(mx, "softmax"):
        s = mx.random.normal((mm, mm)).astype(mx.bfloat16); mx.eval(s)
        ts = torch.randn(mm, mm, device="cuda", dtype=torch.bfloat16) if torch else None
        case(f"softmax bf16 ({mm},{mm}) rows", lambda: mx.eval(mx.softmax(s, axis=-1)),
             lambda: torch.softmax(ts, dim=-1), 2 * mm * mm * 2)
    else:
        print("softmax bf16: absent (no mx.softmax)")

    # launch overhead: 1000 small dependent ops through the Python API
    a = mx.ones((16,)); mx.eval(a)
    ta = torch.ones(16, device="cuda") if torch else None

    def small_ours():  # lazy, as MLX code runs: 1000 nodes, one eval, 1000 kernel launches
        z = a
        for _ in range(1000):
            z = z + 1.0
        mx.eval(z)

    def small_torch():
        z = ta
        for _ in range(1000):
            z = z + 1.0

    case("1000 small adds (launch overhead)", small_ours, small_torch)

    # fixed cost of one evaluation: launch, completion, back to the caller
    def eval_ours():
        for _ in range(100):
            mx.eval(a + 1.0)

    def eval_torch():
        for _ in range(100):
            ta + 1.0
            torch.cuda.synchronize()

    case("100 x (small add, eval, wait)", eval_ours, eval_torch)
    case("100 x sum(16).item()", lambda: [a.sum().item() for _ in range(100)],
         lambda: [ta.sum().item() for _ in range(100)])



if __name__ == "__main__":
    main()
