/* random_dist_py.c: mx.random.permutation, written by hand because x is either an int (a
 * permutation of arange(x)) or an array (shuffled along axis), which the generated
 * converters cannot tell apart. */
#include "mxpy_internal.h"

static const char *const perm_names[] = {"x", "axis", "key", "stream"};
static PyObject *perm_kw[4];
static const mxpy_sig perm_sig = {"permutation", 4, 4, 0, 0x1u, 0, perm_names, perm_kw};

static PyObject *permutation(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames) {
  (void)module;
  PyObject *av[4] = {NULL, NULL, NULL, NULL};
  if (mxpy_parse_args(&perm_sig, args, nargs, kwnames, av) < 0) return NULL;
  bool is_int = PyLong_Check(av[0]);
  if (!is_int && !MXPY_IS_ARRAY(av[0])) {
    PyErr_Format(PyExc_TypeError, "permutation(): x must be an int or an array, got '%s'.",
                 Py_TYPE(av[0])->tp_name);
    return NULL;
  }
  int axis = 0, n = 0;
  mx_stream s;
  if ((av[1] && mxpy_to_int(av[1], &axis) < 0) || mxpy_to_stream(av[3], &s) < 0) return NULL;
  if (is_int && mxpy_to_int(av[0], &n) < 0) return NULL;
  mx_array *key = NULL, *x = NULL, *r = NULL;
  if (av[2] && av[2] != Py_None) {
    if (mxpy_to_array(av[2], &key) < 0) return NULL;
  } else if (mxpy_random_next_key(&key) < 0) {
    return NULL;
  }
  if (is_int) {
    r = mx_random_permutation_arange(n, key, s);
  } else if (mxpy_to_array(av[0], &x) == 0) {
    r = mx_random_permutation(x, axis, key, s);
    mx_array_release(x);
  } else {
    mx_array_release(key);
    return NULL;
  }
  mx_array_release(key);
  return r ? mxpy_array_wrap(r) : mxpy_raise();
}

static PyMethodDef random_dist_methods[] = {
    {"permutation", (PyCFunction)(void (*)(void))permutation, METH_FASTCALL | METH_KEYWORDS,
     "permutation(x, axis=0, key=None, stream=None)\n--\n\n"
     "A random permutation of arange(x) when x is an int (uint32), else x shuffled along axis."},
    {NULL, NULL, 0, NULL},
};

int mxpy_random_dist_init(PyObject *random_module) {
  return PyModule_AddFunctions(random_module, random_dist_methods);
}
