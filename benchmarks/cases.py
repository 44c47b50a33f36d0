"""The benchmark cases: for each, a factory per framework returning (setup, run). `ours` is
written against the mlx.core API, so the same factory times Apple's MLX when this module is
imported in MLX's own environment (benchmarks/worker.py); `numpy` and `torch` are the other
peers. setup() runs untimed before each timed run and its result is passed to run(state);
every run of an MLX-API factory ends in mx.eval, every torch run in a synchronize on GPUs.
Every framework starts from the same seeded NumPy data (np_f32, np_ints)."""
import os

try:
    import mlx.core as mx  # ours, or Apple's MLX inside its own environment
except ImportError:  # the torch-only peer environment
    mx = None


class Case:
    """One benchmark row. `per` divides the time (ops timed in a loop); `unit` is us or ms."""

    def __init__(self, name, shape, ours=None, numpy=None, torch=None, per=1, unit="ms"):
        self.name, self.shape, self.ours, self.numpy, self.torch = name, shape, ours, numpy, torch
        self.per, self.unit = per, unit

    def factory(self, framework):
        return {"ours": self.ours, "mlx": self.ours, "numpy": self.numpy,
                "torch": self.torch}[framework]


# ---- helpers ----
SMALL = (4,)
N_LAZY = 10000
CHAIN = 1000
N_ELEM = 10**6
MM = 512


def np_f32(shape, seed, scale=1.0):
    """The seeded float32 normal data every framework's factory starts from."""
    import numpy as np
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def np_ints(low, high, n, seed):
    import numpy as np
    return np.random.default_rng(seed).integers(low, high, n).astype(np.int64)


def f32(shape, seed, scale=1.0):
    """np_f32's data as an evaluated MLX array."""
    a = mx.array(np_f32(shape, seed, scale))
    mx.eval(a)
    return a


class Torch:
    """The torch module, its device ("cpu" or "cuda") and a synchronize for timed runs."""

    def __init__(self):
        import torch
        self.t = torch
        self.dev = os.environ.get("BENCH_TORCH_DEVICE", "cpu")
        if self.dev == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)

    def sync(self):
        if self.dev == "cuda":
            self.t.cuda.synchronize()

    def f32(self, shape, seed, scale=1.0):
        return self.t.from_numpy(np_f32(shape, seed, scale)).to(self.dev)

    def run(self, fn):
        def timed(_):
            fn()
            self.sync()
        return timed


def op_case(shapes, ours_fn, numpy_fn=None, torch_fn=None):
    """Factories timing one op of already evaluated float32 inputs of the given shapes."""

    def ours():
        args = [f32(s, i) for i, s in enumerate(shapes)]
        return None, lambda _: mx.eval(ours_fn(*args))

    def numpy():
        args = [np_f32(s, i) for i, s in enumerate(shapes)]
        return None, lambda _: numpy_fn(*args)

    def torch():
        T = Torch()
        args = [T.f32(s, i) for i, s in enumerate(shapes)]  # no requires_grad: no autograd
        return None, T.run(lambda: torch_fn(T.t, *args))

    return dict(ours=ours, numpy=numpy if numpy_fn else None, torch=torch if torch_fn else None)


# ---- graph overheads ----
def lazy_op_ours():
    a, b = f32(SMALL, 0), f32(SMALL, 1)

    def run(_):
        for _ in range(N_LAZY):
            mx.add(a, b)  # builds one node; the result is dropped unevaluated

    return None, run


def lazy_op_numpy():
    import numpy as np
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

    return setup, lambda x: mx.eval(x)


def chain_numpy():
    import numpy as np
    a, b = np.ones(SMALL, np.float32), np.ones(SMALL, np.float32)

    def run(_):
        x = a
        for _ in range(CHAIN):
            x = np.add(x, b)

    return None, run


# ---- element-wise chains: eager and compiled ----
def _chain(m, x, y):
    """Eight element-wise ops (multiply, exp, add, abs, sqrt, multiply, subtract, tanh); m is
    mx, numpy or torch."""
    z = m.exp(x * 0.5) + y
    return m.tanh(m.sqrt(m.abs(z)) * y - x)


