"""mlx.utils: helpers over Python trees (nested lists, tuples and dicts; anything else is a
leaf), as MLX's (spec/python-api.md section 34): mapping over leaves, flattening to dotted
paths and back, folding, and merging two trees. Tuple subclasses (namedtuples) keep their
type; ``is_leaf`` may declare containers to be leaves."""
from itertools import zip_longest
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__all__ = ["tree_map", "tree_map_with_path", "tree_flatten", "tree_unflatten", "tree_reduce",
           "tree_merge"]


def _is_leaf(node, is_leaf):
    if is_leaf is not None and is_leaf(node):
        return True
    return not isinstance(node, (list, tuple, dict))


def _rebuild(like, items):
    """A list/tuple of like's type holding items (namedtuples take them as fields)."""
    if hasattr(like, "_fields"):
        return type(like)(*items)
    return type(like)(items)


def tree_map(fn: Callable, tree: Any, *rest: Any, is_leaf: Optional[Callable] = None) -> Any:
    """Apply ``fn(leaf, *matching leaves of rest)`` to every leaf of ``tree``; the trees in
    ``rest`` must contain ``tree``'s structure (they may be deeper)."""
    return tree_map_with_path(lambda _path, *leaves: fn(*leaves), tree, *rest, is_leaf=is_leaf)


def tree_map_with_path(fn: Callable, tree: Any, *rest: Any, is_leaf: Optional[Callable] = None,
                       path: Optional[Any] = None) -> Any:
    """As :func:`tree_map` with ``fn(path, leaf, *rest_leaves)``; paths are dotted
    ("model.0.w"), starting from ``path``."""
    if _is_leaf(tree, is_leaf):
        return fn(path, tree, *rest)
    base = f"{path}." if path else ""
    if isinstance(tree, dict):
        return {k: tree_map_with_path(fn, v, *(r[k] for r in rest), is_leaf=is_leaf,
                                      path=f"{base}{k}")
                for k, v in tree.items()}
    return _rebuild(tree, [tree_map_with_path(fn, v, *(r[i] for r in rest), is_leaf=is_leaf,
                                              path=f"{base}{i}")
                           for i, v in enumerate(tree)])


def tree_flatten(tree: Any, prefix: str = "", is_leaf: Optional[Callable] = None,
                 destination: Optional[Union[List[Tuple[str, Any]], Dict[str, Any]]] = None
                 ) -> Union[List[Tuple[str, Any]], Dict[str, Any]]:
    """The leaves of ``tree`` as ``(dotted path, leaf)`` pairs, appended to ``destination``
    (a new list by default, or a dict). The first character of ``prefix`` is dropped."""
    if destination is None:
        destination = []
    if isinstance(destination, list):
        add = destination.append
    elif isinstance(destination, dict):
        add = lambda kv: destination.__setitem__(*kv)  # noqa: E731
    else:
        raise ValueError("Destination should be either a list or a dictionary or None")
    stack = [(prefix, tree)]
    while stack:  # depth first, children in order
        key, node = stack.pop()
        if _is_leaf(node, is_leaf):
            add((key[1:], node))
        elif isinstance(node, dict):
            stack.extend(reversed([(f"{key}.{k}", v) for k, v in node.items()]))
        else:
            stack.extend(reversed([(f"{key}.{i}", v) for i, v in enumerate(node)]))
    return destination


def tree_unflatten(tree: Union[List[Tuple[str, Any]], Dict[str, Any]]) -> Any:
    """The tree of a flat ``[(dotted path, value)]`` list or dict: levels whose keys are all
    integers become lists (missing indices hold ``{}``), others dicts."""
    items = list(tree.items()) if isinstance(tree, dict) else list(tree)
    if len(items) == 1 and items[0][0] == "":
        return items[0][1]
    groups: Dict[str, list] = {}
    for key, value in items:
        head, _, tail = key.partition(".")
        groups.setdefault(head, []).append((tail, value))
    try:
        indices = {int(k): k for k in groups}
    except ValueError:
        indices = None
    if indices is not None and len(indices) == len(groups):
        out: list = []
        for i in sorted(indices):
            out.extend({} for _ in range(i - len(out)))
            out.append(tree_unflatten(groups[indices[i]]))
        return out
    return {k: tree_unflatten(v) for k, v in groups.items()}


def tree_reduce(fn: Callable, tree: Any, initializer: Any = None,
                is_leaf: Optional[Callable] = None) -> Any:
    """Left fold ``fn(accumulator, leaf)`` over the leaves; without an initializer the first
    leaf starts the fold."""
    acc = initializer
    for _, leaf in tree_flatten(tree, is_leaf=is_leaf):
        acc = leaf if acc is None else fn(acc, leaf)
    return acc


def tree_merge(tree_a: Any, tree_b: Any, merge_fn: Optional[Callable] = None) -> Any:
    """A tree holding the contents of both (a deep ``dict.update``); empty containers count
    as missing subtrees, and leaves present in both (``None`` included) need
    ``merge_fn(a, b)``. Dict keys come in ``tree_a``'s order, then ``tree_b``'s new ones."""
    empty_a = isinstance(tree_a, (dict, list, tuple)) and len(tree_a) == 0
    empty_b = isinstance(tree_b, (dict, list, tuple)) and len(tree_b) == 0
    if empty_a and empty_b:
        if type(tree_a) is not type(tree_b):
            raise ValueError(f"Cannot merge {type(tree_a).__name__} with {type(tree_b).__name__}")
        return type(tree_a)()
    a = None if empty_a else tree_a
    b = None if empty_b else tree_b
    if (a is None) != (b is None):
        return b if a is None else a
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return _rebuild(a, [tree_merge(x, y, merge_fn) for x, y in zip_longest(a, b)])
    if isinstance(a, dict) and isinstance(b, dict):
        keys = list(a) + [k for k in b if k not in a]
        return {k: tree_merge(a.get(k), b.get(k), merge_fn) for k in keys}
    if merge_fn is None:
        raise ValueError("Trees contain elements at the same locations but no merge function "
                         "was provided")
    return merge_fn(a, b)
