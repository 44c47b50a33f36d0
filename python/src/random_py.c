/* random_py.c: the Python side of mx.random's global key (DESIGN section 3,
 * spec/semantics.md 7.1): each thread owns a list [key] reachable as mx.random.state (via
 * the submodule's __getattr__, so compile(inputs=...) can capture and update it), seeded
 * lazily from the clock; seed(); and mxpy_random_next_key, which the generated samplers
 * call when key=None. The samplers themselves are generated bindings over src/ops. */
#include "mxpy_internal.h"

#include <time.h>

static PyObject *state_key; /* interned "mlx.core.random.state": the thread-dict key */

static uint64_t millis_since_epoch(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A new mx.array holding key(seed). */
static PyObject *key_object(uint64_t seed) { return mxpy_array_wrap(mx_random_key(seed)); }

/* This thread's state list (borrowed), made on first use. NULL + exception. */
static PyObject *thread_state(void) {
  PyObject *d = PyThreadState_GetDict();
  if (!d) {
    PyErr_SetString(PyExc_RuntimeError, "[random] no thread state dictionary");
    return NULL;
  }
  PyObject *list = PyDict_GetItemWithError(d, state_key);
  if (list || PyErr_Occurred()) return list;
  PyObject *k = key_object(millis_since_epoch());
  if (!k) return NULL;
  list = PyList_New(1);
  if (!list) {
    Py_DECREF(k);
    return NULL;
  }
  PyList_SET_ITEM(list, 0, k);
  int rc = PyDict_SetItem(d, state_key, list);
  Py_DECREF(list); /* the thread dict keeps it */
  return rc < 0 ? NULL : list;
}

int mxpy_random_next_key(mx_array **out) {
  PyObject *list = thread_state();
  if (!list) return -1;
  if (!PyList_Check(list) || PyList_GET_SIZE(list) < 1 || !MXPY_IS_ARRAY(PyList_GET_ITEM(list, 0))) {
    PyErr_SetString(PyExc_ValueError, "[random] mx.random.state must hold one key array.");
    return -1;
  }
  mx_array *key = mxpy_array_node_retained(PyList_GET_ITEM(list, 0));
  if (!key) return -1;
  mx_array *pair = mx_random_split(key, 2, mx_stream_default());
  mx_array_release(key);
  if (!pair) {
    mxpy_raise_or_runtime("random");
    return -1;
  }
  mx_array *next_state = mxpy_index_axis0(pair, 0);
  mx_array *use = next_state ? mxpy_index_axis0(pair, 1) : NULL;
  mx_array_release(pair);
  if (!use) {
    if (next_state) mx_array_release(next_state);
    mxpy_raise_or_runtime("random");
    return -1;
  }
  PyObject *st = mxpy_array_wrap(next_state);
  if (!st || PyList_SetItem(list, 0, st) < 0) { /* SetItem steals st */
    mx_array_release(use);
    return -1;
  }
  *out = use;
  return 0;
}

void mxpy_random_reset_thread(void) {
  PyObject *d = PyThreadState_GetDict();
  if (!d) return;
  PyObject *list = PyDict_GetItemWithError(d, state_key);
  if (!list || !PyList_Check(list) || PyList_GET_SIZE(list) < 1) return;
  PyObject *k = key_object(millis_since_epoch());
  if (k) PyList_SetItem(list, 0, k);
}

static PyObject *py_seed(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"seed", NULL};
  PyObject *o;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:seed", kwlist, &o)) return NULL;
  if (!PyLong_Check(o) || PyBool_Check(o)) {
    PyErr_Format(PyExc_TypeError, "seed(): seed must be an int, got %s.", Py_TYPE(o)->tp_name);
    return NULL;
  }
  unsigned long long s = PyLong_AsUnsignedLongLong(o);
  if (s == (unsigned long long)-1 && PyErr_Occurred()) {
    PyErr_Clear();
    PyErr_SetString(PyExc_TypeError, "seed(): seed must be an integer in [0, 2**64).");
    return NULL;
  }
  PyObject *list = thread_state();
  if (!list) return NULL;
  PyObject *k = key_object((uint64_t)s);
  if (!k || PyList_SetItem(list, 0, k) < 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject *py_random_getattr(PyObject *m, PyObject *name) {
  if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "state") == 0) {
    PyObject *list = thread_state();
    return Py_XNewRef(list);
  }
  PyErr_Format(PyExc_AttributeError, "module 'mlx.core.random' has no attribute '%U'", name);
  return NULL;
}

PyMethodDef mxpy_random_methods[] = {
    {"seed", (PyCFunction)(void (*)(void))py_seed, METH_VARARGS | METH_KEYWORDS,
     "seed(seed)\n--\n\nSeed this thread's global PRNG key."},
    {"__getattr__", py_random_getattr, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

int mxpy_random_init(PyObject *m, PyObject *random_module) {
  state_key = PyUnicode_InternFromString("mlx.core.random.state");
  if (!state_key) return -1;
  if (PyModule_AddFunctions(random_module, mxpy_random_methods) < 0) return -1;
  return mxpy_random_dist_init(random_module);
}
