/* eval_py.c: evaluation entry points (eval, async_eval over nested list/tuple/dict trees,
 * with the GIL released while the core evaluates), export_to_dot, the memory API
 * (get_active_memory ... clear_cache) and print options. Trees are walked by tree_py.c.
 * Depends on core/eval.h, allocator.h, print.h and ops.h. */
#include "mxpy_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <structmember.h>

#include "allocator.h"
#include "print.h"

/* ------------------------------------------------------------------------------------ */
/* eval / async_eval                                                                     */

/* Retained nodes of every array in args (a tree); *n set. NULL + exception on failure,
 * or a non-NULL pointer with *n == 0 when there are none. */
static mx_array **collect_nodes(PyObject *args, int *n) {
  PyObject *list = PyList_New(0);
  if (!list) return NULL;
  if (mxpy_tree_collect(args, list, false, "eval") < 0) {
    Py_DECREF(list);
    return NULL;
  }
  Py_ssize_t k = PyList_GET_SIZE(list);
  mx_array **nodes = PyMem_Malloc(sizeof(mx_array *) * (size_t)(k > 0 ? k : 1));
  if (!nodes) {
    Py_DECREF(list);
    PyErr_NoMemory();
    return NULL;
  }
  for (Py_ssize_t i = 0; i < k; i++) {
    nodes[i] = mxpy_array_node_retained(PyList_GET_ITEM(list, i));
    if (!nodes[i]) {
      for (Py_ssize_t j = 0; j < i; j++) mx_array_release(nodes[j]);
      PyMem_Free(nodes);
      Py_DECREF(list);
      return NULL;
    }
  }
  Py_DECREF(list);
  *n = (int)k;
  return nodes;
}

static void release_nodes(mx_array **nodes, int n) {
  for (int i = 0; i < n; i++) mx_array_release(nodes[i]);
  PyMem_Free(nodes);
}

static PyObject *eval_impl(PyObject *args, bool async) {
  int n = 0, rc;
  mx_array **nodes = collect_nodes(args, &n);
  if (!nodes) return NULL;
  Py_BEGIN_ALLOW_THREADS
  rc = async ? mx_async_eval(nodes, n) : mx_eval(nodes, n);
  Py_END_ALLOW_THREADS
  release_nodes(nodes, n);
  if (rc < 0) return mxpy_raise_or_runtime(async ? "async_eval" : "eval");
  Py_RETURN_NONE;
}

static PyObject *py_eval(PyObject *m, PyObject *args) { return eval_impl(args, false); }
static PyObject *py_async_eval(PyObject *m, PyObject *args) { return eval_impl(args, true); }

/* ------------------------------------------------------------------------------------ */
/* export_to_dot                                                                         */

static PyObject *py_export_to_dot(PyObject *m, PyObject *args, PyObject *kwargs) {
  if (PyTuple_GET_SIZE(args) < 1) {
    PyErr_SetString(PyExc_TypeError, "export_to_dot() missing required argument 'file'");
    return NULL;
  }
  PyObject *file = PyTuple_GET_ITEM(args, 0);
  PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
  PyObject *arrays = PyList_New(0);
  PyObject *names = PyList_New(0); /* str or None per array */
  PyObject *result = NULL, *path = NULL;
  mx_array **nodes = NULL;
  const char **cnames = NULL;
  int n = 0;
  if (!rest || !arrays || !names) goto done;
  if (mxpy_tree_collect(rest, arrays, false, "export_to_dot") < 0) goto done;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(arrays); i++)
    if (PyList_Append(names, Py_None) < 0) goto done;
  if (kwargs) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(kwargs, &pos, &k, &v)) {
      if (!MXPY_IS_ARRAY(v)) {
        PyErr_Format(PyExc_ValueError, "[export_to_dot] keyword argument '%U' is not an array.",
                     k);
        goto done;
      }
      if (PyList_Append(arrays, v) < 0 || PyList_Append(names, k) < 0) goto done;
    }
  }
  nodes = collect_nodes(arrays, &n);
  if (!nodes) goto done;
  cnames = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
  if (!cnames) {
    PyErr_NoMemory();
    goto done;
  }
  for (int i = 0; i < n; i++) {
    PyObject *nm = PyList_GET_ITEM(names, i);
    if (nm != Py_None && !(cnames[i] = PyUnicode_AsUTF8(nm))) goto done;
  }
  int rc;
  if (PyUnicode_Check(file) || PyBytes_Check(file) || PyObject_HasAttrString(file, "__fspath__")) {
    if (!PyUnicode_FSConverter(file, &path)) goto done;
    FILE *f = fopen(PyBytes_AS_STRING(path), "w");
    if (!f) {
      PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, file);
      goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = mx_export_to_dot(f, nodes, cnames, n);
    fclose(f);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
      mxpy_raise_or_runtime("export_to_dot");
      goto done;
    }
  } else {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
      PyErr_SetFromErrno(PyExc_OSError);
      goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = mx_export_to_dot(f, nodes, cnames, n);
    fclose(f);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
      free(text);
      mxpy_raise_or_runtime("export_to_dot");
      goto done;
    }
    PyObject *r = PyObject_CallMethod(file, "write", "s#", text, (Py_ssize_t)len);
    free(text);
    if (!r) goto done;
    Py_DECREF(r);
  }
  result = Py_NewRef(Py_None);
