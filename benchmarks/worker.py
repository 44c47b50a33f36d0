"""Times the cases for one framework in this interpreter and prints one JSON object (case name
-> {"seconds": median} or {"error": text}) on the last line of stdout:

    python -m benchmarks.worker FRAMEWORK [--repeat N] [--warmup N] [--filter TEXT]

FRAMEWORK is ours, mlx (the same MLX-API factories, run where `import mlx.core` is Apple's
MLX), numpy or torch. The runner (python -m benchmarks) starts it inside each peer's own
virtual environment, so no two MLX builds ever share a process."""
import argparse
import json
import statistics
import sys
import time


def time_one(factory, warmup, repeat):
    """Median seconds of `repeat` timed runs after `warmup` untimed ones."""
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


def versions(framework):
    if framework in ("ours", "mlx"):
        import mlx.core as mx
        return f"mlx {mx.__version__}"
    if framework == "numpy":
        import numpy as np
        return f"numpy {np.__version__}"
    import torch
    return f"torch {torch.__version__}"


def run_cases(framework, cases, warmup, repeat, device=None):
    if device and framework in ("ours", "mlx"):
        import mlx.core as mx
        mx.set_default_device(mx.gpu if device == "gpu" else mx.cpu)
    out = {"_version": versions(framework)}
    for case in cases:
        factory = case.factory(framework)
        if factory is None:
            continue
        try:
            out[case.name] = {"seconds": time_one(factory, warmup, repeat)}
        except Exception as e:  # a missing op or an unsupported case must not stop the rest
            out[case.name] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    p.add_argument("framework", choices=["ours", "mlx", "numpy", "torch"])
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--filter", default="")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None)
    a = p.parse_args(argv)
    from benchmarks.cases import CASES
    cases = [c for c in CASES if a.filter in c.name]
    print(json.dumps(run_cases(a.framework, cases, a.warmup, a.repeat, a.device)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
