/* shape_py.c: the hand-written shape helper of mlx.core that is not an op on arrays:
 * broadcast_shapes(*shapes) -> tuple of ints (src/ops mx_broadcast_shapes_n). Registered by
 * module.c through mxpy_shape_methods. */
#include "mxpy_internal.h"

#include <stdlib.h>

static PyObject *py_broadcast_shapes(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
  (void)m;
  int n = (int)nargs;
  const int32_t **shapes = calloc((size_t)(n > 0 ? n : 1), sizeof *shapes);
  int *ndims = calloc((size_t)(n > 0 ? n : 1), sizeof *ndims);
  int32_t **heaps = calloc((size_t)(n > 0 ? n : 1), sizeof *heaps);
  int32_t (*store)[8] = calloc((size_t)(n > 0 ? n : 1), sizeof *store);
  PyObject *ret = NULL;
  int32_t *out = NULL;
  if (!shapes || !ndims || !heaps || !store) {
    PyErr_NoMemory();
    goto done;
  }
  for (int i = 0; i < n; i++) {
    PyObject *o = args[i];
    if (!PyList_Check(o) && !PyTuple_Check(o)) {
      PyErr_Format(PyExc_TypeError, "broadcast_shapes(): each shape must be a sequence of ints, "
                   "got '%s'", Py_TYPE(o)->tp_name);
      goto done;
    }
    int32_t *v;
    if (mxpy_to_shape(o, &v, &ndims[i], store[i], 8, &heaps[i]) < 0) goto done;
    shapes[i] = v;
  }
  int nd = mx_broadcast_shapes_n(shapes, ndims, n, &out);
  if (nd < 0) {
    mxpy_raise();
    goto done;
  }
  ret = PyTuple_New(nd);
  for (int d = 0; ret && d < nd; d++) {
    PyObject *x = PyLong_FromLong(out[d]);
    if (!x) {
      Py_CLEAR(ret);
      break;
    }
    PyTuple_SET_ITEM(ret, d, x);
  }
done:
  for (int i = 0; heaps && i < n; i++) free(heaps[i]);
  free(out);
  free(shapes);
  free(ndims);
  free(heaps);
  free(store);
  return ret;
}

PyMethodDef mxpy_shape_methods[] = {
    {"broadcast_shapes", (PyCFunction)(void (*)(void))py_broadcast_shapes, METH_FASTCALL,
     "broadcast_shapes(*shapes)\n--\n\nThe shape the given shapes broadcast to (a tuple of ints)."},
    {NULL, NULL, 0, NULL},
};