done:
  if (nodes) release_nodes(nodes, n);
  PyMem_Free(cnames);
  Py_XDECREF(path);
  Py_XDECREF(names);
  Py_XDECREF(arrays);
  Py_XDECREF(rest);
  return result;
}

/* ------------------------------------------------------------------------------------ */
/* memory                                                                                */

static PyObject *py_get_active_memory(PyObject *m, PyObject *u) {
  return PyLong_FromSize_t(mx_memory_active());
}
static PyObject *py_get_peak_memory(PyObject *m, PyObject *u) {
  return PyLong_FromSize_t(mx_memory_peak());
}
static PyObject *py_reset_peak_memory(PyObject *m, PyObject *u) {
  mx_memory_reset_peak();
  Py_RETURN_NONE;
}
static PyObject *py_get_cache_memory(PyObject *m, PyObject *u) {
  return PyLong_FromSize_t(mx_memory_cache());
}
static PyObject *py_clear_cache(PyObject *m, PyObject *u) {
  mx_memory_clear_cache();
  Py_RETURN_NONE;
}

typedef size_t (*limit_setter)(size_t);

static PyObject *set_limit(PyObject *args, PyObject *kwds, limit_setter fn, const char *name) {
  static char *kwlist[] = {"limit", NULL};
  PyObject *o;
  char fmt[48];
  snprintf(fmt, sizeof fmt, "O:%s", name);
  if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &o)) return NULL;
  size_t v = PyLong_AsSize_t(o);
  if (v == (size_t)-1 && PyErr_Occurred()) return NULL;
  return PyLong_FromSize_t(fn(v));
}

static PyObject *py_set_memory_limit(PyObject *m, PyObject *a, PyObject *k) {
  return set_limit(a, k, mx_memory_set_limit, "set_memory_limit");
}
static PyObject *py_set_cache_limit(PyObject *m, PyObject *a, PyObject *k) {
  return set_limit(a, k, mx_memory_set_cache_limit, "set_cache_limit");
}
static PyObject *py_set_wired_limit(PyObject *m, PyObject *a, PyObject *k) {
  return set_limit(a, k, mx_memory_set_wired_limit, "set_wired_limit");
}

/* ------------------------------------------------------------------------------------ */
/* print options                                                                         */

typedef struct {
  PyObject_HEAD
  int precision;
  int saved; /* printoptions context: precision to restore on exit */
} mxpy_printopts;

static PyTypeObject printopts_type;

static PyObject *printopts_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"precision", NULL};
  int precision = -1;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|i:PrintOptions", kwlist, &precision))
    return NULL;
  mxpy_printopts *o = (mxpy_printopts *)type->tp_alloc(type, 0);
  if (o) o->precision = o->saved = precision;
  return (PyObject *)o;
}

static PyObject *printopts_repr(PyObject *o) {
  return PyUnicode_FromFormat("PrintOptions(precision=%d)", ((mxpy_printopts *)o)->precision);
}

static PyObject *printopts_enter(PyObject *o, PyObject *u) {
  mxpy_printopts *p = (mxpy_printopts *)o;
  p->saved = mx_print_precision();
  mx_set_print_precision(p->precision);
  return Py_NewRef(o);
}

static PyObject *printopts_exit(PyObject *o, PyObject *args) {
  mx_set_print_precision(((mxpy_printopts *)o)->saved);
  Py_RETURN_NONE;
}

