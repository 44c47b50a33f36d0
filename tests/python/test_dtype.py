"""mx.Dtype, DtypeCategory, issubdtype, finfo/iinfo and the promotion table
(spec/python-api.md section 3, spec/semantics.md sections 1-2)."""
import pickle

import numpy as np
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES

SIZES = {
    "bool_": 1, "uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8, "int8": 1, "int16": 2,
    "int32": 4, "int64": 8, "float16": 2, "float32": 4, "float64": 8, "bfloat16": 2,
    "complex64": 8,
}


def test_dtype_objects():
    assert len(ALL_DTYPES) == 14
    for name, size in SIZES.items():
        t = getattr(mx, name)
        assert isinstance(t, mx.Dtype)
        assert t.size == size
        printed = "bool" if name == "bool_" else name
        assert repr(t) == f"mlx.core.{printed}"


def test_dtype_eq_hash_pickle():
    assert mx.float32 == mx.float32
    assert mx.float32 != mx.float16
    assert mx.float32 != "float32"
    d = {t: i for i, t in enumerate(ALL_DTYPES)}
    assert all(d[t] == i for i, t in enumerate(ALL_DTYPES))
    for t in ALL_DTYPES:
        assert pickle.loads(pickle.dumps(t)) is t


def test_categories_exported():
    names = ["complexfloating", "floating", "inexact", "signedinteger", "unsignedinteger",
             "integer", "number", "generic"]
    for n in names:
        assert getattr(mx, n) is getattr(mx.DtypeCategory, n)


@pytest.mark.parametrize(
    "a,b,expected",
    [
        ("bool_", "integer", False),
        ("bool_", "generic", True),
        ("bool_", "number", False),
        ("int32", "signedinteger", True),
        ("int32", "unsignedinteger", False),
        ("uint8", "unsignedinteger", True),
        ("uint8", "integer", True),
        ("float16", "floating", True),
        ("bfloat16", "floating", True),
        ("float32", "inexact", True),
        ("complex64", "inexact", True),
        ("complex64", "floating", False),
        ("float32", "float32", True),
        ("float32", "float64", False),
        ("floating", "inexact", True),
        ("integer", "number", True),
        ("number", "generic", True),
        ("inexact", "floating", False),
        ("floating", "float32", False),
    ],
)
def test_issubdtype(a, b, expected):
    assert mx.issubdtype(getattr(mx, a), getattr(mx, b)) is expected


def test_issubdtype_positional_only():
    with pytest.raises(TypeError):
        mx.issubdtype(arg1=mx.float32, arg2=mx.floating)


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_numpy(name):
    fi, nf = mx.finfo(getattr(mx, name)), np.finfo(getattr(np, name))
    assert fi.max == float(nf.max)
    assert fi.min == float(nf.min)
    assert fi.eps == float(nf.eps)
    assert fi.smallest_normal == float(nf.smallest_normal)
    assert fi.bits == nf.bits
    assert fi.dtype == getattr(mx, name)


def test_finfo_bfloat16_and_errors():
    fi = mx.finfo(mx.bfloat16)
    assert fi.eps == 2.0**-7
    assert fi.max == pytest.approx(3.3895313892515355e38)
    assert fi.bits == 16
    with pytest.raises(ValueError):
        mx.finfo(mx.int32)


@pytest.mark.parametrize("name", ["int8", "int16", "int32", "int64", "uint8", "uint16",
                                  "uint32", "uint64"])
def test_iinfo_matches_numpy(name):
    ii, ni = mx.iinfo(getattr(mx, name)), np.iinfo(getattr(np, name))
    assert (ii.min, ii.max) == (int(ni.min), int(ni.max))
    assert ii.dtype == getattr(mx, name)


def test_iinfo_rejects_floats():
    with pytest.raises(ValueError):
        mx.iinfo(mx.float32)


# Cells of the fixed promotion lattice (semantics.md section 2), incl. the ones that differ
# from NumPy.
PROMOTIONS = [
    ("bool_", "bool_", "bool_"),
    ("bool_", "int8", "int8"),
    ("uint8", "int8", "int16"),
    ("uint16", "int16", "int32"),
    ("uint32", "int32", "int64"),
    ("uint64", "int8", "float32"),
    ("uint64", "int64", "float32"),
    ("int32", "float16", "float16"),
    ("int64", "bfloat16", "bfloat16"),
    ("float16", "bfloat16", "float32"),
    ("float16", "float32", "float32"),
    ("float64", "complex64", "complex64"),
    ("bfloat16", "float64", "float64"),
    ("uint8", "uint32", "uint32"),
    ("int16", "int64", "int64"),
]


@pytest.mark.parametrize("a,b,expected", PROMOTIONS)
def test_result_type_table(a, b, expected):
    ta, tb, te = getattr(mx, a), getattr(mx, b), getattr(mx, expected)
    assert mx.result_type(ta, tb) == te
    assert mx.result_type(tb, ta) == te
    x = mx.array([1], dtype=ta)
    assert mx.result_type(x, tb) == te


@pytest.mark.parametrize("a,b,expected", PROMOTIONS)
def test_binary_op_promotes(a, b, expected):
    with mx.stream(mx.cpu):  # float64 runs only on CPU streams
        x = mx.array([1, 0], dtype=getattr(mx, a))
        y = mx.array([1, 1], dtype=getattr(mx, b))
        z = x * y
    assert z.dtype == getattr(mx, expected)


def test_can_cast():
    assert mx.can_cast(mx.int8, mx.int32)
    assert not mx.can_cast(mx.float32, mx.int32)
