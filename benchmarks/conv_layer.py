"""conv_layer.py: a ResNet-style convolution layer (batch 8, 56x56x64 -> 64, 3x3, stride 1,
padding 1, float32) forward and backward: `python -m benchmarks.conv_layer [--repeat N]`.
Prints the minimum and median of the timed runs for mlx.core and, when importable, PyTorch
on the CPU (same threads) as a peer."""
import argparse
import statistics
import time

import mlx.core as mx


def timeit(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts) * 1e3, statistics.median(ts) * 1e3


def ours(shape_x, shape_w):
    x = mx.random.normal(shape_x, key=mx.random.key(0))
    w = mx.random.normal(shape_w, key=mx.random.key(1)) * 0.05
    c = mx.random.normal(shape_x[:3] + (shape_w[0],), key=mx.random.key(2))
    mx.eval(x, w, c)

    def loss(a, b):
        return (mx.conv2d(a, b, padding=1) * c).sum()

    vg = mx.value_and_grad(loss, argnums=(0, 1))
    return {"forward": lambda: mx.eval(mx.conv2d(x, w, padding=1)),
            "forward+backward": lambda: mx.eval(vg(x, w))}


def torch_cases(shape_x, shape_w, threads):
    import torch
    torch.set_num_threads(threads)
    n, h, wd, ci = shape_x
    x = torch.randn(n, ci, h, wd).contiguous(memory_format=torch.channels_last)
    w = (torch.randn(shape_w[0], ci, 3, 3) * 0.05).contiguous(memory_format=torch.channels_last)
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    c = torch.randn(n, shape_w[0], h, wd).contiguous(memory_format=torch.channels_last)

    def fb():
        xg.grad = wg.grad = None
        (torch.nn.functional.conv2d(xg, wg, padding=1) * c).sum().backward()

    with torch.no_grad():
        fwd = lambda: torch.nn.functional.conv2d(x, w, padding=1)
        return {"forward": fwd, "forward+backward": fb}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    a = p.parse_args()
    sx, sw = (8, 56, 56, 64), (64, 3, 3, 64)
    print(f"conv2d {sx} * {sw}, stride 1, padding 1, float32 (min / median of {a.repeat}, ms)")
    peers = {}
    try:
        peers = torch_cases(sx, sw, a.threads)
    except ImportError as e:
        print(f"torch: absent ({e})")
    for name, fn in ours(sx, sw).items():
        lo, med = timeit(fn, a.warmup, a.repeat)
        line = f"{name:<18} ours {lo:8.1f} / {med:8.1f}"
        if name in peers:
            plo, pmed = timeit(peers[name], a.warmup, a.repeat)
            line += f"   torch {plo:8.1f} / {pmed:8.1f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
