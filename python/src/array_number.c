/* array_number.c: the number protocol of mx.array: + - * / // % ** & | ^ << >> @, their
 * reflected and in-place forms (in-place forms rebind the object's node), unary - + ~ and
 * abs, comparisons, and bool/int/float/complex conversion of size-1 arrays. A Python scalar
 * operand is weakly typed to the array's dtype through mxpy_to_weak_arrays
 * (spec/semantics.md 2.2). None as an operand is a TypeError, as in MLX's bindings, except
 * for == and != (spec/python-api.md section 2: False / True). */
#include "mxpy_internal.h"

typedef mx_array *(*binop_fn)(mx_array *, mx_array *, mx_stream);

/* One binary operator: the op, its name in MLX's messages, and for the bitwise operators
 * the ValueError raised when an operand is floating point or complex. */
typedef struct binop {
  binop_fn fn;
  const char *what;         /* "addition": "Cannot perform addition on ..." */
  const char *float_msg;    /* NULL: floats allowed */
  const char *ifloat_msg;   /* the in-place form's (MLX words one differently) */
} binop;

static const binop OP_ADD = {mx_add, "addition", NULL, NULL};
static const binop OP_SUB = {mx_subtract, "subtraction", NULL, NULL};
static const binop OP_MUL = {mx_multiply, "multiplication", NULL, NULL};
static const binop OP_DIV = {mx_divide, "division", NULL, NULL};
static const binop OP_FLOORDIV = {mx_floor_divide, "floor division", NULL, NULL};
static const binop OP_MOD = {mx_remainder, "modulus", NULL, NULL};
static const binop OP_POW = {mx_power, "power", NULL, NULL};
static const binop OP_AND = {mx_bitwise_and, "bitwise and",
                             "Floating point types not allowed with bitwise and.",
                             "Floating point types not allowed with bitwise and."};
static const binop OP_OR = {mx_bitwise_or, "bitwise or",
                            "Floating point types not allowed with bitwise or.",
                            "Floating point types not allowed with bitwise or."};
static const binop OP_XOR = {mx_bitwise_xor, "bitwise xor",
                             "Floating point types not allowed with bitwise xor.",
                             "Floating point types not allowed bitwise xor."};
static const binop OP_LSHIFT = {mx_left_shift, "left shift",
                                "Floating point types not allowed with left shift.",
                                "Floating point types not allowed with left shift."};
static const binop OP_RSHIFT = {mx_right_shift, "right shift",
                                "Floating point types not allowed with right shift.",
                                "Floating point types not allowed with right shift."};

/* What MLX accepts as the other operand: Python scalars, arrays, objects exposing
 * __mlx_array__, and NumPy arrays/scalars (anything with the buffer protocol but text). */
static bool is_comparable(PyObject *o) {
  if (PyBool_Check(o) || PyLong_Check(o) || PyFloat_Check(o) || PyComplex_Check(o)) return true;
  if (MXPY_IS_ARRAY(o)) return true;
  if (PyUnicode_Check(o) || PyBytes_Check(o) || PyByteArray_Check(o)) return false;
  if (PyObject_CheckBuffer(o)) return true;
  return PyObject_HasAttrString(o, "__mlx_array__");
}

static PyObject *invalid_operation(const char *prefix, const char *what, PyObject *other) {
  PyErr_Format(PyExc_ValueError, "Cannot perform %s%s on an mlx.core.array and %s", prefix, what,
               Py_TYPE(other)->tp_name);
  return NULL;
}

/* Both operands converted with self's dtype driving weak scalars; arr[0] is self's. */
static int operands(PyObject *self, PyObject *other, mx_array *arr[2]) {
  PyObject *objs[2] = {self, other};
  if (!mxpy_array_node(self)) return -1;
  return mxpy_to_weak_arrays(objs, 2, arr);
}

static void release2(mx_array *arr[2]) {
  mx_array_release(arr[0]);
  mx_array_release(arr[1]);
}

