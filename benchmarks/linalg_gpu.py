"""GPU factorization table (issue: LU, QR, SVD, inverse, Cholesky and eig through cuSOLVER):
ours on the GPU stream, ours on the CPU stream (the only choice before the CUDA kernels) and
torch.linalg on the same GPU, for one 512 x 512 float32 matrix and a batch of 1000 8 x 8.

    python benchmarks/linalg_gpu.py [--repeat N]

Medians; every timed run of ours ends in mx.synchronize(), torch's in torch.cuda.synchronize().
"""
import argparse

try:  # imported before mlx.core: importing torch after our extension crashes (open bug)
    import torch
except ImportError as e:  # a peer, never a dependency
    torch = None
    TORCH_ABSENT = f"absent: {e}"

import numpy as np

import mlx.core as mx
from gpu_speed import bench  # this folder is on the path when run as a script


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    L = mx.linalg
    ops = {
        "inv": (lambda a, s: L.inv(a, stream=s), lambda t: torch.linalg.inv(t), False),
        "svd": (lambda a, s: L.svd(a, stream=s), lambda t: torch.linalg.svd(t), False),
        "qr": (lambda a, s: L.qr(a, stream=s), lambda t: torch.linalg.qr(t), False),
        "cholesky": (lambda a, s: L.cholesky(a, stream=s), lambda t: torch.linalg.cholesky(t), True),
        "eigh": (lambda a, s: L.eigh(a, stream=s), lambda t: torch.linalg.eigh(t), True),
    }
    rows = []
    print(f"device: {mx.device_info().get('device_name', '?')}", flush=True)
    for shape in ((512, 512), (1000, 8, 8)):
        n = shape[-1]
        x = rng.standard_normal(shape).astype(np.float32)
        x[..., np.arange(n), np.arange(n)] += n  # well conditioned
        p = (x @ np.swapaxes(x, -1, -2) / n + np.eye(n)).astype(np.float32)
        for name, (ours, theirs, needs_spd) in ops.items():
            src = p if needs_spd else x
            ag = mx.array(src)
            ac = mx.array(src)
            mx.eval(ag, ac)
            tg = bench(lambda: mx.eval(ours(ag, mx.gpu)), mx.synchronize, 2, args.repeat)
            tc = bench(lambda: mx.eval(ours(ac, mx.cpu)), mx.synchronize, 1,
                       max(3, args.repeat // 3))
            if torch is not None:
                tt_in = torch.from_numpy(src).cuda()
                tt = bench(lambda: theirs(tt_in), torch.cuda.synchronize, 2, args.repeat)
            else:
                tt = None
            rows.append((f"{name} {'x'.join(map(str, shape))} f32", tg, tc, tt))
            print(f"  {rows[-1][0]}: gpu {tg * 1e3:.3f} ms", flush=True)
    print(f"\n{'case':28s} {'ours gpu':>12s} {'ours cpu':>12s} {'torch gpu':>12s} "
          f"{'torch/ours':>10s}")
    for name, tg, tc, tt in rows:
        ts = f"{tt * 1e3:9.3f} ms" if tt else "      -     "
        ratio = f"{tt / tg:10.2f}" if tt else TORCH_ABSENT
        print(f"{name:28s} {tg * 1e3:9.3f} ms {tc * 1e3:9.3f} ms {ts} {ratio}")


if __name__ == "__main__":
    main()
