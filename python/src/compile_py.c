/* compile_py.c: mx.compile, disable_compile, enable_compile over src/transforms/compile.c
 * (spec/semantics.md section 10). Each call flattens its arguments into arrays and a vector
 * of constants (tree structure, ints by value, floats by bit pattern, strings by hash,
 * None) that keys the core's cache with the compiled callable's identity; the body runs
 * only while tracing, on placeholders put into the argument trees and into the inputs=
 * tree; the outputs= tree receives the arrays the body left in it. Called with tracers
 * (inside another transformation), the body just runs. */
#include "transforms_py.h"

#include <stdlib.h>
#include <string.h>

/* Markers of the tree structure in the constants vector (large primes, as MLX). */
#define ID_ARRAY 18446744073709551557ull
#define ID_LIST 18446744073709551533ull
#define ID_DICT 18446744073709551521ull
#define ID_NONE 18446744073709551437ull

typedef struct {
  PyObject_HEAD
  PyObject *fun;
  PyObject *inputs;    /* captured input tree or None */
  PyObject *outputs;   /* captured output tree or None */
  int shapeless;
  PyObject *dict;
  PyObject *weakrefs;
} mxpy_compiledfn;

static PyTypeObject compiledfn_type;

/* ---- the call's key ---- */

typedef struct u64vec {
  uint64_t *v;
  size_t n, cap;
} u64vec;

static int push(u64vec *c, uint64_t x) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 32;
    uint64_t *nv = PyMem_Realloc(c->v, cap * sizeof *nv);
    if (!nv) {
      PyErr_NoMemory();
      return -1;
    }
    c->v = nv;
    c->cap = cap;
  }
  c->v[c->n++] = x;
  return 0;
}

/* Appends obj's structure and constants to c and its arrays to arrays. */
static int flatten_key(PyObject *obj, u64vec *c, PyObject *arrays) {
  if (MXPY_IS_ARRAY(obj)) return push(c, ID_ARRAY) < 0 ? -1 : PyList_Append(arrays, obj);
  if (obj == Py_None) return push(c, ID_NONE);
  if (PyList_Check(obj) || PyTuple_Check(obj)) {
    if (push(c, ID_LIST) < 0 || Py_EnterRecursiveCall(" while flattening compile arguments")) return -1;
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(obj); i++)
      rc = flatten_key(PySequence_Fast_GET_ITEM(obj, i), c, arrays);
    Py_LeaveRecursiveCall();
    return rc;
  }
  if (PyDict_Check(obj)) {
    if (push(c, ID_DICT) < 0 || Py_EnterRecursiveCall(" while flattening compile arguments")) return -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    int rc = 0;
    while (rc == 0 && PyDict_Next(obj, &pos, &k, &v)) {
      Py_hash_t h = PyObject_Hash(k);
      rc = h == -1 && PyErr_Occurred() ? -1 : push(c, (uint64_t)h);
      if (rc == 0) rc = flatten_key(v, c, arrays);
    }
    Py_LeaveRecursiveCall();
    return rc;
  }
  if (PyUnicode_Check(obj)) {
    Py_hash_t h = PyObject_Hash(obj);
    return h == -1 && PyErr_Occurred() ? -1 : push(c, (uint64_t)h);
  }
  if (PyLong_Check(obj)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow) {
      Py_hash_t h = PyObject_Hash(obj);
      return h == -1 && PyErr_Occurred() ? -1 : push(c, (uint64_t)h);
    }
    return v == -1 && PyErr_Occurred() ? -1 : push(c, (uint64_t)v);
  }
  if (PyFloat_Check(obj)) {
    double d = PyFloat_AS_DOUBLE(obj);
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return push(c, bits);
  }
  PyErr_Format(PyExc_ValueError,
               "[compile] Function arguments must be trees of arrays or constants (floats, ints, "
               "strings, or None), but received type %s.", Py_TYPE(obj)->tp_name);
  return -1;
}

/* ---- the object a cache entry keeps: the output structure ---- */

