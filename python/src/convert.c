/* convert.c: the converters of convert.h (Python -> core values: weak and plain scalars,
 * nested lists, buffer/NumPy and __mlx_array__ objects, axes, shapes, dtypes, streams), the
 * METH_FASTCALL argument matcher of the generated bindings, and the translation of core errors
 * (core/error.h) into Python exceptions. Depends on convert.h and the core headers. */
#include "convert.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"

/* ======================================================================================
 * errors
 * ====================================================================================== */

PyObject *mxpy_raise(void) {
  if (PyErr_Occurred()) { /* a Python exception (e.g. from a callback) wins, unchanged */
    mx_error_clear();
    return NULL;
  }
  PyObject *exc;
  switch (mx_error_kind_get()) {
    case MX_EINVAL: exc = PyExc_ValueError; break;
    case MX_ETYPE: exc = PyExc_TypeError; break;
    case MX_EINDEX: exc = PyExc_IndexError; break;
    default: exc = PyExc_RuntimeError; break;
  }
  const char *msg = mx_error_message();
  PyErr_SetString(exc, msg && msg[0] ? msg : "unknown error in the mlx core");
  mx_error_clear();
  return NULL;
}

int mxpy_raise_int(void) {
  mxpy_raise();
  return -1;
}

/* Sets ValueError etc. from a core call that returned NULL, returns -1. */
static int fail_core(void) { return mxpy_raise_int(); }

static const char *type_name(PyObject *o) { return Py_TYPE(o)->tp_name; }

/* ======================================================================================
 * argument matching
 * ====================================================================================== */

int mxpy_sig_intern(const mxpy_sig *sig) {
  for (int i = 0; i < sig->nparams; i++) {
    if (sig->interned[i]) continue;
    PyObject *s = PyUnicode_InternFromString(sig->names[i]);
    if (!s) return -1;
    sig->interned[i] = s; /* kept for the life of the process */
  }
  return 0;
}

/* "'a'", "'a' and 'b'", "'a', 'b', and 'c'" (CPython's wording). */
static void join_names(char *buf, size_t cap, const char **names, int n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && len < cap; i++) {
    const char *sep = i == 0 ? "" : (n == 2 ? " and " : (i == n - 1 ? ", and " : ", "));
    len += (size_t)snprintf(buf + len, cap - len, "%s'%s'", sep, names[i]);
  }
}

static int too_many_positional(const mxpy_sig *sig, Py_ssize_t nargs) {
  int min = 0;
  while (min < sig->npos && (sig->required >> min & 1u)) min++;
  const char *was = nargs == 1 ? "was" : "were";
  if (min == sig->npos)
    PyErr_Format(PyExc_TypeError, "%s() takes %d positional argument%s but %zd %s given",
                 sig->name, sig->npos, sig->npos == 1 ? "" : "s", nargs, was);
  else
    PyErr_Format(PyExc_TypeError, "%s() takes from %d to %d positional arguments but %zd %s given",
                 sig->name, min, sig->npos, nargs, was);
  return -1;
}

static int missing_arguments(const mxpy_sig *sig, PyObject **out) {
  const char *pos[32], *kw[32];
  int npos = 0, nkw = 0;
  for (int i = 0; i < sig->nparams && i < 32; i++) {
    if (!(sig->required >> i & 1u) || out[i]) continue;
    if (i < sig->npos)
      pos[npos++] = sig->names[i];
    else
      kw[nkw++] = sig->names[i];
  }
  char buf[512];
  if (npos) {
    join_names(buf, sizeof buf, pos, npos);
    PyErr_Format(PyExc_TypeError, "%s() missing %d required positional argument%s: %s",
                 sig->name, npos, npos == 1 ? "" : "s", buf);
  } else {
    join_names(buf, sizeof buf, kw, nkw);
    PyErr_Format(PyExc_TypeError, "%s() missing %d required keyword-only argument%s: %s",
                 sig->name, nkw, nkw == 1 ? "" : "s", buf);
  }
  return -1;
}

/* Index of the parameter named key among [from, nparams), or -1. */
static int find_keyword(const mxpy_sig *sig, PyObject *key, int from) {
  for (int i = from; i < sig->nparams; i++)
    if (sig->interned[i] == key) return i;
  for (int i = from; i < sig->nparams; i++) {
    int eq = PyUnicode_Compare(key, sig->interned[i]);
    if (eq == 0) return i;
    if (eq == -1 && PyErr_Occurred()) PyErr_Clear();
  }
  return -1;
}

static int positional_only_as_keyword(const mxpy_sig *sig, PyObject *kwnames) {
  char buf[512];
  size_t len = 0;
  Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
  buf[0] = '\0';
  for (Py_ssize_t k = 0; k < nkw; k++) {
    PyObject *key = PyTuple_GET_ITEM(kwnames, k);
    int i = find_keyword(sig, key, 0);
    if (i < 0 || i >= sig->nposonly) continue;
    len += (size_t)snprintf(buf + len, len < sizeof buf ? sizeof buf - len : 0, "%s%s",
                            len ? ", " : "", sig->names[i]);
    if (len >= sizeof buf) break;
  }
  PyErr_Format(PyExc_TypeError,
               "%s() got some positional-only arguments passed as keyword arguments: '%s'",
               sig->name, buf);
  return -1;
}

int mxpy_parse_args(const mxpy_sig *sig, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames, PyObject **out) {
  if (!sig->varargs) {
    if (nargs > sig->npos) return too_many_positional(sig, nargs);
    for (Py_ssize_t i = 0; i < nargs; i++) out[i] = args[i];
  }
  if (kwnames) {
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    if (nkw && sig->nparams && !sig->interned[sig->nparams - 1] && mxpy_sig_intern(sig) < 0)
      return -1;
    for (Py_ssize_t k = 0; k < nkw; k++) {
      PyObject *key = PyTuple_GET_ITEM(kwnames, k);
      int i = find_keyword(sig, key, sig->nposonly);
      if (i < 0) {
        if (sig->nposonly && find_keyword(sig, key, 0) >= 0)
          return positional_only_as_keyword(sig, kwnames);
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                     sig->name, key);
        return -1;
      }
      if (out[i]) {
        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", sig->name,
                     sig->names[i]);
        return -1;
      }
      out[i] = args[nargs + k];
    }
  }
  if (sig->required) {
    for (int i = 0; i < sig->nparams; i++)
      if ((sig->required >> i & 1u) && !out[i]) return missing_arguments(sig, out);
  }
  return 0;
}

