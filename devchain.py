import os, time, statistics
import mlx.core as mx
def chain(x):
    y = mx.exp(x) * 0.5 + 1.0
    y = mx.sqrt(mx.abs(y)) * 3.0 - x
    return mx.tanh(y)
cc = mx.compile(chain)
for n in (10**6, 10**7, 2**26):
    x = mx.random.normal((n,)); mx.eval(x)
    row = [n]
    for f in (chain, cc):
        for _ in range(3): mx.eval(f(x))
        mx.synchronize(); ts = []
        for _ in range(20):
            t = time.perf_counter(); mx.eval(f(x)); mx.synchronize(); ts.append(time.perf_counter() - t)
        row.append(statistics.median(ts) * 1e3)
    same = mx.array_equal(chain(x), cc(x)).item()
    print(os.environ.get("MLX_CUDA_JIT", "jit"), "n=%d eager %.3f ms compiled %.3f ms bitexact=%s" % (row[0], row[1], row[2], same))
