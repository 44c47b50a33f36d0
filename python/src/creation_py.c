/* creation_py.c: the creation functions whose arguments the generated converters cannot
 * express: mx.full and mx.full_like (a Python scalar `vals` is typed against `dtype` with the
 * weak-scalar rules of spec/semantics.md 2.2, an mx.array keeps its dtype, other array-likes
 * are converted to dtype), mx.arange (MLX's two signatures, dtype from the kinds of the
 * Python numbers) and mx.asarray. The ops themselves are in src/ops (creation.c,
 * creation_range.c). */
#include "mxpy_internal.h"

#include <limits.h>

/* ---- vals of full / full_like ---- */

static bool is_py_scalar(PyObject *o) {
  return PyBool_Check(o) || PyLong_Check(o) || PyFloat_Check(o) || PyComplex_Check(o);
}

/* A Python int typed against an integer dtype must fit (MLX: "Converting N to T would result
 * in overflow."). 0, or -1 + ValueError. */
static int check_int_fits(PyObject *o, mx_dtype t) {
  mx_iinfo info;
  if (!mx_dtype_is_integer(t) || mx_dtype_size(t) >= 8 || mx_iinfo_get(t, &info) < 0) return 0;
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (v == -1 && PyErr_Occurred()) return -1;
  if (!overflow && v >= info.min && (v < 0 || (unsigned long long)v <= info.max)) return 0;
  PyErr_Format(PyExc_ValueError, "Converting %S to %s would result in overflow.", o,
               mx_dtype_name(t));
  return -1;
}

/* vals converted as MLX's to_array(vals, dtype): t < 0 means no dtype. New reference. */
static int vals_to_array(const char *fn, PyObject *o, int t, mx_array **out) {
  *out = NULL;
  if (o == Py_None) {
    PyErr_Format(PyExc_TypeError, "%s(): vals must be a scalar or an array, not None.", fn);
    return -1;
  }
  if (PyList_Check(o) || PyTuple_Check(o) || PyUnicode_Check(o) || PyBytes_Check(o)) {
    PyErr_Format(PyExc_ValueError, "Invalid type %s received in array initialization.",
                 Py_TYPE(o)->tp_name);
    return -1;
  }
  if (t < 0 || MXPY_IS_ARRAY(o) || PyObject_HasAttrString(o, "__mlx_array__"))
    return mxpy_to_array(o, out);
  mx_dtype T = (mx_dtype)t;
  if (!is_py_scalar(o)) return mxpy_to_array_dtype(o, T, out); /* NumPy arrays and scalars */
  mx_dtype target;
  if (PyBool_Check(o)) {
    target = T;
  } else if (PyLong_Check(o)) {
    if (check_int_fits(o, T) < 0) return -1;
    target = T == MX_BOOL ? MX_INT32 : T;
  } else if (PyFloat_Check(o)) {
    if (!mx_dtype_is_floating(T)) return mxpy_to_array_dtype(o, MX_FLOAT32, out);
    if (T == MX_FLOAT64) return mxpy_to_array_dtype(o, T, out);
    /* other floating dtypes take the value through float32, as MLX */
    mx_array *f;
    if (mxpy_to_array_dtype(o, MX_FLOAT32, &f) < 0) return -1;
    *out = mx_astype(f, T, mx_stream_default());
    mx_array_release(f);
    if (!*out) {
      mxpy_raise();
      return -1;
    }
    return 0;
  } else {
    target = MX_COMPLEX64;
  }
  return mxpy_to_array_dtype(o, target, out);
}

static int dtype_arg(PyObject *o, int *t) {
  *t = -1;
  if (!o || o == Py_None) return 0;
  mx_dtype d;
  if (mxpy_to_dtype(o, &d) < 0) return -1;
  *t = (int)d;
  return 0;
}

static const char *const full_names[] = {"shape", "vals", "dtype", "stream"};
static PyObject *full_kw[4];
static const mxpy_sig full_sig = {"full", 4, 3, 0, 0x3u, 0, full_names, full_kw};

static PyObject *py_full(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) {
  PyObject *av[4] = {NULL, NULL, NULL, NULL};
  if (mxpy_parse_args(&full_sig, args, nargs, kw, av) < 0) return NULL;
  int32_t store[8], *shape = NULL, *heap = NULL;
  int ndim = 0, t;
  mx_stream s;
  mx_array *vals = NULL;
  PyObject *ret = NULL;
  if (mxpy_to_shape(av[0], &shape, &ndim, store, 8, &heap) < 0 || dtype_arg(av[2], &t) < 0 ||
      mxpy_to_stream(av[3], &s) < 0 || vals_to_array("full", av[1], t, &vals) < 0)
    goto done;
  ret = mxpy_array_wrap(mx_full(shape, ndim, vals, vals->dtype, s));
done:
  mx_array_release(vals);
  free(heap);
  return ret;
}

static const char *const full_like_names[] = {"a", "vals", "dtype", "stream"};
static PyObject *full_like_kw[4];
static const mxpy_sig full_like_sig = {"full_like", 4, 3, 1, 0x3u, 0, full_like_names,
                                       full_like_kw};

