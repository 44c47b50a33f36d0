/* closure_py.c: a Python callable as a core closure, the Python exceptions raised by
 * callbacks under a transformation, and the release of Python objects held by the core
 * (transforms_py.h). */
#include "transforms_py.h"

#include <pthread.h>
#include <stdlib.h>

/* Copies of args/kwargs where the trees named by pos/kw_names hold in[0..n_in) in order. */
static int tracer_args(mxpy_closure *p, mx_array *const *in, int n_in, PyObject **args_out,
                       PyObject **kwargs_out) {
  PyObject *wrapped = PyList_New(n_in);
  PyObject *args = NULL, *kwargs = NULL;
  if (!wrapped) return -1;
  for (int i = 0; i < n_in; i++) {
    mx_array_retain(in[i]);
    PyObject *w = mxpy_array_wrap(in[i]);
    if (!w) goto fail;
    PyList_SET_ITEM(wrapped, i, w);
  }
  Py_ssize_t n = PyTuple_GET_SIZE(p->args), index = 0;
  args = PyTuple_New(n);
  if (!args) goto fail;
  for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(args, i, Py_NewRef(PyTuple_GET_ITEM(p->args, i)));
  for (int i = 0; i < p->n_pos; i++) {
    PyObject *r = mxpy_tree_replace(PyTuple_GET_ITEM(p->args, p->pos[i]), wrapped, &index);
    if (!r) goto fail;
    Py_DECREF(PyTuple_GET_ITEM(args, p->pos[i]));
    PyTuple_SET_ITEM(args, p->pos[i], r);
  }
  if (p->kwargs) {
    kwargs = PyDict_Copy(p->kwargs);
    if (!kwargs) goto fail;
    Py_ssize_t nk = p->kw_names ? PyTuple_GET_SIZE(p->kw_names) : 0;
    for (Py_ssize_t j = 0; j < nk; j++) {
      PyObject *name = PyTuple_GET_ITEM(p->kw_names, j);
      PyObject *v = PyDict_GetItemWithError(p->kwargs, name);
      if (!v) {
        if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, name);
        goto fail;
      }
      PyObject *r = mxpy_tree_replace(v, wrapped, &index);
      int rc = r ? PyDict_SetItem(kwargs, name, r) : -1;
      Py_XDECREF(r);
      if (rc < 0) goto fail;
    }
  }
  Py_DECREF(wrapped);
  *args_out = args;
  *kwargs_out = kwargs;
  return 0;
fail:
  Py_DECREF(wrapped);
  Py_XDECREF(args);
  Py_XDECREF(kwargs);
  return -1;
}

/* Checks the function's return value for the mode and appends its arrays to leaves. */
static int collect_outputs(mxpy_closure *p, PyObject *ret, PyObject *leaves) {
  if (p->mode == MXPY_MODE_LIST) {
    if (!MXPY_IS_ARRAY(ret) && !PyList_Check(ret) && !PyTuple_Check(ret)) {
      PyErr_Format(PyExc_ValueError,
                   "[%s] The function must return an array or a list/tuple of arrays; got %s.",
                   p->tag, Py_TYPE(ret)->tp_name);
      return -1;
    }
    return mxpy_tree_collect(ret, leaves, true, p->tag);
  }
  if (p->mode == MXPY_MODE_TREE) return mxpy_tree_collect(ret, leaves, true, p->tag);
  if (p->mode == MXPY_MODE_FLAT) {
    if (MXPY_IS_ARRAY(ret)) return PyList_Append(leaves, ret);
    bool ok = PyList_Check(ret) || PyTuple_Check(ret);
    for (Py_ssize_t i = 0; ok && i < PySequence_Fast_GET_SIZE(ret); i++)
      ok = MXPY_IS_ARRAY(PySequence_Fast_GET_ITEM(ret, i));
    if (!ok) {
      PyErr_Format(PyExc_ValueError,
                   "[%s] Outputs can be either a single array, a tuple, or a list of arrays.", p->tag);
      return -1;
    }
    return mxpy_tree_collect(ret, leaves, true, p->tag);
  }
  if (p->mode == MXPY_MODE_ANY) return mxpy_tree_collect(ret, leaves, false, p->tag);
  if (!MXPY_IS_ARRAY(ret)) {
    if (p->mode == MXPY_MODE_GRAD) {
      PyErr_Format(PyExc_ValueError,
                   "[%s] The return value of the function whose gradient we want to compute "
                   "should be a scalar array; but %s was returned.",
                   p->tag, Py_TYPE(ret)->tp_name);
      return -1;
    }
    if (!PyTuple_Check(ret)) {
      PyErr_Format(PyExc_ValueError,
                   "[%s] The return value of the function whose gradient we want to compute "
                   "should be either a scalar array or a tuple with the first value being a "
                   "scalar array (Union[array, tuple[array, Any, ...]]); but %s was returned.",
                   p->tag, Py_TYPE(ret)->tp_name);
      return -1;
    }
    if (PyTuple_GET_SIZE(ret) == 0) {
      PyErr_Format(PyExc_ValueError,
                   "[%s] The return value of the function whose gradient we want to compute "
                   "should be either a scalar array or a non-empty tuple. The first value "
                   "should be a scalar array and the rest can be anything. Instead, we got an "
                   "empty tuple.",
                   p->tag);
      return -1;
    }
    if (!MXPY_IS_ARRAY(PyTuple_GET_ITEM(ret, 0))) {
      PyErr_Format(PyExc_ValueError,
                   "[%s] The return value of the function whose gradient we want to compute "
                   "should be either a scalar array or a tuple with the first value being a "
                   "scalar array (Union[array, tuple[array, Any, ...]]); but it was a tuple "
                   "with the first value being of type %s .",
                   p->tag, Py_TYPE(PyTuple_GET_ITEM(ret, 0))->tp_name);
      return -1;
    }
  }
  return mxpy_tree_collect(ret, leaves, false, p->tag);
}

