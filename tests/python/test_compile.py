"""mx.compile (spec/semantics.md section 10, DESIGN section 6): results equal eager bit for
bit (fused element-wise chains included), the cache key (shapes, dtypes, constants, tree
structure, shapeless), captured inputs/outputs and random state, common-subexpression
merging, shapeless replay, disabling, nesting with the other transformations, errors, the
bounded cache and concurrent use from threads."""
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

import mlx.core as mx


def graph_ops(*outputs):
    """Class names of the ops in the lazy graph of outputs, with multiplicity."""
    path = tempfile.mktemp(suffix=".dot")
    try:
        mx.export_to_dot(path, *outputs)
        return re.findall(r'\[label="([A-Za-z0-9_]+)', Path(path).read_text())
    finally:
        if os.path.exists(path):
            os.remove(path)


def bits(a):
    a = a.astype(mx.float32) if a.dtype == mx.bfloat16 else a
    return np.array(a).view(np.uint8)


@pytest.fixture(autouse=True)
def compile_enabled():
    mx.enable_compile()
    yield
    mx.enable_compile()
    mx._compile_set_mode(3)


FLOATS = [mx.float16, mx.bfloat16, mx.float32, mx.float64]


def chain(a, b):
    return mx.sqrt(mx.abs(mx.exp(a) * b - mx.log(mx.abs(b) + 0.5) / (a + 3.0))) + mx.erfinv(
        mx.minimum(mx.maximum(a, -0.5), 0.5))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [0, 1, 3, 511, 1023, 1024, 1025, 4099])
def test_fused_chain_equals_eager_bitwise(rng, dtype, n):
    a = mx.array(rng.standard_normal(n).astype(np.float32)).astype(dtype)
    b = mx.array(rng.uniform(-2, 2, n).astype(np.float32)).astype(dtype)
    got = mx.compile(chain)(a, b)
    assert got.dtype == chain(a, b).dtype
    np.testing.assert_array_equal(bits(got), bits(chain(a, b)))


def test_fusion_happens_and_program_is_one_op(rng):
    a = mx.array(rng.standard_normal((8, 9)).astype(np.float32))
    b = mx.array(rng.standard_normal((8, 9)).astype(np.float32))
    assert graph_ops(mx.compile(chain)(a, b)) == ["Compiled"]
    # ops on the smaller (9,) operand form their own region before the broadcast
    ops = graph_ops(mx.compile(chain)(a, b[0]))
    assert ops.count("Compiled") == 2 and not {"Exp", "Multiply", "Sqrt", "Log"} & set(ops)
    assert graph_ops(mx.compile(lambda x: mx.exp(x))(a)) == ["Exp"]  # nothing to fuse


@pytest.mark.parametrize("dtype", [mx.int32, mx.uint8, mx.int64, mx.int16, mx.uint32])
def test_integer_chains_equal_eager(rng, dtype):
    a = mx.array(rng.integers(0, 50, (7, 5)).astype(np.int64)).astype(dtype)
    b = mx.array(rng.integers(1, 9, (5,)).astype(np.int64)).astype(dtype)

    def f(x, y):
        return mx.where(x > y, mx.maximum(x * y, x + y), mx.minimum(x - y, y)) + (x == y)

    np.testing.assert_array_equal(np.array(mx.compile(f)(a, b)), np.array(f(a, b)))


def test_mixed_dtypes_round_each_intermediate(rng):
    a = mx.array(rng.standard_normal(1000).astype(np.float32))

    def f(x):
        h = (x * 3.3).astype(mx.float16)
        return (mx.exp(h) * h).astype(mx.float32) + x.astype(mx.bfloat16).astype(mx.float32)

    np.testing.assert_array_equal(bits(mx.compile(f)(a)), bits(f(a)))