/* ======================================================================================
 * scalars, dtypes, streams
 * ====================================================================================== */

static bool is_numpy_bool(PyObject *o) {
  const char *n = type_name(o);
  return strcmp(n, "numpy.bool_") == 0 || strcmp(n, "numpy.bool") == 0;
}

int mxpy_to_int(PyObject *o, int *out) {
  if (!o || PyFloat_Check(o) || !PyIndex_Check(o)) {
    PyErr_Format(PyExc_TypeError, "expected an int, got '%s'", o ? type_name(o) : "nothing");
    return -1;
  }
  int overflow = 0;
  long long v;
  if (PyLong_Check(o)) {
    v = PyLong_AsLongLongAndOverflow(o, &overflow);
  } else {
    PyObject *i = PyNumber_Index(o);
    if (!i) return -1;
    v = PyLong_AsLongLongAndOverflow(i, &overflow);
    Py_DECREF(i);
  }
  if (v == -1 && PyErr_Occurred()) return -1;
  if (overflow || v < INT_MIN || v > INT_MAX) {
    PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C int");
    return -1;
  }
  *out = (int)v;
  return 0;
}

int mxpy_to_uint64(PyObject *o, uint64_t *out) {
  if (!o || PyFloat_Check(o) || !PyIndex_Check(o)) {
    PyErr_Format(PyExc_TypeError, "expected an int, got '%s'", o ? type_name(o) : "nothing");
    return -1;
  }
  PyObject *i = PyNumber_Index(o);
  if (!i) return -1;
  unsigned long long v = PyLong_AsUnsignedLongLong(i);
  Py_DECREF(i);
  if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
  *out = (uint64_t)v;
  return 0;
}

int mxpy_to_bool(PyObject *o, bool *out) {
  if (o == Py_True || o == Py_False) {
    *out = o == Py_True;
    return 0;
  }
  if (o && is_numpy_bool(o)) {
    int t = PyObject_IsTrue(o);
    if (t < 0) return -1;
    *out = t;
    return 0;
  }
  PyErr_Format(PyExc_TypeError, "expected a bool, got '%s'", o ? type_name(o) : "nothing");
  return -1;
}

int mxpy_to_double(PyObject *o, double *out) {
  if (!o) {
    PyErr_SetString(PyExc_TypeError, "expected a float");
    return -1;
  }
  double d = PyFloat_AsDouble(o); /* floats, ints, __float__ and __index__ objects */
  if (d == -1.0 && PyErr_Occurred()) return -1;
  *out = d;
  return 0;
}

int mxpy_to_dtype(PyObject *o, mx_dtype *out) {
  if (!o || o == Py_None) {
    PyErr_SetString(PyExc_TypeError, "expected a Dtype, got 'NoneType'");
    return -1;
  }
  return mxpy_dtype_from_object(o, out);
}

int mxpy_to_stream(PyObject *o, mx_stream *out) {
  if (!o || o == Py_None) {
    *out = mx_stream_default();
    if (out->index < 0) return fail_core();
    return 0;
  }
  return mxpy_stream_from_object(o, out);
}

/* ======================================================================================
 * axes and shapes
 * ====================================================================================== */

/* One int element of an axes/shape list. */
static int list_int(PyObject *o, int *out, const char *what) {
  if (PyFloat_Check(o) || !PyIndex_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s must contain integers, got '%s'", what, type_name(o));
    return -1;
  }
  return mxpy_to_int(o, out);
}

/* Converts a sequence (or the argument vector of *args) of ints into storage/heap. */
static int int_items(PyObject *const *items, Py_ssize_t n, int *storage, int cap, int **heap,
                     int **res, const char *what) {
  int *dst = storage;
  if (n > cap && !(dst = malloc((size_t)n * sizeof *dst))) { /* callers free() it */
    PyErr_NoMemory();
    return -1;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    if (list_int(items[i], &dst[i], what) < 0) {
      if (dst != storage) free(dst);
      return -1;
    }
  }
  if (dst != storage) *heap = dst;
  *res = dst;
  return 0;
}

/* A list, tuple or other non-string sequence as a fast sequence (new reference), or NULL
 * without an exception when o is not a sequence. */
static PyObject *as_sequence(PyObject *o) {
  if (PyList_Check(o) || PyTuple_Check(o)) {
    Py_INCREF(o);
    return o;
  }
  if (PyUnicode_Check(o) || PyBytes_Check(o) || !PySequence_Check(o)) return NULL;
  PyObject *s = PySequence_Fast(o, "expected a sequence");
  if (!s) PyErr_Clear();
  return s;
}

int mxpy_to_axes(PyObject *o, int **axes, int *n, int *storage, int cap, int **heap) {
  *heap = NULL;
  if (!o || o == Py_None) {
    *axes = NULL;
    *n = -1;
    return 0;
  }
  PyObject *s = PyLong_Check(o) ? NULL : as_sequence(o); /* NumPy arrays have __index__ */
  if (!s && PyIndex_Check(o) && !PyFloat_Check(o)) {
    if (mxpy_to_int(o, &storage[0]) < 0) return -1;
    *axes = storage;
    *n = 1;
    return 0;
  }
  if (!s) {
    PyErr_Format(PyExc_TypeError, "axis must be None, an int or a sequence of ints, got '%s'",
                 type_name(o));
    return -1;
  }
  Py_ssize_t len = PySequence_Fast_GET_SIZE(s);
  int rc = int_items(PySequence_Fast_ITEMS(s), len, storage, cap, heap, axes, "axes");
  Py_DECREF(s);
  if (rc < 0) return -1;
  *n = (int)len;
  return 0;
}

