"""grad / value_and_grad / vjp / jvp over list, tuple and dict trees of arrays
(spec/semantics.md section 11): argument and gradient structure, argnums/argnames,
auxiliary outputs, cotangent pairing, errors naming the transformation, and the release of
the traced graph once no transformation is active."""
import collections
import gc

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


def test_grad_dict_list_tree(rng):
    a, b0, b1 = (rng.standard_normal(4) for _ in range(3))
    params = {"a": mx.array(a), "b": [mx.array(b0), mx.array(b1)]}

    def loss(p):
        return (p["a"] * p["b"][0]).sum() + (mx.exp(p["b"][1]) * p["a"]).sum()

    g = mx.grad(loss)(params)
    assert set(g) == {"a", "b"} and isinstance(g["b"], list) and len(g["b"]) == 2
    np.testing.assert_allclose(np.array(g["a"]), b0 + np.exp(b1), rtol=1e-5)
    np.testing.assert_allclose(np.array(g["b"][0]), a, rtol=1e-5)
    np.testing.assert_allclose(np.array(g["b"][1]), np.exp(b1) * a, rtol=1e-5)


def test_grad_tree_against_finite_differences(rng):
    x = rng.uniform(0.5, 1.5, (2, 3))
    y = rng.uniform(0.5, 1.5, (3,))

    def f(t):
        (u,), d = t
        return (mx.log(u) * d["y"] + mx.sqrt(u)).sum()

    tree = ((mx.array(x, dtype=mx.float64),), {"y": mx.array(y, dtype=mx.float64)})
    (gu,), gd = mx.grad(f)(tree)
    assert gu.dtype == mx.float64
    np.testing.assert_allclose(
        np.array(gu), finite_diff(lambda v: np.sum(np.log(v) * y + np.sqrt(v)), x), rtol=1e-6)
    np.testing.assert_allclose(
        np.array(gd["y"]), finite_diff(lambda v: np.sum(np.log(x) * v + np.sqrt(x)), y), rtol=1e-6)


def test_grad_keeps_tuple_and_namedtuple_types():
    P = collections.namedtuple("P", ["u", "v"])
    x = mx.array([1.0, 2.0])
    g = mx.grad(lambda p: (p.u * p.v).sum())(P(x, x * 3))
    assert type(g) is P
    assert g.u.tolist() == [3.0, 6.0] and g.v.tolist() == [1.0, 2.0]
    g2 = mx.grad(lambda t: (t[0] * t[1]).sum())((x, x))
    assert type(g2) is tuple and g2[0].tolist() == [1.0, 2.0]


def test_grad_several_argnums_of_trees():
    x = mx.array([1.0, 2.0])

    def f(a, scale, b):
        return (a[0] * b["w"] * scale).sum()

    ga, gb = mx.grad(f, argnums=(0, 2))([x], 2.0, {"w": x * 2})
    assert isinstance(ga, list) and ga[0].tolist() == [4.0, 8.0]
    assert gb["w"].tolist() == [2.0, 4.0]


def test_grad_argnames_trees():
    x = mx.array([1.0, 2.0])

    def f(a, *, p):
        return (a * p["w"][0]).sum()

    pos, kw = mx.grad(f, argnums=0, argnames="p")(x, p={"w": [x * 3]})
    assert pos.tolist() == [3.0, 6.0]
    assert kw["p"]["w"][0].tolist() == [1.0, 2.0]
    none, kw = mx.grad(f, argnames=["p"])(x, p={"w": [x]})
    assert none is None and kw["p"]["w"][0].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("tag, make", [("grad", mx.grad), ("value_and_grad", mx.value_and_grad)])
@pytest.mark.parametrize("bad", [3, "s", 2.0, None])
def test_non_array_leaf_in_grad_argument_raises(tag, make, bad):
    f = make(lambda p: p[0].sum())
    with pytest.raises(ValueError, match=rf"\[{tag}\].*only arrays"):
        f([mx.array([1.0]), bad])


def test_non_grad_arguments_may_hold_anything():
    x = mx.array([1.0, 2.0])
    g = mx.grad(lambda a, cfg: (a * cfg["k"]).sum())(x, {"k": 3, "name": object()})
    assert g.tolist() == [3.0, 3.0]


def test_grad_of_empty_tree_raises():
    with pytest.raises(ValueError, match="at least one argument"):
        mx.grad(lambda p: mx.array(0.0))([])


