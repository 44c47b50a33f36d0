"""grad, value_and_grad, vjp and jvp (spec/python-api.md section 14, spec/semantics.md
section 11) against closed forms and central finite differences (float64 NumPy)."""
import numpy as np
import pytest

import mlx.core as mx


def finite_diff(f, x, eps=1e-3):
    """Central differences of a scalar NumPy function f at x (float64)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def test_grad_square(rng):
    xn = rng.standard_normal(5).astype(np.float32)
    g = mx.grad(lambda x: (x * x).sum())(mx.array(xn))
    np.testing.assert_allclose(np.array(g), 2 * xn, rtol=1e-5, atol=1e-6)


def test_grad_vs_finite_differences(rng):
    xn = rng.uniform(0.5, 1.5, (2, 3))

    def f_mx(x):
        return (mx.exp(x) * x / (x + 1) - mx.log(x) * mx.sqrt(x)).sum()

    def f_np(x):
        return float(np.sum(np.exp(x) * x / (x + 1) - np.log(x) * np.sqrt(x)))

    g = mx.grad(f_mx)(mx.array(xn, dtype=mx.float32))
    np.testing.assert_allclose(np.array(g), finite_diff(f_np, xn), rtol=2e-3, atol=2e-3)


def test_grad_argnums():
    def f(x, y):
        return (x * y + y).sum()

    x, y = mx.array([1.0, 2.0]), mx.array([3.0, 4.0])
    assert mx.grad(f)(x, y).tolist() == [3.0, 4.0]
    assert mx.grad(f, argnums=1)(x, y).tolist() == [2.0, 3.0]
    gx, gy = mx.grad(f, argnums=(0, 1))(x, y)
    assert gx.tolist() == [3.0, 4.0] and gy.tolist() == [2.0, 3.0]
    (g1,) = (mx.grad(f, argnums=[1])(x, y),)
    assert g1.tolist() == [2.0, 3.0]


def test_grad_non_array_arguments_pass_through():
    def f(x, scale, name):
        assert name == "n"
        return (x * scale).sum()

    assert mx.grad(f)(mx.array([1.0, 1.0]), 3.0, "n").tolist() == [3.0, 3.0]


def test_grad_argnames():
    def f(x, *, w):
        return (x * w * w).sum()

    x, w = mx.array([1.0, 2.0]), mx.array([3.0, 1.0])
    none_pos, kw = mx.grad(f, argnames="w")(x, w=w)  # argnames alone: no positional grads
    assert none_pos is None and kw["w"].tolist() == [6.0, 4.0]
    pos, kw2 = mx.grad(f, argnums=0, argnames=["w"])(x, w=w)
    assert pos.tolist() == [9.0, 1.0] and kw2["w"].tolist() == [6.0, 4.0]
    with pytest.raises(ValueError):
        mx.grad(f, argnames="w")(x, q=w)


def test_grad_argnum_validation():
    f = lambda x, y: (x * y).sum()  # noqa: E731
    with pytest.raises(ValueError):
        mx.grad(f, argnums=-1)
    with pytest.raises(ValueError):
        mx.grad(f, argnums=(0, 0))
    with pytest.raises(ValueError):
        mx.grad(f, argnums=[])
    with pytest.raises(ValueError):
        mx.grad(f, argnums=2)(mx.array(1.0), mx.array(2.0))


def test_grad_requires_scalar_array_output():
    with pytest.raises(ValueError, match=r"\[grad\]"):
        mx.grad(lambda x: 1.0)(mx.array(1.0))
    with pytest.raises(ValueError):
        mx.grad(lambda x: x * 2)(mx.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\[grad\]"):
        mx.grad(lambda x: (x.sum(), x))(mx.array([1.0]))


def test_value_and_grad():
    def f(x):
        return (x * x).sum()

    v, g = mx.value_and_grad(f)(mx.array([1.0, 2.0]))
    assert v.item() == 5.0 and g.tolist() == [2.0, 4.0]


def test_value_and_grad_with_aux():
    def f(x):
        loss = (x * x).sum()
        return loss, {"double": x * 2, "tag": "aux"}, 7

    (loss, aux, seven), g = mx.value_and_grad(f)(mx.array([1.0, 3.0]))
    assert loss.item() == 10.0
    assert aux["double"].tolist() == [2.0, 6.0] and aux["tag"] == "aux"
    assert seven == 7
    assert g.tolist() == [2.0, 6.0]
    with pytest.raises(ValueError, match=r"\[value_and_grad\]"):
        mx.value_and_grad(lambda x: ())(mx.array(1.0))
    with pytest.raises(ValueError, match=r"\[value_and_grad\]"):
        mx.value_and_grad(lambda x: ("no", x.sum()))(mx.array(1.0))


def test_python_exception_propagates_unchanged():
    class Boom(Exception):
        pass

    err = Boom("inside")

    def f(x):
        raise err

    with pytest.raises(Boom) as info:
        mx.grad(f)(mx.array(1.0))
    assert info.value is err
    # the library still works afterwards
    assert mx.grad(lambda x: (x * 3).sum())(mx.array([1.0])).tolist() == [3.0]


def test_grad_of_grad():
    def f(x):
        return (x * x * x).sum()

    d2 = mx.grad(lambda x: mx.grad(f)(x).sum())(mx.array([1.0, 2.0]))
    assert d2.tolist() == [6.0, 12.0]


def test_eval_inside_grad_keeps_graph():
    def f(x):
        y = x * x
        mx.eval(y)
        return (y * x).sum()

    assert mx.grad(f)(mx.array([2.0])).tolist() == [12.0]


def test_setitem_inside_grad():
    def f(x):
        y = x * 1
        y[0] = 0.0
        return (y * x).sum()

    assert mx.grad(f)(mx.array([2.0, 3.0])).tolist() == [0.0, 6.0]


def test_vjp():
    def f(x, y):
        return x * y, x + y

    x, y = mx.array([1.0, 2.0]), mx.array([3.0, 4.0])
    outs, vjps = mx.vjp(f, [x, y], [mx.array([1.0, 1.0]), mx.array([2.0, 0.0])])
    assert isinstance(outs, list) and isinstance(vjps, list)
    assert outs[0].tolist() == [3.0, 8.0] and outs[1].tolist() == [4.0, 6.0]
    assert vjps[0].tolist() == [5.0, 4.0]
    assert vjps[1].tolist() == [3.0, 2.0]


def test_jvp():
    def f(x):
        return x * x * 3

    outs, jvps = mx.jvp(f, [mx.array([1.0, 2.0])], [mx.array([1.0, 0.5])])
    assert outs[0].tolist() == [3.0, 12.0]
    assert jvps[0].tolist() == [6.0, 6.0]
    with pytest.raises(ValueError):
        mx.jvp(f, [mx.array([1.0])], [])


def test_vjp_rejects_non_arrays():
    with pytest.raises(ValueError):
        mx.vjp(lambda x: "nope", [mx.array(1.0)], [mx.array(1.0)])
    with pytest.raises(TypeError):  # primals must be arrays, as MLX's binding requires
        mx.vjp(lambda x: x, [1.0], [mx.array(1.0)])
    with pytest.raises(TypeError):
        mx.vjp(lambda x: x, mx.array(1.0), [mx.array(1.0)])