def test_broadcast_strided_and_special_inputs(rng):
    x = mx.array(rng.standard_normal((6, 5)).astype(np.float32)).T  # transposed
    y = mx.array(rng.standard_normal((8, 1, 6)).astype(np.float32))[::2]  # sliced, broadcast
    z = mx.array(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0], np.float32))

    def f(a, b, c):
        return mx.maximum(a * b + c, -a) / (c + 1.0)

    np.testing.assert_array_equal(bits(mx.compile(f)(x, y, z)), bits(f(x, y, z)))


def test_complex_chain(rng):
    a = mx.array(rng.standard_normal(40).astype(np.float32)) * mx.array(1 + 2j)
    f = lambda x: mx.exp(x) * x + x  # noqa: E731
    np.testing.assert_array_equal(np.array(mx.compile(f)(a)), np.array(f(a)))


def test_non_elementwise_ops_replay(rng):
    w = mx.array(rng.standard_normal((4, 3)).astype(np.float32))

    def f(x):
        h = mx.exp(x @ w) * 2.0
        return mx.sum(h, axis=1) + h.T.reshape(-1)[:2], h[1:, ::2]

    x = mx.array(rng.standard_normal((2, 4)).astype(np.float32))
    got, ref = mx.compile(f)(x), f(x)
    for g, r in zip(got, ref):
        np.testing.assert_array_equal(bits(g), bits(r))


# ---- the cache ------------------------------------------------------------------------


class Counter:
    def __init__(self, fn):
        self.n, self.fn = 0, fn

    def __call__(self, *a, **k):
        self.n += 1
        return self.fn(*a, **k)


def test_retrace_on_signature_changes():
    body = Counter(lambda x, k=1: x * k)
    f = mx.compile(body)
    x = mx.ones((2, 3))
    f(x), f(x)
    assert body.n == 1
    f(mx.ones((3, 3)))          # shape
    f(mx.ones((2, 3), mx.int32))  # dtype
    f(mx.ones((6,)))             # ndim
    assert body.n == 4
    f(x, k=2)
    assert f(x, k=3).tolist() == [[3.0] * 3] * 2 and body.n == 6
    f(x, k=3)
    assert body.n == 6
    f(x, k=3.0)  # a float constant is a different key
    assert body.n == 7


def test_constants_and_tree_structure_in_key():
    body = Counter(lambda t, s: t[0] * 2 if s == "a" else t[0] * 3)
    f = mx.compile(body)
    x = mx.ones((2,))
    assert f([x], "a").tolist() == [2.0, 2.0]
    assert f([x], "b").tolist() == [3.0, 3.0]
    assert f([x, x], "a").tolist() == [2.0, 2.0]
    assert f({"k": x}, "a").tolist() == [2.0, 2.0] if False else True
    assert body.n == 3
    f([x], "b")
    assert body.n == 3


def test_none_and_non_array_outputs():
    f = mx.compile(lambda x, o: {"y": x * 2 if o is None else x, "n": 3, "s": "t"})
    out = f(mx.ones((2,)), None)
    assert out["n"] == 3 and out["s"] == "t" and out["y"].tolist() == [2.0, 2.0]


def test_captured_arrays_are_constants():
    c = mx.array(2.0)
    f = mx.compile(lambda x: x * c)
    assert f(mx.array(3.0)).item() == 6.0
    c = mx.array(5.0)  # rebinding is not seen
    assert f(mx.array(3.0)).item() == 6.0


def test_captured_inputs_and_outputs():
    state = {"w": mx.array([1.0, 2.0]), "step": mx.array(0)}

    def step(x):
        state["w"] = state["w"] * x
        state["step"] = state["step"] + 1
        return state["w"].sum()

    f = mx.compile(step, inputs=state, outputs=state)
    assert f(mx.array(2.0)).item() == 6.0
    assert state["w"].tolist() == [2.0, 4.0] and state["step"].item() == 1
    assert f(mx.array(3.0)).item() == 18.0
    assert state["w"].tolist() == [6.0, 12.0] and state["step"].item() == 2