def compiled_chain_ours(n=None):
    n = n or N_ELEM
    x, y = f32((n,), 0), f32((n,), 1)
    fn = mx.compile(lambda a, b: _chain(mx, a, b))
    return None, lambda _: mx.eval(fn(x, y))


def chain8_ours(n=None):
    n = n or N_ELEM
    x, y = f32((n,), 0), f32((n,), 1)
    return None, lambda _: mx.eval(_chain(mx, x, y))


def chain8_numpy(n=None):
    import numpy as np
    n = n or N_ELEM
    x, y = np_f32((n,), 0), np_f32((n,), 1)
    return None, lambda _: _chain(np, x, y)


def chain8_torch(n=None):
    T = Torch()
    n = n or N_ELEM
    x, y = T.f32((n,), 0), T.f32((n,), 1)
    return None, T.run(lambda: _chain(T.t, x, y))


def compiled_chain_torch():
    T = Torch()
    x, y = T.f32((N_ELEM,), 0), T.f32((N_ELEM,), 1)
    return None, T.run(lambda: _chain(T.t, x, y))  # torch eager (torch.compile needs a compiler)


# ---- reductions, softmax, sort, gather/scatter ----
def _softmax_np(a):
    import numpy as np
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


N_ROWS, ROW = 10**5, 64


def gather_ours():
    table = f32((N_ROWS, ROW), 0)
    idx = mx.array(np_ints(0, N_ROWS, N_ROWS, 1))
    return None, lambda _: mx.eval(table[idx])


def gather_numpy():
    import numpy as np
    table = np_f32((N_ROWS, ROW), 0)
    idx = np_ints(0, N_ROWS, N_ROWS, 1)
    return None, lambda _: table[idx]


def gather_torch():
    T = Torch()
    table = T.f32((N_ROWS, ROW), 0)
    idx = T.t.from_numpy(np_ints(0, N_ROWS, N_ROWS, 1)).to(T.dev)
    return None, T.run(lambda: T.t.index_select(table, 0, idx))


def scatter_add_ours():
    base, upd = f32((N_ROWS, ROW), 0), f32((N_ROWS, ROW), 2)
    idx = mx.array(np_ints(0, N_ROWS, N_ROWS, 1))
    return None, lambda _: mx.eval(base.at[idx].add(upd))


def scatter_add_numpy():
    import numpy as np
    base, upd = np_f32((N_ROWS, ROW), 0), np_f32((N_ROWS, ROW), 2)
    idx = np_ints(0, N_ROWS, N_ROWS, 1)

    def run(_):
        out = base.copy()
        np.add.at(out, idx, upd)

    return None, run


def scatter_add_torch():
    T = Torch()
    base, upd = T.f32((N_ROWS, ROW), 0), T.f32((N_ROWS, ROW), 2)
    idx = T.t.from_numpy(np_ints(0, N_ROWS, N_ROWS, 1)).to(T.dev)
    return None, T.run(lambda: base.index_add(0, idx, upd))


def matmul_bf16_ours():
    a, b = f32((MM, MM), 0).astype(mx.bfloat16), f32((MM, MM), 1).astype(mx.bfloat16)
    mx.eval(a, b)
    return None, lambda _: mx.eval(a @ b)


def matmul_bf16_torch():
    T = Torch()
    a, b = T.f32((MM, MM), 0).bfloat16(), T.f32((MM, MM), 1).bfloat16()
    return None, T.run(lambda: a @ b)


# ---- convolution ----
CONV_X, CONV_W = (8, 56, 56, 64), (64, 3, 3, 64)  # a ResNet layer: 3x3, stride 1, padding 1


def conv_ours():
    x, w = f32(CONV_X, 0), f32(CONV_W, 1, 0.05)
    return None, lambda _: mx.eval(mx.conv2d(x, w, padding=1))


def conv_numpy():
    import numpy as np
    x, w = np_f32(CONV_X, 0), np_f32(CONV_W, 1, 0.05)

    def run(_):  # sliding windows (N, H, W, C, KH, KW) contracted with (O, KH, KW, C)
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))
        np.tensordot(win, w, axes=([3, 4, 5], [3, 1, 2]))

    return None, run


def _torch_conv_inputs(T):
    n, h, wd, ci = CONV_X
    cl = T.t.channels_last
    x = T.f32((n, ci, h, wd), 0).contiguous(memory_format=cl)
    w = T.f32((CONV_W[0], ci, 3, 3), 1, 0.05).contiguous(memory_format=cl)
    c = T.f32((n, CONV_W[0], h, wd), 2).contiguous(memory_format=cl)
    return x, w, c