/* Applies op (reflected: other op self); NULL + Python exception on failure. */
static mx_array *apply(const binop *op, mx_array *arr[2], bool reflected, bool inplace) {
  if (op->float_msg &&
      (mx_dtype_is_inexact(arr[0]->dtype) || mx_dtype_is_inexact(arr[1]->dtype))) {
    release2(arr);
    PyErr_SetString(PyExc_ValueError, inplace ? op->ifloat_msg : op->float_msg);
    return NULL;
  }
  mx_stream s = mx_stream_default();
  mx_array *r = reflected ? op->fn(arr[1], arr[0], s) : op->fn(arr[0], arr[1], s);
  release2(arr);
  if (!r) mxpy_raise_or_runtime(op->what);
  return r;
}

/* a OP b with the array on either side. */
static PyObject *binary(PyObject *a, PyObject *b, const binop *op) {
  bool reflected = !MXPY_IS_ARRAY(a);
  PyObject *self = reflected ? b : a, *other = reflected ? a : b;
  if (other == Py_None) Py_RETURN_NOTIMPLEMENTED;
  if (!is_comparable(other)) return invalid_operation("", op->what, other);
  mx_array *arr[2];
  if (operands(self, other, arr) < 0) return NULL;
  mx_array *r = apply(op, arr, reflected, false);
  return r ? mxpy_array_wrap(r) : NULL;
}

/* a OP= b: the result replaces a's node, so every reference to a sees it. */
static PyObject *inplace(PyObject *a, PyObject *b, const binop *op) {
  if (!MXPY_IS_ARRAY(a)) return binary(a, b, op);
  if (b == Py_None) Py_RETURN_NOTIMPLEMENTED;
  if (!is_comparable(b)) return invalid_operation("inplace ", op->what, b);
  mx_array *arr[2];
  if (operands(a, b, arr) < 0) return NULL;
  mx_array *r = apply(op, arr, false, true);
  if (!r) return NULL;
  mxpy_array_rebind(a, r);
  return Py_NewRef(a);
}

static PyObject *nb_add(PyObject *a, PyObject *b) { return binary(a, b, &OP_ADD); }
static PyObject *nb_sub(PyObject *a, PyObject *b) { return binary(a, b, &OP_SUB); }
static PyObject *nb_mul(PyObject *a, PyObject *b) { return binary(a, b, &OP_MUL); }
static PyObject *nb_truediv(PyObject *a, PyObject *b) { return binary(a, b, &OP_DIV); }
static PyObject *nb_floordiv(PyObject *a, PyObject *b) { return binary(a, b, &OP_FLOORDIV); }
static PyObject *nb_mod(PyObject *a, PyObject *b) { return binary(a, b, &OP_MOD); }
static PyObject *nb_and(PyObject *a, PyObject *b) { return binary(a, b, &OP_AND); }
static PyObject *nb_or(PyObject *a, PyObject *b) { return binary(a, b, &OP_OR); }
static PyObject *nb_xor(PyObject *a, PyObject *b) { return binary(a, b, &OP_XOR); }
static PyObject *nb_lshift(PyObject *a, PyObject *b) { return binary(a, b, &OP_LSHIFT); }
static PyObject *nb_rshift(PyObject *a, PyObject *b) { return binary(a, b, &OP_RSHIFT); }

static PyObject *nb_iadd(PyObject *a, PyObject *b) { return inplace(a, b, &OP_ADD); }
static PyObject *nb_isub(PyObject *a, PyObject *b) { return inplace(a, b, &OP_SUB); }
static PyObject *nb_imul(PyObject *a, PyObject *b) { return inplace(a, b, &OP_MUL); }
static PyObject *nb_ifloordiv(PyObject *a, PyObject *b) { return inplace(a, b, &OP_FLOORDIV); }
static PyObject *nb_imod(PyObject *a, PyObject *b) { return inplace(a, b, &OP_MOD); }
static PyObject *nb_iand(PyObject *a, PyObject *b) { return inplace(a, b, &OP_AND); }
static PyObject *nb_ior(PyObject *a, PyObject *b) { return inplace(a, b, &OP_OR); }
static PyObject *nb_ixor(PyObject *a, PyObject *b) { return inplace(a, b, &OP_XOR); }
static PyObject *nb_ilshift(PyObject *a, PyObject *b) { return inplace(a, b, &OP_LSHIFT); }
static PyObject *nb_irshift(PyObject *a, PyObject *b) { return inplace(a, b, &OP_RSHIFT); }