int mxpy_to_shape(PyObject *o, int32_t **shape, int *n, int32_t *storage, int cap,
                  int32_t **heap) {
  *heap = NULL;
  PyObject *s = !o || PyLong_Check(o) ? NULL : as_sequence(o); /* NumPy arrays have __index__ */
  if (!s && o && PyIndex_Check(o) && !PyFloat_Check(o)) {
    int v;
    if (mxpy_to_int(o, &v) < 0) return -1;
    storage[0] = v;
    *shape = storage;
    *n = 1;
    return 0;
  }
  if (!s) {
    PyErr_Format(PyExc_TypeError, "shape must be an int or a sequence of ints, got '%s'",
                 o ? type_name(o) : "nothing");
    return -1;
  }
  Py_ssize_t len = PySequence_Fast_GET_SIZE(s);
  int rc = int_items(PySequence_Fast_ITEMS(s), len, (int *)storage, cap, (int **)heap,
                     (int **)shape, "shape");
  Py_DECREF(s);
  if (rc < 0) return -1;
  *n = (int)len;
  return 0;
}

int mxpy_to_shape_args(PyObject *const *args, Py_ssize_t nargs, int32_t **shape, int *n,
                       int32_t *storage, int cap, int32_t **heap) {
  *heap = NULL;
  if (nargs == 0) {
    *shape = storage;
    *n = 0;
    return 0;
  }
  if (nargs == 1) return mxpy_to_shape(args[0], shape, n, storage, cap, heap);
  if (int_items(args, nargs, (int *)storage, cap, (int **)heap, (int **)shape, "shape") < 0)
    return -1;
  *n = (int)nargs;
  return 0;
}

int mxpy_to_axes_args(PyObject *const *args, Py_ssize_t nargs, int **axes, int *n,
                      int *storage, int cap, int **heap) {
  *heap = NULL;
  if (nargs == 0) {
    *axes = NULL;
    *n = -1;
    return 0;
  }
  if (nargs == 1) return mxpy_to_axes(args[0], axes, n, storage, cap, heap);
  if (int_items(args, nargs, storage, cap, heap, axes, "axes") < 0) return -1;
  *n = (int)nargs;
  return 0;
}

/* ======================================================================================
 * element values: one Python or buffer element, stored into any dtype
 * ====================================================================================== */

enum { K_BOOL = 0, K_INT = 1, K_FLOAT = 2, K_COMPLEX = 3 }; /* promotion order (2.3) */

typedef struct elem {
  int kind;
  bool big;    /* K_INT beyond int64: u holds it */
  int64_t i;
  uint64_t u;
  double re, im;
} elem;

static int64_t f64_to_i64(double d) {
  if (!(d == d)) return 0;
  if (d >= 9.2233720368547758e18) return INT64_MAX;
  if (d <= -9.2233720368547758e18) return INT64_MIN;
  return (int64_t)d;
}

static double elem_real(const elem *v) {
  if (v->kind == K_INT) return v->big ? (double)v->u : (double)v->i;
  if (v->kind == K_BOOL) return (double)v->i;
  return v->re;
}

/* Writes v converted to t at dst (C conversions: integers wrap, floats truncate). */
static void store_elem(void *dst, mx_dtype t, const elem *v) {
  bool integral = v->kind <= K_INT;
  int64_t iv = integral ? (v->big ? (int64_t)v->u : v->i) : f64_to_i64(v->re);
  uint64_t uv = integral ? (v->big ? v->u : (uint64_t)v->i)
                         : (v->re >= 9.2233720368547758e18 && v->re < 1.8446744073709552e19
                                ? (uint64_t)v->re
                                : (uint64_t)f64_to_i64(v->re));
  double d = elem_real(v);
  switch (t) {
    case MX_BOOL: *(uint8_t *)dst = integral ? (iv != 0 || uv != 0) : (v->re != 0 || v->im != 0); break;
    case MX_UINT8: *(uint8_t *)dst = (uint8_t)uv; break;
    case MX_UINT16: *(uint16_t *)dst = (uint16_t)uv; break;
    case MX_UINT32: *(uint32_t *)dst = (uint32_t)uv; break;
    case MX_UINT64: *(uint64_t *)dst = uv; break;
    case MX_INT8: *(int8_t *)dst = (int8_t)iv; break;
    case MX_INT16: *(int16_t *)dst = (int16_t)iv; break;
    case MX_INT32: *(int32_t *)dst = (int32_t)iv; break;
    case MX_INT64: *(int64_t *)dst = iv; break;
    case MX_FLOAT16: *(mx_f16 *)dst = mx_f32_to_f16((float)d); break;
    case MX_BFLOAT16: *(mx_bf16 *)dst = mx_f32_to_bf16((float)d); break;
    case MX_FLOAT32: *(float *)dst = (float)d; break;
    case MX_FLOAT64: *(double *)dst = d; break;
    case MX_COMPLEX64: {
      float c[2] = {(float)d, v->kind == K_COMPLEX ? (float)v->im : 0.0f};
      memcpy(dst, c, sizeof c);
      break;
    }
    default: break;
  }
}

