"""mx.isdtype: the Array API kind test over every dtype (kind names, dtypes, tuples) and its
errors; the expected kinds follow the Array API definitions MLX implements."""
import pytest

import mlx.core as mx
from conftest import ALL_DTYPES

SIGNED = {mx.int8, mx.int16, mx.int32, mx.int64}
UNSIGNED = {mx.uint8, mx.uint16, mx.uint32, mx.uint64}
REAL = {mx.float16, mx.float32, mx.float64, mx.bfloat16}
KINDS = {
    "bool": {mx.bool_},
    "signed integer": SIGNED,
    "unsigned integer": UNSIGNED,
    "integral": SIGNED | UNSIGNED,
    "real floating": REAL,
    "complex floating": {mx.complex64},
    "numeric": SIGNED | UNSIGNED | REAL | {mx.complex64},
}


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_isdtype_kinds(dtype):
    for kind, members in KINDS.items():
        assert mx.isdtype(dtype, kind) == (dtype in members), kind
    for other in ALL_DTYPES:
        assert mx.isdtype(dtype, other) == (dtype == other)
    assert mx.isdtype(dtype, ("bool", dtype))
    assert not mx.isdtype(dtype, ())
    assert mx.isdtype(dtype=dtype, kind=dtype)


def test_isdtype_errors():
    with pytest.raises(ValueError, match=r"\[isdtype\] Unknown data type kind: 'foo'."):
        mx.isdtype(mx.float32, "foo")
    for bad in (3, mx.floating, ["bool"]):
        with pytest.raises(ValueError, match=r"\[isdtype\] `kind` must be a dtype, a string"):
            mx.isdtype(mx.float32, bad)
    with pytest.raises(TypeError):
        mx.isdtype("float32", "bool")
    with pytest.raises(TypeError):
        mx.isdtype(mx.float32)