def conv_torch():
    T = Torch()
    x, w, _ = _torch_conv_inputs(T)

    def fwd():
        with T.t.no_grad():
            T.t.nn.functional.conv2d(x, w, padding=1)

    return None, T.run(fwd)


def conv_grad_ours():
    x, w, c = f32(CONV_X, 0), f32(CONV_W, 1, 0.05), f32(CONV_X[:3] + (CONV_W[0],), 2)
    vg = mx.value_and_grad(lambda a, b: (mx.conv2d(a, b, padding=1) * c).sum(), argnums=(0, 1))
    return None, lambda _: mx.eval(vg(x, w))


def conv_grad_torch():
    T = Torch()
    x, w, c = _torch_conv_inputs(T)
    x.requires_grad_()
    w.requires_grad_()

    def fb():
        x.grad = w.grad = None
        (T.t.nn.functional.conv2d(x, w, padding=1) * c).sum().backward()

    return None, T.run(fb)


# ---- training steps ----
MLP_B, MLP_IN, MLP_H, MLP_OUT = 256, 784, 512, 10


def _mlp_loss():
    """The 2-layer MLP's weights and its cross-entropy loss of them (seeded data)."""
    w1, w2 = f32((MLP_IN, MLP_H), 0, 0.03), f32((MLP_H, MLP_OUT), 1, 0.04)
    x = f32((MLP_B, MLP_IN), 2)
    y = mx.array(np_ints(0, MLP_OUT, MLP_B, 3))

    def loss(a, b):
        logits = mx.maximum(x @ a, 0) @ b
        return (mx.logsumexp(logits, axis=-1) - mx.take_along_axis(
            logits, y[:, None], axis=-1)[:, 0]).mean()

    return loss, w1, w2


def mlp_grad_ours():
    loss, w1, w2 = _mlp_loss()
    vg = mx.value_and_grad(loss, argnums=(0, 1))
    return None, lambda _: mx.eval(vg(w1, w2))


def mlp_forward_ours():
    """The loss alone (the transformation issue's target: value_and_grad within 3x of it)."""
    loss, w1, w2 = _mlp_loss()
    return None, lambda _: mx.eval(loss(w1, w2))


def compiled_call_ours():
    """Calls of a compiled function already traced (no eval): the per-call overhead."""
    a = f32(SMALL, 0)
    fn = mx.compile(lambda t: t * 2 + 1)
    mx.eval(fn(a))

    def run(_):
        for _ in range(N_LAZY):
            fn(a)

    return None, run


def mlp_grad_torch():
    T = Torch()
    w1, w2 = T.f32((MLP_IN, MLP_H), 0, 0.03), T.f32((MLP_H, MLP_OUT), 1, 0.04)
    x = T.f32((MLP_B, MLP_IN), 2)
    y = T.t.from_numpy(np_ints(0, MLP_OUT, MLP_B, 3)).to(T.dev)
    w1.requires_grad_()
    w2.requires_grad_()

    def step():
        w1.grad = w2.grad = None
        logits = T.t.relu(x @ w1) @ w2
        T.t.nn.functional.cross_entropy(logits, y).backward()

    return None, T.run(step)


CNN_B = 128


def cnn_step_ours():
    import mlx.nn as nn
    import mlx.optimizers as optim

    class Net(nn.Module):  # the network of examples/train_fashion_mnist.py
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1 = nn.Linear(7 * 7 * 32, 128)
            self.fc2 = nn.Linear(128, 10)

        def __call__(self, x):
            x = self.pool(nn.relu(self.conv1(x)))
            x = self.pool(nn.relu(self.conv2(x)))
            return self.fc2(nn.relu(self.fc1(x.reshape(x.shape[0], -1))))

    mx.random.seed(0)
    model, opt = Net(), optim.Adam(learning_rate=1e-3)
    mx.eval(model.parameters())
    x = f32((CNN_B, 28, 28, 1), 1)
    y = mx.array(np_ints(0, 10, CNN_B, 2))
    state = [model.state, opt.state]

    def loss_fn(m, a, b):
        return nn.losses.cross_entropy(m(a), b, reduction="mean")

    def step(a, b):
        loss, grads = nn.value_and_grad(model, loss_fn)(model, a, b)
        opt.update(model, grads)
        return loss

    step = mx.compile(step, inputs=state, outputs=state)
    return None, lambda _: mx.eval(step(x, y), state)