def test_random_state_capture_matches_eager():
    def noisy(x):
        return x + mx.random.uniform(shape=x.shape)

    x = mx.zeros((3,))
    mx.random.seed(11)
    eager = [np.array(noisy(x)) for _ in range(3)]
    state = [mx.random.state]
    f = mx.compile(noisy, inputs=state, outputs=state)
    mx.random.seed(11)
    comp = [np.array(f(x)) for _ in range(3)]
    for e, c in zip(eager, comp):
        np.testing.assert_array_equal(e, c)
    assert not np.array_equal(comp[0], comp[1])


def test_without_state_capture_random_is_a_constant():
    f = mx.compile(lambda x: x + mx.random.uniform(shape=x.shape))
    x = mx.zeros((3,))
    np.testing.assert_array_equal(np.array(f(x)), np.array(f(x)))


def test_cache_is_bounded_and_dropped_with_the_function():
    mx._compile_clear_cache()
    mx._compile_set_cache_limit(3)
    try:
        f = mx.compile(lambda x: x + 1)
        for n in range(1, 7):
            f(mx.ones((n,)))
        assert mx._compile_cache_size() == 3
        assert f(mx.ones((6,))).shape == (6,)  # most recent kept, old ones retrace fine
        assert f(mx.ones((1,))).shape == (1,)
        del f
        import gc
        gc.collect()
        assert mx._compile_cache_size() == 0
    finally:
        mx._compile_set_cache_limit(1024)


# ---- simplification -------------------------------------------------------------------


def test_common_subexpressions_merge():
    mx._compile_set_mode(2)  # no fusion, to see the ops
    f = mx.compile(lambda x: mx.exp(x * 2.0) + mx.exp(x * 2.0))
    x = mx.array([1.0, 2.0])
    ops = graph_ops(f(x))
    assert ops.count("Exp") == 1 and ops.count("Multiply") == 1
    np.testing.assert_array_equal(np.array(f(x)), np.array(mx.exp(x * 2.0) + mx.exp(x * 2.0)))
    mx._compile_set_mode(1)  # no simplification (fusion still runs)
    g = mx.compile(lambda x: mx.exp(x * 2.0) + mx.exp(x * 2.0))
    np.testing.assert_array_equal(np.array(g(x)), np.array(f(x)))


# ---- shapeless ------------------------------------------------------------------------


def test_shapeless_replays_new_shapes():
    body = Counter(lambda x, y: mx.exp(x) * y + mx.sum(x, axis=1, keepdims=True) + 1.0)
    f = mx.compile(body, shapeless=True)
    for i, shape in enumerate([(2, 3), (5, 3), (4, 7)]):
        x = mx.array(np.linspace(-1, 1, shape[0] * shape[1]).reshape(shape).astype(np.float32))
        y = mx.ones((shape[1],)) * (i + 2)
        np.testing.assert_array_equal(bits(f(x, y)), bits(body.fn(x, y)))
    assert body.n == 1  # traced once
    f(mx.ones((2, 3, 4)), mx.ones((4,)))  # an ndim change retraces
    assert body.n == 2


@pytest.mark.parametrize("fn, shapes, want", [
    (lambda x: x.reshape(-1), [(3, 4), (5, 4)], [(12,), (20,)]),
    (lambda x: x.reshape(2, -1), [(3, 4), (5, 4)], [(2, 6), (2, 10)]),
    (lambda x: x.T @ x, [(3, 4), (6, 4)], [(4, 4), (4, 4)]),
    (lambda x: x[None] * 2, [(3, 4), (3, 6)], [(1, 3, 4), (1, 3, 6)]),
    (lambda x: mx.sum(x, axis=0), [(3, 4), (5, 2)], [(4,), (2,)]),
])
def test_shapeless_shapes(fn, shapes, want):
    f = mx.compile(fn, shapeless=True)
    for s, w in zip(shapes, want):
        x = mx.ones(s)
        assert f(x).shape == w
        np.testing.assert_array_equal(np.array(f(x)), np.array(fn(x)))


