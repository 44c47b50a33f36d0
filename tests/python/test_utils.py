"""mlx.utils tree helpers (spec/python-api.md section 34) on nested lists, tuples, dicts and
namedtuples, with MLX's path format, list rebuilding and merge rules."""
import collections

import pytest

import mlx.core as mx
from mlx.utils import (tree_flatten, tree_map, tree_map_with_path, tree_merge, tree_reduce,
                       tree_unflatten)

P = collections.namedtuple("P", ["u", "v"])


def test_tree_flatten_paths_and_destinations():
    tree = {"a": [1, {"b": 2}], "c": (3,), "d": P(4, 5)}
    flat = tree_flatten(tree)
    assert flat == [("a.0", 1), ("a.1.b", 2), ("c.0", 3), ("d.0", 4), ("d.1", 5)]
    assert tree_flatten(tree, destination={}) == dict(flat)
    assert tree_flatten([[[0]]]) == [("0.0.0", 0)]
    assert tree_flatten([[[0]]], prefix=".hello") == [("hello.0.0.0", 0)]
    assert tree_flatten(7) == [("", 7)]
    assert tree_flatten({"a": [1, 2]}, is_leaf=lambda x: isinstance(x, list)) == [("a", [1, 2])]
    with pytest.raises(ValueError, match="Destination should be either"):
        tree_flatten([1], destination=(1,))


def test_tree_unflatten():
    assert tree_unflatten([("hello.world", 42)]) == {"hello": {"world": 42}}
    assert tree_unflatten({"hello.world": 42}) == {"hello": {"world": 42}}
    assert tree_unflatten([("", 5)]) == 5
    assert tree_unflatten([("0.a", 1), ("2", 3)]) == [{"a": 1}, {}, 3]
    tree = {"layers": [{"w": 1, "b": 2}, {"w": 3, "b": 4}], "head": {"x": 5}}
    assert tree_unflatten(tree_flatten(tree)) == tree


def test_tree_map_types_and_rest():
    tree = {"a": [1, 2], "b": (3, P(4, 5))}
    out = tree_map(lambda x, y: x * 10 + y, tree, {"a": [1, 1], "b": (1, P(1, 1))})
    assert out == {"a": [11, 21], "b": (31, P(41, 51))}
    assert type(out["b"][1]) is P and type(out["b"]) is tuple
    arr = tree_map(lambda x: x * 2, {"w": mx.array([1.0, 2.0])})
    assert arr["w"].tolist() == [2.0, 4.0]
    assert tree_map(len, {"a": [1, 2]}, is_leaf=lambda x: isinstance(x, list)) == {"a": 2}


def test_tree_map_with_path():
    seen = []
    tree = {"model": [{"w": 0, "b": 1}, {"w": 0, "b": 1}]}
    tree_map_with_path(lambda p, x: seen.append(p), tree)
    assert seen == ["model.0.w", "model.0.b", "model.1.w", "model.1.b"]
    assert tree_map_with_path(lambda p, x: p, [1, [2]], path="root") == ["root.0", ["root.1.0"]]
    assert tree_map_with_path(lambda p, x: p, 3) is None


def test_tree_reduce():
    assert tree_reduce(lambda acc, x: acc + x, {"a": [1, 2, 3], "b": [4, 5]}, 0) == 15
    assert tree_reduce(lambda acc, x: acc * x, [2, (3, 4)]) == 24
    assert tree_reduce(lambda acc, x: acc + x, [], 7) == 7
    assert tree_reduce(lambda a, x: a + len(x), {"a": [1, 2], "b": [3]}, 0,
                       is_leaf=lambda x: isinstance(x, list)) == 3


def test_tree_merge():
    a = {"x": [1, None], "y": {}}
    b = {"x": [None, 2], "y": {"z": 3}, "w": 4}
    assert tree_merge(a, b) == {"x": [1, 2], "y": {"z": 3}, "w": 4}
    assert tree_merge([], []) == [] and tree_merge({}, {}) == {}
    with pytest.raises(ValueError, match="Cannot merge list with dict"):
        tree_merge([], {})
    with pytest.raises(ValueError, match="no merge function"):
        tree_merge({"a": 1}, {"a": 2})
    assert tree_merge({"a": 1}, {"a": 2}, lambda u, v: u + v) == {"a": 3}
    assert tree_merge(P(1, None), P(None, 2)) == P(1, 2)
