/* linalg_py.c: the hand-written parts of mlx.core.linalg: norm (ord is a number, a string or
 * None) and svd (a tuple, or one array when compute_uv is False); mx.matrix_norm is norm. */
#include "convert.h"
#include "mxpy_internal.h"

#define NORM_AXES_INLINE 8

static PyObject *py_norm(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"", "ord", "axis", "keepdims", "stream", NULL};
  PyObject *ao, *ordo = Py_None, *axo = Py_None, *kdo = Py_False, *so = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOO$O:norm", kwlist, &ao, &ordo, &axo, &kdo,
                                   &so))
    return NULL;
  bool keepdims;
  mx_stream s;
  int store[NORM_AXES_INLINE], *axes = NULL, *heap = NULL, n = -1;
  if (mxpy_to_bool(kdo, &keepdims) < 0 || mxpy_to_stream(so, &s) < 0) return NULL;
  const char *ord_str = NULL;
  double ord = 0.0;
  if (PyUnicode_Check(ordo)) {
    ord_str = PyUnicode_AsUTF8(ordo);
    if (!ord_str) return NULL;
  } else if (ordo != Py_None) {
    if (!PyNumber_Check(ordo) || PyComplex_Check(ordo)) {
      PyErr_Format(PyExc_TypeError,
                   "norm(): ord must be None, a number or a string, got %s.", Py_TYPE(ordo)->tp_name);
      return NULL;
    }
    ord = PyFloat_AsDouble(ordo);
    if (ord == -1.0 && PyErr_Occurred()) return NULL;
  }
  if (mxpy_to_axes(axo, &axes, &n, store, NORM_AXES_INLINE, &heap) < 0) return NULL;
  mx_array *a = NULL;
  if (mxpy_to_array(ao, &a) < 0) {
    free(heap);
    return NULL;
  }
  mx_array *r = ord_str ? mx_linalg_norm_str(a, ord_str, axes, n, keepdims, s)
                        : mx_linalg_norm(a, ordo == Py_None ? NULL : &ord, axes, n, keepdims, s);
  mx_array_release(a);
  free(heap);
  return mxpy_array_wrap(r);
}

static PyObject *py_svd(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"a", "compute_uv", "stream", NULL};
  PyObject *ao, *cuo = Py_True, *so = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O$O:svd", kwlist, &ao, &cuo, &so)) return NULL;
  bool cu;
  mx_stream s;
  if (mxpy_to_bool(cuo, &cu) < 0 || mxpy_to_stream(so, &s) < 0) return NULL;
  mx_array *a = NULL, *out[3] = {NULL, NULL, NULL};
  if (mxpy_to_array(ao, &a) < 0) return NULL;
  int rc = mx_linalg_svd(a, cu, s, out);
  mx_array_release(a);
  if (rc < 0) return mxpy_raise();
  if (!cu) return mxpy_array_wrap(out[0]);
  PyObject *t = PyTuple_New(3);
  if (!t) {
    for (int i = 0; i < 3; i++) mx_array_release(out[i]);
    return NULL;
  }
  for (int i = 0; i < 3; i++) {
    PyObject *o = mxpy_array_wrap(out[i]); /* steals out[i] even on failure */
    if (!o) {
      for (int j = i + 1; j < 3; j++) mx_array_release(out[j]);
      Py_DECREF(t);
      return NULL;
    }
    PyTuple_SET_ITEM(t, i, o);
  }
  return t;
}

static PyMethodDef linalg_methods[] = {
    {"norm", (PyCFunction)(void (*)(void))py_norm, METH_VARARGS | METH_KEYWORDS,
     "norm(a, /, ord=None, axis=None, keepdims=False, *, stream=None)\n--\n\n"
     "Matrix or vector norm: ord a number (inf, -inf, 0, negative orders included), 'fro', "
     "'f' or 'nuc'; axis None (the flattened array, or the whole 1-D/2-D array when ord is "
     "given), an int or two ints."},
    {"svd", (PyCFunction)(void (*)(void))py_svd, METH_VARARGS | METH_KEYWORDS,
     "svd(a, compute_uv=True, *, stream=None)\n--\n\n"
     "Singular value decomposition (U, S, Vt) with full U and Vt, or S alone when "
     "compute_uv is False."},
    {NULL, NULL, 0, NULL},
};

int mxpy_linalg_init(PyObject *core, PyObject *linalg) {
  if (PyModule_AddFunctions(linalg, linalg_methods) < 0) return -1;
  PyObject *norm = PyObject_GetAttrString(linalg, "norm");
  if (!norm) return -1;
  int rc = PyModule_AddObjectRef(core, "matrix_norm", norm);
  Py_DECREF(norm);
  return rc;
}