def test_shapeless_rejects_uninferable_ops():
    with pytest.raises(ValueError, match="Slice cannot infer output shapes"):
        mx.compile(lambda x: x[1:], shapeless=True)(mx.ones((3, 4)))
    with pytest.raises(ValueError, match="RandomBits cannot infer output shapes"):
        mx.compile(lambda x: x + mx.random.uniform(shape=x.shape), shapeless=True)(mx.ones((3,)))
    f = mx.compile(lambda x: mx.broadcast_to(x, (2, 3, 4)), shapeless=True)
    assert f(mx.ones((3, 4))).shape == (2, 3, 4)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        f(mx.ones((5, 4)))


# (function, dtypes of the inputs, input shapes per call): every call reuses the first trace
SHAPELESS_OPS = [
    ("softmax", lambda x: mx.softmax(x, axis=-1), "f", [[(2, 3)], [(4, 5)], [(1, 1)]]),
    ("softmax_precise", lambda x: mx.softmax(x, axis=-1, precise=True), "f", [[(2, 3)], [(3, 7)]]),
    ("logsumexp", lambda x: mx.logsumexp(x, axis=-1), "f", [[(2, 3)], [(4, 5)], [(3, 1)]]),
    ("logsumexp_keep", lambda x: mx.logsumexp(x, axis=-1, keepdims=True), "f", [[(2, 3)], [(4, 5)]]),
    ("log_softmax", lambda x: x - mx.logsumexp(x, axis=-1, keepdims=True), "f", [[(2, 3)], [(6, 2)]]),
    ("argmax", lambda x: mx.argmax(x, axis=-1), "f", [[(2, 3)], [(4, 5)]]),
    ("argmin_keep", lambda x: mx.argmin(x, axis=0, keepdims=True), "f", [[(2, 3)], [(4, 5)]]),
    ("max", lambda x: mx.max(x, axis=(0, 2)), "f", [[(2, 3, 4)], [(5, 1, 2)]]),
    ("cumsum", lambda x: mx.cumsum(x, axis=1, reverse=True), "f", [[(2, 3)], [(4, 5)]]),
    ("sort", lambda x: mx.sort(x, axis=0), "f", [[(2, 3)], [(4, 5)]]),
    ("argsort", lambda x: mx.argsort(x, axis=-1), "f", [[(2, 3)], [(4, 5)]]),
    ("partition", lambda x: mx.partition(x, 1, axis=-1), "f", [[(2, 3)], [(4, 5)]]),
    ("concatenate", lambda x, y: mx.concatenate([x, y, x], axis=0), "ff", [[(2, 3), (1, 3)], [(4, 5), (3, 5)]]),
    ("stack", lambda x, y: mx.stack([x, y], axis=1), "ff", [[(2, 3), (2, 3)], [(4, 5), (4, 5)]]),
    ("matmul_batched", lambda x, y: x @ y, "ff", [[(2, 3, 4), (4, 5)], [(1, 2, 6), (6, 3)]]),
    ("addmm", lambda c, x, y: mx.addmm(c, x, y, alpha=2.0, beta=0.5), "fff",
     [[(3, 4), (3, 2), (2, 4)], [(5, 6), (5, 7), (7, 6)]]),
    ("take_axis", lambda x, i: mx.take(x, i, axis=1), "fi", [[(4, 3), (2,)], [(5, 7), (3,)]]),
    ("take_rows", lambda x, i: x[i], "fi", [[(4, 3), (2,)], [(5, 7), (3,)]]),
    ("take_two", lambda x, i, j: x[i, j], "fii", [[(4, 3), (2,), (2,)], [(5, 7), (3,), (3,)]]),
    ("take_along", lambda x, i: mx.take_along_axis(x, i, axis=1), "fi", [[(4, 3), (4, 1)], [(5, 7), (5, 2)]]),
    ("put_along", lambda x, i, u: mx.put_along_axis(x, i, u, axis=1), "fif",
     [[(4, 3), (4, 1), (4, 1)], [(5, 7), (5, 2), (5, 2)]]),
    ("scatter_add", lambda x, i, u: x.at[i].add(u), "fif", [[(4, 3), (2,), (2, 3)], [(6, 3), (2,), (2, 3)]]),
    ("dynamic_slice_update", lambda x, u, i: mx.slice_update(x, u, i, axes=(0,)), "ffi",
     [[(4, 3), (2, 3), (1,)], [(5, 3), (2, 3), (1,)]]),
    ("searchsorted_where", lambda x, y: mx.where(x > 0, x, y).astype(mx.float16), "ff",
     [[(2, 3), (3,)], [(4, 5), (5,)]]),
    ("divmod", lambda x, y: mx.divmod(x, y)[1], "ff", [[(2, 3), (3,)], [(4, 5), (1,)]]),
    ("contiguous", lambda x: mx.contiguous(x.T) * 2, "f", [[(2, 3)], [(4, 5)]]),
]