typedef struct {
  mx_object base;
  PyObject *structure;
  Py_ssize_t n_outputs;
} py_user;

static void py_user_destroy(mx_object *o) {
  py_user *u = (py_user *)o;
  mxpy_decref_anywhere(u->structure);
  free(u);
}

/* ---- tracing ---- */

typedef struct trace_payload {
  mxpy_compiledfn *f;
  PyObject *args, *kwargs;
  Py_ssize_t n_args, n_kw;     /* arrays of the positional / keyword arguments */
  Py_ssize_t n_cap;            /* arrays of the inputs= tree */
  mx_object *user;             /* set by the trace */
} trace_payload;

/* In place: array leaves of tree that are one of from[i] become to[i]. */
static int restore(PyObject *tree, PyObject *from, PyObject *to) {
  if (!(PyList_Check(tree) || PyTuple_Check(tree) || PyDict_Check(tree))) return 0;
  Py_ssize_t n = PyList_GET_SIZE(from);
  if (PyDict_Check(tree)) {
    PyObject *keys = PyDict_Keys(tree);
    int rc = keys ? 0 : -1;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(keys); i++) {
      PyObject *k = PyList_GET_ITEM(keys, i), *v = PyDict_GetItemWithError(tree, k);
      if (!v) continue;
      bool hit = false;
      for (Py_ssize_t j = 0; j < n && !hit; j++)
        if (v == PyList_GET_ITEM(from, j)) {
          rc = PyDict_SetItem(tree, k, PyList_GET_ITEM(to, j));
          hit = true;
        }
      if (!hit && rc == 0) rc = restore(v, from, to);
    }
    Py_XDECREF(keys);
    return rc;
  }
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(tree); i++) {
    PyObject *v = PySequence_Fast_GET_ITEM(tree, i);
    bool hit = false;
    for (Py_ssize_t j = 0; j < n && !hit && PyList_Check(tree); j++)
      if (v == PyList_GET_ITEM(from, j)) {
        if (PyList_SetItem(tree, i, Py_NewRef(PyList_GET_ITEM(to, j))) < 0) return -1;
        hit = true;
      }
    if (!hit && restore(v, from, to) < 0) return -1;
  }
  return 0;
}

static int trace_call(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out,
                      int *n_out) {
  trace_payload *p = payload;
  mxpy_compiledfn *f = p->f;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = -1;
  *n_out = 0;
  PyObject *w = PyList_New(n_in), *caps = NULL, *originals = NULL, *args = NULL, *kwargs = NULL;
  PyObject *ret = NULL, *leaves = NULL, *structure = NULL;
  for (int i = 0; w && i < n_in; i++) {
    mx_array_retain(in[i]);
    PyObject *a = mxpy_array_wrap(in[i]);
    if (!a) goto done;
    PyList_SET_ITEM(w, i, a);
  }
  if (!w) goto done;
  if (p->n_cap) { /* the captured inputs become placeholders while the body runs */
    caps = PyList_GetSlice(w, n_in - p->n_cap, n_in);
    originals = PyList_New(0);
    Py_ssize_t idx = 0;
    if (!caps || !originals || mxpy_tree_collect(f->inputs, originals, false, "compile") < 0 ||
        mxpy_tree_fill(f->inputs, caps, &idx, "compile") < 0)
      goto done;
  }
  Py_ssize_t idx = 0;
  args = mxpy_tree_replace(p->args, w, &idx);
  kwargs = args ? mxpy_tree_replace(p->kwargs, w, &idx) : NULL;
  if (!kwargs) goto done;
  ret = PyObject_Call(f->fun, args, kwargs);
  if (!ret) goto done;
  leaves = PyList_New(0);
  Py_ssize_t n_struct = 0;
  if (!leaves || mxpy_tree_collect(ret, leaves, false, "compile") < 0 ||
      !(structure = mxpy_tree_structure(ret, &n_struct)))
    goto done;
  if (f->outputs != Py_None && mxpy_tree_collect(f->outputs, leaves, false, "compile") < 0) goto done;
  Py_ssize_t n = PyList_GET_SIZE(leaves);
  if (n > max_out) {
    PyErr_SetString(PyExc_ValueError, "[compile] The function returned too many arrays.");
    goto done;
  }
  py_user *u = calloc(1, sizeof *u);
  if (!u) {
    PyErr_NoMemory();
    goto done;
  }
  mx_object_init(&u->base, py_user_destroy);
  u->structure = Py_NewRef(structure);
  u->n_outputs = n_struct;
  mx_object_release(p->user);
  p->user = &u->base;
  Py_ssize_t k = 0;
  for (; k < n; k++)
    if (!(out[k] = mxpy_array_node_retained(PyList_GET_ITEM(leaves, k)))) break;
  if (k < n) {
    while (k > 0) mx_array_release(out[--k]);
    goto done;
  }
  *n_out = (int)n;
  rc = 0;
done:
  if (caps && originals && restore(f->inputs, caps, originals) < 0 && rc == 0) rc = -1;
  if (rc < 0) {
    for (int j = 0; j < *n_out; j++) mx_array_release(out[j]);
    *n_out = 0;
    mxpy_keep_error();
  }
  Py_XDECREF(w);
  Py_XDECREF(caps);
  Py_XDECREF(originals);
  Py_XDECREF(args);
  Py_XDECREF(kwargs);
  Py_XDECREF(ret);
  Py_XDECREF(leaves);
  Py_XDECREF(structure);
  PyGILState_Release(g);
  return rc;
}

