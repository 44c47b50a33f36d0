"""mx.vmap (spec/semantics.md section 11, python-api.md section 14): results against a
Python loop over the batch, in_axes/out_axes as ints, negative ints, None and prefix trees,
unbatched outputs, nesting and composition with grad, and MLX's errors."""
import numpy as np
import pytest

import mlx.core as mx


def loop(fun, args, in_axes, out_axis=0):
    """Reference: fun applied to each example (NumPy slices), stacked along out_axis."""
    size = next(np.array(a).shape[ax] for a, ax in zip(args, in_axes) if ax is not None)
    outs = []
    for b in range(size):
        ex = [mx.array(np.take(np.array(a), b, axis=ax)) if ax is not None else a
              for a, ax in zip(args, in_axes)]
        outs.append(np.array(fun(*ex)))
    return np.stack(outs, axis=out_axis)


def randn(rng, *shape):
    return mx.array(rng.standard_normal(shape).astype(np.float32))


CASES = [
    ("exp", lambda a: mx.exp(a), 1),
    ("add_scalar", lambda a: a * 2.0 + 1.0, 1),
    ("sum", lambda a: a.sum(), 1),
    ("sum_axis", lambda a: mx.sum(a, axis=-1, keepdims=True), 1),
    ("reshape", lambda a: a.reshape(-1), 1),
    ("transpose", lambda a: a.T, 1),
    ("slice", lambda a: a[1:, ::2], 1),
    ("index", lambda a: a[0], 1),
    ("astype", lambda a: (a * 10).astype(mx.int32), 1),
    ("where", lambda a: mx.where(a > 0, a, -a), 1),
    ("compare", lambda a: a > 0.1, 1),
    ("maximum", lambda a, b: mx.maximum(a, b), 2),
    ("matmul", lambda a, b: a @ b.T, 2),
    ("divide", lambda a, b: a / (mx.abs(b) + 1), 2),
    ("broadcast", lambda a, b: mx.broadcast_to(a[:1], b.shape) - b, 2),
]