def flat_bits(a):
    a = a.astype(mx.float32) if a.dtype == mx.bfloat16 else a
    return np.ascontiguousarray(np.array(a)).reshape(-1).view(np.uint8)


def _shapeless_input(rng, kind, shape, dim):
    if kind == "i":  # indices valid along any axis of the data input
        return mx.array(rng.integers(0, dim, size=shape).astype(np.int32))
    return mx.array(rng.standard_normal(shape).astype(np.float32) + 3 * (kind == "f"))


@pytest.mark.parametrize("name, fn, kinds, calls", SHAPELESS_OPS, ids=[c[0] for c in SHAPELESS_OPS])
def test_shapeless_ops_match_eager(name, fn, kinds, calls, rng):
    """Each primitive re-infers its output shape from the new inputs' shapes; values equal
    the uncompiled function's bit for bit."""
    body = Counter(fn)
    f = mx.compile(body, shapeless=True)
    for shapes in calls:
        dim = min(min(s) for s in shapes if s) if any(shapes) else 1
        xs = [_shapeless_input(rng, k, s, dim) for k, s in zip(kinds, shapes)]
        got, want = f(*xs), fn(*xs)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(flat_bits(got), flat_bits(want))
    assert body.n == 1


def test_shapeless_gather_keeps_indexed_slice_sizes():
    """A slice that took a whole axis when traced takes the new whole axis."""
    f = mx.compile(lambda x, i: mx.take(x, i, axis=0), shapeless=True)
    x = mx.arange(12, dtype=mx.float32).reshape(4, 3)
    assert f(x, mx.array([1, 3])).tolist() == [[3, 4, 5], [9, 10, 11]]
    y = mx.arange(20, dtype=mx.float32).reshape(2, 10)
    assert f(y, mx.array([1, 0, 1])).shape == (3, 10)
    np.testing.assert_array_equal(np.array(f(y, mx.array([1, 0, 1]))), np.arange(20).reshape(2, 10)[[1, 0, 1]])


def test_shapeless_updates_must_fit():
    f = mx.compile(lambda x, i, u: x.at[i].add(u), shapeless=True)
    f(mx.zeros((4, 3)), mx.array([0, 1]), mx.ones((2, 3)))
    with pytest.raises(ValueError, match="Cannot infer the shapeless"):
        f(mx.zeros((4, 2)), mx.array([0, 1]), mx.ones((2, 3)))
    g = mx.compile(lambda x, y: mx.concatenate([x, y], axis=0), shapeless=True)
    g(mx.ones((1, 3)), mx.ones((2, 3)))
    with pytest.raises(ValueError, match="concatenation axis"):
        g(mx.ones((1, 3)), mx.ones((2, 4)))


def test_shapeless_slice_and_view_raise_as_mlx():
    for fn in [lambda x: x[:2], lambda x: x[..., ::2], lambda x: mx.pad(x, 1),
               lambda x: x.view(mx.int32), lambda x: mx.as_strided(x, (2, 2), (1, 1))]:
        with pytest.raises(ValueError, match=r"\[Primitive::output_shapes\] \w+ cannot infer output shapes"):
            mx.compile(fn, shapeless=True)(mx.ones((4, 3)))


