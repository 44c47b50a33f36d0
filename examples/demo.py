"""A short tour of mlx.core: lazy arrays, a few ops, a gradient and random numbers.

Run it with scripts/demo.sh (which sets up and builds first) or, after that, with
`.venv/bin/python examples/demo.py`. It checks its own results and exits nonzero if one is wrong.
"""

import math
import sys

import mlx.core as mx

failures = []


def check(name, got, want, tol=1e-5):
    """Prints one result and records it as a failure if it is not within tol of want."""
    flat_got, flat_want = _flatten(got), _flatten(want)
    ok = len(flat_got) == len(flat_want) and all(
        abs(g - w) <= tol * max(1.0, abs(w)) for g, w in zip(flat_got, flat_want)
    )
    print(f"{name:<32} {got}" + ("" if ok else f"   <-- expected {want}"))
    if not ok:
        failures.append(name)


def _flatten(x):
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flatten(item)]
    return [float(x)]


def main():
    print("default device:", mx.default_device())

    # Arrays are lazy: these lines only record a graph; mx.eval (or .item/.tolist) computes it.
    a = mx.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = mx.ones((2, 3))
    c = (a + b) * a
    z = mx.exp(mx.zeros((3,)))
    mx.eval(c, z)
    check("(a + 1) * a", c.tolist(), [[2.0, 6.0, 12.0], [20.0, 30.0, 42.0]])
    check("exp(zeros(3))", z.tolist(), [1.0, 1.0, 1.0])
    check("sum(a)", mx.sum(a).item(), 21.0)
    check("sum(a, axis=0)", mx.sum(a, axis=0).tolist(), [5.0, 7.0, 9.0])
    check("a.reshape(3, 2)", a.reshape(3, 2).tolist(), [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    check("a.T", a.T.tolist(), [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])
    check("a @ a.T", (a @ a.T).tolist(), [[14.0, 32.0], [32.0, 77.0]])
    check("matmul(a.T, a)[0]", mx.matmul(a.T, a).tolist()[0], [17.0, 22.0, 27.0])

    # grad of f(x) = sum(x * exp(x)) is (1 + x) * exp(x).
    def f(x):
        return mx.sum(x * mx.exp(x))

    x = mx.array([0.0, 1.0, -1.0])
    check("grad(sum(x * exp(x)))", mx.grad(f)(x).tolist(), [1.0, 2.0 * math.e, 0.0], tol=1e-5)

    # Random numbers: a global seed, or explicit keys (the same key gives the same numbers).
    mx.random.seed(0)
    n = 10000
    r = mx.random.normal((n,))
    mean = mx.sum(r).item() / n
    var = mx.sum(r * r).item() / n - mean * mean
    print(f"{'normal: mean, variance':<32} {mean:.4f}, {var:.4f}")
    if not (abs(mean) < 0.05 and abs(var - 1.0) < 0.05):
        failures.append("random.normal moments")
    key = mx.random.key(42)
    u1 = mx.random.uniform(shape=(4,), key=key).tolist()
    u2 = mx.random.uniform(shape=(4,), key=key).tolist()
    print(f"{'uniform(key=42)':<32} {[round(v, 4) for v in u1]}")
    if u1 != u2 or not all(0.0 <= v < 1.0 for v in u1):
        failures.append("random.uniform with a key")

    # A small two-layer computation on random weights, evaluated at once.
    w1 = mx.random.normal((64, 32), key=mx.random.key(1))
    w2 = mx.random.normal((32, 1), key=mx.random.key(2))
    inputs = mx.random.normal((8, 64), key=mx.random.key(3))
    out = (inputs @ w1) @ w2
    mx.eval(out)
    check("shape of (8,64)@(64,32)@(32,1)", list(out.shape), [8, 1])

    if failures:
        print(f"demo: {len(failures)} wrong result(s): {', '.join(failures)}")
        return 1
    print("demo: all results as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