static bool any_tracer(PyObject *arrays) {
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(arrays); i++) {
    mx_array *a = mxpy_array_node(PyList_GET_ITEM(arrays, i));
    if (a && a->tracer) return true;
  }
  return false;
}

static PyObject *compiledfn_call(PyObject *self, PyObject *args, PyObject *kwargs) {
  mxpy_compiledfn *f = (mxpy_compiledfn *)self;
  if (!f->fun) {
    PyErr_SetString(PyExc_RuntimeError, "[compile] The compiled function was cleared.");
    return NULL;
  }
  if (mx_compile_get_mode() == MX_COMPILE_DISABLED) return PyObject_Call(f->fun, args, kwargs);
  mxpy_release_pending_objects();
  PyObject *result = NULL, *arrays = PyList_New(0), *kw = kwargs ? Py_NewRef(kwargs) : PyDict_New();
  PyObject *outs_list = NULL;
  u64vec c = {0};
  mx_array **inputs = NULL, **outs = NULL;
  int n_in = 0, n_out = 0;
  mx_object *user = NULL;
  trace_payload p = {f, args, NULL, 0, 0, 0, NULL};
  if (!arrays || !kw || flatten_key(args, &c, arrays) < 0) goto done;
  p.n_args = PyList_GET_SIZE(arrays);
  if (flatten_key(kw, &c, arrays) < 0) goto done;
  p.kwargs = kw;
  p.n_kw = PyList_GET_SIZE(arrays) - p.n_args;
  if (any_tracer(arrays)) { /* inside another transformation: just run the body */
    result = PyObject_Call(f->fun, args, kwargs);
    goto done;
  }
  if (f->inputs != Py_None) {
    Py_ssize_t before = PyList_GET_SIZE(arrays);
    if (mxpy_tree_collect(f->inputs, arrays, false, "compile") < 0) goto done;
    p.n_cap = PyList_GET_SIZE(arrays) - before;
  }
  if (!(inputs = mxpy_nodes_from_list(arrays, &n_in))) goto done;
  outs = PyMem_Calloc(MX_MAX_OUTPUTS, sizeof(mx_array *));
  if (!outs) {
    PyErr_NoMemory();
    goto done;
  }
  mx_compile_key key = {(uintptr_t)self, c.v, (int)c.n, f->shapeless != 0};
  mx_closure cl = {trace_call, &p};
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = mx_compile_call(&key, cl, &p.user, inputs, n_in, outs, MX_MAX_OUTPUTS, &n_out, &user);
  Py_END_ALLOW_THREADS
  if (rc < 0) {
    mxpy_raise_pending("compile");
    goto done;
  }
  py_user *u = (py_user *)user;
  Py_ssize_t n_main = u ? u->n_outputs : n_out;
  if (!(outs_list = mxpy_list_from_nodes(outs, n_out))) goto done;
  n_out = 0;
  if (f->outputs != Py_None && PyList_GET_SIZE(outs_list) > n_main) {
    PyObject *tail = PyList_GetSlice(outs_list, n_main, PyList_GET_SIZE(outs_list));
    Py_ssize_t idx = 0;
    int frc = tail ? mxpy_tree_fill(f->outputs, tail, &idx, "compile") : -1;
    Py_XDECREF(tail);
    if (frc < 0) goto done;
  }
  Py_ssize_t idx = 0;
  if (u) result = mxpy_tree_fill_slots(u->structure, outs_list, &idx);
  else result = Py_NewRef(outs_list);
done:
  mx_object_release(p.user);
  mx_object_release(user);
  Py_XDECREF(arrays);
  Py_XDECREF(kw);
  Py_XDECREF(outs_list);
  PyMem_Free(c.v);
  mxpy_nodes_free(inputs, n_in);
  if (outs) mxpy_nodes_free(outs, n_out);
  return result;
}

