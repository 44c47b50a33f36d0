/* array_number.c: the number protocol of mx.array: + - * / @, their reflected and in-place
 * forms (in-place forms rebind the object's node), unary - and abs, comparisons, and
 * bool/int/float/complex conversion of size-1 arrays. A Python scalar operand is weakly
 * typed to the array's dtype through mxpy_to_weak_arrays (spec/semantics.md 2.2).
 * Not yet bound (no op in ops.h): // % ** bitwise operators and ~. */
#include "mxpy_internal.h"

typedef mx_array *(*binop_fn)(mx_array *, mx_array *, mx_stream);

/* What MLX accepts as the other operand: Python scalars, arrays, objects exposing
 * __mlx_array__, and NumPy arrays/scalars (anything with the buffer protocol but text). */
static bool is_comparable(PyObject *o) {
  if (PyBool_Check(o) || PyLong_Check(o) || PyFloat_Check(o) || PyComplex_Check(o)) return true;
  if (MXPY_IS_ARRAY(o)) return true;
  if (PyUnicode_Check(o) || PyBytes_Check(o) || PyByteArray_Check(o)) return false;
  if (PyObject_CheckBuffer(o)) return true;
  return PyObject_HasAttrString(o, "__mlx_array__");
}

static PyObject *invalid_operation(const char *what, PyObject *other) {
  PyErr_Format(PyExc_ValueError, "Cannot perform %s on an mlx.core.array and %s", what,
               Py_TYPE(other)->tp_name);
  return NULL;
}

/* Both operands converted with self's dtype driving weak scalars; arr[0] is self's. */
static int operands(PyObject *self, PyObject *other, mx_array *arr[2]) {
  PyObject *objs[2] = {self, other};
  if (!mxpy_array_node(self)) return -1;
  return mxpy_to_weak_arrays(objs, 2, arr);
}

static mx_array *apply(binop_fn fn, mx_array *arr[2], bool reflected) {
  mx_stream s = mx_stream_default();
  mx_array *r = reflected ? fn(arr[1], arr[0], s) : fn(arr[0], arr[1], s);
  mx_array_release(arr[0]);
  mx_array_release(arr[1]);
  return r;
}

static PyObject *binary(PyObject *a, PyObject *b, binop_fn fn, const char *what) {
  bool reflected = !MXPY_IS_ARRAY(a);
  PyObject *self = reflected ? b : a, *other = reflected ? a : b;
  if (!is_comparable(other)) return invalid_operation(what, other);
  mx_array *arr[2];
  if (operands(self, other, arr) < 0) return NULL;
  return mxpy_array_wrap(apply(fn, arr, reflected));
}

static PyObject *inplace(PyObject *a, PyObject *b, binop_fn fn, const char *what,
                         const char *inplace_what) {
  if (!MXPY_IS_ARRAY(a)) return binary(a, b, fn, what);
  if (!is_comparable(b)) return invalid_operation(inplace_what, b);
  mx_array *arr[2];
  if (operands(a, b, arr) < 0) return NULL;
  mx_array *r = apply(fn, arr, false);
  if (!r) return mxpy_raise_or_runtime(what);
  mxpy_array_rebind(a, r);
  return Py_NewRef(a);
}

static PyObject *nb_add(PyObject *a, PyObject *b) { return binary(a, b, mx_add, "addition"); }
static PyObject *nb_sub(PyObject *a, PyObject *b) {
  return binary(a, b, mx_subtract, "subtraction");
}
static PyObject *nb_mul(PyObject *a, PyObject *b) {
  return binary(a, b, mx_multiply, "multiplication");
}
static PyObject *nb_truediv(PyObject *a, PyObject *b) {
  return binary(a, b, mx_divide, "division");
}

static PyObject *nb_iadd(PyObject *a, PyObject *b) {
  return inplace(a, b, mx_add, "addition", "inplace addition");
}
static PyObject *nb_isub(PyObject *a, PyObject *b) {
  return inplace(a, b, mx_subtract, "subtraction", "inplace subtraction");
}
static PyObject *nb_imul(PyObject *a, PyObject *b) {
  return inplace(a, b, mx_multiply, "multiplication", "inplace multiplication");
}
static PyObject *nb_itruediv(PyObject *a, PyObject *b) {
  if (MXPY_IS_ARRAY(a)) {
    mx_array *n = mxpy_array_node(a);
    if (!n) return NULL;
    if (!mx_dtype_is_inexact(n->dtype)) {
      PyErr_SetString(PyExc_ValueError,
                      "In place division cannot cast to non-floating point type.");
      return NULL;
    }
  }
  return inplace(a, b, mx_divide, "division", "inplace division");
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

/* == != < <= > >=; == and != against objects that are not array-like give False/True. */
PyObject *mxpy_array_richcompare(PyObject *a, PyObject *b, int op) {
  static const struct {
    binop_fn fn;
    const char *what;
  } ops[] = {
      [Py_LT] = {mx_less, "less than"},          [Py_LE] = {mx_less_equal, "less than or equal"},
      [Py_EQ] = {mx_equal, "equal"},             [Py_NE] = {mx_not_equal, "not equal"},
      [Py_GT] = {mx_greater, "greater than"},    [Py_GE] = {mx_greater_equal, "greater than or equal"},
  };
  if (!MXPY_IS_ARRAY(a)) Py_RETURN_NOTIMPLEMENTED;
  if (!is_comparable(b)) {
    if (op == Py_EQ) Py_RETURN_FALSE;
    if (op == Py_NE) Py_RETURN_TRUE;
    return invalid_operation(ops[op].what, b);
  }
  mx_array *arr[2];
  if (operands(a, b, arr) < 0) return NULL;
  return mxpy_array_wrap(apply(ops[op].fn, arr, false));
}

static PyObject *nb_neg(PyObject *a) {
  mx_array *x = mxpy_array_node(a);
  return x ? mxpy_array_wrap(mx_negative(x, mx_stream_default())) : NULL;
}

static PyObject *nb_abs(PyObject *a) {
  mx_array *x = mxpy_array_node(a);
  return x ? mxpy_array_wrap(mx_abs(x, mx_stream_default())) : NULL;
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
    .nb_true_divide = nb_truediv,
    .nb_inplace_add = nb_iadd,
    .nb_inplace_subtract = nb_isub,
    .nb_inplace_multiply = nb_imul,
    .nb_inplace_true_divide = nb_itruediv,
    .nb_matrix_multiply = nb_matmul,
    .nb_inplace_matrix_multiply = nb_imatmul,
    .nb_negative = nb_neg,
    .nb_absolute = nb_abs,
    .nb_bool = nb_bool,
    .nb_int = nb_int,
    .nb_float = nb_float,
};