int mxpy_closure_call(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out,
                      int *n_out) {
  mxpy_closure *p = payload;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = -1, k = 0;
  PyObject *args = NULL, *kwargs = NULL, *ret = NULL, *leaves = NULL;
  *n_out = 0;
  if (tracer_args(p, in, n_in, &args, &kwargs) < 0) goto done;
  ret = PyObject_Call(p->fun, args, kwargs);
  if (!ret) goto done;
  leaves = PyList_New(0);
  if (!leaves || collect_outputs(p, ret, leaves) < 0) goto done;
  Py_ssize_t n = PyList_GET_SIZE(leaves);
  if (n > max_out) {
    PyErr_Format(PyExc_ValueError, "[%s] The function returned %zd arrays; at most %d are supported.",
                 p->tag, n, max_out);
    goto done;
  }
  for (k = 0; k < n; k++) {
    out[k] = mxpy_array_node_retained(PyList_GET_ITEM(leaves, k));
    if (!out[k]) break;
  }
  if (k < n) {
    while (k > 0) mx_array_release(out[--k]);
    goto done;
  }
  *n_out = (int)n;
  Py_XSETREF(p->value_out, Py_NewRef(ret));
  rc = 0;
done:
  if (rc < 0) mxpy_closure_keep_error(p);
  Py_XDECREF(leaves);
  Py_XDECREF(ret);
  Py_XDECREF(kwargs);
  Py_XDECREF(args);
  PyGILState_Release(g);
  return rc;
}

/* The Python exception raised by a callback of the running transformation, kept until the
 * transformation's entry point re-raises it (errors unwind straight back to it, on the
 * same thread). */
static _Thread_local PyObject *pend_type, *pend_value, *pend_tb;

int mxpy_keep_error(void) {
  if (PyErr_Occurred()) {
    if (!pend_type) PyErr_Fetch(&pend_type, &pend_value, &pend_tb);
    else PyErr_Clear();
  }
  return mx_fail_int(MX_ERUNTIME, "%s", "");
}

PyObject *mxpy_raise_pending(const char *tag) {
  if (pend_type) {
    mx_error_clear();
    PyErr_Restore(pend_type, pend_value, pend_tb);
    pend_type = pend_value = pend_tb = NULL;
    return NULL;
  }
  return mxpy_raise_or_runtime(tag);
}

void mxpy_pending_clear(void) {
  Py_CLEAR(pend_type);
  Py_CLEAR(pend_value);
  Py_CLEAR(pend_tb);
}

int mxpy_closure_keep_error(mxpy_closure *p) { return mxpy_keep_error(); }

void mxpy_closure_clear(mxpy_closure *p) { Py_CLEAR(p->value_out); }

PyObject *mxpy_closure_raise(mxpy_closure *p) { return mxpy_raise_pending(p->tag); }

/* ---- Python objects released by the core on threads that may not hold the GIL ---- */

static pthread_mutex_t grave_mu = PTHREAD_MUTEX_INITIALIZER;
static PyObject **grave;
static size_t grave_n, grave_cap;
static bool grave_scheduled;

static int drain_grave(void *unused) {
  pthread_mutex_lock(&grave_mu);
  PyObject **v = grave;
  size_t n = grave_n;
  grave = NULL;
  grave_n = grave_cap = 0;
  grave_scheduled = false;
  pthread_mutex_unlock(&grave_mu);
  for (size_t i = 0; i < n; i++) Py_DECREF(v[i]);
  free(v);
  return 0;
}

void mxpy_release_pending_objects(void) { drain_grave(NULL); }

void mxpy_decref_anywhere(PyObject *o) {
  if (!o) return;
  if (PyGILState_Check()) {
    Py_DECREF(o);
    return;
  }
  /* taking the GIL here could deadlock against a thread that holds it and waits for the
   * graph lock this thread may hold: the object is released later on a Python thread */
  pthread_mutex_lock(&grave_mu);
  if (grave_n == grave_cap) {
    size_t cap = grave_cap ? grave_cap * 2 : 64;
    PyObject **nv = realloc(grave, cap * sizeof *nv);
    if (!nv) { /* leak rather than deadlock */
      pthread_mutex_unlock(&grave_mu);
      return;
    }
    grave = nv;
    grave_cap = cap;
  }
  grave[grave_n++] = o;
  bool schedule = !grave_scheduled;
  grave_scheduled = true;
  pthread_mutex_unlock(&grave_mu);
  if (schedule && Py_AddPendingCall(drain_grave, NULL) < 0) {
    pthread_mutex_lock(&grave_mu);
    grave_scheduled = false; /* drained at the next transformation call instead */
    pthread_mutex_unlock(&grave_mu);
  }
}