def cnn_step_torch():
    T = Torch()
    nn = T.t.nn
    T.t.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(7 * 7 * 32, 128), nn.ReLU(),
                          nn.Linear(128, 10)).to(T.dev)
    opt = T.t.optim.Adam(model.parameters(), lr=1e-3)
    x = T.f32((CNN_B, 1, 28, 28), 1)
    y = T.t.from_numpy(np_ints(0, 10, CNN_B, 2)).to(T.dev)

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return None, T.run(step)


# ---- FFT, linear algebra ----
FFT_N = 2**20


def fft_ours():
    re, im = f32((FFT_N,), 0), f32((FFT_N,), 1)
    x = re + 1j * im
    mx.eval(x)
    return None, lambda _: mx.eval(mx.fft.fft(x))


def fft_numpy():
    import numpy as np
    x = (np_f32((FFT_N,), 0) + 1j * np_f32((FFT_N,), 1)).astype(np.complex64)
    return None, lambda _: np.fft.fft(x)


def fft_torch():
    T = Torch()
    x = T.t.complex(T.f32((FFT_N,), 0), T.f32((FFT_N,), 1))
    return None, T.run(lambda: T.t.fft.fft(x))


def _spd_np(n, seed):
    a = np_f32((n, n), seed)
    return a @ a.T / n + 2 * __import__("numpy").eye(n, dtype="float32")


def linalg_ours(name):
    def factory():
        a = mx.array(_spd_np(MM, 0))
        fn = {"inv": lambda: mx.linalg.inv(a, stream=mx.cpu),
              "svd": lambda: mx.linalg.svd(a, stream=mx.cpu)}[name]
        return None, lambda _: mx.eval(fn())
    return factory


def linalg_numpy(name):
    def factory():
        import numpy as np
        a = _spd_np(MM, 0)
        return None, lambda _: {"inv": np.linalg.inv, "svd": np.linalg.svd}[name](a)
    return factory


def linalg_torch(name):
    def factory():
        T = Torch()
        a = T.t.from_numpy(_spd_np(MM, 0)).to(T.dev)
        return None, T.run(lambda: {"inv": T.t.linalg.inv, "svd": T.t.linalg.svd}[name](a))
    return factory


# ---- language-model kernels ----
QM_N, QM_K = 14336, 4096


def qmm_ours(m, transpose=True):
    def factory():
        w = f32((QM_N, QM_K) if transpose else (QM_K, QM_N), 0, 0.02)
        wq, scales, biases = mx.quantize(w, group_size=64, bits=4)
        x = f32((m, QM_K), 1)
        mx.eval(wq, scales, biases)
        return None, lambda _: mx.eval(mx.quantized_matmul(
            x, wq, scales, biases, transpose=transpose, group_size=64, bits=4))
    return factory


def sdpa_ours():
    q = f32((1, 32, 1, 128), 0)
    k, v = f32((1, 32, 4096, 128), 1), f32((1, 32, 4096, 128), 2)
    return None, lambda _: mx.eval(mx.fast.scaled_dot_product_attention(q, k, v, scale=128**-0.5))


def sdpa_numpy():
    """The composed definition: scores, softmax, weighted sum."""
    import numpy as np
    q = np_f32((1, 32, 1, 128), 0)
    k, v = np_f32((1, 32, 4096, 128), 1), np_f32((1, 32, 4096, 128), 2)

    def run(_):
        s = (q * np.float32(128**-0.5)) @ k.swapaxes(-1, -2)
        p = np.exp(s - s.max(-1, keepdims=True))
        (p / p.sum(-1, keepdims=True)) @ v

    return None, run


def sdpa_torch():
    T = Torch()
    q = T.f32((1, 32, 1, 128), 0)
    k, v = T.f32((1, 32, 4096, 128), 1), T.f32((1, 32, 4096, 128), 2)
    return None, T.run(lambda: T.t.nn.functional.scaled_dot_product_attention(q, k, v))


