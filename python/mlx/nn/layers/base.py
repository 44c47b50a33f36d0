"""mlx.nn.Module: the base class of every layer. A Module is a dict whose items are its
arrays, sub-modules and the lists/dicts holding them; everything else is a plain attribute.
Parameter trees, freezing, training mode, weight files and module surgery live here."""
from __future__ import annotations

import textwrap
from typing import Any, Callable, List, Optional, Tuple, Union

import mlx.core as mx
from mlx.utils import tree_flatten, tree_unflatten


def _is_floating(dtype) -> bool:
    return mx.issubdtype(dtype, mx.floating)


class Module(dict):
    """Base class of neural-network layers and models.

    Arrays, sub-modules and (nested) lists, tuples and dicts of them assigned as attributes
    are stored as dict items, so ``parameters()`` can walk the tree. Parameters whose names
    are in the frozen set (see :meth:`freeze`) receive no gradient from
    :func:`mlx.nn.value_and_grad`.
    """

    __call__: Callable

    def __init__(self):
        self._no_grad = set()
        self._training = True

    # ---- attribute storage -------------------------------------------------------------

    @property
    def training(self):
        """True when the module is in training mode."""
        return self._training

    @property
    def state(self):
        """The module's own dict (a live reference, not a copy)."""
        return self

    def __getattr__(self, key: str):
        value = self.get(key, None)
        if value is not None:
            return value
        # Raises AttributeError with Python's own message.
        return super().__getattribute__(key)

    def __setattr__(self, key: str, val: Any):
        if isinstance(val, (mx.array, dict, list, tuple)):
            if key not in self and hasattr(self, key):
                super().__delattr__(key)
            self[key] = val
        else:
            super().__setattr__(key, val)
            self.pop(key, None)

    def __delattr__(self, name):
        if self.get(name, None) is not None:
            del self[name]
        else:
            super().__delattr__(name)

    # ---- printing ----------------------------------------------------------------------

    def _extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self._extra_repr()}"]
        children = tree_flatten(self.children(), is_leaf=self.is_module)
        for name, child in children:
            lines.append(textwrap.indent(f"({name}): {child!r}", "  "))
        return "\n".join(lines) + ("\n)" if children else ")")

    # ---- filters -----------------------------------------------------------------------

    @staticmethod
    def is_module(value):
        return isinstance(value, Module)

    @staticmethod
    def valid_child_filter(module, key, value):
        return isinstance(value, (dict, list))

    @staticmethod
    def valid_parameter_filter(module, key, value):
        return isinstance(value, (dict, list, mx.array)) and not key.startswith("_")

    @staticmethod
    def trainable_parameter_filter(module, key, value):
        return Module.valid_parameter_filter(module, key, value) and key not in module._no_grad

    # ---- tree extraction ---------------------------------------------------------------

    def filter_and_map(self, filter_fn: Callable[[Module, str, Any], bool],
                       map_fn: Optional[Callable] = None,
                       is_leaf_fn: Optional[Callable[[Module, str, Any], bool]] = None):
        """The module's contents, recursively, keeping the (module, key, value) triples that
        ``filter_fn`` accepts and transforming the leaves with ``map_fn``. Inside plain
        dicts and lists the key given to the callbacks is the dotted path from the owning
        module ("layers.0"); rejected entries of lists and dicts become ``{}``."""
        if map_fn is None:
            map_fn = _identity
        if is_leaf_fn is None:
            is_leaf_fn = _is_plain_leaf
        return {k: _extract(self, k, v, filter_fn, map_fn, is_leaf_fn)
                for k, v in self.items() if filter_fn(self, k, v)}

    def parameters(self):
        """Every array member (keys starting with "_" excluded) as a tree of dicts/lists."""
        return self.filter_and_map(self.valid_parameter_filter)

    def trainable_parameters(self):
        """As :meth:`parameters` without the frozen ones."""
        return self.filter_and_map(self.trainable_parameter_filter)

    def children(self):
        """The direct sub-modules, in the dicts/lists that hold them."""
        return self.filter_and_map(self.valid_child_filter,
                                   is_leaf_fn=lambda m, k, v: isinstance(v, Module))

    def leaf_modules(self):
        """The sub-modules that have no sub-modules of their own."""
        def is_leaf_module(m, k, v):
            return isinstance(v, Module) and len(tree_flatten(v.children())) == 0
        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=is_leaf_module)

    # ---- updates -----------------------------------------------------------------------

    def update(self, parameters: dict, strict: bool = True) -> Module:
        """Replace arrays with those of a (possibly partial) tree shaped like
        :meth:`parameters`. With ``strict`` every key must exist and every array must be
        replaced by an array."""
        _update_arrays(self, parameters, strict)
        return self

    def update_modules(self, modules: dict, strict: bool = True) -> Module:
        """Replace sub-modules with those of a (possibly partial) tree shaped like
        :meth:`children`."""
        _update_children(self, modules, strict)
        return self

    def apply(self, map_fn: Callable[[mx.array], mx.array],
              filter_fn: Optional[Callable[[Module, str, Any], bool]] = None) -> Module:
        """Replace each array selected by ``filter_fn`` (default: the parameters) with
        ``map_fn(array)``."""
        if filter_fn is None:
            filter_fn = Module.valid_parameter_filter
        return self.update(self.filter_and_map(filter_fn, map_fn))

    def apply_to_modules(self, apply_fn: Callable[[str, Module], Any]) -> Module:
        """Call ``apply_fn(path, module)`` on this module ("" path) and every sub-module."""
        pending = [("", self)]
        while pending:
            path, module = pending.pop()
            apply_fn(path, module)
            pending.extend(tree_flatten(module.children(), prefix=f".{path}" if path else "",
                                        is_leaf=self.is_module))
        return self

    def modules(self):
        """This module and all its sub-modules, as a list."""
        found = []
        self.apply_to_modules(lambda _, m: found.append(m))
        return found

    def named_modules(self):
        """``(dotted path, module)`` for this module and all its sub-modules."""
        found = []
        self.apply_to_modules(lambda path, m: found.append((path, m)))
        return found

    # ---- freezing ----------------------------------------------------------------------

    def _validate_keys(self, keys, strict):
        keys = keys if isinstance(keys, list) else [keys]
        if strict:
            for k in keys:
                if k not in self:
                    raise KeyError(f"Module doesn't contain member {k}.")
        return keys

    def _validate_keys_recursive(self, keys):
        keys = keys if isinstance(keys, list) else [keys]
        modules = self.modules()
        for k in keys:
            if not any(k in m for m in modules):
                raise KeyError(f"Module doesn't contain member {k}.")

    def _local_parameter_names(self):
        own = self.filter_and_map(
            lambda m, k, v: not isinstance(v, Module) and m.valid_parameter_filter(m, k, v))
        return [k for k, _ in tree_flatten(own)]

    def freeze(self, *, recurse: bool = True, keys: Optional[Union[str, List[str]]] = None,
               strict: bool = False) -> Module:
        """Exclude parameters (all of them, or the names in ``keys``) from
        :meth:`trainable_parameters`; with ``recurse`` in every sub-module too."""
        def freeze_one(_, module):
            names = module._local_parameter_names() if keys is None else keys
            module._no_grad.update(module._validate_keys(names, strict_local))

        strict_local = strict
        if recurse:
            if strict and keys is not None:
                self._validate_keys_recursive(keys)
                strict_local = False
            self.apply_to_modules(freeze_one)
        else:
            freeze_one("", self)
        return self

    def unfreeze(self, *, recurse: bool = True, keys: Optional[Union[str, List[str]]] = None,
                 strict: bool = False) -> Module:
        """Make parameters (all of them, or the names in ``keys``) trainable again."""
        def unfreeze_one(_, module):
            if keys is None:
                module._no_grad.clear()
            else:
                module._no_grad.difference_update(module._validate_keys(keys, strict_local))

        strict_local = strict
        if recurse:
            if strict and keys is not None:
                self._validate_keys_recursive(keys)
                strict_local = False
            self.apply_to_modules(unfreeze_one)
        else:
            unfreeze_one("", self)
        return self

    # ---- training mode and dtype -------------------------------------------------------

    def _set_training_mode(self, mode: bool) -> None:
        self._training = mode

    def train(self, mode: bool = True) -> Module:
        """Set the training flag of this module and all its sub-modules."""
        self.apply_to_modules(lambda _, m: m._set_training_mode(mode))
        return self

    def eval(self) -> Module:
        """``train(False)``."""
        return self.train(False)

    def set_dtype(self, dtype: mx.Dtype,
                  predicate: Optional[Callable[[mx.Dtype], bool]] = _is_floating):
        """Cast the parameters whose dtype satisfies ``predicate`` (default: floating
        types; ``None``: all) to ``dtype``."""
        if predicate is None:
            predicate = _always
        self.apply(lambda x: x.astype(dtype) if predicate(x.dtype) else x)

    # ---- weight files ------------------------------------------------------------------

    def load_weights(self, file_or_weights: Union[str, List[Tuple[str, mx.array]]],
                     strict: bool = True) -> Module:
        """Load parameters from a ``.npz``/``.safetensors`` file or a list of
        ``(dotted name, array)`` pairs. With ``strict`` the names must match the model's
        parameters exactly and the shapes must agree."""
        weights = file_or_weights
        if isinstance(weights, str):
            weights = list(mx.load(weights).items())
        if strict:
            _check_weights(dict(weights), tree_flatten(self.parameters(), destination={}))
        if len(weights) != 0:
            self.update(tree_unflatten(weights), strict=False)
        return self

    def save_weights(self, file: str):
        """Save the flattened parameters; the extension picks ``mx.savez`` (.npz) or
        ``mx.save_safetensors`` (.safetensors)."""
        flat = tree_flatten(self.parameters(), destination={})
        if file.endswith(".npz"):
            mx.savez(file, **flat)
        elif file.endswith(".safetensors"):
            mx.save_safetensors(file, flat)
        else:
            raise ValueError(
                f"Unsupported file extension for {file}. Use '.npz' or '.safetensors'.")


