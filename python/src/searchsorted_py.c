/* searchsorted_py.c: the mx.searchsorted binding, written by hand because its `side`
 * parameter is a string ('left' or 'right'), which the generated converters do not take. */
#include "mxpy_internal.h"

#include <string.h>

static const char *const search_names[] = {"sorted_sequence", "values", "side", "stream"};
static PyObject *search_kw[4];
static const mxpy_sig search_sig = {"searchsorted", 4, 3, 2, 0x3u, 0, search_names, search_kw};

static PyObject *searchsorted(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames) {
  (void)module;
  PyObject *av[4] = {NULL, NULL, NULL, NULL};
  if (mxpy_parse_args(&search_sig, args, nargs, kwnames, av) < 0) return NULL;
  bool right = false;
  if (av[2]) {
    const char *side = PyUnicode_Check(av[2]) ? PyUnicode_AsUTF8(av[2]) : NULL;
    if (!side) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "searchsorted(): side must be a str");
      return NULL;
    }
    if (strcmp(side, "right") == 0) {
      right = true;
    } else if (strcmp(side, "left") != 0) {
      PyErr_Format(PyExc_ValueError, "[searchsorted] Invalid side '%s'. Expected 'left' or 'right'.", side);
      return NULL;
    }
  }
  mx_stream s;
  if (mxpy_to_stream(av[3], &s) < 0) return NULL;
  mx_array *a = NULL, *v = NULL;
  PyObject *ret = NULL;
  if (mxpy_to_array(av[0], &a) == 0 && mxpy_to_array(av[1], &v) == 0) {
    mx_array *r = mx_searchsorted(a, v, right, s);
    ret = r ? mxpy_array_wrap(r) : mxpy_raise();
  }
  if (a) mx_array_release(a);
  if (v) mx_array_release(v);
  return ret;
}

static PyMethodDef search_methods[] = {
    {"searchsorted", (PyCFunction)(void (*)(void))searchsorted, METH_FASTCALL | METH_KEYWORDS,
     "searchsorted(sorted_sequence, values, /, side='left', *, stream=None)\n--\n\n"
     "Indices (uint32) at which values would be inserted into the 1-D sorted_sequence to keep "
     "it sorted: the first such position (side='left') or the last (side='right')."},
    {NULL, NULL, 0, NULL},
};

int mxpy_searchsorted_init(PyObject *m) { return PyModule_AddFunctions(m, search_methods); }