/* ---- the callable ---- */

static void compiledfn_dealloc(PyObject *o) {
  mxpy_compiledfn *f = (mxpy_compiledfn *)o;
  PyObject_GC_UnTrack(o);
  mx_compile_erase((uintptr_t)o);
  if (f->weakrefs) PyObject_ClearWeakRefs(o);
  Py_CLEAR(f->fun);
  Py_CLEAR(f->inputs);
  Py_CLEAR(f->outputs);
  Py_CLEAR(f->dict);
  PyObject_GC_Del(o);
}

static int compiledfn_traverse(PyObject *o, visitproc visit, void *arg) {
  mxpy_compiledfn *f = (mxpy_compiledfn *)o;
  Py_VISIT(f->fun);
  Py_VISIT(f->inputs);
  Py_VISIT(f->outputs);
  Py_VISIT(f->dict);
  return 0;
}

static int compiledfn_clear(PyObject *o) {
  mxpy_compiledfn *f = (mxpy_compiledfn *)o;
  mx_compile_erase((uintptr_t)o);
  Py_CLEAR(f->fun);
  Py_CLEAR(f->inputs);
  Py_CLEAR(f->outputs);
  Py_CLEAR(f->dict);
  return 0;
}

static PyObject *compiledfn_get_wrapped(PyObject *o, void *c) {
  mxpy_compiledfn *f = (mxpy_compiledfn *)o;
  return Py_NewRef(f->fun ? f->fun : Py_None);
}

static PyGetSetDef compiledfn_getset[] = {
    {"__wrapped__", compiledfn_get_wrapped, NULL, "The compiled function.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject compiledfn_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core._CompiledFunction",
    .tp_basicsize = sizeof(mxpy_compiledfn),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A compiled function (made by mlx.core.compile).",
    .tp_call = compiledfn_call,
    .tp_dealloc = compiledfn_dealloc,
    .tp_traverse = compiledfn_traverse,
    .tp_clear = compiledfn_clear,
    .tp_getset = compiledfn_getset,
    .tp_dictoffset = offsetof(mxpy_compiledfn, dict),
    .tp_weaklistoffset = offsetof(mxpy_compiledfn, weakrefs),
};

static PyObject *py_compile(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"fun", "inputs", "outputs", "shapeless", NULL};
  PyObject *fun, *inputs = Py_None, *outputs = Py_None;
  int shapeless = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOp:compile", kwlist, &fun, &inputs, &outputs,
                                   &shapeless))
    return NULL;
  if (!PyCallable_Check(fun)) {
    PyErr_Format(PyExc_TypeError, "[compile] fun must be callable, got %s.", Py_TYPE(fun)->tp_name);
    return NULL;
  }
  mxpy_compiledfn *f = PyObject_GC_New(mxpy_compiledfn, &compiledfn_type);
  if (!f) return NULL;
  f->fun = Py_NewRef(fun);
  f->inputs = Py_NewRef(inputs);
  f->outputs = Py_NewRef(outputs);
  f->shapeless = shapeless;
  f->dict = PyDict_New();
  f->weakrefs = NULL;
  PyObject_GC_Track((PyObject *)f);
  if (!f->dict) {
    Py_DECREF(f);
    return NULL;
  }
  const char *attrs[] = {"__name__", "__qualname__", "__doc__", "__module__"};
  for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++) {
    PyObject *v = PyObject_GetAttrString(fun, attrs[i]);
    if (!v) {
      PyErr_Clear();
      continue;
    }
    int rc = PyDict_SetItemString(f->dict, attrs[i], v);
    Py_DECREF(v);
    if (rc < 0) {
      Py_DECREF(f);
      return NULL;
    }
  }
  return (PyObject *)f;
}

