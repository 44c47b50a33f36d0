/* convert_ext.c: the converters of convert_ext.h (str, int-or-ints, pad widths, tensordot
 * axes, positional arrays) used by the generated bindings. Depends on convert.h only. */
#include "convert_ext.h"

#include <limits.h>
#include <stdlib.h>

static const char *type_name(PyObject *o) { return o ? Py_TYPE(o)->tp_name : "nothing"; }

static bool is_int_like(PyObject *o) {
  return o && !PyFloat_Check(o) && !PyUnicode_Check(o) && PyIndex_Check(o);
}

/* A list/tuple (or other non-str sequence) as a fast sequence, NULL without error if not one. */
static PyObject *fast_sequence(PyObject *o) {
  if (!o || PyUnicode_Check(o) || PyBytes_Check(o) || MXPY_IS_ARRAY(o) || !PySequence_Check(o))
    return NULL;
  PyObject *s = PySequence_Fast(o, "expected a sequence");
  if (!s) PyErr_Clear();
  return s;
}

/* n ints of items into storage (cap) or a malloc'd block put in *heap. */
static int ints_of(PyObject *const *items, Py_ssize_t n, int *storage, int cap, int **heap,
                   int **out) {
  if (n > INT_MAX) {
    PyErr_SetString(PyExc_ValueError, "too many values");
    return -1;
  }
  int *dst = storage;
  if (n > cap && !(dst = malloc((size_t)n * sizeof *dst))) {
    PyErr_NoMemory();
    return -1;
  }
  for (Py_ssize_t i = 0; i < n; i++) {
    if (!is_int_like(items[i])) {
      PyErr_Format(PyExc_TypeError, "expected a sequence of ints, got an item of type '%s'",
                   type_name(items[i]));
      if (dst != storage) free(dst);
      return -1;
    }
    if (mxpy_to_int(items[i], &dst[i]) < 0) {
      if (dst != storage) free(dst);
      return -1;
    }
  }
  if (dst != storage) *heap = dst;
  *out = dst;
  return 0;
}

int mxpy_to_str(PyObject *o, const char **out) {
  if (!o || !PyUnicode_Check(o)) {
    PyErr_Format(PyExc_TypeError, "expected a str, got '%s'", type_name(o));
    return -1;
  }
  const char *s = PyUnicode_AsUTF8(o);
  if (!s) return -1;
  *out = s;
  return 0;
}

int mxpy_to_ints(PyObject *o, int **v, int *n, int *storage, int cap, int **heap, bool *scalar) {
  *heap = NULL;
  *scalar = false;
  if (o == Py_None) {
    *v = storage;
    *n = -1;
    return 0;
  }
  if (is_int_like(o) && !PySequence_Check(o)) {
    if (mxpy_to_int(o, &storage[0]) < 0) return -1;
    *v = storage;
    *n = 1;
    *scalar = true;
    return 0;
  }
  PyObject *s = fast_sequence(o);
  if (!s) {
    PyErr_Format(PyExc_TypeError, "expected an int or a sequence of ints, got '%s'", type_name(o));
    return -1;
  }
  Py_ssize_t len = PySequence_Fast_GET_SIZE(s);
  int rc = ints_of(PySequence_Fast_ITEMS(s), len, storage, cap, heap, v);
  Py_DECREF(s);
  if (rc < 0) return -1;
  *n = (int)len;
  return 0;
}

static int pad_width_error(PyObject *o) {
  PyErr_Format(PyExc_TypeError,
               "pad(): pad_width must be an int, a tuple (int,) or (int, int), or a sequence of "
               "(int, int) pairs, got '%s'",
               type_name(o));
  return -1;
}

int mxpy_to_pairs(PyObject *o, int32_t **v, int *n, int32_t *storage, int cap, int32_t **heap) {
  *heap = NULL;
  *v = storage;
  if (is_int_like(o) && !PySequence_Check(o)) {
    int w;
    if (mxpy_to_int(o, &w) < 0) return -1;
    storage[0] = storage[1] = w;
    *n = 1;
    return 0;
  }
  PyObject *s = fast_sequence(o);
  if (!s) return pad_width_error(o);
  Py_ssize_t len = PySequence_Fast_GET_SIZE(s);
  PyObject **items = PySequence_Fast_ITEMS(s);
  int rc = 0;
  bool flat = len > 0 && is_int_like(items[0]);
  if (flat) { /* (w,) or (lo, hi): one pair */
    int pair[2];
    if (len > 2) rc = pad_width_error(o);
    for (Py_ssize_t i = 0; rc == 0 && i < len; i++)
      rc = is_int_like(items[i]) ? mxpy_to_int(items[i], &pair[i]) : pad_width_error(o);
    if (rc == 0) {
      storage[0] = pair[0];
      storage[1] = len == 2 ? pair[1] : pair[0];
      *n = 1;
    }
    Py_DECREF(s);
    return rc;
  }
  if (len > INT_MAX / 2) {
    Py_DECREF(s);
    PyErr_SetString(PyExc_ValueError, "too many pad widths");
    return -1;
  }
  int32_t *dst = storage;
  if (len > cap && !(dst = malloc((size_t)len * 2 * sizeof *dst))) {
    Py_DECREF(s);
    PyErr_NoMemory();
    return -1;
  }
  for (Py_ssize_t i = 0; rc == 0 && i < len; i++) {
    PyObject *p = fast_sequence(items[i]);
    if (!p || PySequence_Fast_GET_SIZE(p) != 2) {
      rc = pad_width_error(o);
    } else {
      PyObject **pi = PySequence_Fast_ITEMS(p);
      int lo = 0, hi = 0;
      if (!is_int_like(pi[0]) || !is_int_like(pi[1])) rc = pad_width_error(o);
      if (rc == 0 && (mxpy_to_int(pi[0], &lo) < 0 || mxpy_to_int(pi[1], &hi) < 0)) rc = -1;
      dst[2 * i] = lo;
      dst[2 * i + 1] = hi;
    }
    Py_XDECREF(p);
  }
  Py_DECREF(s);
  if (rc < 0) {
    if (dst != storage) free(dst);
    return -1;
  }
  if (dst != storage) *heap = dst;
  *v = dst;
  *n = (int)len;
  return 0;
}