/* A Python int as an elem; OverflowError beyond uint64 / below int64. */
static int int_elem(PyObject *o, elem *v) {
  int overflow = 0;
  long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (x == -1 && PyErr_Occurred()) return -1;
  v->kind = K_INT;
  v->big = false;
  v->i = x;
  if (overflow > 0) {
    unsigned long long u = PyLong_AsUnsignedLongLong(o);
    if (u == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    v->big = true;
    v->u = u;
  } else if (overflow < 0) {
    PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C long");
    return -1;
  }
  return 0;
}

/* Classifies a leaf of a nested list: 1 = scalar (v filled), 0 = not a scalar, -1 = error. */
static int scalar_elem(PyObject *o, elem *v) {
  memset(v, 0, sizeof *v);
  if (PyBool_Check(o) || is_numpy_bool(o)) {
    int t = PyObject_IsTrue(o);
    if (t < 0) return -1;
    v->kind = K_BOOL;
    v->i = t;
    return 1;
  }
  if (PyLong_Check(o)) return int_elem(o, v) < 0 ? -1 : 1;
  if (PyFloat_Check(o)) {
    v->kind = K_FLOAT;
    v->re = PyFloat_AS_DOUBLE(o);
    return 1;
  }
  if (PyComplex_Check(o)) {
    v->kind = K_COMPLEX;
    v->re = PyComplex_RealAsDouble(o);
    v->im = PyComplex_ImagAsDouble(o);
    return 1;
  }
  /* arrays (mx.array, NumPy arrays and scalars: anything with a buffer) are not leaves */
  if (MXPY_IS_ARRAY(o) || PyObject_CheckBuffer(o)) return 0;
  /* other number-like objects: integers have __index__, floats __float__ */
  if (PyIndex_Check(o)) {
    PyObject *i = PyNumber_Index(o);
    if (!i) return -1;
    int rc = int_elem(i, v);
    Py_DECREF(i);
    return rc < 0 ? -1 : 1;
  }
  PyNumberMethods *nm = Py_TYPE(o)->tp_as_number;
  if (nm && nm->nb_float) {
    double d = PyFloat_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred()) return -1;
    v->kind = K_FLOAT;
    v->re = d;
    return 1;
  }
  return 0;
}

static mx_dtype default_dtype(int kind, bool wide, bool big) {
  switch (kind) {
    case K_BOOL: return MX_BOOL;
    case K_INT: return big ? MX_UINT64 : wide ? MX_INT64 : MX_INT32;
    case K_FLOAT: return MX_FLOAT32;
    default: return MX_COMPLEX64;
  }
}

/* A host buffer of n elements of t, filled by the caller, then made an array. */
static mx_buffer *alloc_host(int64_t n, mx_dtype t) {
  size_t nbytes = (size_t)n * (size_t)mx_dtype_size(t);
  mx_buffer *b = mx_buffer_alloc(nbytes, MX_MEM_HOST);
  if (!b) fail_core();
  return b;
}

static int finish_buffer(mx_buffer *b, mx_dtype t, int ndim, const int32_t *shape,
                         mx_array **out) {
  *out = mx_array_from_buffer(b, t, ndim, shape);
  mx_buffer_release(b);
  return *out ? 0 : fail_core();
}

static int scalar_array(const elem *v, mx_dtype t, mx_array **out) {
  unsigned char tmp[16];
  store_elem(tmp, t, v);
  *out = mx_array_from_data(tmp, t, 0, NULL);
  return *out ? 0 : fail_core();
}

/* ======================================================================================
 * nested lists (spec/semantics.md 2.3)
 * ====================================================================================== */

static const char NON_UNIFORM[] = "Initialization encountered non-uniform length.";

typedef struct list_scan {
  int ndim;
  int32_t *shape;      /* ndim entries */
  int kind;            /* max over leaves */
  bool wide, big;      /* an int outside int32 / beyond int64 */
  bool has_arrays;     /* a leaf is an array-like: stack instead */
} list_scan;

static bool is_list(PyObject *o) { return PyList_Check(o) || PyTuple_Check(o); }

/* Checks that o (at depth d) is uniform and records leaf kinds. */
static int scan_list(PyObject *o, int d, list_scan *sc) {
  if (d == sc->ndim) {
    if (is_list(o)) {
      PyErr_SetString(PyExc_ValueError, NON_UNIFORM);
      return -1;
    }
    elem v;
    int r = scalar_elem(o, &v);
    if (r < 0) return -1;
    if (r == 0) {
      sc->has_arrays = true;
      return 0;
    }
    if (v.kind > sc->kind) sc->kind = v.kind;
    if (v.kind == K_INT) {
      if (v.big) sc->big = true;
      else if (v.i < INT32_MIN || v.i > INT32_MAX) sc->wide = true;
    }
    return 0;
  }
  if (!is_list(o)) {
    elem v;
    int r = scalar_elem(o, &v);
    if (r < 0) return -1;
    if (r == 0) { /* an array where a sub-list was expected: stacking decides */
      sc->has_arrays = true;
      return 0;
    }
    PyErr_SetString(PyExc_ValueError, NON_UNIFORM);
    return -1;
  }
  Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
  if (n != sc->shape[d]) {
    PyErr_SetString(PyExc_ValueError, NON_UNIFORM);
    return -1;
  }
  if (Py_EnterRecursiveCall(" while converting a nested list to an array")) return -1;
  PyObject **items = PySequence_Fast_ITEMS(o);
  int rc = 0;
  for (Py_ssize_t i = 0; i < n && rc == 0 && !sc->has_arrays; i++) rc = scan_list(items[i], d + 1, sc);
  Py_LeaveRecursiveCall();
  return rc;
}

static int fill_list(PyObject *o, int d, int ndim, mx_dtype t, char **dst) {
  if (d == ndim) {
    elem v;
    if (scalar_elem(o, &v) < 0) return -1;
    store_elem(*dst, t, &v);
    *dst += mx_dtype_size(t);
    return 0;
  }
  Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
  PyObject **items = PySequence_Fast_ITEMS(o);
  for (Py_ssize_t i = 0; i < n; i++)
    if (fill_list(items[i], d + 1, ndim, t, dst) < 0) return -1;
  return 0;
}

static int to_array_impl(PyObject *o, int want, mx_array **out);

/* Lists holding arrays: convert the elements, then stack them (zeros + slice_update, lazily,
 * since the op set has no stack yet). Shapes must agree; dtypes promote. */