def _identity(x):
    return x


def _always(_):
    return True


def _is_plain_leaf(module, key, value):
    return not isinstance(value, (Module, dict, list))


def _extract(owner, key, value, filter_fn, map_fn, is_leaf_fn):
    if is_leaf_fn(owner, key, value):
        return map_fn(value)
    if isinstance(value, Module):
        return {k: _extract(value, k, v, filter_fn, map_fn, is_leaf_fn)
                for k, v in value.items() if filter_fn(value, k, v)}
    if isinstance(value, dict):
        items = [(k, f"{key}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(i, f"{key}.{i}", v) for i, v in enumerate(value)]
    else:
        raise RuntimeError("Unexpected leaf found while traversing the module")
    kept = [_extract(owner, path, v, filter_fn, map_fn, is_leaf_fn)
            if filter_fn(owner, path, v) else {} for _, path, v in items]
    if isinstance(value, dict):
        return {k: x for (k, _, _), x in zip(items, kept)}
    return kept


def _slots(dst, src, strict, kind):
    """(slot, new value) pairs of a dict/list update, checking the keys when strict."""
    if isinstance(src, dict):
        for k in src:
            if k in dst:
                yield k, src[k]
            elif strict:
                raise ValueError(f'Module does not have {kind} named "{k}".')
    elif isinstance(src, list):
        for i, v in enumerate(src):
            if i < len(dst):
                yield i, v
            elif strict:
                raise ValueError(f"List index {i} is out of bounds for destination of "
                                 f"length {len(dst)}.")
    elif strict:
        raise ValueError(f"Received invalid type: {type(src).__name__}.")


def _update_arrays(dst, src, strict):
    for slot, new in _slots(dst, src, strict, "parameter"):
        old = dst[slot]
        if isinstance(old, mx.array):
            if strict and not isinstance(new, mx.array):
                raise ValueError(f"Received invalid type: {type(new).__name__}.")
            dst[slot] = new
        else:
            _update_arrays(old, new, strict)


def _update_children(dst, src, strict):
    for slot, new in _slots(dst, src, strict, "sub-module"):
        old = dst[slot]
        if isinstance(old, Module) and isinstance(new, Module):
            dst[slot] = new
        elif isinstance(old, (dict, list)):
            _update_children(old, new, strict)
        elif strict and new != {}:
            raise ValueError(f"Received invalid type: {type(new).__name__}.")


def _check_weights(new, current):
    extras = new.keys() - current.keys()
    if extras:
        names = ",\n".join(sorted(extras))
        raise ValueError(f"Received {len(extras)} parameters not in model: \n{names}.")
    missing = current.keys() - new.keys()
    if missing:
        names = ",\n".join(sorted(missing))
        raise ValueError(f"Missing {len(missing)} parameters: \n{names}.")
    for name, value in current.items():
        given = new[name]
        if not isinstance(given, mx.array):
            raise ValueError(f"Expected mx.array but received {type(given)} for parameter "
                             f"{name}")
        if given.shape != value.shape:
            raise ValueError(f"Expected shape {value.shape} but received shape "
                             f"{given.shape} for parameter {name}")