int mxpy_to_tdaxes(PyObject *o, int *ival, bool *scalar, int **v, int *n, int *split, int *storage,
                   int cap, int **heap) {
  *heap = NULL;
  *v = storage;
  *n = *split = 0;
  if (is_int_like(o) && !PySequence_Check(o)) {
    *scalar = true;
    return mxpy_to_int(o, ival);
  }
  *scalar = false;
  PyObject *s = fast_sequence(o);
  if (!s) {
    PyErr_Format(PyExc_TypeError, "tensordot(): axes must be an int or a list of two sequences "
                 "of ints, got '%s'", type_name(o));
    return -1;
  }
  PyObject **items = PySequence_Fast_ITEMS(s);
  Py_ssize_t len = PySequence_Fast_GET_SIZE(s);
  PyObject *l0 = NULL, *l1 = NULL;
  int rc = 0;
  for (Py_ssize_t i = 0; i < len && rc == 0; i++)
    if (is_int_like(items[i]) || !PySequence_Check(items[i]))
      rc = -1;
  if (rc < 0) {
    PyErr_SetString(PyExc_TypeError, "tensordot(): axes must be an int or a list of two sequences "
                    "of ints.");
  } else if (len != 2) {
    PyErr_SetString(PyExc_ValueError, "[tensordot] axes must be a list of two lists.");
    rc = -1;
  } else {
    l0 = fast_sequence(items[0]);
    l1 = fast_sequence(items[1]);
    if (!l0 || !l1) {
      PyErr_SetString(PyExc_TypeError, "tensordot(): axes must be a list of two sequences of ints.");
      rc = -1;
    }
  }
  if (rc == 0) {
    Py_ssize_t n0 = PySequence_Fast_GET_SIZE(l0), n1 = PySequence_Fast_GET_SIZE(l1);
    int *dst = storage;
    if (n0 + n1 > cap && !(dst = malloc((size_t)(n0 + n1) * sizeof *dst))) {
      PyErr_NoMemory();
      rc = -1;
    }
    int *tmp;
    int *none = NULL;
    if (rc == 0 && ints_of(PySequence_Fast_ITEMS(l0), n0, dst, (int)n0, &none, &tmp) < 0) rc = -1;
    if (rc == 0 && ints_of(PySequence_Fast_ITEMS(l1), n1, dst + n0, (int)n1, &none, &tmp) < 0)
      rc = -1;
    if (rc == 0) {
      if (dst != storage) *heap = dst;
      *v = dst;
      *n = (int)(n0 + n1);
      *split = (int)n0;
    } else if (dst != storage) {
      free(dst);
    }
  }
  Py_XDECREF(l0);
  Py_XDECREF(l1);
  Py_DECREF(s);
  return rc;
}

int mxpy_to_array_args(PyObject *const *args, Py_ssize_t nargs, mx_array ***v, int *n,
                       mx_array **storage, int cap, mx_array ***heap) {
  *v = storage;
  *n = 0;
  *heap = NULL;
  if (nargs > INT_MAX) {
    PyErr_SetString(PyExc_ValueError, "too many arrays");
    return -1;
  }
  mx_array **dst = storage;
  if (nargs > cap && !(dst = calloc((size_t)nargs, sizeof *dst))) {
    PyErr_NoMemory();
    return -1;
  }
  for (Py_ssize_t i = 0; i < nargs; i++) {
    if (mxpy_to_array(args[i], &dst[i]) < 0) {
      for (Py_ssize_t j = 0; j < i; j++) mx_array_release(dst[j]);
      if (dst != storage) free(dst);
      return -1;
    }
  }
  if (dst != storage) *heap = dst;
  *v = dst;
  *n = (int)nargs;
  return 0;
}
