"""mlx.utils edge cases beyond test_utils.py: empty trees, prefixes, integer keys, gaps and
ordering in tree_unflatten, mismatched trees in tree_map, folds without leaves, merge
corner cases, and round trips of optimizer-state-like trees of arrays."""
import collections

import numpy as np
import pytest

import mlx.core as mx
from mlx.utils import (tree_flatten, tree_map, tree_map_with_path, tree_merge, tree_reduce,
                       tree_unflatten)

P = collections.namedtuple("P", ["a", "b"])


def test_flatten_empty_and_leaf_roots():
    assert tree_flatten({}) == [] and tree_flatten([]) == []
    assert tree_flatten(None) == [("", None)]
    assert tree_flatten({"a": {}, "b": [], "c": 1}) == [("c", 1)]
    assert tree_flatten({"a": "text", "b": (1,)}) == [("a", "text"), ("b.0", 1)]
    assert tree_flatten({1: "a", 2: {3: "b"}}) == [("1", "a"), ("2.3", "b")]
    assert tree_flatten({"a": 1}, is_leaf=lambda x: isinstance(x, dict)) == [("", {"a": 1})]


def test_flatten_prefix_and_destination():
    assert tree_flatten({"a": 1}, prefix="x") == [(".a", 1)]  # first character dropped
    assert tree_flatten({"a": 1}, prefix=".x") == [("x.a", 1)]
    existing = [("z", 0)]
    out = tree_flatten([1], destination=existing)
    assert out is existing and out == [("z", 0), ("0", 1)]
    d = {"z": 0}
    assert tree_flatten({"a": [5]}, destination=d) is d and d == {"z": 0, "a.0": 5}


def test_unflatten_structure():
    assert tree_unflatten([]) == [] and tree_unflatten({}) == []
    assert tree_unflatten([("0", 1), ("a", 2)]) == {"0": 1, "a": 2}  # mixed keys: a dict
    assert tree_unflatten([("1", 1), ("3.x", 2)]) == [{}, 1, {}, {"x": 2}]
    assert tree_unflatten([("b2.1", 3), ("b2.0", 4)]) == {"b2": [4, 3]}  # sorted by index
    assert list(tree_unflatten([("b", 1), ("a", 2)])) == ["b", "a"]  # dict keys keep order
    assert tree_unflatten([("-1", 1)]) == [1]  # int("-1") parses: a list level
    assert tree_unflatten([("01", 1), ("0", 2)]) == [2, 1]
    assert tree_unflatten([("", 1), ("a", 2)]) == {"": 1, "a": 2}
    assert tree_unflatten([("a.b.c", 1), ("a.b.d", 2), ("a.e", 3)]) == \
        {"a": {"b": {"c": 1, "d": 2}, "e": 3}}


def test_map_with_mismatched_trees():
    with pytest.raises(KeyError):
        tree_map(lambda x, y: x + y, {"a": 1}, {"b": 2})
    with pytest.raises(IndexError):
        tree_map(lambda x, y: x + y, [1, 2], [1])
    # rest trees may be deeper: the subtree is passed whole
    assert tree_map(lambda x, y: (x, y), {"a": 1}, {"a": [1, 2]}) == {"a": (1, [1, 2])}
    # sequences match by position whatever their type; the first tree's type is kept
    assert tree_map(lambda x, y: x + y, (1, 2), [3, 4]) == (4, 6)
    with pytest.raises(TypeError):
        tree_map(lambda x, y: x, {"a": {"b": 1}}, {"a": 2})
    assert tree_map(lambda x: x, None) is None
    out = tree_map(lambda x: x * 2, P(1, [2]))
    assert type(out) is P and out == P(2, [4])
    assert type(tree_map(lambda x: x, collections.OrderedDict(a=1))) is dict


def test_map_with_path_forms():
    assert tree_map_with_path(lambda p, x: p, (1, P(2, 3))) == ("0", P("1.0", "1.1"))
    assert tree_map_with_path(lambda p, x: p, {"a": [1, 2]}, path="root") == \
        {"a": ["root.a.0", "root.a.1"]}
    pairs = tree_map_with_path(lambda p, x, y: (p, x + y), {"w": [1]}, {"w": [10]})
    assert pairs == {"w": [("w.0", 11)]}


def test_reduce_without_leaves_and_with_none():
    assert tree_reduce(lambda a, b: a + b, {}) is None
    assert tree_reduce(lambda a, b: a + b, {}, 0) == 0
    assert tree_reduce(lambda a, b: a + [b], {"a": [1, 2], "b": 3}, []) == [1, 2, 3]
    # a None accumulator counts as "no value yet": the next leaf replaces it
    assert tree_reduce(lambda a, b: (a, b), [None, 1, 2]) == (1, 2)


def test_merge_corner_cases():
    assert tree_merge([1, {}, 3], [{}, 2]) == [1, 2, 3]
    assert tree_merge((1, {}), ({}, 2)) == (1, 2)
    assert tree_merge(P(1, {}), P({}, 2)) == P(1, 2)
    assert tree_merge(None, {"a": 1}) == {"a": 1}
    assert tree_merge({}, {"a": [1]}) == {"a": [1]}
    with pytest.raises(ValueError, match="no merge function was provided"):
        tree_merge([1], {"a": 1})
    with pytest.raises(ValueError, match="no merge function was provided"):
        tree_merge(1, {"a": 1})
    with pytest.raises(ValueError, match="no merge function was provided"):
        tree_merge(None, None)
    assert tree_merge({"a": None}, {"a": None}, lambda x, y: "both") == {"a": "both"}
    merged = tree_merge({"z": 1, "a": {"q": 2}}, {"m": 3, "a": {"r": 4}})
    assert list(merged) == ["z", "a", "m"] and list(merged["a"]) == ["q", "r"]


def test_round_trip_of_array_trees(tmp_path):
    state = {"step": mx.array(3, mx.uint64), "layers": [{"w": {"m": mx.ones((2, 3)),
                                                             "v": mx.zeros((2, 3))}},
                                                       {"w": {"m": mx.full((4,), 2.0)}}]}
    flat = tree_flatten(state)
    assert [k for k, _ in flat] == ["step", "layers.0.w.m", "layers.0.w.v", "layers.1.w.m"]
    path = str(tmp_path / "state.safetensors")
    mx.save_safetensors(path, dict(flat))
    back = tree_unflatten(list(mx.load(path).items()))
    assert back["step"].dtype == mx.uint64 and back["step"].item() == 3
    loaded = dict(tree_flatten(back))
    assert sorted(loaded) == sorted(k for k, _ in flat)
    for key, value in flat:
        assert mx.array_equal(loaded[key], value)
    doubled = tree_map(lambda x: x * 2, back)
    assert np.array_equal(np.array(doubled["layers"][1]["w"]["m"]), np.full(4, 4.0))
    total = tree_reduce(lambda acc, x: acc + x.sum(), state["layers"], mx.array(0.0))
    assert total.item() == 6.0 + 8.0