static int stack_list(PyObject *o, int want, mx_array **out) {
  Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
  PyObject **items = PySequence_Fast_ITEMS(o);
  mx_array **el = PyMem_Calloc((size_t)n, sizeof *el);
  int32_t *shape = NULL, *start = NULL;
  mx_array *acc = NULL;
  int rc = -1;
  if (!el) {
    PyErr_NoMemory();
    return -1;
  }
  mx_dtype t = MX_BOOL;
  for (Py_ssize_t i = 0; i < n; i++) {
    if (to_array_impl(items[i], want, &el[i]) < 0) goto done;
    if (el[i]->ndim != el[0]->ndim ||
        memcmp(el[i]->shape, el[0]->shape, (size_t)el[0]->ndim * sizeof(int32_t)) != 0) {
      PyErr_SetString(PyExc_ValueError, NON_UNIFORM);
      goto done;
    }
    t = i == 0 ? el[i]->dtype : mx_promote_types(t, el[i]->dtype);
  }
  if (want >= 0) t = (mx_dtype)want;
  int nd = el[0]->ndim + 1;
  shape = PyMem_Malloc(4 * (size_t)nd * sizeof *shape);
  if (!shape) {
    PyErr_NoMemory();
    goto done;
  }
  start = shape + nd;
  int32_t *stop = start + nd, *strides = stop + nd;
  if (n > INT32_MAX) {
    PyErr_SetString(PyExc_ValueError, "Shape dimension falls outside supported `int` range.");
    goto done;
  }
  shape[0] = (int32_t)n;
  for (int k = 1; k < nd; k++) shape[k] = el[0]->shape[k - 1];
  mx_stream s = mx_stream_default();
  acc = mx_zeros(shape, nd, t, s);
  for (Py_ssize_t i = 0; i < n && acc; i++) {
    mx_array *e = el[i]->dtype == t ? el[i] : mx_astype(el[i], t, s);
    mx_array *e1 = mx_expand_dims(e, 0, s);
    for (int k = 0; k < nd; k++) {
      start[k] = k == 0 ? (int32_t)i : 0;
      stop[k] = k == 0 ? (int32_t)i + 1 : shape[k];
      strides[k] = 1;
    }
    mx_array *next = mx_slice_update(acc, e1, start, stop, strides, s);
    if (e != el[i]) mx_array_release(e);
    mx_array_release(e1);
    mx_array_release(acc);
    acc = next;
  }
  if (!acc) {
    fail_core();
    goto done;
  }
  *out = acc;
  acc = NULL;
  rc = 0;
done:
  for (Py_ssize_t i = 0; i < n; i++) mx_array_release(el[i]);
  PyMem_Free(el);
  PyMem_Free(shape);
  mx_array_release(acc);
  return rc;
}

static int from_list(PyObject *o, int want, mx_array **out) {
  int32_t shape_inline[MX_INLINE_DIMS * 4];
  list_scan sc = {0, shape_inline, K_BOOL, false, false, false};
  /* ndim and shape from the first elements */
  int ndim = 0, cap = (int)MX_ARRAY_LEN(shape_inline);
  int rc = -1;
  for (PyObject *cur = o; is_list(cur);) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(cur);
    if (n > INT32_MAX) {
      PyErr_SetString(PyExc_ValueError, "Shape dimension falls outside supported `int` range.");
      goto done;
    }
    if (ndim == cap) {
      int32_t *ns = PyMem_Malloc((size_t)cap * 2 * sizeof *ns);
      if (!ns) {
        PyErr_NoMemory();
        goto done;
      }
      memcpy(ns, sc.shape, (size_t)ndim * sizeof *ns);
      if (sc.shape != shape_inline) PyMem_Free(sc.shape);
      sc.shape = ns;
      cap *= 2;
    }
    sc.shape[ndim++] = (int32_t)n;
    if (n == 0) break;
    cur = PySequence_Fast_ITEMS(cur)[0];
  }
  sc.ndim = ndim;
  if (scan_list(o, 0, &sc) < 0) goto done;
  if (sc.has_arrays) {
    rc = stack_list(o, want, out);
    goto done;
  }
  mx_dtype t = want >= 0 ? (mx_dtype)want : default_dtype(sc.kind, sc.wide, sc.big);
  int64_t count = mx_shape_size("array", ndim, sc.shape);
  if (count < 0) {
    fail_core();
    goto done;
  }
  if (want < 0) {
    bool empty = false;
    for (int k = 0; k < ndim; k++) empty |= sc.shape[k] == 0;
    if (empty) t = MX_FLOAT32; /* empty list -> float32, as MLX */
  }
  mx_buffer *b = alloc_host(count, t);
  if (!b) goto done;
  char *dst = b->host;
  if (count && fill_list(o, 0, ndim, t, &dst) < 0) {
    mx_buffer_release(b);
    goto done;
  }
  rc = finish_buffer(b, t, ndim, sc.shape, out);
done:
  if (sc.shape != shape_inline) PyMem_Free(sc.shape);
  return rc;
}

/* ======================================================================================
 * buffer protocol / NumPy
 * ====================================================================================== */

typedef enum src_kind { S_BOOL, S_INT, S_UINT, S_FLOAT, S_COMPLEX, S_BAD } src_kind;

/* Parses a struct-module format of one scalar element. */
static src_kind parse_format(const char *f, Py_ssize_t itemsize, bool *swap) {
  *swap = false;
  if (!f) f = "B";
  if (*f == '@' || *f == '=' || *f == '<') {
    f++;
  } else if (*f == '>' || *f == '!') {
    *swap = itemsize > 1;
    f++;
  }
  bool z = *f == 'Z';
  if (z) f++;
  if (!f[0] || f[1]) return S_BAD;
  char c = f[0];
  if (z) return (c == 'f' || c == 'd') ? S_COMPLEX : S_BAD;
  switch (c) {
    case '?': return S_BOOL;
    case 'b': case 'h': case 'i': case 'l': case 'q': case 'n': return S_INT;
    case 'B': case 'H': case 'I': case 'L': case 'Q': case 'N': return S_UINT;
    case 'e': case 'f': case 'd': return S_FLOAT;
    default: return S_BAD;
  }
}

static mx_dtype natural_dtype(src_kind k, Py_ssize_t size) {
  switch (k) {
    case S_BOOL: return MX_BOOL;
    case S_INT: return size == 1 ? MX_INT8 : size == 2 ? MX_INT16 : size == 4 ? MX_INT32 : MX_INT64;
    case S_UINT: return size == 1 ? MX_UINT8 : size == 2 ? MX_UINT16 : size == 4 ? MX_UINT32 : MX_UINT64;
    case S_FLOAT: return size == 2 ? MX_FLOAT16 : MX_FLOAT32; /* float64 -> float32 as MLX */
    default: return MX_COMPLEX64;                              /* complex128 -> complex64 */
  }
}