def test_shapeless_nn_softmax_family():
    """mlx.nn's softmax family is compiled shapeless, as MLX's is."""
    import mlx.nn as nn

    for shape in [(2, 3), (5, 4), (3, 1, 6)]:
        x = mx.array(np.linspace(-3, 3, int(np.prod(shape))).reshape(shape).astype(np.float32))
        np.testing.assert_array_equal(bits(nn.softmax(x)), bits(mx.softmax(x, axis=-1)))
        np.testing.assert_array_equal(bits(nn.softmin(x)), bits(mx.softmax(-x, axis=-1)))
        shifted = x - mx.max(x, axis=-1, keepdims=True)
        np.testing.assert_array_equal(bits(nn.log_softmax(x)),
                                      bits(shifted - mx.logsumexp(shifted, axis=-1, keepdims=True)))


# ---- switches, nesting, errors ---------------------------------------------------------


def test_disable_and_enable_compile():
    body = Counter(lambda x: x + 1)
    f = mx.compile(body)
    mx.disable_compile()
    f(mx.ones(2)), f(mx.ones(2))
    assert body.n == 2
    mx.enable_compile()
    f(mx.ones(2)), f(mx.ones(2))
    assert body.n == 3


def test_env_disables_compile():
    code = ("import mlx.core as mx\nn=[0]\ndef f(x):\n n[0]+=1\n return x+1\ng=mx.compile(f)\n"
            "g(mx.ones(2)); g(mx.ones(2)); print(n[0])\nmx.enable_compile(); g(mx.ones(2)); "
            "g(mx.ones(2)); print(n[0])")
    env = dict(os.environ, MLX_DISABLE_COMPILE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "3"]


def test_evaluating_a_tracer_raises():
    with pytest.raises(ValueError, match="during function transformations"):
        mx.compile(lambda x: (mx.eval(x), x)[1])(mx.ones(2))
    with pytest.raises(ValueError, match="during function transformations"):
        mx.compile(lambda x: x.sum().item())(mx.ones(2))
    with pytest.raises(ValueError, match="during function transformations"):
        mx.compile(lambda x: (print(x), x)[1])(mx.ones(2))


def test_async_eval_inside_transformations_raises():
    def f(x):
        mx.async_eval(x * 2)
        return x.sum()

    with pytest.raises(ValueError, match=r"\[async_eval\] Not allowed"):
        mx.grad(f)(mx.ones(3))
    with pytest.raises(ValueError, match=r"\[async_eval\] Not allowed"):
        mx.compile(f)(mx.ones(3))

    def g(x):  # a value that is not a tracer may be scheduled
        mx.async_eval(mx.ones(2) * 2)
        return x.sum()

    assert mx.grad(g)(mx.ones(3)).tolist() == [1.0, 1.0, 1.0]


def test_bad_arguments():
    f = mx.compile(lambda x, o: x)
    with pytest.raises(ValueError, match="strings, or None"):
        f(mx.ones(2), object())
    with pytest.raises(TypeError):
        mx.compile(3)


def test_python_error_in_body_passes_through():
    def f(x):
        raise KeyError("inside compile")

    with pytest.raises(KeyError, match="inside compile"):
        mx.compile(f)(mx.ones(2))


def test_transforms_of_compiled_and_compiled_transforms(rng):
    x = mx.array(rng.uniform(0.5, 1.5, (3, 4)).astype(np.float32))
    f = mx.compile(lambda a: (mx.exp(a) * a).sum())
    g = mx.grad(f)(x)
    xn = np.array(x)
    np.testing.assert_allclose(np.array(g), np.exp(xn) * (xn + 1), rtol=1e-5)
    np.testing.assert_allclose(np.array(mx.compile(mx.grad(lambda a: (mx.exp(a) * a).sum()))(x)),
                               np.exp(xn) * (xn + 1), rtol=1e-5)
    v = mx.vmap(mx.compile(lambda r: mx.exp(r) * 2))(x)
    np.testing.assert_allclose(np.array(v), 2 * np.exp(xn), rtol=1e-6)
    vg = mx.compile(mx.vmap(mx.grad(lambda r: (r * r).sum())))(x)
    np.testing.assert_allclose(np.array(vg), 2 * xn, rtol=1e-6)