static PyObject *py_full_like(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kw) {
  PyObject *av[4] = {NULL, NULL, NULL, NULL};
  if (mxpy_parse_args(&full_like_sig, args, nargs, kw, av) < 0) return NULL;
  mx_array *a = NULL, *vals = NULL;
  int t;
  mx_stream s;
  PyObject *ret = NULL;
  if (mxpy_to_array(av[0], &a) < 0 || dtype_arg(av[2], &t) < 0 || mxpy_to_stream(av[3], &s) < 0)
    goto done;
  if (t < 0) t = (int)a->dtype;
  if (vals_to_array("full_like", av[1], t, &vals) < 0) goto done;
  ret = mxpy_array_wrap(mx_full_like(a, vals, (mx_dtype)t, s));
done:
  mx_array_release(a);
  mx_array_release(vals);
  return ret;
}

/* ---- arange ---- */

enum { NUM_NONE = -1, NUM_BOOL = 0, NUM_INT = 1, NUM_FLOAT = 2 };

typedef struct num {
  int kind;
  bool wide;   /* an int outside int32 */
  double v;
} num;

/* A Python bool, int (within int64) or float; None too when allow_none. 0 or -1 (no
 * exception set: the signature does not match). */
static int number_arg(PyObject *o, bool allow_none, num *out) {
  out->kind = NUM_NONE;
  out->wide = false;
  out->v = 0.0;
  if (!o || o == Py_None) return allow_none || !o ? 0 : -1;
  if (PyBool_Check(o)) {
    out->kind = NUM_BOOL;
    out->v = o == Py_True;
  } else if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return -1;
    }
    out->kind = NUM_INT;
    out->wide = v < INT_MIN || v > INT_MAX;
    out->v = (double)v;
  } else if (PyFloat_Check(o)) {
    out->kind = NUM_FLOAT;
    out->v = PyFloat_AS_DOUBLE(o);
  } else {
    return -1;
  }
  return 0;
}

static const char *const arange1_names[] = {"start", "stop", "step", "dtype", "stream"};
static PyObject *arange1_kw[5];
static const mxpy_sig arange1_sig = {"arange", 5, 4, 0, 0x3u, 0, arange1_names, arange1_kw};
static const char *const arange2_names[] = {"stop", "step", "dtype", "stream"};
static PyObject *arange2_kw[4];
static const mxpy_sig arange2_sig = {"arange", 4, 3, 0, 0x1u, 0, arange2_names, arange2_kw};

/* Matches one signature: nums[0..2] = start, stop, step (kind NUM_NONE when absent). 0, or
 * -1 with no exception when the arguments do not fit it. */
static int arange_match(const mxpy_sig *sig, bool with_start, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kw, num *nums, PyObject **dtype,
                        PyObject **stream) {
  PyObject *av[5] = {NULL, NULL, NULL, NULL, NULL};
  if (mxpy_parse_args(sig, args, nargs, kw, av) < 0) {
    PyErr_Clear();
    return -1;
  }
  /* p[0] start (absent in the second signature), p[1] stop, p[2] step, p[3] dtype, p[4] stream */
  PyObject *p[5] = {NULL, NULL, NULL, NULL, NULL};
  for (int i = 0; i < 5; i++) p[i] = with_start ? av[i] : (i ? av[i - 1] : NULL);
  if (number_arg(p[0], !with_start, &nums[0]) < 0) return -1;
  if (number_arg(p[1], with_start, &nums[1]) < 0 || number_arg(p[2], true, &nums[2]) < 0)
    return -1;
  if (p[3] && p[3] != Py_None && !MXPY_IS_DTYPE(p[3])) return -1;
  *dtype = p[3];
  *stream = p[4];
  return 0;
}

static PyObject *arange_mismatch(Py_ssize_t nargs, PyObject *const *args, PyObject *kw) {
  PyObject *types = PyList_New(0);
  if (!types) return NULL;
  Py_ssize_t nkw = kw ? PyTuple_GET_SIZE(kw) : 0;
  for (Py_ssize_t i = 0; i < nargs + nkw; i++) {
    PyObject *name = i < nargs ? PyUnicode_FromString(Py_TYPE(args[i])->tp_name)
                               : PyUnicode_FromFormat("%U=%s", PyTuple_GET_ITEM(kw, i - nargs),
                                                      Py_TYPE(args[i])->tp_name);
    if (!name || PyList_Append(types, name) < 0) {
      Py_XDECREF(name);
      Py_DECREF(types);
      return NULL;
    }
    Py_DECREF(name);
  }
  PyObject *sep = PyUnicode_FromString(", ");
  PyObject *joined = sep ? PyUnicode_Join(sep, types) : NULL;
  if (joined)
    PyErr_Format(PyExc_TypeError,
                 "arange(): incompatible function arguments. The following argument types are "
                 "supported:\n"
                 "    1. arange(start: int | float, stop: None | int | float, step: None | int "
                 "| float = None, dtype: Dtype | None = None, *, stream: StreamOrDevice = None)"
                 " -> array\n"
                 "    2. arange(stop: int | float, step: None | int | float = None, dtype: "
                 "Dtype | None = None, *, stream: StreamOrDevice = None) -> array\n\n"
                 "Invoked with types: %U",
                 joined);
  Py_XDECREF(sep);
  Py_XDECREF(joined);
  Py_DECREF(types);
  return NULL;
}