def test_grad_non_scalar_output_raises():
    with pytest.raises(ValueError, match=r"\[vjp\] Output shape \(3\)"):
        mx.grad(lambda p: p * 2)(mx.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="should be a scalar array"):
        mx.grad(lambda p: (p.sum(), p))(mx.array([1.0]))


def test_value_and_grad_auxiliary_tree():
    x = mx.array([1.0, 2.0, 3.0])

    def f(p):
        return (p * p).sum(), {"aux": p * 2, "n": 3, "s": "str"}

    (loss, aux), g = mx.value_and_grad(f)(x)
    assert loss.item() == 14.0
    assert aux["aux"].tolist() == [2.0, 4.0, 6.0] and aux["n"] == 3 and aux["s"] == "str"
    assert g.tolist() == [2.0, 4.0, 6.0]


def test_value_and_grad_aux_outputs_are_stop_gradient():
    x = mx.array([1.0, 2.0, 3.0])

    def inner(p):
        return (p * p).sum(), p * 3

    def outer(p):
        (loss, aux), _ = mx.value_and_grad(inner)(p)
        return aux.sum() + loss  # aux contributes no gradient

    assert mx.grad(outer)(x).tolist() == [2.0, 4.0, 6.0]


def test_value_and_grad_return_type_errors():
    x = mx.array([1.0])
    with pytest.raises(ValueError, match=r"\[value_and_grad\].*list was returned"):
        mx.value_and_grad(lambda p: [p.sum()])(x)
    with pytest.raises(ValueError, match="empty tuple"):
        mx.value_and_grad(lambda p: ())(x)
    with pytest.raises(ValueError, match="first value being of type int"):
        mx.value_and_grad(lambda p: (1, p))(x)


def test_grad_integer_input_gives_integer_gradient():
    g = mx.grad(lambda p: (p * p).sum())(mx.array([1, 2, 3]))
    assert g.dtype == mx.int32 and g.tolist() == [2, 4, 6]


def test_grad_argument_trees_are_not_mutated():
    x = mx.array([1.0, 2.0])
    tree = {"w": [x]}
    mx.grad(lambda t: (t["w"][0] * 2).sum())(tree)
    assert tree["w"][0] is x


def test_vjp_cotangent_pairing():
    x = mx.array(1.0)
    # extra cotangents are ignored, stop_gradient outputs take none
    outs, vjps = mx.vjp(lambda p: (p * 2, p), [x], [mx.array(1.0), mx.array(1.0), mx.array(3.0)])
    assert vjps[0].item() == 3.0
    outs, vjps = mx.vjp(lambda p: [p * 2, mx.stop_gradient(p)], [x], [mx.array(1.0)])
    assert len(outs) == 2 and vjps[0].item() == 2.0
    with pytest.raises(ValueError, match="does not match number of cotangents"):
        mx.vjp(lambda p: [p * 2, p], [x], [mx.array(1.0)])
    with pytest.raises(ValueError, match=r"Output shape \(2\) does not match cotangent shape \(3\)"):
        mx.vjp(lambda p: p * 2, [mx.array([1.0, 2.0])], [mx.ones((3,))])


def test_vjp_jvp_cast_cotangents_and_tangents():
    outs, vjps = mx.vjp(lambda p: p * 2, [mx.array([1.0, 2.0])], [mx.array([1, 2])])
    assert vjps[0].dtype == mx.float32 and vjps[0].tolist() == [2.0, 4.0]
    outs, jvps = mx.jvp(lambda p: p * 2, [mx.array([1.0, 2.0])], [mx.array([1, 2])])
    assert jvps[0].dtype == mx.float32 and jvps[0].tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="Input shape does not match shape of tangent"):
        mx.jvp(lambda p: p, [mx.array([1.0, 2.0])], [mx.array([1.0])])


def test_python_exception_passes_through_unchanged():
    class Boom(Exception):
        pass

    def f(p):
        raise Boom("inside")

    with pytest.raises(Boom, match="inside"):
        mx.grad(f)({"a": mx.array(1.0)})


def test_results_release_their_graph_after_evaluation():
    """Once the transformation is over the results are ordinary arrays: evaluating them
    frees the intermediates of the traced graph."""
    x = mx.ones((256, 1024))  # 1 MiB
    mx.eval(x)

    def f(p):
        big = mx.exp(p) * 3.0 + p
        return (big * big).sum()

    gc.collect()
    base = mx.get_active_memory()
    loss, g = mx.value_and_grad(f)(x)
    mx.eval(loss, g)
    gc.collect()
    # only the gradient (1 MiB) and the scalar loss stay alive
    assert mx.get_active_memory() - base < 1.5 * 2**20
    del loss, g