static void load_elem(const char *p, src_kind k, Py_ssize_t size, bool swap, elem *v) {
  unsigned char b[16];
  memcpy(b, p, (size_t)size);
  if (swap) {
    Py_ssize_t part = k == S_COMPLEX ? size / 2 : size;
    for (Py_ssize_t off = 0; off < size; off += part)
      for (Py_ssize_t i = 0; i < part / 2; i++) {
        unsigned char t = b[off + i];
        b[off + i] = b[off + part - 1 - i];
        b[off + part - 1 - i] = t;
      }
  }
  memset(v, 0, sizeof *v);
  switch (k) {
    case S_BOOL: v->kind = K_BOOL; v->i = b[0] != 0; break;
    case S_INT: {
      v->kind = K_INT;
      if (size == 1) { int8_t x; memcpy(&x, b, 1); v->i = x; }
      else if (size == 2) { int16_t x; memcpy(&x, b, 2); v->i = x; }
      else if (size == 4) { int32_t x; memcpy(&x, b, 4); v->i = x; }
      else { int64_t x; memcpy(&x, b, 8); v->i = x; }
      break;
    }
    case S_UINT: {
      v->kind = K_INT;
      uint64_t u = 0;
      if (size == 1) u = b[0];
      else if (size == 2) { uint16_t x; memcpy(&x, b, 2); u = x; }
      else if (size == 4) { uint32_t x; memcpy(&x, b, 4); u = x; }
      else memcpy(&u, b, 8);
      v->big = u > (uint64_t)INT64_MAX;
      v->u = u;
      v->i = (int64_t)u;
      break;
    }
    case S_FLOAT: {
      v->kind = K_FLOAT;
      if (size == 2) { mx_f16 h; memcpy(&h, b, 2); v->re = mx_f16_to_f32(h); }
      else if (size == 4) { float x; memcpy(&x, b, 4); v->re = x; }
      else { double x; memcpy(&x, b, 8); v->re = x; }
      break;
    }
    case S_COMPLEX: {
      v->kind = K_COMPLEX;
      if (size == 8) { float x[2]; memcpy(x, b, 8); v->re = x[0]; v->im = x[1]; }
      else { double x[2]; memcpy(x, b, 16); v->re = x[0]; v->im = x[1]; }
      break;
    }
    default: break;
  }
}

/* Copies a buffer view into a new row-major array. raw: copy the bytes as dtype raw
 * (bfloat16 NumPy data viewed as uint16), -1 otherwise. 1 = unsupported format (no error
 * set), 0 = done, -1 = error. */
static int from_view(Py_buffer *view, int want, int raw, mx_array **out) {
  bool swap;
  src_kind k = parse_format(view->format, view->itemsize, &swap);
  if (k == S_BAD || view->suboffsets || view->itemsize > 16) return 1;
  if ((k == S_INT || k == S_UINT) && !(view->itemsize == 1 || view->itemsize == 2 ||
                                       view->itemsize == 4 || view->itemsize == 8))
    return 1;
  if (k == S_FLOAT && !(view->itemsize == 2 || view->itemsize == 4 || view->itemsize == 8))
    return 1;
  if (k == S_COMPLEX && !(view->itemsize == 8 || view->itemsize == 16)) return 1;
  mx_dtype natural = raw >= 0 ? (mx_dtype)raw : natural_dtype(k, view->itemsize);
  mx_dtype t = want >= 0 && raw < 0 ? (mx_dtype)want : natural;
  int ndim = view->ndim;
  int32_t shape_inline[MX_INLINE_DIMS];
  int32_t *shape = ndim > MX_INLINE_DIMS ? PyMem_Malloc((size_t)ndim * sizeof *shape) : shape_inline;
  Py_ssize_t idx_inline[MX_INLINE_DIMS], str_inline[MX_INLINE_DIMS];
  Py_ssize_t *idx = ndim > MX_INLINE_DIMS ? PyMem_Calloc((size_t)ndim, sizeof *idx) : idx_inline;
  Py_ssize_t *strides = ndim > MX_INLINE_DIMS ? PyMem_Malloc((size_t)ndim * sizeof *strides)
                                              : str_inline;
  int rc = -1;
  if (!shape || !idx || !strides) {
    PyErr_NoMemory();
    goto done;
  }
  int64_t count = 1;
  for (int d = 0; d < ndim; d++) {
    if (view->shape[d] > INT32_MAX) {
      PyErr_SetString(PyExc_ValueError, "Shape dimension falls outside supported `int` range.");
      goto done;
    }
    shape[d] = (int32_t)view->shape[d];
    count *= shape[d];
    idx[d] = 0;
  }
  if (view->strides) {
    memcpy(strides, view->strides, (size_t)ndim * sizeof *strides);
  } else {
    Py_ssize_t st = view->itemsize;
    for (int d = ndim - 1; d >= 0; d--) {
      strides[d] = st;
      st *= view->shape[d];
    }
  }
  mx_buffer *b = alloc_host(count, t);
  if (!b) goto done;
  char *dst = b->host;
  size_t osz = (size_t)mx_dtype_size(t);
  /* same bytes: the natural dtype without conversion (float64 and complex128 convert) */
  bool same = !swap && (raw >= 0 || (t == natural_dtype(k, view->itemsize) &&
                                     (size_t)view->itemsize == osz));
  if (same && count && PyBuffer_IsContiguous(view, 'C')) {
    memcpy(dst, view->buf, (size_t)count * osz);
  } else {
    for (int64_t e = 0; e < count; e++) {
      const char *src = view->buf;
      for (int d = 0; d < ndim; d++) src += idx[d] * strides[d];
      if (same) {
        memcpy(dst, src, osz);
      } else {
        elem v;
        load_elem(src, k, view->itemsize, swap, &v);
        store_elem(dst, t, &v);
      }
      dst += osz;
      for (int d = ndim - 1; d >= 0; d--) { /* odometer */
        if (++idx[d] < view->shape[d]) break;
        idx[d] = 0;
      }
    }
  }
  rc = finish_buffer(b, t, ndim, shape, out);
done:
  if (shape != shape_inline) PyMem_Free(shape);
  if (idx != idx_inline) PyMem_Free(idx);
  if (strides != str_inline) PyMem_Free(strides);
  return rc;
}

