"""Bad inputs to the transformations raise MLX 0.32's exception types (checked case by case
against MLX): missing rules, dtype comparison with None, updates of empty indexed axes,
primals given as an array, exporter misuse."""
import pytest

import mlx.core as mx

X = mx.array([1.0, 2.0, 3.0])


@pytest.mark.parametrize("which", ["vjp", "jvp"])
def test_missing_rule_is_value_error(which):
    f = lambda a: a.view(mx.int32).astype(mx.float32)
    with pytest.raises(ValueError, match=rf"\[Primitive::{which}\] Not implemented for View int32"):
        if which == "vjp":
            mx.grad(lambda a: f(a).sum())(X)
        else:
            mx.jvp(f, [X], [X])


def test_dtype_compared_with_none():
    with pytest.raises(TypeError):
        mx.float32 == None  # noqa: E711
    with pytest.raises(TypeError):
        mx.float32 != None  # noqa: E711
    with pytest.raises(TypeError):
        mx.float32 in [None, mx.float32]
    assert (mx.float32 == 3) is False and mx.float32 == mx.float32 and mx.float32 != mx.int32


def test_update_of_empty_indexed_axis():
    i = mx.array([], dtype=mx.int32)
    assert mx.zeros((0, 3))[i].shape == (0, 3)
    with pytest.raises(ValueError, match=r"\[scatter\] Updates with shape \(0,1,3\) are too large for array with shape \(0,3\)"):
        mx.zeros((0, 3)).at[i].add(mx.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"\[scatter\]"):
        a = mx.zeros((0,))
        a[i] = 1.0
    b = mx.zeros((2, 3))
    b[i] = 5.0  # an empty index into a non-empty axis updates nothing
    assert b.tolist() == [[0.0] * 3] * 2


def test_primals_as_an_array():
    with pytest.raises(ValueError, match=r"\[jvp\] Number of inputs does not match number of tangents"):
        mx.jvp(lambda a: a, X, [X])
    with pytest.raises(TypeError):
        mx.vjp(lambda a: a, X, [X])


def test_vmap_and_grad_errors():
    with pytest.raises(ValueError, match=r"\[vmap\] Inconsistent axis sizes: 2 and 3"):
        mx.vmap(lambda a, b: a + b)(mx.ones((2, 3)), mx.ones((3, 3)))
    with pytest.raises(IndexError, match=r"\[vmap\] Invalid vectorization axis 2"):
        mx.vmap(lambda a: a, in_axes=2)(mx.ones((2, 3)))
    with pytest.raises(ValueError, match=r"argument index 3"):
        mx.grad(lambda a: a.sum(), argnums=3)(X)
    with pytest.raises(ValueError, match=r"\[async_eval\] Not allowed inside a graph transformation"):
        mx.grad(lambda a: (mx.async_eval(a), a.sum())[1])(X)
    with pytest.raises(ValueError, match=r"\[eval\] Attempting to eval an array during function transformations"):
        mx.compile(lambda a: a * a.sum().item())(X)
