/* einsum_py.c: mx.einsum(subscripts, *operands, stream=None) and mx.einsum_path(subscripts,
 * *operands), written by hand: a parameter precedes the variadic operands, and einsum_path
 * returns Python data (a list of position tuples and a description string). */
#include "mxpy_internal.h"

#include <stdlib.h>
#include <string.h>

/* The subscripts (args[0]) and the operands (args[1:]) converted; *ops malloc'd, each
 * retained. 0, or -1 + exception (nothing left to release). */
static int es_args(const char *fn, PyObject *const *args, Py_ssize_t nargs, const char **sub,
                   mx_array ***ops, int *n) {
  if (nargs < 1 || !PyUnicode_Check(args[0])) {
    PyErr_Format(PyExc_TypeError, "%s(): the first argument must be the subscripts (str)", fn);
    return -1;
  }
  if (!(*sub = PyUnicode_AsUTF8(args[0]))) return -1;
  *n = (int)(nargs - 1);
  *ops = calloc((size_t)(*n > 0 ? *n : 1), sizeof(mx_array *));
  if (!*ops) {
    PyErr_NoMemory();
    return -1;
  }
  for (int i = 0; i < *n; i++)
    if (mxpy_to_array(args[i + 1], &(*ops)[i]) < 0) {
      for (int k = 0; k < i; k++) mx_array_release((*ops)[k]);
      free(*ops);
      return -1;
    }
  return 0;
}

static void es_release(mx_array **ops, int n) {
  for (int k = 0; k < n; k++) mx_array_release(ops[k]);
  free(ops);
}

static PyObject *einsum(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames) {
  (void)module;
  PyObject *stream = NULL;
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t k = 0; k < nkw; k++) {
    const char *key = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
    if (!key) return NULL;
    if (strcmp(key, "stream") != 0) {
      PyErr_Format(PyExc_TypeError, "einsum() got an unexpected keyword argument '%s'", key);
      return NULL;
    }
    stream = args[nargs + k];
  }
  mx_stream s;
  if (mxpy_to_stream(stream, &s) < 0) return NULL;
  const char *sub;
  mx_array **ops;
  int n;
  if (es_args("einsum", args, nargs, &sub, &ops, &n) < 0) return NULL;
  mx_array *r = mx_einsum(sub, ops, n, s);
  es_release(ops, n);
  return r ? mxpy_array_wrap(r) : mxpy_raise();
}

static PyObject *einsum_path(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames) {
  (void)module;
  if (kwnames && PyTuple_GET_SIZE(kwnames) > 0) {
    PyErr_SetString(PyExc_TypeError, "einsum_path() takes no keyword arguments");
    return NULL;
  }
  const char *sub;
  mx_array **ops;
  int n;
  if (es_args("einsum_path", args, nargs, &sub, &ops, &n) < 0) return NULL;
  PyObject *ret = NULL;
  int *path = NULL, steps = 0;
  char *desc = NULL;
  if (mx_einsum_path(sub, ops, n, &path, &steps, &desc) < 0) {
    mxpy_raise();
    goto done;
  }
  PyObject *list = PyList_New(steps);
  for (int k = 0, at = 0; list && k < steps; k++) {
    int m = path[at++];
    PyObject *t = PyTuple_New(m);
    for (int j = 0; t && j < m; j++) {
      PyObject *v = PyLong_FromLong(path[at++]);
      if (!v) Py_CLEAR(t);
      else PyTuple_SET_ITEM(t, j, v);
    }
    if (!t) Py_CLEAR(list);
    else PyList_SET_ITEM(list, k, t);
  }
  if (list) ret = Py_BuildValue("(Ns)", list, desc);
  free(path);
  free(desc);
done:
  es_release(ops, n);
  return ret;
}

static PyMethodDef einsum_methods[] = {
    {"einsum", (PyCFunction)(void (*)(void))einsum, METH_FASTCALL | METH_KEYWORDS,
     "einsum(subscripts, *operands, stream=None)\n--\n\n"
     "Einstein summation over the operands: explicit ('ij,jk->ik') or implicit output, one "
     "ellipsis per term, repeated letters (diagonals), size-1 broadcasting."},
    {"einsum_path", (PyCFunction)(void (*)(void))einsum_path, METH_FASTCALL | METH_KEYWORDS,
     "einsum_path(subscripts, *operands)\n--\n\n"
     "The contraction path einsum takes for these operands: a list of tuples of operand "
     "positions, and a description with the naive and optimized costs."},
    {NULL, NULL, 0, NULL},
};

int mxpy_einsum_init(PyObject *m) { return PyModule_AddFunctions(m, einsum_methods); }
