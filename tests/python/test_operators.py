"""The Python operators of mx.array (spec/python-api.md section 2, spec/semantics.md 2.2):
+ - * / // % ** & | ^ << >> ~ @ and unary - + abs, their reflected and in-place forms
(in-place forms rebind the node, so every reference sees the result), weak scalar typing,
NumPy operands, MLX's errors (/= on integers, bitwise on floats, None operands), and the
comparisons against objects that are not array-like."""
import math
import operator

import numpy as np
import pytest

import mlx.core as mx
from conftest import NP_DTYPES

INT_DTYPES = [mx.uint8, mx.uint16, mx.uint32, mx.uint64, mx.int8, mx.int16, mx.int32, mx.int64]

# (operator, in-place operator, the function it must agree with)
ARITH = [(operator.add, operator.iadd, mx.add), (operator.sub, operator.isub, mx.subtract),
         (operator.mul, operator.imul, mx.multiply), (operator.floordiv, operator.ifloordiv, mx.floor_divide),
         (operator.mod, operator.imod, mx.remainder), (operator.pow, operator.ipow, mx.power)]
BITWISE = [(operator.and_, operator.iand, mx.bitwise_and), (operator.or_, operator.ior, mx.bitwise_or),
           (operator.xor, operator.ixor, mx.bitwise_xor), (operator.lshift, operator.ilshift, mx.left_shift),
           (operator.rshift, operator.irshift, mx.right_shift)]
IDS_A = ["add", "sub", "mul", "floordiv", "mod", "pow"]
IDS_B = ["and", "or", "xor", "lshift", "rshift"]


def same(x, y):
    assert isinstance(x, mx.array) and isinstance(y, mx.array)
    assert x.dtype == y.dtype and x.shape == y.shape
    if x.dtype == mx.bfloat16:
        x, y = x.astype(mx.float32), y.astype(mx.float32)
    np.testing.assert_array_equal(np.array(x), np.array(y))


def int_operands(rng, dtype, shape=(3, 4)):
    info = np.iinfo(NP_DTYPES[dtype])
    x = rng.integers(max(info.min, -50), min(info.max, 50), shape, endpoint=True)
    y = rng.integers(1, 6, shape)
    return mx.array(x.astype(NP_DTYPES[dtype])), mx.array(y.astype(NP_DTYPES[dtype]))


@pytest.mark.parametrize("op,iop,fn", ARITH, ids=IDS_A)
@pytest.mark.parametrize("dtype", [mx.int8, mx.uint16, mx.int32, mx.int64, mx.float16,
                                   mx.float32, mx.bfloat16], ids=str)
def test_arith_operators_match_functions(op, iop, fn, dtype, rng):
    a, b = int_operands(rng, mx.int8)
    a, b = a.astype(dtype), b.astype(dtype)
    if dtype in (mx.uint16,):
        a = mx.abs(a.astype(mx.int32)).astype(dtype)
    same(op(a, b), fn(a, b))
    same(op(a, 3), fn(a, 3))        # weak scalar on the right
    same(op(3, b), fn(3, b))        # reflected
    same(op(a, True), fn(a, True))
    want = fn(a, b)
    x = mx.array(a)  # a new object sharing a's value
    alias = x
    x = iop(x, b)
    assert x is alias  # the same object, rebound
    same(alias, want)
    same(a, mx.array(a))  # a itself is untouched


@pytest.mark.parametrize("op,iop,fn", BITWISE, ids=IDS_B)
@pytest.mark.parametrize("dtype", INT_DTYPES + [mx.bool_], ids=str)
def test_bitwise_operators_match_functions(op, iop, fn, dtype, rng):
    if dtype == mx.bool_:
        a = mx.array(rng.integers(0, 2, (3, 4)).astype(bool))
        b = mx.array(rng.integers(0, 2, (3, 4)).astype(bool))
    else:
        a, b = int_operands(rng, dtype)
    same(op(a, b), fn(a, b))
    same(op(a, 1), fn(a, 1))
    same(op(1, b), fn(1, b))  # reflected (MLX itself only binds a OP b)
    want = fn(a, b)
    x = mx.array(a)
    alias = x
    x = iop(x, b)
    assert x is alias
    same(alias, want)


def test_true_division_operators():
    a = mx.array([1, 2, 3])
    same(a / 2, mx.divide(a, 2))
    same(6 / a, mx.divide(6, a))
    assert (a / 2).dtype == mx.float32
    x = mx.array([1.0, 2.0])
    alias = x
    x /= 2
    assert x is alias and alias.tolist() == [0.5, 1.0]
    y = 3
    y /= mx.array([2])
    assert y.tolist() == [1.5]
    with pytest.raises(ValueError, match="In place division cannot cast to non-floating point type."):
        b = mx.array([1, 2])
        b /= 2
    with pytest.raises(ValueError, match="In place division cannot cast"):
        b = mx.array([1, 2])
        b /= mx.array([2.0])
    with pytest.raises(ValueError, match="Cannot perform inplace division on an mlx.core.array and str"):
        b = mx.array([1, 2])
        b /= "x"