static PyObject *py_arange(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) {
  num nums[3];
  PyObject *dtype_o = NULL, *stream_o = NULL;
  if (arange_match(&arange1_sig, true, args, nargs, kw, nums, &dtype_o, &stream_o) < 0 &&
      arange_match(&arange2_sig, false, args, nargs, kw, nums, &dtype_o, &stream_o) < 0)
    return arange_mismatch(nargs, args, kw);
  if (nums[1].kind == NUM_NONE) { /* arange(start, None): start is the stop */
    nums[1] = nums[0];
    nums[0].kind = NUM_NONE;
  }
  int kind = NUM_BOOL;
  bool wide = false;
  for (int i = 0; i < 3; i++) {
    if (nums[i].kind > kind) kind = nums[i].kind;
    wide |= nums[i].wide;
  }
  int t;
  mx_stream s;
  if (dtype_arg(dtype_o, &t) < 0 || mxpy_to_stream(stream_o, &s) < 0) return NULL;
  if (t < 0)
    t = kind == NUM_FLOAT ? MX_FLOAT32 : kind == NUM_INT ? (wide ? MX_INT64 : MX_INT32) : MX_BOOL;
  double start = nums[0].kind == NUM_NONE ? 0.0 : nums[0].v;
  double step = nums[2].kind == NUM_NONE ? 1.0 : nums[2].v;
  return mxpy_array_wrap(mx_arange(start, nums[1].v, step, (mx_dtype)t, s));
}

/* ---- asarray(a, /, dtype=None, *, copy=None): mx.array(a, dtype); a copy is always made
 * on the CPU, so copy=False raises as in MLX ---- */

static const char *const asarray_names[] = {"a", "dtype", "copy"};
static PyObject *asarray_kw[3];
static const mxpy_sig asarray_sig = {"asarray", 3, 2, 1, 0x1u, 0, asarray_names, asarray_kw};

static PyObject *py_asarray(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) {
  PyObject *av[3] = {NULL, NULL, NULL};
  if (mxpy_parse_args(&asarray_sig, args, nargs, kw, av) < 0) return NULL;
  int t;
  if (dtype_arg(av[1], &t) < 0) return NULL;
  if (av[2] && av[2] != Py_None) {
    bool copy;
    if (mxpy_to_bool(av[2], &copy) < 0) return NULL;
    if (!copy) {
      bool buffer = !MXPY_IS_ARRAY(av[0]) && !is_py_scalar(av[0]) && !PyList_Check(av[0]) &&
                    !PyTuple_Check(av[0]) && PyObject_CheckBuffer(av[0]);
      PyErr_SetString(PyExc_ValueError,
                      buffer ? "[convert] Cannot import a CPU array without a copy."
                             : "Unable to avoid copy while creating an array as requested.");
      return NULL;
    }
  }
  mx_array *node = NULL;
  if ((t < 0 ? mxpy_to_array(av[0], &node) : mxpy_to_array_dtype(av[0], (mx_dtype)t, &node)) < 0)
    return NULL;
  return mxpy_array_wrap(node);
}

#define FASTCALL_KW (METH_FASTCALL | METH_KEYWORDS)

PyMethodDef mxpy_creation_methods[] = {
    {"full", (PyCFunction)(void (*)(void))py_full, FASTCALL_KW,
     "full(shape, vals, dtype=None, *, stream=None)\n--\n\n"
     "Construct an array of the given shape filled with vals (broadcast). A Python scalar is "
     "typed against dtype as in binary ops; an array keeps its dtype."},
    {"full_like", (PyCFunction)(void (*)(void))py_full_like, FASTCALL_KW,
     "full_like(a, /, vals, dtype=None, *, stream=None)\n--\n\n"
     "An array with a's shape (broadcast with vals) filled with vals, in dtype (default: "
     "a's dtype)."},
    {"arange", (PyCFunction)(void (*)(void))py_arange, FASTCALL_KW,
     "arange(start, stop, step=None, dtype=None, *, stream=None)\n"
     "arange(stop, step=None, dtype=None, *, stream=None)\n\n"
     "Values from start (default 0) up to, but excluding, stop, step (default 1) apart. The "
     "dtype defaults to int32 (int64 when a bound needs it) if every argument is an int, "
     "else float32."},
    {"asarray", (PyCFunction)(void (*)(void))py_asarray, FASTCALL_KW,
     "asarray(a, /, dtype=None, *, copy=None)\n--\n\n"
     "Convert the input to an array (as mx.array(a, dtype)); copy=False raises because the "
     "conversion always copies."},
    {NULL, NULL, 0, NULL},
};
