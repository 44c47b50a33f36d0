/* isdtype_py.c: mx.isdtype(dtype, kind), the Array API kind test: kind is a Dtype, one of
 * the kind names ('bool', 'signed integer', 'unsigned integer', 'integral', 'real floating',
 * 'complex floating', 'numeric') or a tuple of those. */
#include "mxpy_internal.h"

#include <string.h>

/* The dtype of a Dtype singleton: 1, or 0 for any other object. */
static int isd_dtype_of(PyObject *o, mx_dtype *t) {
  for (int k = 0; k < MX_DTYPE_COUNT; k++)
    if (o == mxpy_dtype_object((mx_dtype)k)) {
      *t = (mx_dtype)k;
      return 1;
    }
  return 0;
}

/* 1 / 0 for a match, -1 + ValueError for an unknown kind. */
static int isd_match(mx_dtype t, PyObject *kind) {
  mx_dtype k;
  if (isd_dtype_of(kind, &k)) return t == k;
  if (PyUnicode_Check(kind)) {
    const char *s = PyUnicode_AsUTF8(kind);
    if (!s) return -1;
    bool integer = mx_dtype_is_integer(t), sign = mx_dtype_is_signed(t);
    if (strcmp(s, "bool") == 0) return t == MX_BOOL;
    if (strcmp(s, "signed integer") == 0) return integer && sign;
    if (strcmp(s, "unsigned integer") == 0) return integer && !sign;
    if (strcmp(s, "integral") == 0) return integer;
    if (strcmp(s, "real floating") == 0) return mx_dtype_is_floating(t);
    if (strcmp(s, "complex floating") == 0) return mx_dtype_is_complex(t);
    if (strcmp(s, "numeric") == 0) return t != MX_BOOL;
    PyErr_Format(PyExc_ValueError, "[isdtype] Unknown data type kind: '%s'.", s);
    return -1;
  }
  PyErr_SetString(PyExc_ValueError,
                  "[isdtype] `kind` must be a dtype, a string, or a tuple of dtypes and strings.");
  return -1;
}

static PyObject *isdtype(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames) {
  (void)module;
  static const char *const names[] = {"dtype", "kind"};
  PyObject *av[2] = {NULL, NULL};
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  if (nargs > 2) {
    PyErr_Format(PyExc_TypeError, "isdtype() takes 2 arguments (%zd given)", nargs + nkw);
    return NULL;
  }
  for (Py_ssize_t i = 0; i < nargs; i++) av[i] = args[i];
  for (Py_ssize_t k = 0; k < nkw; k++) {
    const char *key = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
    if (!key) return NULL;
    int slot = strcmp(key, names[0]) == 0 ? 0 : strcmp(key, names[1]) == 0 ? 1 : -1;
    if (slot < 0 || av[slot]) {
      PyErr_Format(PyExc_TypeError, "isdtype() got an unexpected or repeated argument '%s'", key);
      return NULL;
    }
    av[slot] = args[nargs + k];
  }
  mx_dtype t;
  if (!av[0] || !av[1] || !isd_dtype_of(av[0], &t)) {
    PyErr_SetString(PyExc_TypeError, "isdtype(): incompatible function arguments: expected "
                                     "isdtype(dtype: Dtype, kind: Dtype | str | tuple[Dtype | str, ...])");
    return NULL;
  }
  if (PyTuple_Check(av[1])) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(av[1]); i++) {
      int m = isd_match(t, PyTuple_GET_ITEM(av[1], i));
      if (m != 0) return m < 0 ? NULL : PyBool_FromLong(1);
    }
    Py_RETURN_FALSE;
  }
  int m = isd_match(t, av[1]);
  return m < 0 ? NULL : PyBool_FromLong(m);
}

static PyMethodDef isdtype_methods[] = {
    {"isdtype", (PyCFunction)(void (*)(void))isdtype, METH_FASTCALL | METH_KEYWORDS,
     "isdtype(dtype, kind)\n--\n\n"
     "Whether dtype is of kind: a Dtype, a kind name ('bool', 'signed integer', 'unsigned "
     "integer', 'integral', 'real floating', 'complex floating', 'numeric') or a tuple of them."},
    {NULL, NULL, 0, NULL},
};

int mxpy_isdtype_init(PyObject *m) { return PyModule_AddFunctions(m, isdtype_methods); }