def test_python_integer_semantics():
    a = mx.array([7, -7, 7, -7, 0])
    b = mx.array([2, 2, -2, -2, 5])
    assert (a // b).tolist() == [7 // 2, -7 // 2, 7 // -2, -7 // -2, 0]
    assert (a % b).tolist() == [7 % 2, -7 % 2, 7 % -2, -7 % -2, 0]
    assert (-7 % mx.array([2, -2])).tolist() == [1, -1]
    assert (7 // mx.array([2, -2])).tolist() == [3, -4]
    assert (mx.array([7.5, -7.0]) % 2).tolist() == [1.5, 1.0]
    assert (mx.array([7, -7]) // 2.0).tolist() == [3.0, -4.0]
    assert (mx.array([1, 2]) // 0).tolist() == [0, 0] and (mx.array([1, 2]) % 0).tolist() == [1, 2]
    assert (mx.array([1.0, 2.0]) // 0).tolist() == [math.inf, math.inf]


def test_power_operator():
    assert (mx.array([2, 3]) ** 2).tolist() == [4, 9]
    assert (mx.array([1, 2]) ** -1).tolist() == [0, 0]  # integer power, as MLX
    r = 2.0 ** mx.array([2, 3])
    assert r.dtype == mx.float32 and r.tolist() == [4.0, 8.0]
    assert pow(mx.array([2, 3]), 2).tolist() == [4, 9]
    assert pow(2, mx.array([1, 2])).tolist() == [2, 4]
    with pytest.raises(TypeError):
        pow(mx.array([2, 3]), 2, 5)
    with pytest.raises(ValueError, match="Converting 300 to uint8 would result in overflow"):
        mx.array([2, 3], mx.uint8) ** 300
    x = mx.array([1, 2])
    x **= 0.5
    assert x.dtype == mx.float32 and x.tolist()[1] == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize("op,name", [(operator.and_, "bitwise and"), (operator.or_, "bitwise or"),
                                     (operator.xor, "bitwise xor"), (operator.lshift, "left shift"),
                                     (operator.rshift, "right shift")])
def test_bitwise_on_floats_raises(op, name):
    msg = f"Floating point types not allowed with {name}."
    with pytest.raises(ValueError, match=msg):
        op(mx.array([1.0]), 1)
    with pytest.raises(ValueError, match=msg):
        op(mx.array([1]), 1.5)
    with pytest.raises(ValueError, match=msg):
        op(mx.array([True]), mx.array([1.0]))
    with pytest.raises(ValueError, match="Floating point types not allowed"):
        op(mx.array([1 + 1j]), 1)


def test_inplace_bitwise_on_floats_raises():
    x = mx.array([1.0, 2.0])
    with pytest.raises(ValueError, match="Floating point types not allowed with bitwise and."):
        x &= 1
    with pytest.raises(ValueError, match="Floating point types not allowed bitwise xor."):
        x ^= True  # MLX's wording for in-place xor
    with pytest.raises(ValueError, match="Floating point types not allowed with left shift."):
        x <<= 1
    assert x.dtype == mx.float32  # unchanged


def test_bitwise_operator_typing():
    assert (mx.array([3], mx.uint8) & 5).dtype == mx.uint8
    assert (mx.array([3]) | True).tolist() == [3]
    assert (mx.array([True]) | True).dtype == mx.bool_
    r = mx.array([True]) ^ 1
    assert r.dtype == mx.int32 and r.tolist() == [0]
    assert (mx.array([True]) << 1).dtype == mx.int32
    r = mx.array([True]) << True
    assert r.dtype == mx.uint8 and r.tolist() == [2]
    assert (mx.array([-8]) >> 1).tolist() == [-4]
    r = mx.array([1, 2], mx.uint8) & mx.array([3], mx.int8)
    assert r.dtype == mx.int16 and r.tolist() == [1, 2]
    with pytest.raises(ValueError, match="overflow"):
        x = mx.array([1, 2], mx.uint8)
        x <<= 300


def test_invert():
    r = ~mx.array([True, False])
    assert r.dtype == mx.bool_ and r.tolist() == [False, True]
    assert (~mx.array(True)).item() is False
    for dtype in INT_DTYPES:
        x = np.array([0, 5, 7], dtype=NP_DTYPES[dtype])
        r = ~mx.array(x)
        assert r.dtype == dtype
        np.testing.assert_array_equal(np.array(r), ~x)
    t = mx.array([[1, 2], [3, 4]], mx.int16).T  # strided
    np.testing.assert_array_equal(np.array(~t), ~np.array([[1, 3], [2, 4]], np.int16))
    for v in (mx.array([5.0]), mx.array([1 + 1j]), mx.array([1], mx.bfloat16)):
        with pytest.raises(ValueError, match="Floating point types not allowed with bitwise inversion."):
            ~v


def test_unary_operators():
    a = mx.array([1, -2])
    same(-a, mx.negative(a))
    same(+a, a)
    same(abs(a), mx.abs(a))
    assert (+mx.array([1.5])).dtype == mx.float32


@pytest.mark.parametrize("dtype,scalar,expected", [
    (mx.float16, 2.5, mx.float16), (mx.int32, 0.5, mx.float32), (mx.bool_, 1, mx.int32),
    (mx.int8, 1.0, mx.float32), (mx.uint8, 3, mx.uint8), (mx.bool_, True, mx.bool_),
    (mx.bfloat16, 2, mx.bfloat16), (mx.uint64, 2**63, mx.uint64), (mx.int32, 1j, mx.complex64),
    (mx.float16, 1j, mx.complex64)])
def test_weak_scalar_operators(dtype, scalar, expected):
    a = mx.array([1, 2], dtype=dtype)
    for op in (operator.add, operator.mul, operator.pow):
        assert op(a, scalar).dtype == expected
        assert op(scalar, a).dtype == expected
    if expected != mx.complex64:
        assert (a % scalar).dtype == expected and (scalar // a).dtype == expected


@pytest.mark.parametrize("dtype,bad", [(mx.uint8, 256), (mx.uint8, -1), (mx.int8, -129),
                                       (mx.int16, 2**15), (mx.int32, 2**40)])
def test_weak_scalar_overflow(dtype, bad):
    a = mx.array([1], dtype)
    for op in (operator.add, operator.floordiv, operator.mod, operator.pow, operator.and_):
        with pytest.raises(ValueError, match=f"Converting {bad} to {str(dtype).split('.')[-1]}"):
            op(a, bad)


def test_numpy_operands():
    a = mx.array([1, 2], mx.int8)
    r = a + np.array([1, 2])  # cast to the mx.array's dtype, as MLX
    assert isinstance(r, mx.array) and r.dtype == mx.int8
    assert (mx.array([1, 2]) + np.array([1.5, 2.0])).tolist() == [2, 4]
    assert (mx.array([1, 2], mx.float16) + np.float32(1.5)).dtype == mx.float16
    assert (mx.array([1, 2], mx.int8) + np.float64(1.5)).dtype == mx.float32  # a Python float
    assert (mx.array([True]) + np.bool_(True)).dtype == mx.bool_
    r = mx.array([1, 2], mx.int8) == np.array([1, 3])
    assert r.tolist() == [True, False]


def test_invalid_operands():
    a = mx.array([1, 2])
    for op, what in [(operator.add, "addition"), (operator.sub, "subtraction"),
                     (operator.mul, "multiplication"), (operator.truediv, "division"),
                     (operator.floordiv, "floor division"), (operator.mod, "modulus"),
                     (operator.pow, "power"), (operator.and_, "bitwise and"),
                     (operator.or_, "bitwise or"), (operator.xor, "bitwise xor"),
                     (operator.lshift, "left shift"), (operator.rshift, "right shift")]:
        with pytest.raises(ValueError, match=f"Cannot perform {what} on an mlx.core.array and str"):
            op(a, "a")
        with pytest.raises(ValueError, match=f"Cannot perform {what} on an mlx.core.array and list"):
            op(a, [1, 2])
        with pytest.raises(TypeError):
            op(a, None)
        with pytest.raises(TypeError):
            op(None, a)
    with pytest.raises(ValueError, match="Cannot perform subtraction on an mlx.core.array and str"):
        "a" - a
    with pytest.raises(ValueError, match="Cannot perform addition on an mlx.core.array and object"):
        a + object()


def test_invalid_inplace_operands():
    for iop, what in [(operator.iadd, "addition"), (operator.isub, "subtraction"),
                      (operator.imul, "multiplication"), (operator.ifloordiv, "floor division"),
                      (operator.imod, "modulus"), (operator.ipow, "power"),
                      (operator.iand, "bitwise and"), (operator.ior, "bitwise or"),
                      (operator.ixor, "bitwise xor"), (operator.ilshift, "left shift"),
                      (operator.irshift, "right shift")]:
        a = mx.array([1, 2])
        with pytest.raises(ValueError, match=f"Cannot perform inplace {what} on an mlx.core.array and str"):
            iop(a, "x")
        with pytest.raises(TypeError):
            iop(a, None)
        assert a.tolist() == [1, 2]


def test_inplace_changes_dtype_and_rebinds():
    x = mx.array([1, 2], mx.uint8)
    alias = x
    x += 1.5
    assert x is alias and x.dtype == mx.float32 and alias.tolist() == [2.5, 3.5]
    b = mx.array([True])
    b += 1
    assert b.dtype == mx.int32 and b.tolist() == [2]
    c = mx.array([True])
    c -= True
    assert c.dtype == mx.bool_ and c.tolist() == [False]
    d = mx.array([10, 20])
    view = d
    d //= 3
    d %= 4
    d **= 2
    d <<= 1
    d >>= 1
    d |= 8
    d &= 12
    d ^= 1
    assert view is d
    want = np.array([10, 20])
    want = (((((want // 3) % 4) ** 2 << 1) >> 1) | 8) & 12 ^ 1
    assert view.tolist() == want.tolist()


def test_bool_arithmetic():
    t = mx.array([True, False])
    assert (t - True).tolist() == [False, True]  # bool - bool is xor, as MLX
    assert (t - 1).dtype == mx.int32
    assert (t / True).dtype == mx.float32
    assert (t // True).dtype == mx.bool_ and (t % True).tolist() == [False, False]
    assert (t ** True).tolist() == [True, False]


def test_matmul_operator():
    a = mx.array([[1.0, 2.0], [3.0, 4.0]])
    same(a @ a, mx.matmul(a, a))
    v = mx.array([1.0, 2.0])
    assert (v @ v).item() == 5.0
    alias = a
    a @= mx.array([[1.0, 0.0], [0.0, 2.0]])
    assert a is alias and alias.tolist() == [[1.0, 4.0], [3.0, 8.0]]
    with pytest.raises(TypeError):
        v @ [1.0, 2.0]
    with pytest.raises(TypeError):
        [1.0, 2.0] @ v
    with pytest.raises(TypeError):
        a @ 2
    with pytest.raises(ValueError, match=r"\[matmul\]"):
        mx.array([1, 2]) @ mx.array([1, 2])


def test_comparisons_against_non_array_likes():
    a = mx.array([1, 2])
    assert (a == "a") is False and (a != "a") is True
    assert (a == [1, 2]) is False and (a != [1]) is True
    assert (a == (1, 2)) is False and (a == {"a": 1}) is False
    assert (a == object()) is False
    assert ("a" == a) is False and ("a" != a) is True
    with pytest.raises(ValueError, match="Cannot perform less than on an mlx.core.array and str"):
        a < "a"
    with pytest.raises(ValueError, match="Cannot perform greater than or equal on an mlx.core.array and str"):
        a >= "a"
    with pytest.raises(ValueError, match="Cannot perform greater than on an mlx.core.array and str"):
        "a" < a  # reflected
    assert (a == None) is False and (a != None) is True  # noqa: E711 (MLX raises here)
    assert (None == a) is False and (None != a) is True  # noqa: E711
    for op in (operator.lt, operator.le, operator.gt, operator.ge):
        with pytest.raises(TypeError):
            op(a, None)
        with pytest.raises(TypeError):
            op(None, a)


def test_comparison_operators(rng):
    x = rng.integers(-3, 3, (4, 5)).astype(np.int32)
    y = rng.integers(-3, 3, (5,)).astype(np.int32)
    a, b = mx.array(x), mx.array(y)
    for op in (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge):
        r = op(a, b)
        assert r.dtype == mx.bool_
        np.testing.assert_array_equal(np.array(r), op(x, y))
        np.testing.assert_array_equal(np.array(op(1, a)), op(1, x))
        np.testing.assert_array_equal(np.array(op(a, 1.5)), op(x, 1.5))
    with pytest.raises(ValueError, match=r"\[broadcast_shapes\]"):
        a == mx.array([1, 2, 3])
    with pytest.raises(ValueError, match="overflow"):
        a == 2**40


def test_operators_broadcast_and_empty():
    a = mx.ones((0, 3), mx.int32)
    for op in (operator.floordiv, operator.mod, operator.pow, operator.and_, operator.lshift):
        r = op(a, mx.array([1, 2, 3]))
        assert r.shape == (0, 3) and r.tolist() == []
    r = mx.array([[1], [2]]) ** mx.array([1, 2, 3])
    assert r.tolist() == [[1, 1, 1], [2, 4, 8]]


def test_operator_gradients():
    x = mx.array([1.5, 2.5, -0.5])
    g = mx.grad(lambda u: (u ** 3 + 2.0 ** u + u % 1.0 + (u // 1.0)).sum())(x)
    xn = np.array(x, dtype=np.float64)
    np.testing.assert_allclose(np.array(g), 3 * xn**2 + np.log(2) * 2.0**xn + 1, rtol=1e-5)