def rms_norm_ours():
    x, w = f32((4096, 4096), 0), f32((4096,), 1)
    return None, lambda _: mx.eval(mx.fast.rms_norm(x, w, 1e-5))


def rms_norm_numpy():
    import numpy as np
    x, w = np_f32((4096, 4096), 0), np_f32((4096,), 1)
    return None, lambda _: x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w


def rms_norm_torch():
    T = Torch()
    x, w = T.f32((4096, 4096), 0), T.f32((4096,), 1)
    return None, T.run(lambda: T.t.nn.functional.rms_norm(x, (4096,), w, 1e-5))


# ---- sort, partition and per-row gathers of long and short rows ----
N_SORT, N_PART, AX = 10**7, 10**6, (1000, 1000)


def _sort_args(a):
    """Row-wise argsort indices of `a` (untimed setup): what take/put_along_axis index with."""
    import numpy as np
    return np.argsort(a, axis=-1, kind="stable")


def along_ours(put):
    a, v = f32(AX, 0), f32(AX, 1)
    idx = mx.argsort(a, axis=-1)
    mx.eval(idx)
    if put:
        return None, lambda _: mx.eval(mx.put_along_axis(a, idx, v, axis=-1))
    return None, lambda _: mx.eval(mx.take_along_axis(a, idx, axis=-1))


def along_numpy(put):
    import numpy as np
    a, v = np_f32(AX, 0), np_f32(AX, 1)
    idx = _sort_args(a)
    if put:
        def run(_):
            out = a.copy()
            np.put_along_axis(out, idx, v, axis=-1)
        return None, run
    return None, lambda _: np.take_along_axis(a, idx, axis=-1)


def along_torch(put):
    T = Torch()
    a, v = T.f32(AX, 0), T.f32(AX, 1)
    idx = T.t.from_numpy(_sort_args(np_f32(AX, 0))).to(T.dev)
    if put:
        return None, T.run(lambda: a.scatter(-1, idx, v))
    return None, T.run(lambda: T.t.gather(a, -1, idx))


def _add(a, b):
    return a + b