static PyObject *nb_itruediv(PyObject *a, PyObject *b) {
  if (MXPY_IS_ARRAY(a) && b != Py_None && is_comparable(b)) {
    mx_array *n = mxpy_array_node(a);
    if (!n) return NULL;
    if (!mx_dtype_is_inexact(n->dtype)) {
      PyErr_SetString(PyExc_ValueError,
                      "In place division cannot cast to non-floating point type.");
      return NULL;
    }
  }
  return inplace(a, b, &OP_DIV);
}

/* pow(a, b) and a ** b; a modulo (pow(a, b, m)) is not supported. */
static int no_modulo(PyObject *m) {
  if (m == Py_None) return 0;
  PyErr_SetString(PyExc_TypeError, "pow() with a modulo is not supported for mlx.core.array.");
  return -1;
}

static PyObject *nb_pow(PyObject *a, PyObject *b, PyObject *m) {
  return no_modulo(m) < 0 ? NULL : binary(a, b, &OP_POW);
}

static PyObject *nb_ipow(PyObject *a, PyObject *b, PyObject *m) {
  return no_modulo(m) < 0 ? NULL : inplace(a, b, &OP_POW);
}

/* @ needs arrays on both sides (no weak scalars). */
static PyObject *nb_matmul(PyObject *a, PyObject *b) {
  if (!MXPY_IS_ARRAY(a) || !MXPY_IS_ARRAY(b)) Py_RETURN_NOTIMPLEMENTED;
  mx_array *x = mxpy_array_node(a), *y = mxpy_array_node(b);
  if (!x || !y) return NULL;
  return mxpy_array_wrap(mx_matmul(x, y, mx_stream_default()));
}

static PyObject *nb_imatmul(PyObject *a, PyObject *b) {
  if (!MXPY_IS_ARRAY(a) || !MXPY_IS_ARRAY(b)) Py_RETURN_NOTIMPLEMENTED;
  mx_array *x = mxpy_array_node(a), *y = mxpy_array_node(b);
  if (!x || !y) return NULL;
  mx_array *r = mx_matmul(x, y, mx_stream_default());
  if (!r) return mxpy_raise_or_runtime("matmul");
  mxpy_array_rebind(a, r);
  return Py_NewRef(a);
}

/* == != < <= > >=; == and != against objects that are not array-like (None included) give
 * False/True; ordering against None is a TypeError. */
PyObject *mxpy_array_richcompare(PyObject *a, PyObject *b, int op) {
  static const struct {
    binop_fn fn;
    const char *what, *sym;
  } ops[] = {
      [Py_LT] = {mx_less, "less than", "<"},
      [Py_LE] = {mx_less_equal, "less than or equal", "<="},
      [Py_EQ] = {mx_equal, "equal", "=="},
      [Py_NE] = {mx_not_equal, "not equal", "!="},
      [Py_GT] = {mx_greater, "greater than", ">"},
      [Py_GE] = {mx_greater_equal, "greater than or equal", ">="},
  };
  if (!MXPY_IS_ARRAY(a)) Py_RETURN_NOTIMPLEMENTED;
  if (b == Py_None && op != Py_EQ && op != Py_NE) { /* x == None: False (MLX raises) */
    PyErr_Format(PyExc_TypeError, "unsupported operand type(s) for %s: 'mlx.core.array' and 'NoneType'",
                 ops[op].sym);
    return NULL;
  }
  if (!is_comparable(b)) {
    if (op == Py_EQ) Py_RETURN_FALSE;
    if (op == Py_NE) Py_RETURN_TRUE;
    return invalid_operation("", ops[op].what, b);
  }
  mx_array *arr[2];
  if (operands(a, b, arr) < 0) return NULL;
  mx_array *r = ops[op].fn(arr[0], arr[1], mx_stream_default());
  release2(arr);
  return mxpy_array_wrap(r);
}

