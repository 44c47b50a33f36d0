"""mx.custom_function (.vjp/.jvp/.vmap) and mx.checkpoint (spec/semantics.md section 11):
custom rules are used by grad/jvp/vmap, undefined ones fall back to transforming the
function, captured arrays are constants, checkpoint recomputes in the backward pass, and
Python objects held by the core are released (on any thread)."""
import gc
import threading
import weakref

import numpy as np
import pytest

import mlx.core as mx


def finite_diff(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def make_f():
    @mx.custom_function
    def f(x, y):
        return mx.exp(x) * y

    return f


def test_plain_call_without_rules_is_the_function():
    f = make_f()
    x, y = mx.array([1.0, 2.0]), mx.array([3.0, 4.0])
    np.testing.assert_allclose(np.array(f(x, y)), np.exp([1.0, 2.0]) * [3.0, 4.0], rtol=1e-6)
    g = mx.grad(lambda a: f(a, y).sum())(x)
    np.testing.assert_allclose(np.array(g), np.exp([1.0, 2.0]) * [3.0, 4.0], rtol=1e-6)


def test_custom_vjp_is_used():
    f = make_f()
    seen = {}

    @f.vjp
    def f_vjp(primals, cotangent, output):
        x, y = primals
        seen["output"] = np.array(output)
        return cotangent * 100, cotangent * 200

    x, y = mx.array([1.0, 2.0]), mx.array([3.0, 4.0])
    gx, gy = mx.grad(lambda a, b: (f(a, b) * mx.array([1.0, 2.0])).sum(), argnums=(0, 1))(x, y)
    assert gx.tolist() == [100.0, 200.0] and gy.tolist() == [200.0, 400.0]
    np.testing.assert_allclose(seen["output"], np.exp([1.0, 2.0]) * [3.0, 4.0], rtol=1e-6)
    # the forward value is the function's
    np.testing.assert_allclose(np.array(f(x, y)), seen["output"], rtol=1e-6)


def test_custom_vjp_single_argument_and_trees():
    @mx.custom_function
    def f(p):
        return {"s": p["a"] * p["b"], "t": (p["a"] + 1,)}

    @f.vjp
    def f_vjp(p, cot, out):
        assert isinstance(cot, dict) and isinstance(cot["t"], tuple)
        return {"a": cot["s"] * 2 + cot["t"][0], "b": None}  # None: zero cotangent

    p = {"a": mx.array([1.0, 2.0]), "b": mx.array([5.0, 6.0])}
    g = mx.grad(lambda q: (f(q)["s"] + f(q)["t"][0]).sum())(p)
    assert g["a"].tolist() == [3.0, 3.0] and g["b"].tolist() == [0.0, 0.0]


def test_custom_jvp_and_fallback_jvp():
    f = make_f()
    x, y = mx.array([1.0, 2.0]), mx.array([3.0, 4.0])
    _, (t,) = mx.jvp(f, [x, y], [mx.ones(2), mx.zeros(2)])
    np.testing.assert_allclose(np.array(t), np.exp([1.0, 2.0]) * [3.0, 4.0], rtol=1e-6)

    @f.jvp
    def f_jvp(primals, tangents):
        dx, dy = tangents
        return dx * 7

    _, (t,) = mx.jvp(f, [x, y], [mx.ones(2), mx.zeros(2)])
    assert t.tolist() == [7.0, 7.0]


def test_jvp_receives_none_for_inputs_without_tangent():
    got = {}

    @mx.custom_function
    def f(x, y):
        return x * y

    @f.jvp
    def f_jvp(primals, tangents):
        got["t"] = tangents
        return tangents[0] * primals[1]

    y = mx.array(3.0)
    _, (t,) = mx.jvp(lambda a: f(a, y), [mx.array(2.0)], [mx.array(1.0)])
    assert t.item() == 3.0 and got["t"][1] is None


def test_custom_vmap_and_fallback_vmap():
    f = make_f()
    x, y = mx.ones((3, 2)), mx.ones((3, 2)) * 2
    np.testing.assert_allclose(np.array(mx.vmap(f)(x, y)), np.full((3, 2), 2 * np.e), rtol=1e-6)

    @f.vmap
    def f_vmap(inputs, axes):
        a, b = inputs
        assert axes == (0, 0)
        return a * 1000, axes[0]

    assert mx.vmap(f)(x, y).tolist() == [[1000.0] * 2] * 3


def test_custom_vmap_out_axes_tree():
    @mx.custom_function
    def f(x):
        return x * 2, x.sum()

    @f.vmap
    def f_vmap(x, ax):
        return (mx.moveaxis(x * 2, ax, 1), mx.sum(x, axis=1 - ax)), (1, 0)

    a, s = mx.vmap(f, in_axes=1, out_axes=(1, 0))(mx.ones((2, 3)))
    assert a.shape == (2, 3) and s.tolist() == [2.0, 2.0, 2.0]


def test_captured_arrays_are_constants():
    def g(x, y):
        @mx.custom_function
        def h(x):
            return x * y

        @h.vjp
        def h_vjp(x, dx, fx):
            raise ValueError("Abort!")

        return h(x)

    x, y = mx.array(2.0), mx.array(3.0)
    assert g(x, y).item() == 6.0
    with pytest.raises(ValueError, match="Abort!"):
        mx.grad(g)(x, y)
    assert mx.grad(g, argnums=1)(x, y).item() == 0.0


def test_vjp_errors():
    @mx.custom_function
    def f(x, y):
        return x * y

    @f.vjp
    def f_vjp(p, c, o):
        return (c,)  # one cotangent for two inputs

    with pytest.raises(ValueError, match="one cotangent per array"):
        mx.grad(lambda a: f(a, a).sum())(mx.ones(2))

    @f.vjp
    def f_vjp2(p, c, o):
        return c.sum(), c

    with pytest.raises(ValueError, match="different shape"):
        mx.grad(lambda a: f(a, a).sum())(mx.ones(2))


def test_custom_vmap_must_return_pair():
    @mx.custom_function
    def f(x):
        return x

    @f.vmap
    def f_vmap(x, ax):
        return x

    with pytest.raises(ValueError, match="tuple with 2 items"):
        mx.vmap(f)(mx.ones((2, 2)))


def test_grad_of_grad_through_custom_function_fallback(rng):
    @mx.custom_function
    def f(x):
        return mx.exp(x) * x

    @f.vmap
    def f_vmap(x, ax):
        return mx.exp(x) * x, ax

    x = mx.array(rng.uniform(0.5, 1.0, (3,)), dtype=mx.float64)
    gg = mx.grad(lambda a: mx.grad(lambda b: f(b).sum())(a).sum())(x)
    xn = np.array(x)
    np.testing.assert_allclose(np.array(gg), np.exp(xn) * (xn + 2), rtol=1e-10)


# ---- checkpoint ----------------------------------------------------------------------


def test_checkpoint_forward_and_gradient(rng):
    xn = rng.uniform(0.5, 1.5, (2, 3))
    w = mx.array(rng.standard_normal((3, 3)), dtype=mx.float64)

    def block(x, scale=1.0):
        return mx.exp(x @ w) * scale + x

    ck = mx.checkpoint(block)
    x = mx.array(xn, dtype=mx.float64)
    np.testing.assert_allclose(np.array(ck(x, scale=2.0)), np.array(block(x, scale=2.0)), rtol=1e-12)
    g = mx.grad(lambda a: ck(a, scale=2.0).sum())(x)
    wn = np.array(w)
    ref = finite_diff(lambda v: float(np.sum(np.exp(v @ wn) * 2.0 + v)), xn)
    np.testing.assert_allclose(np.array(g), ref, rtol=1e-6)


def test_checkpoint_recomputes_in_backward():
    calls = []

    def body(x):
        calls.append(1)
        return mx.exp(x) * x

    ck = mx.checkpoint(body)
    x = mx.array([1.0, 2.0])
    ck(x)
    assert len(calls) == 1
    calls.clear()
    mx.grad(lambda a: ck(a).sum())(x)
    assert len(calls) == 2  # the forward pass, then the recomputation for the gradient


def test_checkpoint_trees_and_value_and_grad():
    ck = mx.checkpoint(lambda p: {"y": p["a"] * p["b"], "n": 3})
    p = {"a": mx.array([1.0, 2.0]), "b": mx.array([3.0, 4.0])}
    out = ck(p)
    assert out["n"] == 3 and out["y"].tolist() == [3.0, 8.0]
    v, g = mx.value_and_grad(lambda q: ck(q)["y"].sum())(p)
    assert v.item() == 11.0
    assert g["a"].tolist() == [3.0, 4.0] and g["b"].tolist() == [1.0, 2.0]


def test_checkpoint_under_vmap_and_jvp():
    ck = mx.checkpoint(lambda x: mx.exp(x) * 2)
    x = mx.array([[0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_allclose(np.array(mx.vmap(ck)(x)), 2 * np.exp(np.array(x)), rtol=1e-6)
    _, (t,) = mx.jvp(ck, [x], [mx.ones((2, 2))])
    np.testing.assert_allclose(np.array(t), 2 * np.exp(np.array(x)), rtol=1e-6)


def test_python_objects_are_released_after_evaluation():
    def run():
        def vjp_rule(p, c, o):
            return c

        f = mx.custom_function(lambda x: x * 2)
        f.vjp(vjp_rule)
        y = f(mx.array([1.0]))
        mx.eval(y)  # the op is freed on the evaluating thread without the GIL
        return weakref.ref(vjp_rule), weakref.ref(f)

    r1, r2 = run()
    for _ in range(10):
        gc.collect()
        mx.eval(mx.array(0.0) + 1)
        if r1() is None and r2() is None:
            break
    assert r1() is None and r2() is None


def test_custom_functions_from_threads():
    f = make_f()

    @f.vjp
    def f_vjp(primals, cotangent, output):
        return cotangent * 2, cotangent * 3

    results, errors = [], []

    def work(i):
        try:
            for _ in range(20):
                x = mx.array([float(i)])
                g = mx.grad(lambda a: f(a, a).sum())(x)
                results.append(g.item())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [5.0] * 80