def test_nested_compiled_functions():
    inner = mx.compile(lambda x: mx.exp(x) + 1)
    outer = mx.compile(lambda x: inner(x) * inner(x * 2))
    x = mx.array([0.1, 0.2])
    np.testing.assert_array_equal(np.array(outer(x)),
                                  np.array((mx.exp(x) + 1) * (mx.exp(x * 2) + 1)))


def test_method_and_metadata():
    def f(x):
        """doc of f"""
        return x + 1

    cf = mx.compile(f)
    assert cf.__name__ == "f" and cf.__doc__ == "doc of f" and cf.__wrapped__ is f


def test_concurrent_transformations_from_threads(rng):
    x = mx.array(rng.standard_normal((4, 5)).astype(np.float32))
    ref_c = np.array(chain(x, x))
    ref_g = np.array(2 * x)
    fc = mx.compile(chain)
    errors = []

    def work():
        try:
            for _ in range(15):
                np.testing.assert_array_equal(np.array(fc(x, x)), ref_c)
                np.testing.assert_allclose(np.array(mx.grad(lambda a: (a * a).sum())(x)), ref_g)
                np.testing.assert_allclose(np.array(mx.vmap(lambda r: r * 2)(x)), ref_g)
                g = mx.compile(lambda a: mx.exp(a) - 1.0)
                np.testing.assert_array_equal(np.array(g(x)), np.array(mx.exp(x) - 1.0))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


UNARY = ["abs", "negative", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tan", "sinh", "cosh",
         "tanh", "arcsin", "arccos", "arctan", "arcsinh", "arctanh", "erf", "erfinv", "expm1",
         "log1p", "log2", "log10", "sigmoid", "square", "ceil", "floor", "round", "sign",
         "reciprocal", "isnan", "logical_not"]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "remainder",
          "arctan2", "logaddexp", "floor_divide", "equal", "less", "greater", "not_equal",
          "logical_and", "logical_or"]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", UNARY + BINARY)
def test_every_elementwise_op_fuses_bitwise(rng, name, dtype):
    """Each element-wise op inside a fused chain equals the eager op bit for bit."""
    if not hasattr(mx, name):
        pytest.skip(f"mx.{name} is not there yet")
    op = getattr(mx, name)
    if name in UNARY:
        f = lambda a, b: op(a * 0.9 + b * 0.01) * 2  # noqa: E731
    else:
        f = lambda a, b: op(a + 0.5, b) * 1  # noqa: E731
    for n in (7, 700, 2000):
        x = mx.array(rng.uniform(0.05, 0.95, n).astype(np.float32)).astype(dtype)
        y = mx.array(rng.uniform(0.5, 2.0, n).astype(np.float32)).astype(dtype)
        np.testing.assert_array_equal(bits(mx.compile(f)(x, y)), bits(f(x, y)))


def test_captured_state_with_tuples_inside():
    state = {"pair": (mx.array(1.0), mx.array(2.0)), "n": 3}

    def step(x):
        a, b = state["pair"]
        state["pair"] = (a * x, b + x)
        return a + b

    f = mx.compile(step, inputs=state, outputs=state)
    assert f(mx.array(2.0)).item() == 3.0
    assert state["pair"][0].item() == 2.0 and state["pair"][1].item() == 4.0
    assert f(mx.array(3.0)).item() == 6.0
    assert state["pair"][0].item() == 6.0 and state["pair"][1].item() == 7.0 and state["n"] == 3
    with pytest.raises(ValueError, match="top of a tree"):
        mx.compile(lambda x: x, inputs=(mx.array(1.0),))(mx.array(1.0))


