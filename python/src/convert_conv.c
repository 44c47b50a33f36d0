/* convert_conv.c: conv_general's padding converter (convert_conv.h). Depends on convert.h. */
#include "convert_conv.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static bool convpad_int_like(PyObject *o) {
  return !PyFloat_Check(o) && !PyUnicode_Check(o) && !PySequence_Check(o) && PyIndex_Check(o);
}

/* A non-str sequence as a fast sequence (NULL, no error, when o is not one). */
static PyObject *convpad_seq(PyObject *o) {
  if (PyUnicode_Check(o) || PyBytes_Check(o) || MXPY_IS_ARRAY(o) || !PySequence_Check(o))
    return NULL;
  PyObject *s = PySequence_Fast(o, "expected a sequence");
  if (!s) PyErr_Clear();
  return s;
}

/* Whether every item of the fast sequence s is an int. */
static bool convpad_all_ints(PyObject *s) {
  Py_ssize_t n = PySequence_Fast_GET_SIZE(s);
  PyObject **it = PySequence_Fast_ITEMS(s);
  for (Py_ssize_t i = 0; i < n; i++)
    if (!convpad_int_like(it[i])) return false;
  return true;
}

static int convpad_fill(PyObject *s, int *dst) {
  Py_ssize_t n = PySequence_Fast_GET_SIZE(s);
  PyObject **it = PySequence_Fast_ITEMS(s);
  for (Py_ssize_t i = 0; i < n; i++)
    if (mxpy_to_int(it[i], &dst[i]) < 0) return -1;
  return 0;
}

static int convpad_error(PyObject *o) {
  PyErr_Format(PyExc_TypeError,
               "conv_general(): padding must be an int, a sequence of ints or a pair of int "
               "sequences (low, high), got '%s'", Py_TYPE(o)->tp_name);
  return -1;
}

int mxpy_to_convpad(PyObject *o, int **lo, int *nlo, int **hi, int *nhi, int *storage, int cap,
                    int **heap) {
  *heap = NULL;
  *lo = storage;
  *hi = storage + cap;
  if (convpad_int_like(o)) {
    if (mxpy_to_int(o, storage) < 0) return -1;
    storage[cap] = storage[0];
    *nlo = *nhi = 1;
    return 0;
  }
  PyObject *s = convpad_seq(o), *a = NULL, *b = NULL;
  if (!s) return convpad_error(o);
  int rc = -1;
  if (convpad_all_ints(s)) {
    a = s;
    Py_INCREF(s);
    b = s;
    Py_INCREF(s);
  } else if (PySequence_Fast_GET_SIZE(s) == 2) {
    a = convpad_seq(PySequence_Fast_GET_ITEM(s, 0));
    b = convpad_seq(PySequence_Fast_GET_ITEM(s, 1));
    if (!a || !b || !convpad_all_ints(a) || !convpad_all_ints(b)) {
      convpad_error(o);
      goto done;
    }
  } else {
    convpad_error(o);
    goto done;
  }
  Py_ssize_t na = PySequence_Fast_GET_SIZE(a), nb = PySequence_Fast_GET_SIZE(b);
  if (na > INT_MAX / 2 || nb > INT_MAX / 2) {
    PyErr_SetString(PyExc_ValueError, "conv_general(): too many padding values");
    goto done;
  }
  if (na > cap || nb > cap) {
    int *block = malloc((size_t)(na + nb + 1) * sizeof(int));
    if (!block) {
      PyErr_NoMemory();
      goto done;
    }
    *heap = block;
    *lo = block;
    *hi = block + na;
  }
  if (convpad_fill(a, *lo) < 0 || convpad_fill(b, *hi) < 0) {
    free(*heap);
    *heap = NULL;
    goto done;
  }
  *nlo = (int)na;
  *nhi = (int)nb;
  rc = 0;
done:
  Py_XDECREF(a);
  Py_XDECREF(b);
  Py_DECREF(s);
  return rc;
}