static PyObject *nb_neg(PyObject *a) {
  mx_array *x = mxpy_array_node(a);
  return x ? mxpy_array_wrap(mx_negative(x, mx_stream_default())) : NULL;
}

static PyObject *nb_pos(PyObject *a) {
  mx_array *x = mxpy_array_node_retained(a);
  return x ? mxpy_array_wrap(x) : NULL;
}

static PyObject *nb_abs(PyObject *a) {
  mx_array *x = mxpy_array_node(a);
  return x ? mxpy_array_wrap(mx_abs(x, mx_stream_default())) : NULL;
}

/* ~x: logical not for bool, bitwise not for integers (x ^ all-ones), ValueError for
 * floating point and complex. */
static PyObject *nb_invert(PyObject *a) {
  mx_array *x = mxpy_array_node(a);
  if (!x) return NULL;
  if (mx_dtype_is_inexact(x->dtype)) {
    PyErr_SetString(PyExc_ValueError, "Floating point types not allowed with bitwise inversion.");
    return NULL;
  }
  mx_stream s = mx_stream_default();
  mx_array *r;
  if (x->dtype == MX_BOOL) {
    mx_array *f = mx_array_scalar_i64(0, MX_BOOL);
    r = mx_equal(x, f, s);
    mx_array_release(f);
  } else {
    mx_array *ones = mx_array_scalar_i64(-1, x->dtype);
    r = mx_bitwise_xor(x, ones, s);
    mx_array_release(ones);
  }
  return mxpy_array_wrap(r);
}

static int nb_bool(PyObject *a) {
  PyObject *v = mxpy_array_item(a);
  if (!v) return -1;
  int r = PyObject_IsTrue(v);
  Py_DECREF(v);
  return r;
}

static PyObject *nb_int(PyObject *a) {
  PyObject *v = mxpy_array_item(a);
  if (!v) return NULL;
  PyObject *r = PyNumber_Long(v);
  Py_DECREF(v);
  return r;
}

static PyObject *nb_float(PyObject *a) {
  PyObject *v = mxpy_array_item(a);
  if (!v) return NULL;
  PyObject *r = PyNumber_Float(v);
  Py_DECREF(v);
  return r;
}

static PyObject *array_complex(PyObject *a, PyObject *unused) {
  PyObject *v = mxpy_array_item(a);
  if (!v) return NULL;
  PyObject *r = PyObject_CallOneArg((PyObject *)&PyComplex_Type, v);
  Py_DECREF(v);
  return r;
}

PyMethodDef mxpy_array_number_methods[] = {
    {"__complex__", array_complex, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

PyNumberMethods mxpy_array_as_number = {
    .nb_add = nb_add,
    .nb_subtract = nb_sub,
    .nb_multiply = nb_mul,
    .nb_remainder = nb_mod,
    .nb_power = nb_pow,
    .nb_negative = nb_neg,
    .nb_positive = nb_pos,
    .nb_absolute = nb_abs,
    .nb_bool = nb_bool,
    .nb_invert = nb_invert,
    .nb_lshift = nb_lshift,
    .nb_rshift = nb_rshift,
    .nb_and = nb_and,
    .nb_xor = nb_xor,
    .nb_or = nb_or,
    .nb_int = nb_int,
    .nb_float = nb_float,
    .nb_inplace_add = nb_iadd,
    .nb_inplace_subtract = nb_isub,
    .nb_inplace_multiply = nb_imul,
    .nb_inplace_remainder = nb_imod,
    .nb_inplace_power = nb_ipow,
    .nb_inplace_lshift = nb_ilshift,
    .nb_inplace_rshift = nb_irshift,
    .nb_inplace_and = nb_iand,
    .nb_inplace_xor = nb_ixor,
    .nb_inplace_or = nb_ior,
    .nb_floor_divide = nb_floordiv,
    .nb_true_divide = nb_truediv,
    .nb_inplace_floor_divide = nb_ifloordiv,
    .nb_inplace_true_divide = nb_itruediv,
    .nb_matrix_multiply = nb_matmul,
    .nb_inplace_matrix_multiply = nb_imatmul,
};