/* NumPy arrays of ml_dtypes' bfloat16 export no standard buffer format: view them as
 * uint16 and take the bits. 1 if o is not such an array. */
static int from_bfloat16_numpy(PyObject *o, int want, mx_array **out) {
  PyObject *dt = PyObject_GetAttrString(o, "dtype");
  if (!dt) {
    PyErr_Clear();
    return 1;
  }
  PyObject *name = PyObject_GetAttrString(dt, "name");
  Py_DECREF(dt);
  if (!name) {
    PyErr_Clear();
    return 1;
  }
  int is_bf16 = PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "bfloat16") == 0;
  Py_DECREF(name);
  if (!is_bf16) return 1;
  PyObject *bits = PyObject_CallMethod(o, "view", "s", "uint16");
  if (!bits) return -1;
  Py_buffer view;
  int rc = PyObject_GetBuffer(bits, &view, PyBUF_RECORDS_RO);
  Py_DECREF(bits);
  if (rc < 0) return -1;
  rc = from_view(&view, -1, MX_BFLOAT16, out);
  PyBuffer_Release(&view);
  if (rc == 1) {
    PyErr_SetString(PyExc_ValueError, "Cannot convert numpy array to mlx array.");
    return -1;
  }
  if (rc == 0 && want >= 0 && want != MX_BFLOAT16) {
    mx_array *c = mx_astype(*out, (mx_dtype)want, mx_stream_default());
    mx_array_release(*out);
    *out = c;
    if (!c) return fail_core();
  }
  return rc;
}

static int from_buffer_object(PyObject *o, int want, mx_array **out) {
  Py_buffer view;
  if (PyObject_GetBuffer(o, &view, PyBUF_RECORDS_RO) < 0) {
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    int r = from_bfloat16_numpy(o, want, out);
    if (r != 1) {
      Py_XDECREF(et);
      Py_XDECREF(ev);
      Py_XDECREF(tb);
      return r;
    }
    PyErr_Restore(et, ev, tb);
    return -1;
  }
  int rc = from_view(&view, want, -1, out);
  char format[32];
  snprintf(format, sizeof format, "%s", view.format ? view.format : "B");
  PyBuffer_Release(&view);
  if (rc == 1) {
    rc = from_bfloat16_numpy(o, want, out);
    if (rc == 1) {
      PyErr_Format(PyExc_ValueError, "Cannot convert %s with buffer format '%s' to mlx array.",
                   type_name(o), format);
      rc = -1;
    }
  }
  return rc;
}

/* ======================================================================================
 * mxpy_to_array
 * ====================================================================================== */

static int cast_to(mx_array **a, int want) {
  if (want < 0 || (*a)->dtype == (mx_dtype)want) return 0;
  mx_array *c = mx_astype(*a, (mx_dtype)want, mx_stream_default());
  mx_array_release(*a);
  *a = c;
  return c ? 0 : fail_core();
}

static int to_array_impl(PyObject *o, int want, mx_array **out) {
  *out = NULL;
  if (MXPY_IS_ARRAY(o)) {
    mx_array *n = ((mxpy_array *)o)->node;
    if (!n) {
      PyErr_SetString(PyExc_RuntimeError, "mlx.core.array object is not initialized");
      return -1;
    }
    mx_array_retain(n);
    *out = n;
    return cast_to(out, want);
  }
  if (PyBool_Check(o) || PyLong_Check(o) || PyFloat_Check(o) || PyComplex_Check(o)) {
    elem v;
    if (scalar_elem(o, &v) < 0) return -1;
    bool wide = v.kind == K_INT && !v.big && (v.i < INT32_MIN || v.i > INT32_MAX);
    mx_dtype t = want >= 0 ? (mx_dtype)want : default_dtype(v.kind, wide, v.big);
    return scalar_array(&v, t, out);
  }
  if (is_list(o)) return from_list(o, want, out);
  PyObject *conv = PyObject_GetAttrString(o, "__mlx_array__");
  if (conv) {
    PyObject *r = PyObject_CallNoArgs(conv);
    Py_DECREF(conv);
    if (!r) return -1;
    int rc;
    if (!MXPY_IS_ARRAY(r)) {
      PyErr_Format(PyExc_TypeError, "__mlx_array__ must return an mlx.core.array, not '%s'",
                   type_name(r));
      rc = -1;
    } else {
      rc = to_array_impl(r, want, out);
    }
    Py_DECREF(r);
    return rc;
  }
  PyErr_Clear();
  if (PyObject_CheckBuffer(o)) return from_buffer_object(o, want, out);
  /* NumPy-convertible objects without a buffer (e.g. through __array__) */
  PyObject *np = PyObject_GetAttrString(o, "__array__");
  if (np) {
    PyObject *r = PyObject_CallNoArgs(np);
    Py_DECREF(np);
    if (!r) return -1;
    int rc = PyObject_CheckBuffer(r) ? from_buffer_object(r, want, out) : -2;
    Py_DECREF(r);
    if (rc != -2) return rc;
  } else {
    PyErr_Clear();
  }
  int r = from_bfloat16_numpy(o, want, out);
  if (r != 1) return r;
  PyErr_Format(PyExc_ValueError, "Invalid type %s received in array initialization.",
               type_name(o));
  return -1;
}

int mxpy_to_array(PyObject *o, mx_array **out) {
  if (!o) {
    *out = NULL;
    PyErr_SetString(PyExc_TypeError, "expected an array");
    return -1;
  }
  if (MXPY_IS_ARRAY(o) && ((mxpy_array *)o)->node) { /* the fast path of every op call */
    *out = ((mxpy_array *)o)->node;
    mx_array_retain(*out);
    return 0;
  }
  return to_array_impl(o, -1, out);
}