static PyMemberDef printopts_members[] = {
    {"precision", T_INT, offsetof(mxpy_printopts, precision), 0, "Float print precision."},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef printopts_methods[] = {
    {"__enter__", printopts_enter, METH_NOARGS, NULL},
    {"__exit__", printopts_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject printopts_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.PrintOptions",
    .tp_basicsize = sizeof(mxpy_printopts),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "PrintOptions(precision=-1)\n--\n\nArray print options.",
    .tp_new = printopts_new,
    .tp_repr = printopts_repr,
    .tp_members = printopts_members,
    .tp_methods = printopts_methods,
};

static int precision_arg(PyObject *args, PyObject *kwds, const char *name, int *out) {
  static char *kwlist[] = {"precision", NULL};
  PyObject *o = Py_None;
  char fmt[48];
  snprintf(fmt, sizeof fmt, "|O:%s", name);
  if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &o)) return -1;
  if (o == Py_None) {
    *out = mx_print_precision();
    return 0;
  }
  long v = PyLong_AsLong(o);
  if (v == -1 && PyErr_Occurred()) return -1;
  *out = (int)v;
  return 0;
}

static PyObject *py_set_printoptions(PyObject *m, PyObject *args, PyObject *kwds) {
  int p;
  if (precision_arg(args, kwds, "set_printoptions", &p) < 0) return NULL;
  mx_set_print_precision(p);
  Py_RETURN_NONE;
}

static PyObject *py_get_printoptions(PyObject *m, PyObject *u) {
  mxpy_printopts *o = PyObject_New(mxpy_printopts, &printopts_type);
  if (o) o->precision = o->saved = mx_print_precision();
  return (PyObject *)o;
}

static PyObject *py_printoptions(PyObject *m, PyObject *args, PyObject *kwds) {
  int p;
  if (precision_arg(args, kwds, "printoptions", &p) < 0) return NULL;
  mxpy_printopts *o = PyObject_New(mxpy_printopts, &printopts_type);
  if (o) o->precision = o->saved = p;
  return (PyObject *)o;
}

#define KW (METH_VARARGS | METH_KEYWORDS)
#define CF(f) ((PyCFunction)(void (*)(void))(f))
PyMethodDef mxpy_eval_methods[] = {
    {"eval", py_eval, METH_VARARGS,
     "eval(*args)\n--\n\nEvaluate every array in the argument trees (lists, tuples, dicts)."},
    {"async_eval", py_async_eval, METH_VARARGS,
     "async_eval(*args)\n--\n\nSchedule the evaluation of the arrays in the argument trees."},
    {"export_to_dot", CF(py_export_to_dot), KW,
     "export_to_dot(file, *args, **kwargs)\n--\n\nWrite the graph of the arrays in DOT."},
    {"get_active_memory", py_get_active_memory, METH_NOARGS,
     "get_active_memory()\n--\n\nBytes held by live arrays (excludes the cache)."},
    {"get_peak_memory", py_get_peak_memory, METH_NOARGS,
     "get_peak_memory()\n--\n\nPeak active memory in bytes."},
    {"reset_peak_memory", py_reset_peak_memory, METH_NOARGS,
     "reset_peak_memory()\n--\n\nReset the peak memory to zero."},
    {"get_cache_memory", py_get_cache_memory, METH_NOARGS,
     "get_cache_memory()\n--\n\nBytes held in the allocator cache."},
    {"set_memory_limit", CF(py_set_memory_limit), KW,
     "set_memory_limit(limit)\n--\n\nSet the soft memory limit; returns the previous one."},
    {"set_cache_limit", CF(py_set_cache_limit), KW,
     "set_cache_limit(limit)\n--\n\nSet the cache limit (0 disables it); returns the previous."},
    {"set_wired_limit", CF(py_set_wired_limit), KW,
     "set_wired_limit(limit)\n--\n\nSet the wired limit (stored only); returns the previous."},
    {"clear_cache", py_clear_cache, METH_NOARGS,
     "clear_cache()\n--\n\nRelease the allocator cache."},
    {"set_printoptions", CF(py_set_printoptions), KW,
     "set_printoptions(precision=None)\n--\n\nSet the global float print precision."},
    {"get_printoptions", py_get_printoptions, METH_NOARGS,
     "get_printoptions()\n--\n\nThe current PrintOptions."},
    {"printoptions", CF(py_printoptions), KW,
     "printoptions(precision=None)\n--\n\nContext manager setting print options temporarily."},
    {NULL, NULL, 0, NULL},
};

int mxpy_eval_init(PyObject *m) {
  if (PyType_Ready(&printopts_type) < 0) return -1;
  return PyModule_AddObjectRef(m, "PrintOptions", (PyObject *)&printopts_type);
}
