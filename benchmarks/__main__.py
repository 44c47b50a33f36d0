"""Benchmark runner: `python -m benchmarks [--repeat N] [--filter TEXT] [--device cpu|gpu]`.

Each case times our mlx.core against peers (NumPy for now): a warm-up, then the median of
`--repeat` timed runs. Every timed run of ours ends in evaluation (mx.eval), so lazy work is
counted. A case may have a setup that runs untimed before each repeat (used to build a graph
whose evaluation alone is timed). A peer that cannot run prints "absent: <reason>".
"""

import argparse
import statistics
import sys
import time

try:
    import numpy as np
except ImportError as e:  # NumPy is a peer, not a requirement
    np = None
    NUMPY_ABSENT = f"absent: numpy not importable ({e})"

import mlx.core as mx

from .fast_cases import fast_cases


class Case:
    """One benchmark: `ours` and each peer are zero-argument callables made by a factory.

    A factory returns (setup, run): setup() runs untimed before each timed run and its result
    is passed to run(state); setup may be None. `per` divides the time (ops in a loop),
    `unit` is "us" or "ms".
    """

    def __init__(self, name, shape, ours, numpy=None, per=1, unit="ms"):
        self.name, self.shape, self.ours, self.numpy = name, shape, ours, numpy
        self.per, self.unit = per, unit


def time_one(factory, warmup, repeat):
    setup, run = factory()
    for _ in range(warmup):
        run(setup() if setup else None)
    times = []
    for _ in range(repeat):
        state = setup() if setup else None
        t0 = time.perf_counter()
        run(state)
        times.append(time.perf_counter() - t0)
        del state
    return statistics.median(times)


def fmt(seconds, case):
    value = seconds / case.per * (1e6 if case.unit == "us" else 1e3)
    return f"{value:.3f} {case.unit}"


# ---- cases ----
SMALL = (4,)
N_LAZY = 10000
CHAIN = 1000
N_ELEM = 10**6
MM = 512


def f32(shape, seed):
    """Evaluated float32 normal data."""
    a = mx.random.normal(shape, key=mx.random.key(seed))
    mx.eval(a)
    return a


def lazy_op_ours():
    a, b = f32(SMALL, 0), f32(SMALL, 1)

    def run(_):
        for _ in range(N_LAZY):
            mx.add(a, b)  # builds one node; the result is dropped unevaluated

    return None, run


def lazy_op_numpy():
    a, b = np.ones(SMALL, np.float32), np.ones(SMALL, np.float32)

    def run(_):  # NumPy computes at once: the cost of one small eager op
        for _ in range(N_LAZY):
            np.add(a, b)

    return None, run


def chain_ours():
    a, b = f32(SMALL, 0), f32(SMALL, 1)

    def setup():
        x = a
        for _ in range(CHAIN):
            x = mx.add(x, b)
        return x

    def run(x):
        mx.eval(x)

    return setup, run


def chain_numpy():
    a, b = np.ones(SMALL, np.float32), np.ones(SMALL, np.float32)

    def run(_):
        x = a
        for _ in range(CHAIN):
            x = np.add(x, b)

    return None, run


def op_case(make_ours, make_numpy, shapes):
    """Factories timing one op on already evaluated float32 inputs of the given shapes."""

    def ours():
        args = [f32(s, i) for i, s in enumerate(shapes)]
        return None, lambda _: mx.eval(make_ours(*args))

    def numpy():
        rng = np.random.default_rng(0)
        args = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        return None, lambda _: make_numpy(*args)

    return ours, numpy


def _add(a, b):
    return a + b


def _matmul(a, b):
    return a @ b


add_ours, add_numpy = op_case(_add, _add, [(N_ELEM,), (N_ELEM,)])
sum_ours, sum_numpy = op_case(mx.sum, lambda a: a.sum(), [(N_ELEM,)])
mm_ours, mm_numpy = op_case(_matmul, _matmul, [(MM, MM), (MM, MM)])

CONV_X, CONV_W = (8, 56, 56, 64), (64, 3, 3, 64)  # a ResNet layer: 3x3, stride 1, padding 1


def conv_ours():
    x, w = f32(CONV_X, 0), f32(CONV_W, 1)
    return None, lambda _: mx.eval(mx.conv2d(x, w, padding=1))


def conv_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(CONV_X, dtype=np.float32)
    w = rng.standard_normal(CONV_W, dtype=np.float32)

    def run(_):  # sliding windows (N, H, W, C, KH, KW) contracted with (O, KH, KW, C)
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))
        np.tensordot(win, w, axes=([3, 4, 5], [3, 1, 2]))

    return None, run


def conv_grad_ours():
    x, w, c = f32(CONV_X, 0), f32(CONV_W, 1), f32(CONV_X[:3] + (CONV_W[0],), 2)
    vg = mx.value_and_grad(lambda a, b: (mx.conv2d(a, b, padding=1) * c).sum(), argnums=(0, 1))
    return None, lambda _: mx.eval(vg(x, w))


CASES = [
    Case("build lazy op (mx.add, no eval)", f"{SMALL} float32", lazy_op_ours, lazy_op_numpy,
         per=N_LAZY, unit="us"),
    Case(f"eval per node ({CHAIN} chained adds)", f"{SMALL} float32", chain_ours, chain_numpy,
         per=CHAIN, unit="us"),
    Case("add", f"({N_ELEM},) float32", add_ours, add_numpy),
    Case("sum", f"({N_ELEM},) float32", sum_ours, sum_numpy),
    Case("matmul", f"({MM},{MM})@({MM},{MM}) float32", mm_ours, mm_numpy),
    Case("conv2d 3x3 pad 1", f"{CONV_X}*{CONV_W[0]} float32", conv_ours, conv_numpy),
    Case("conv2d 3x3 forward+backward", f"{CONV_X}*{CONV_W[0]} float32", conv_grad_ours),
]
CASES += fast_cases(Case)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=10, help="timed runs per case (median taken)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs before timing")
    p.add_argument("--filter", default="", help="only cases whose name contains this text")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None, help="our default device")
    args = p.parse_args(argv)
    if args.device:
        try:
            mx.set_default_device(mx.gpu if args.device == "gpu" else mx.cpu)
        except ValueError as e:  # no GPU here (MLX_FAKE_GPU=1 gives the fake one)
            print(f"benchmarks: {e}", file=sys.stderr)
            return 2

    print(f"mlx.core on {mx.default_device()}; "
          f"numpy {np.__version__ if np else 'absent'}; median of {args.repeat} runs")
    header = f"{'case':<38} {'shape/dtype':<30} {'ours':>12} {'numpy':>12} {'numpy/ours':>10}"
    print(header)
    print("-" * len(header))
    for case in CASES:
        if args.filter not in case.name:
            continue
        try:
            ours = time_one(case.ours, args.warmup, args.repeat)
        except Exception as e:  # an op not written yet should not stop the other cases
            print(f"{case.name:<38} {case.shape:<30} failed: {type(e).__name__}: {e}")
            continue
        if np is None:
            peer, ratio = NUMPY_ABSENT, ""
        elif case.numpy is None:
            peer, ratio = "absent: no NumPy equivalent", ""
        else:
            t = time_one(case.numpy, args.warmup, args.repeat)
            peer, ratio = fmt(t, case), f"{t / ours:.2f}"
        print(f"{case.name:<38} {case.shape:<30} {fmt(ours, case):>12} {peer:>12} {ratio:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