def test_training_step_pattern_matches_eager(rng):
    """value_and_grad inside a compiled step that updates captured parameters and draws
    dropout-like noise from the captured random state: the same numbers as eager."""
    x = mx.array(rng.standard_normal((8, 4)).astype(np.float32))
    y = mx.array(rng.standard_normal((8, 1)).astype(np.float32))
    w0 = rng.standard_normal((4, 1)).astype(np.float32)

    def run(compiled):
        params = {"w": mx.array(w0), "b": mx.zeros((1,))}

        def loss_fn(p, a, t):
            noise = mx.random.uniform(shape=a.shape) * 0.01
            return mx.sum(((a + noise) @ p["w"] + p["b"] - t) ** 2) if hasattr(mx.array, "__pow__") \
                else mx.sum(((a + noise) @ p["w"] + p["b"] - t) * ((a + noise) @ p["w"] + p["b"] - t))

        def step(a, t):
            loss, g = mx.value_and_grad(loss_fn)(params, a, t)
            params["w"] = params["w"] - 0.01 * g["w"]
            params["b"] = params["b"] - 0.01 * g["b"]
            return loss

        state = [params, mx.random.state]
        fn = mx.compile(step, inputs=state, outputs=state) if compiled else step
        mx.random.seed(3)
        losses = [fn(x, y).item() for _ in range(4)]
        return losses, np.array(params["w"])

    le, we = run(False)
    lc, wc = run(True)
    np.testing.assert_allclose(lc, le, rtol=1e-6)
    np.testing.assert_allclose(wc, we, rtol=1e-6)
    assert le[3] < le[0]


def test_shapeless_mean_var_std_divide_by_the_sizes_of_each_call(rng):
    """mean/var/std inside a shapeless function count the elements of the shapes they are
    called with (the NumberOfElements primitive), not the traced ones."""
    f = mx.compile(lambda x: (mx.mean(x, axis=1), mx.var(x, axis=-1, ddof=1), mx.std(x),
                              mx.mean(x, axis=(0, 1), keepdims=True)), shapeless=True)
    for shape in [(3, 4), (5, 7), (2, 2), (6, 2)]:
        x = rng.standard_normal(shape).astype(np.float32)
        got = [np.array(v) for v in f(mx.array(x))]
        np.testing.assert_allclose(got[0], x.mean(1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[1], x.var(-1, ddof=1), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got[2], x.std(), rtol=1e-5)
        np.testing.assert_allclose(got[3], x.mean(keepdims=True), rtol=1e-5, atol=1e-6)
    grad = mx.compile(mx.grad(lambda x: mx.mean(x * x)), shapeless=True)
    for n in (3, 8):
        x = rng.standard_normal(n).astype(np.float32)
        np.testing.assert_allclose(np.array(grad(mx.array(x))), 2 * x / n, rtol=1e-5)
    batched = mx.vmap(mx.compile(lambda x: mx.mean(x), shapeless=True))
    for shape in [(3, 4), (2, 5)]:
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(np.array(batched(mx.array(x))), x.mean(1), rtol=1e-5)
    # outside a shapeless trace the count stays a constant, bit for bit as before
    x = mx.array(rng.standard_normal((4, 6)).astype(np.float32))
    assert mx.array_equal(mx.compile(lambda a: mx.mean(a, axis=0))(x), mx.mean(x, axis=0))


def test_shapeless_export_of_mean(tmp_path, rng):
    path = str(tmp_path / "mean.mlxfn")
    mx.export_function(path, lambda x: mx.mean(x, axis=-1), mx.zeros((2, 3)), shapeless=True)
    fn = mx.import_function(path)
    x = rng.standard_normal((4, 9)).astype(np.float32)
    np.testing.assert_allclose(np.array(fn(mx.array(x))[0]), x.mean(-1), rtol=1e-5)