static PyObject *py_disable_compile(PyObject *m, PyObject *unused) {
  mx_compile_set_mode(MX_COMPILE_DISABLED);
  Py_RETURN_NONE;
}

static PyObject *py_enable_compile(PyObject *m, PyObject *unused) {
  mx_compile_set_mode(MX_COMPILE_ENABLED);
  Py_RETURN_NONE;
}

static PyObject *py_cache_size(PyObject *m, PyObject *unused) {
  return PyLong_FromSize_t(mx_compile_cache_size());
}

static PyObject *py_set_cache_limit(PyObject *m, PyObject *arg) {
  Py_ssize_t n = PyLong_AsSsize_t(arg);
  if (n < 0) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "limit must be non-negative");
    return NULL;
  }
  mx_compile_set_cache_limit((size_t)n);
  Py_RETURN_NONE;
}

static PyObject *py_set_mode(PyObject *m, PyObject *arg) {
  long v = PyLong_AsLong(arg);
  if (v == -1 && PyErr_Occurred()) return NULL;
  if (v < MX_COMPILE_DISABLED || v > MX_COMPILE_ENABLED) {
    PyErr_SetString(PyExc_ValueError, "mode must be 0 (disabled), 1 (no simplify), 2 (no fuse) or 3.");
    return NULL;
  }
  mx_compile_set_mode((mx_compile_mode)v);
  Py_RETURN_NONE;
}

static PyObject *py_clear_cache(PyObject *m, PyObject *unused) {
  mx_compile_clear_cache();
  Py_RETURN_NONE;
}

static PyMethodDef compile_methods[] = {
    {"compile", (PyCFunction)(void (*)(void))py_compile, METH_VARARGS | METH_KEYWORDS,
     "compile(fun, inputs=None, outputs=None, shapeless=False)\n--\n\nReturns a compiled function "
     "which produces the same output as fun."},
    {"disable_compile", py_disable_compile, METH_NOARGS,
     "disable_compile()\n--\n\nGlobally disable compilation (also MLX_DISABLE_COMPILE)."},
    {"enable_compile", py_enable_compile, METH_NOARGS,
     "enable_compile()\n--\n\nGlobally enable compilation (overrides MLX_DISABLE_COMPILE)."},
    {"_compile_cache_size", py_cache_size, METH_NOARGS, "Number of cached compiled traces."},
    {"_compile_set_cache_limit", py_set_cache_limit, METH_O, "Bound the compile cache."},
    {"_compile_clear_cache", py_clear_cache, METH_NOARGS, "Drop every cached compiled trace."},
    {"_compile_set_mode", py_set_mode, METH_O,
     "Compile mode as mlx-c's mlx_compile_mode: 0 disabled, 1 no simplify, 2 no fuse, 3 enabled."},
    {NULL, NULL, 0, NULL},
};

int mxpy_compile_init(PyObject *m) {
  if (PyType_Ready(&compiledfn_type) < 0) return -1;
  return PyModule_AddFunctions(m, compile_methods);
}