CASES = [
    Case("build lazy op (mx.add, no eval)", f"{SMALL} float32", lazy_op_ours, lazy_op_numpy,
         per=N_LAZY, unit="us"),
    Case(f"eval per node ({CHAIN} chained adds)", f"{SMALL} float32", chain_ours, chain_numpy,
         per=CHAIN, unit="us"),
    Case("add", f"({N_ELEM},) float32",
         **op_case([(N_ELEM,), (N_ELEM,)], _add, _add, lambda t, a, b: a + b)),
    Case("exp", f"({N_ELEM},) float32",
         **op_case([(N_ELEM,)], lambda a: mx.exp(a), lambda a: __import__("numpy").exp(a),
                   lambda t, a: t.exp(a))),
    Case("sum", f"({N_ELEM},) float32",
         **op_case([(N_ELEM,)], lambda a: mx.sum(a), lambda a: a.sum(), lambda t, a: a.sum())),
    Case("softmax last axis", "(1024,4096) float32",
         **op_case([(1024, 4096)], lambda a: mx.softmax(a, axis=-1), _softmax_np,
                   lambda t, a: t.softmax(a, -1))),
    Case("sort", f"({N_ELEM},) float32",
         **op_case([(N_ELEM,)], lambda a: mx.sort(a), lambda a: __import__("numpy").sort(a),
                   lambda t, a: t.sort(a))),
    Case("gather rows (take)", f"({N_ROWS},{ROW})[{N_ROWS}] float32", gather_ours,
         gather_numpy, gather_torch),
    Case("scatter-add rows (.at[].add)", f"({N_ROWS},{ROW}) float32", scatter_add_ours,
         scatter_add_numpy, scatter_add_torch),
    Case("8-op element-wise chain", f"({N_ELEM},) float32", chain8_ours, chain8_numpy,
         chain8_torch),
    Case("8-op chain, mx.compile", f"({N_ELEM},) float32", compiled_chain_ours, chain8_numpy,
         compiled_chain_torch),
    Case("matmul", f"({MM},{MM})@({MM},{MM}) float32",
         **op_case([(MM, MM), (MM, MM)], lambda a, b: a @ b, lambda a, b: a @ b,
                   lambda t, a, b: a @ b)),
    Case("matmul bf16", f"({MM},{MM})@({MM},{MM}) bfloat16", matmul_bf16_ours, None,
         matmul_bf16_torch),
    Case("conv2d 3x3 pad 1", f"{CONV_X}*{CONV_W[0]} float32", conv_ours, conv_numpy,
         conv_torch),
    Case("conv2d 3x3 forward+backward", f"{CONV_X}*{CONV_W[0]} float32", conv_grad_ours,
         None, conv_grad_torch),
    Case("MLP forward (loss only)", f"{MLP_B}x{MLP_IN}->{MLP_H}->{MLP_OUT}", mlp_forward_ours),
    Case("call compiled fn, traced (no eval)", f"{SMALL} float32", compiled_call_ours,
         per=N_LAZY, unit="us"),
    Case("MLP value_and_grad", f"{MLP_B}x{MLP_IN}->{MLP_H}->{MLP_OUT}", mlp_grad_ours, None,
         mlp_grad_torch),
    Case("CNN train step (demo network)", f"({CNN_B},28,28,1) Adam", cnn_step_ours, None,
         cnn_step_torch),
    Case("fft", f"({FFT_N},) complex64", fft_ours, fft_numpy, fft_torch),
    Case("linalg.inv", f"({MM},{MM}) float32", linalg_ours("inv"), linalg_numpy("inv"),
         linalg_torch("inv")),
    Case("linalg.svd", f"({MM},{MM}) float32", linalg_ours("svd"), linalg_numpy("svd"),
         linalg_torch("svd")),
    Case("fast.rms_norm", "(4096,4096) float32", rms_norm_ours, rms_norm_numpy, rms_norm_torch),
    Case("sdpa decode (1 query, 4096 keys)", "(1,32,*,128) float32", sdpa_ours, sdpa_numpy,
         sdpa_torch),
    Case("4-bit quantized_matmul decode", f"(1,{QM_K})x({QM_N},{QM_K}) g64", qmm_ours(1)),
    Case("4-bit quantized_matmul decode, transpose=False", f"(1,{QM_K})x({QM_K},{QM_N}) g64",
         qmm_ours(1, transpose=False)),
    Case("4-bit quantized_matmul prefill", f"(512,{QM_K})x({QM_N},{QM_K}) g64", qmm_ours(512)),
    Case("sort 10^7", f"({N_SORT},) float32",
         **op_case([(N_SORT,)], lambda a: mx.sort(a), lambda a: __import__("numpy").sort(a),
                   lambda t, a: t.sort(a))),
    Case("argsort", f"({N_ELEM},) float32",
         **op_case([(N_ELEM,)], lambda a: mx.argsort(a),
                   lambda a: __import__("numpy").argsort(a, kind="stable"),
                   lambda t, a: t.sort(a, stable=True)[1])),
    Case("sort short rows, last axis", "(10000,100) float32",
         **op_case([(10000, 100)], lambda a: mx.sort(a, axis=-1),
                   lambda a: __import__("numpy").sort(a, axis=-1), lambda t, a: t.sort(a, -1))),
    Case("sort along axis 0", f"{AX} float32",
         **op_case([AX], lambda a: mx.sort(a, axis=0),
                   lambda a: __import__("numpy").sort(a, axis=0), lambda t, a: t.sort(a, 0))),
    Case("take_along_axis (argsort idx)", f"{AX} float32", lambda: along_ours(False),
         lambda: along_numpy(False), lambda: along_torch(False)),
    Case("put_along_axis (argsort idx)", f"{AX} float32", lambda: along_ours(True), lambda: along_numpy(True),
         lambda: along_torch(True)),
    # torch has no partition; kthvalue selects the same element
    Case("partition kth=500000", f"({N_PART},) float32",
         **op_case([(N_PART,)], lambda a: mx.partition(a, N_PART // 2),
                   lambda a: __import__("numpy").partition(a, N_PART // 2),
                   lambda t, a: t.kthvalue(a, N_PART // 2 + 1))),
]


# ---- element-wise, reduction and float64 cases at 10^6 and 10^7 ----
N_BIG = 10**7


def op_case_f64(shapes, ours_fn, numpy_fn, torch_fn):
    """op_case's factories on float64 copies of the same seeded inputs."""
    import numpy as np

    def ours():
        # mx.array keeps float64 only when told: NumPy float64 becomes float32 by default
        args = [mx.array(np_f32(s, i).astype(np.float64), dtype=mx.float64)
                for i, s in enumerate(shapes)]
        mx.eval(*args)
        return None, lambda _: mx.eval(ours_fn(*args))

    def numpy():
        args = [np_f32(s, i).astype(np.float64) for i, s in enumerate(shapes)]
        return None, lambda _: numpy_fn(*args)

    def torch():
        T = Torch()
        args = [T.t.from_numpy(np_f32(s, i).astype(np.float64)).to(T.dev)
                for i, s in enumerate(shapes)]
        return None, T.run(lambda: torch_fn(T.t, *args))

    return dict(ours=ours, numpy=numpy, torch=torch)


CASES += [
    Case("tanh", f"({N_ELEM},) float32",
         **op_case([(N_ELEM,)], lambda a: mx.tanh(a), lambda a: __import__("numpy").tanh(a),
                   lambda t, a: t.tanh(a))),
    Case("8-op element-wise chain 10^7", f"({N_BIG},) float32", lambda: chain8_ours(N_BIG),
         lambda: chain8_numpy(N_BIG), lambda: chain8_torch(N_BIG)),
    Case("8-op chain 10^7, mx.compile", f"({N_BIG},) float32", lambda: compiled_chain_ours(N_BIG),
         lambda: chain8_numpy(N_BIG)),
    Case("add 10^7", f"({N_BIG},) float32",
         **op_case([(N_BIG,), (N_BIG,)], _add, _add, lambda t, a, b: a + b)),
    Case("exp 10^7", f"({N_BIG},) float32",
         **op_case([(N_BIG,)], lambda a: mx.exp(a), lambda a: __import__("numpy").exp(a),
                   lambda t, a: t.exp(a))),
    Case("sum 10^7", f"({N_BIG},) float32",
         **op_case([(N_BIG,)], lambda a: mx.sum(a), lambda a: a.sum(), lambda t, a: a.sum())),
    Case("add float64", f"({N_ELEM},) float64",
         **op_case_f64([(N_ELEM,), (N_ELEM,)], _add, _add, lambda t, a, b: a + b)),
    Case("exp float64", f"({N_ELEM},) float64",
         **op_case_f64([(N_ELEM,)], lambda a: mx.exp(a), lambda a: __import__("numpy").exp(a),
                       lambda t, a: t.exp(a))),
    Case("maximum, broadcast row", "(1000,1000),(1000,) float32",
         **op_case([(1000, 1000), (1000,)], lambda a, b: mx.maximum(a, b),
                   lambda a, b: __import__("numpy").maximum(a, b),
                   lambda t, a, b: t.maximum(a, b))),
]


# ---- float32 unary members at 10^6 and 10^7, float64 transcendentals, where ----
def _np_sigmoid(a):
    import numpy as np
    return 1.0 / (1.0 + np.exp(-a))


def _np_positive(fn):
    """fn on |a| + 0.5 (log family: inputs in the domain)."""
    import numpy as np
    return lambda a: fn(np.abs(a) + np.float32(0.5))


# (name, ours, numpy, torch); log-family inputs are |x| + 0.5
_UNARY = [
    ("tanh", lambda a: mx.tanh(a), lambda a: __import__("numpy").tanh(a),
     lambda t, a: t.tanh(a)),
    ("sigmoid", lambda a: mx.sigmoid(a), _np_sigmoid, lambda t, a: t.sigmoid(a)),
    ("erf", lambda a: mx.erf(a), None, lambda t, a: t.erf(a)),
    ("exp", lambda a: mx.exp(a), lambda a: __import__("numpy").exp(a), lambda t, a: t.exp(a)),
    ("expm1", lambda a: mx.expm1(a), lambda a: __import__("numpy").expm1(a),
     lambda t, a: t.expm1(a)),
    ("log", lambda a: mx.log(mx.abs(a) + 0.5), _np_positive(lambda a: __import__("numpy").log(a)),
     lambda t, a: t.log(a.abs() + 0.5)),
    ("log1p", lambda a: mx.log1p(mx.abs(a)), lambda a: __import__("numpy").log1p(abs(a)),
     lambda t, a: t.log1p(a.abs())),
    ("sin", lambda a: mx.sin(a), lambda a: __import__("numpy").sin(a), lambda t, a: t.sin(a)),
    ("cos", lambda a: mx.cos(a), lambda a: __import__("numpy").cos(a), lambda t, a: t.cos(a)),
    ("sqrt", lambda a: mx.sqrt(mx.abs(a)), lambda a: __import__("numpy").sqrt(abs(a)),
     lambda t, a: t.sqrt(a.abs())),
    ("abs", lambda a: mx.abs(a), lambda a: abs(a), lambda t, a: a.abs()),
    ("negative", lambda a: -a, lambda a: -a, lambda t, a: -a),
    ("square", lambda a: mx.square(a), lambda a: __import__("numpy").square(a),
     lambda t, a: t.square(a)),
    ("floor", lambda a: mx.floor(a), lambda a: __import__("numpy").floor(a),
     lambda t, a: t.floor(a)),
    ("sign", lambda a: mx.sign(a), lambda a: __import__("numpy").sign(a),
     lambda t, a: t.sign(a)),
    ("rsqrt", lambda a: mx.rsqrt(mx.abs(a) + 0.5),
     _np_positive(lambda a: 1.0 / __import__("numpy").sqrt(a)),
     lambda t, a: t.rsqrt(a.abs() + 0.5)),
]

for _name, _ours, _np, _torch in _UNARY:
    CASES += [
        Case(f"unary {_name}", f"({N_ELEM},) float32",
             **op_case([(N_ELEM,)], _ours, _np, _torch)),
        Case(f"unary {_name} 10^7", f"({N_BIG},) float32",
             **op_case([(N_BIG,)], _ours, _np, _torch)),
    ]

def _op_case_float64(shapes, ours_fn, numpy_fn, torch_fn):
    """op_case_f64's factories with ours on float64 arrays (mx.array makes float32 of a NumPy
    float64 array unless told the dtype)."""
    import numpy as np
    d = op_case_f64(shapes, ours_fn, numpy_fn, torch_fn)

    def ours():
        args = [mx.array(np_f32(s, i).astype(np.float64), dtype=mx.float64)
                for i, s in enumerate(shapes)]
        mx.eval(*args)
        return None, lambda _: mx.eval(ours_fn(*args))

    d["ours"] = ours
    return d


for _name in ["exp", "log", "log1p", "expm1", "tanh", "sin", "cos"]:
    _o, _n, _t = {u[0]: u[1:] for u in _UNARY}[_name]
    CASES.append(Case(f"unary {_name} float64", f"({N_ELEM},) float64",
                      **_op_case_float64([(N_ELEM,)], _o, _n, _t)))


def _where_args(shapes):
    def ours():
        import numpy as np
        c = mx.array(np_f32(shapes[0], 9) > 0)
        args = [c] + [f32(s, i) for i, s in enumerate(shapes[1:])]
        mx.eval(*args)
        return None, lambda _: mx.eval(mx.where(*args))

    def numpy():
        import numpy as np
        c = np_f32(shapes[0], 9) > 0
        args = [c] + [np_f32(s, i) for i, s in enumerate(shapes[1:])]
        return None, lambda _: np.where(*args)

    def torch():
        T = Torch()
        c = T.t.from_numpy(np_f32(shapes[0], 9) > 0).to(T.dev)
        args = [c] + [T.f32(s, i) if s else float(np_f32(s, i)) for i, s in enumerate(shapes[1:])]
        return None, T.run(lambda: T.t.where(*args))

    return dict(ours=ours, numpy=numpy, torch=torch)


CASES += [
    Case("where", f"({N_ELEM},) float32", **_where_args([(N_ELEM,), (N_ELEM,), (N_ELEM,)])),
    Case("where 10^7", f"({N_BIG},) float32", **_where_args([(N_BIG,), (N_BIG,), (N_BIG,)])),
    Case("where, scalar else", f"({N_ELEM},) float32", **_where_args([(N_ELEM,), (N_ELEM,), ()])),
    Case("softmax last axis float64", "(1024,4096) float64",
         **_op_case_float64([(1024, 4096)], lambda a: mx.softmax(a, axis=-1), _softmax_np,
                       lambda t, a: t.softmax(a, -1))),
]