@pytest.mark.parametrize("name, fun, nargs", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_vmap_matches_loop(rng, name, fun, nargs, axis):
    args = [randn(rng, 3, 4, 5) for _ in range(nargs)]
    got = mx.vmap(fun, in_axes=axis)(*args)
    ref = loop(fun, args, [axis] * nargs)
    np.testing.assert_allclose(np.array(got), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("out_axis", [0, 1, 2, -1, -3])
def test_out_axes(rng, out_axis):
    x = randn(rng, 4, 2, 3)
    got = mx.vmap(lambda a: a * 3, out_axes=out_axis)(x)
    ref = loop(lambda a: a * 3, [x], [0], out_axis=out_axis % 3)
    np.testing.assert_allclose(np.array(got), ref, rtol=1e-6)


def test_mixed_axes_and_unbatched_args(rng):
    x, y, z = randn(rng, 3, 4), randn(rng, 4, 3), randn(rng, 4)
    got = mx.vmap(lambda a, b, c: a * b + c, in_axes=(0, 1, None))(x, y, z)
    ref = loop(lambda a, b, c: a * b + c, [x, y, z], [0, 1, None])
    np.testing.assert_allclose(np.array(got), ref, rtol=1e-6)


def test_tree_arguments_and_outputs(rng):
    p = {"w": randn(rng, 3, 4), "b": [randn(rng, 4, 3)]}

    def f(t):
        return {"y": t["w"] * t["b"][0].T, "s": (t["w"].sum(), t["b"][0].sum())}

    out = mx.vmap(f, in_axes={"w": 0, "b": [1]}, out_axes={"y": 1, "s": 0})(p)
    w, b = np.array(p["w"]), np.array(p["b"][0])
    np.testing.assert_allclose(np.array(out["y"]), (w * b.T).T, rtol=1e-6)
    assert isinstance(out["s"], tuple)
    np.testing.assert_allclose(np.array(out["s"][0]), w.sum(1), rtol=1e-5)
    np.testing.assert_allclose(np.array(out["s"][1]), b.sum(0), rtol=1e-5)


def test_single_tuple_axes_and_one_tuples(rng):
    x = randn(rng, 3, 4)
    assert mx.vmap(lambda a: a, in_axes=(1,))(x).shape == (4, 3)
    assert mx.vmap(lambda a: [a], out_axes=[1])(x)[0].shape == (4, 3)
    assert mx.vmap(lambda a: a, out_axes=(1,))(x).shape == (4, 3)
    pair = mx.vmap(lambda t: t[0] + t[1], in_axes=(0, 1))((x, x.T))  # one argument: its own tree
    np.testing.assert_allclose(np.array(pair), 2 * np.array(x), rtol=1e-6)


def test_unbatched_outputs_are_broadcast(rng):
    x, c = randn(rng, 3, 4), randn(rng, 2)
    out = mx.vmap(lambda a: c * 2)(x)
    assert out.shape == (3, 2)
    np.testing.assert_allclose(np.array(out), np.tile(np.array(c) * 2, (3, 1)), rtol=1e-6)
    out = mx.vmap(lambda a, b: b, in_axes=(0, None), out_axes=1)(x, c)
    assert out.shape == (2, 3)


def test_zero_size_batch():
    out = mx.vmap(lambda a: a.sum() * 2)(mx.zeros((0, 3)))
    assert out.shape == (0,)
    assert mx.vmap(lambda a: a * 2)(mx.zeros((0, 3))).shape == (0, 3)


def test_returns_new_arrays_and_inputs_untouched(rng):
    x = randn(rng, 3, 4)
    y = mx.vmap(lambda a: a)(x)
    assert y is not x
    np.testing.assert_array_equal(np.array(y), np.array(x))


def test_nested_vmap(rng):
    x, y = randn(rng, 3, 4), randn(rng, 5, 4)
    outer = mx.vmap(mx.vmap(lambda a, b: (a * b).sum(), in_axes=(None, 0)), in_axes=(0, None))
    got = outer(x, y)
    np.testing.assert_allclose(np.array(got), np.array(x) @ np.array(y).T, rtol=1e-5)


def test_vmap_of_grad_and_grad_of_vmap(rng):
    x = randn(rng, 3, 4)
    per_row = mx.vmap(mx.grad(lambda r: (mx.exp(r) * r).sum()))(x)
    xn = np.array(x)
    np.testing.assert_allclose(np.array(per_row), np.exp(xn) * (xn + 1), rtol=1e-5)
    g = mx.grad(lambda a: mx.vmap(lambda r: (r * r).sum())(a).sum())(x)
    np.testing.assert_allclose(np.array(g), 2 * xn, rtol=1e-6)


def test_vmap_random_keys_matches_loop():
    keys = mx.random.split(mx.random.key(7), 4)
    got = mx.vmap(lambda k: mx.random.uniform(shape=(3,), key=k))(keys)
    ref = np.stack([np.array(mx.random.uniform(shape=(3,), key=keys[i])) for i in range(4)])
    np.testing.assert_array_equal(np.array(got), ref)


def test_vmap_setitem(rng):
    x = randn(rng, 3, 4)

    def f(a):
        b = a * 1
        b[1] = -1.0
        return b

    ref = np.array(x)
    ref[:, 1] = -1.0
    np.testing.assert_array_equal(np.array(mx.vmap(f)(x)), ref)


def test_errors():
    x = mx.ones((3, 4))
    with pytest.raises(ValueError, match=r"Inconsistent axis sizes: 3 and 4"):
        mx.vmap(lambda a, b: a + b)(x, mx.ones((4, 4)))
    with pytest.raises(IndexError, match=r"Invalid vectorization axis 2 for array with shape \(3,4\)"):
        mx.vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(IndexError, match=r"Invalid output vectorization axis 2"):
        mx.vmap(lambda a: a, out_axes=2)(x)
    with pytest.raises(IndexError, match=r"Invalid vectorization axis 0 for array with shape \(\)"):
        mx.vmap(lambda a: a)(mx.array(1.0))
    with pytest.raises(ValueError, match="At least one of in_axes must be non-None"):
        mx.vmap(lambda a, b: a, in_axes=(None, None))(x, x)
    with pytest.raises(ValueError, match="axis must be int or None"):
        mx.vmap(lambda a: a, in_axes=1.0)(x)
    with pytest.raises(ValueError, match="axis must be int or None"):
        mx.vmap(lambda a: a, in_axes=(0, 0))(x)
    with pytest.raises(ValueError, match="prefix"):
        mx.vmap(lambda a: a, in_axes=(0, 1))([x, x])
    with pytest.raises(ValueError, match="prefix"):
        mx.vmap(lambda a: a, in_axes={"b": 0})({"a": x})
    with pytest.raises(ValueError, match="only arrays"):
        mx.vmap(lambda a, b: a * b, in_axes=(0, None))(x, 2)
    with pytest.raises(ValueError, match="only arrays"):
        mx.vmap(lambda a: 1)(x)
    with pytest.raises(TypeError, match="Keyword arguments are not supported"):
        mx.vmap(lambda a, k=2: a * k)(x, k=3)
    with pytest.raises(TypeError):
        mx.vmap(lambda a: a, in_axes=None)
    with pytest.raises(ValueError, match="Axis -1 invalid"):
        mx.vmap(lambda a: (a, a), out_axes=(0, None))(x)


def test_eval_inside_vmap_raises():
    x = mx.ones((3, 4))
    with pytest.raises(ValueError, match="during function transformations"):
        mx.vmap(lambda a: (mx.eval(a), a)[1])(x)
    with pytest.raises(ValueError, match="during function transformations"):
        mx.vmap(lambda a: a.sum().item())(x)


def test_python_error_passes_through():
    def f(a):
        raise KeyError("inside vmap")

    with pytest.raises(KeyError, match="inside vmap"):
        mx.vmap(f)(mx.ones((2, 2)))