int mxpy_to_array_dtype(PyObject *o, mx_dtype t, mx_array **out) {
  if (!o) {
    *out = NULL;
    PyErr_SetString(PyExc_TypeError, "expected an array");
    return -1;
  }
  return to_array_impl(o, (int)t, out);
}

int mxpy_to_array_list(PyObject *o, mx_array ***v, int *n, mx_array **storage, int cap,
                       mx_array ***heap, bool *single) {
  *v = NULL;
  *n = 0;
  *heap = NULL;
  *single = false;
  if (!o) {
    PyErr_SetString(PyExc_TypeError, "expected an array or a sequence of arrays");
    return -1;
  }
  if (!is_list(o)) {
    if (mxpy_to_array(o, &storage[0]) < 0) return -1;
    *v = storage;
    *n = 1;
    *single = true;
    return 0;
  }
  PyObject *s = PySequence_Fast(o, "expected a sequence");
  if (!s) return -1;
  Py_ssize_t len = PySequence_Fast_GET_SIZE(s);
  if (len > INT_MAX) {
    Py_DECREF(s);
    PyErr_SetString(PyExc_ValueError, "too many arrays");
    return -1;
  }
  mx_array **dst = storage;
  if (len > cap) {
    dst = calloc((size_t)len, sizeof *dst);
    if (!dst) {
      Py_DECREF(s);
      PyErr_NoMemory();
      return -1;
    }
  }
  PyObject **items = PySequence_Fast_ITEMS(s);
  for (Py_ssize_t i = 0; i < len; i++) {
    if (mxpy_to_array(items[i], &dst[i]) < 0) {
      for (Py_ssize_t j = 0; j < i; j++) mx_array_release(dst[j]);
      if (dst != storage) free(dst);
      Py_DECREF(s);
      return -1;
    }
  }
  Py_DECREF(s);
  if (dst != storage) *heap = dst;
  *v = dst;
  *n = (int)len;
  return 0;
}

/* ======================================================================================
 * weak scalars (spec/semantics.md 2.2, MLX python/src/utils.cpp to_arrays)
 * ====================================================================================== */

static bool is_py_scalar(PyObject *o) {
  return PyBool_Check(o) || PyLong_Check(o) || PyFloat_Check(o) || PyComplex_Check(o);
}

/* An operand whose dtype Python scalars adopt: an mx.array or an __mlx_array__ object. */
static bool is_mlx_operand(PyObject *o) {
  if (MXPY_IS_ARRAY(o)) return true;
  if (is_py_scalar(o) || is_list(o)) return false;
  return PyObject_HasAttrString(o, "__mlx_array__");
}

/* Python scalar o typed against an array dtype t (t < 0: no array operand). */
static int weak_scalar(PyObject *o, int t, mx_array **out) {
  elem v;
  if (scalar_elem(o, &v) < 0) return -1;
  if (t < 0) {
    bool wide = v.kind == K_INT && !v.big && (v.i < INT32_MIN || v.i > INT32_MAX);
    return scalar_array(&v, default_dtype(v.kind, wide, v.big), out);
  }
  mx_dtype T = (mx_dtype)t;
  switch (v.kind) {
    case K_BOOL: return scalar_array(&v, T, out); /* bool takes the array's type */
    case K_INT: {
      if (T == MX_BOOL) return scalar_array(&v, MX_INT32, out);
      if (mx_dtype_is_integer(T) && mx_dtype_size(T) < 8) {
        mx_iinfo info;
        mx_iinfo_get(T, &info);
        if (v.big || v.i < info.min || v.i > (int64_t)info.max) {
          PyObject *s = PyObject_Str(o);
          if (s) {
            PyErr_Format(PyExc_ValueError, "Converting %U to %s would result in overflow.", s,
                         mx_dtype_name(T));
            Py_DECREF(s);
          }
          return -1;
        }
      }
      return scalar_array(&v, T, out);
    }
    case K_FLOAT:
      /* floating arrays keep their type (float64 exactly, others through float32) */
      if (mx_dtype_is_floating(T)) {
        if (T != MX_FLOAT64) v.re = (double)(float)v.re;
        return scalar_array(&v, T, out);
      }
      return scalar_array(&v, MX_FLOAT32, out);
    default: return scalar_array(&v, MX_COMPLEX64, out);
  }
}

int mxpy_to_weak_arrays(PyObject *const *objs, int n, mx_array **out) {
  for (int i = 0; i < n; i++) out[i] = NULL;
  int t = -1;
  /* operands that are not Python scalars first: mx.arrays fix the scalars' dtype */
  for (int i = 0; i < n; i++) {
    if (!objs[i] || is_py_scalar(objs[i])) continue;
    bool typed = is_mlx_operand(objs[i]);
    if (mxpy_to_array(objs[i], &out[i]) < 0) goto fail;
    if (typed) t = t < 0 ? (int)out[i]->dtype : (int)mx_promote_types((mx_dtype)t, out[i]->dtype);
  }
  for (int i = 0; i < n; i++) {
    if (!objs[i] || !is_py_scalar(objs[i])) continue;
    if (weak_scalar(objs[i], t, &out[i]) < 0) goto fail;
  }
  /* NumPy arrays and scalars next to an mx.array take its dtype too (MLX casts them) */
  for (int i = 0; t >= 0 && i < n; i++) {
    if (!objs[i] || is_py_scalar(objs[i]) || is_list(objs[i]) || is_mlx_operand(objs[i])) continue;
    mx_array *c = mx_astype(out[i], (mx_dtype)t, mx_stream_default());
    mx_array_release(out[i]);
    out[i] = c;
    if (!c) {
      mxpy_raise();
      goto fail;
    }
  }
  return 0;
fail:
  for (int i = 0; i < n; i++) {
    mx_array_release(out[i]);
    out[i] = NULL;
  }
  return -1;
}
