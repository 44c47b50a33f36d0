/* custom_py.c: mx.custom_function (with its .vjp/.jvp/.vmap decorators) and mx.checkpoint
 * over src/transforms/custom.c (spec/semantics.md section 11). Each call makes an mx_custom
 * whose closures call back into the Python functions; the core owns it (it sits in the
 * CustomTransforms op) and its destructor drops the Python references through
 * mxpy_decref_anywhere, so it may run on any thread. */
#include "transforms_py.h"

#include <stdlib.h>

/* The core-held object of one call. */
typedef struct {
  mx_custom base;
  PyObject *fun, *vjp, *jvp, *vmap;
  PyObject *in_structure;   /* (args, kwargs) with array slots */
  PyObject *out_structure;  /* the function's result with array slots (set by each run) */
  Py_ssize_t n_in;
  const char *tag;
} py_custom;

static void py_custom_destroy(mx_object *o) {
  py_custom *c = (py_custom *)o;
  mxpy_decref_anywhere(c->fun);
  mxpy_decref_anywhere(c->vjp);
  mxpy_decref_anywhere(c->jvp);
  mxpy_decref_anywhere(c->vmap);
  mxpy_decref_anywhere(c->in_structure);
  mxpy_decref_anywhere(c->out_structure);
  free(c);
}

/* mx.array objects wrapping nodes (borrowed; NULL entries become None). */
static PyObject *wrap_borrowed(mx_array *const *v, int n) {
  PyObject *list = PyList_New(n);
  for (int i = 0; list && i < n; i++) {
    PyObject *w;
    if (v[i]) {
      mx_array_retain(v[i]);
      w = mxpy_array_wrap(v[i]);
    } else {
      w = Py_NewRef(Py_None);
    }
    if (!w) Py_CLEAR(list);
    else PyList_SET_ITEM(list, i, w);
  }
  return list;
}

/* (args, kwargs) of the call rebuilt around the arrays in. */
static PyObject *call_args(py_custom *c, mx_array *const *in, int n) {
  PyObject *list = wrap_borrowed(in, n);
  if (!list) return NULL;
  Py_ssize_t index = 0;
  PyObject *r = mxpy_tree_fill_slots(c->in_structure, list, &index);
  Py_DECREF(list);
  return r;
}

/* The first argument of a custom rule: the one positional argument bare, or their tuple. */
static PyObject *primals_arg(PyObject *args) {
  return Py_NewRef(PyTuple_GET_SIZE(args) == 1 ? PyTuple_GET_ITEM(args, 0) : args);
}

/* Appends the retained nodes of the arrays of list to out (new references); 0 or -1. */
static int take_nodes(PyObject *leaves, mx_array **out, Py_ssize_t n) {
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *o = PyList_GET_ITEM(leaves, i);
    if (o == Py_None) {
      out[i] = NULL;
      continue;
    }
    if (!(out[i] = mxpy_array_node_retained(o))) {
      for (Py_ssize_t j = 0; j < i; j++)
        if (out[j]) mx_array_release(out[j]);
      return -1;
    }
  }
  return 0;
}

static int forward(void *payload, mx_array *const *in, int n_in, mx_array **out, int max_out,
                   int *n_out) {
  py_custom *c = payload;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = -1;
  PyObject *full = call_args(c, in, n_in), *ret = NULL, *leaves = NULL;
  *n_out = 0;
  if (!full) goto done;
  ret = PyObject_Call(c->fun, PyTuple_GET_ITEM(full, 0), PyTuple_GET_ITEM(full, 1));
  leaves = ret ? PyList_New(0) : NULL;
  if (!leaves || mxpy_tree_collect(ret, leaves, false, c->tag) < 0) goto done;
  Py_ssize_t n = PyList_GET_SIZE(leaves);
  if (n > max_out) {
    PyErr_Format(PyExc_ValueError, "[%s] The function returned too many arrays.", c->tag);
    goto done;
  }
  PyObject *st = mxpy_tree_structure(ret, NULL);
  if (!st) goto done;
  Py_XSETREF(c->out_structure, st);
  if (take_nodes(leaves, out, n) < 0) goto done;
  *n_out = (int)n;
  rc = 0;
done:
  if (rc < 0) mxpy_keep_error();
  Py_XDECREF(leaves);
  Py_XDECREF(ret);
  Py_XDECREF(full);
  PyGILState_Release(g);
  return rc;
}

/* Walks `like` (a structure of the primals: slots mark arrays) next to `tree`, the value a
 * rule returned, appending for each slot the matching array or None (a missing cotangent).
 * Lists and tuples match each other. 0, 1 when the structures differ, or -1 on error. */
static int flatten_like(PyObject *like, PyObject *tree, PyObject *out) {
  if (like == mxpy_tree_slot()) {
    if (tree != Py_None && !MXPY_IS_ARRAY(tree)) return 1;
    return PyList_Append(out, tree);
  }
  if (PyDict_Check(like)) {
    if (!PyDict_Check(tree) || PyDict_GET_SIZE(tree) != PyDict_GET_SIZE(like)) return 1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(like, &pos, &k, &v)) {
      PyObject *t = PyDict_GetItemWithError(tree, k);
      if (!t) return PyErr_Occurred() ? -1 : 1;
      int rc = flatten_like(v, t, out);
      if (rc) return rc;
    }
    return 0;
  }
  if (PyList_Check(like) || PyTuple_Check(like)) {
    if (!PyList_Check(tree) && !PyTuple_Check(tree)) return 1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(like);
    if (PySequence_Fast_GET_SIZE(tree) != n) return 1;
    for (Py_ssize_t i = 0; i < n; i++) {
      int rc = flatten_like(PySequence_Fast_GET_ITEM(like, i), PySequence_Fast_GET_ITEM(tree, i), out);
      if (rc) return rc;
    }
    return 0;
  }
  return 0; /* a non-array leaf of the primals: whatever stands there is ignored */
}

/* The arrays of a rule's result laid out like the primals (None = zero); the plain list
 * of its arrays when that has the right count. NULL + ValueError otherwise. */
static PyObject *result_like_primals(py_custom *c, PyObject *args_structure, PyObject *ret) {
  PyObject *out = PyList_New(0);
  if (!out) return NULL;
  PyObject *like = primals_arg(args_structure);
  int rc = flatten_like(like, ret, out);
  Py_DECREF(like);
  if (rc == 0 && PyList_GET_SIZE(out) == c->n_in) return out;
  Py_DECREF(out);
  if (rc < 0) return NULL;
  out = PyList_New(0);
  if (out && mxpy_tree_collect(ret, out, false, c->tag) == 0 && PyList_GET_SIZE(out) == c->n_in) return out;
  if (out && !PyErr_Occurred())
    PyErr_Format(PyExc_ValueError, "[%s] The vjp function should return one cotangent per array "
                 "input (%zd), arranged as the primals; got %zd arrays.", c->tag, c->n_in,
                 PyList_GET_SIZE(out));
  Py_XDECREF(out);
  return NULL;
}

static int rule_vjp(void *payload, mx_array *const *primals, int n_p, mx_array *const *cots,
                    mx_array *const *outputs, int n_out, mx_array **grads) {
  py_custom *c = payload;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = -1;
  PyObject *full = call_args(c, primals, n_p), *cl = NULL, *ol = NULL, *ct = NULL, *ot = NULL;
  PyObject *first = NULL, *ret = NULL, *leaves = NULL, *argst = NULL;
  if (!full || !(cl = wrap_borrowed(cots, n_out)) || !(ol = wrap_borrowed(outputs, n_out))) goto done;
  Py_ssize_t i1 = 0, i2 = 0;
  if (!(ct = mxpy_tree_fill_slots(c->out_structure, cl, &i1))) goto done;
  if (!(ot = mxpy_tree_fill_slots(c->out_structure, ol, &i2))) goto done;
  first = primals_arg(PyTuple_GET_ITEM(full, 0));
  PyObject *vargs = PyTuple_Pack(3, first, ct, ot);
  if (!vargs) goto done;
  ret = PyObject_Call(c->vjp, vargs, PyTuple_GET_ITEM(full, 1));
  Py_DECREF(vargs);
  if (!ret) goto done;
  argst = PyTuple_GET_ITEM(c->in_structure, 0);
  if (!(leaves = result_like_primals(c, argst, ret))) goto done;
  if (take_nodes(leaves, grads, n_p) == 0) rc = 0;
done:
  if (rc < 0) mxpy_keep_error();
  Py_XDECREF(full);
  Py_XDECREF(cl);
  Py_XDECREF(ol);
  Py_XDECREF(ct);
  Py_XDECREF(ot);
  Py_XDECREF(first);
  Py_XDECREF(ret);
  Py_XDECREF(leaves);
  PyGILState_Release(g);
  return rc;
}

/* Fails as MLX does when a custom jvp/vmap function is called with keyword arguments. */
static int positional_only(PyObject *full, const char *what) {
  if (PyDict_GET_SIZE(PyTuple_GET_ITEM(full, 1)) == 0) return 0;
  PyErr_Format(PyExc_ValueError, "[custom %s] Function should only accept positional arguments", what);
  return -1;
}

static int rule_jvp(void *payload, mx_array *const *primals, int n_p, mx_array *const *tangents,
                    mx_array **out_t, int n_out) {
  py_custom *c = payload;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = -1;
  PyObject *full = call_args(c, primals, n_p), *tl = NULL, *tfull = NULL, *first = NULL;
  PyObject *tfirst = NULL, *ret = NULL, *leaves = NULL;
  if (!full || positional_only(full, "jvp") < 0 || !(tl = wrap_borrowed(tangents, n_p))) goto done;
  Py_ssize_t index = 0;
  /* the tangent tree: the arguments with each array's tangent, None where it has none
   * (and None for the non-array leaves) */
  if (!(tfull = mxpy_tree_fill_slots(c->in_structure, tl, &index))) goto done;
  first = primals_arg(PyTuple_GET_ITEM(full, 0));
  PyObject *targs = PyTuple_GET_ITEM(tfull, 0);
  tfirst = primals_arg(targs);
  ret = PyObject_CallFunctionObjArgs(c->jvp, first, tfirst, NULL);
  leaves = ret ? PyList_New(0) : NULL;
  if (!leaves || mxpy_tree_collect(ret, leaves, false, c->tag) < 0) goto done;
  if (PyList_GET_SIZE(leaves) != n_out) {
    PyErr_Format(PyExc_ValueError, "[%s] The jvp function returned %zd arrays; the function has %d "
                 "outputs.", c->tag, PyList_GET_SIZE(leaves), n_out);
    goto done;
  }
  if (take_nodes(leaves, out_t, n_out) == 0) rc = 0;
done:
  if (rc < 0) mxpy_keep_error();
  Py_XDECREF(full);
  Py_XDECREF(tl);
  Py_XDECREF(tfull);
  Py_XDECREF(first);
  Py_XDECREF(tfirst);
  Py_XDECREF(ret);
  Py_XDECREF(leaves);
  PyGILState_Release(g);
  return rc;
}

/* Pairs each array of outs with its axis from the prefix tree axes (int or None). */
static int out_axes_like(PyObject *outs, PyObject *axes, PyObject *arrays, PyObject *flat, const char *tag) {
  if (MXPY_IS_ARRAY(outs) || axes == Py_None || PyLong_Check(axes)) {
    PyObject *leaves = PyList_New(0);
    if (!leaves || mxpy_tree_collect(outs, leaves, false, tag) < 0) {
      Py_XDECREF(leaves);
      return -1;
    }
    if (axes != Py_None && !PyLong_Check(axes)) {
      Py_DECREF(leaves);
      PyErr_Format(PyExc_ValueError, "[%s] The output axes of the vmap function should be int or None.", tag);
      return -1;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(leaves); i++)
      rc = PyList_Append(arrays, PyList_GET_ITEM(leaves, i)) < 0 || PyList_Append(flat, axes) < 0 ? -1 : 0;
    Py_DECREF(leaves);
    return rc;
  }
  if ((PyList_Check(outs) || PyTuple_Check(outs)) && (PyList_Check(axes) || PyTuple_Check(axes)) &&
      PySequence_Fast_GET_SIZE(outs) == PySequence_Fast_GET_SIZE(axes)) {
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(outs); i++)
      if (out_axes_like(PySequence_Fast_GET_ITEM(outs, i), PySequence_Fast_GET_ITEM(axes, i), arrays, flat, tag) < 0)
        return -1;
    return 0;
  }
  if (PyDict_Check(outs) && PyDict_Check(axes)) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(outs, &pos, &k, &v)) {
      PyObject *a = PyDict_GetItemWithError(axes, k);
      if (!a) {
        if (!PyErr_Occurred())
          PyErr_Format(PyExc_ValueError, "[%s] The output axes do not match the outputs.", tag);
        return -1;
      }
      if (out_axes_like(v, a, arrays, flat, tag) < 0) return -1;
    }
    return 0;
  }
  if (!MXPY_IS_ARRAY(outs) && !PyList_Check(outs) && !PyTuple_Check(outs) && !PyDict_Check(outs))
    return 0; /* a non-array output leaf */
  PyErr_Format(PyExc_ValueError, "[%s] The output axes do not match the outputs.", tag);
  return -1;
}

static int rule_vmap(void *payload, mx_array *const *in, const int *axes, int n, mx_array **outs,
                     int *out_axes, int max_out, int *n_out) {
  py_custom *c = payload;
  PyGILState_STATE g = PyGILState_Ensure();
  int rc = -1;
  *n_out = 0;
  PyObject *full = call_args(c, in, n), *al = NULL, *afull = NULL, *first = NULL, *afirst = NULL;
  PyObject *ret = NULL, *arrays = NULL, *flat = NULL;
  if (!full || positional_only(full, "vmap") < 0 || !(al = PyList_New(n))) goto done;
  for (int i = 0; i < n; i++) {
    PyObject *a = axes[i] >= 0 ? PyLong_FromLong(axes[i]) : Py_NewRef(Py_None);
    if (!a) goto done;
    PyList_SET_ITEM(al, i, a);
  }
  Py_ssize_t index = 0;
  if (!(afull = mxpy_tree_fill_slots(c->in_structure, al, &index))) goto done;
  first = primals_arg(PyTuple_GET_ITEM(full, 0));
  afirst = primals_arg(PyTuple_GET_ITEM(afull, 0));
  ret = PyObject_CallFunctionObjArgs(c->vmap, first, afirst, NULL);
  if (!ret) goto done;
  if (!PyTuple_Check(ret) || PyTuple_GET_SIZE(ret) != 2) {
    PyErr_SetString(PyExc_ValueError, "[custom vmap] Vmap function should return a tuple with 2 items.");
    goto done;
  }
  arrays = PyList_New(0);
  flat = PyList_New(0);
  if (!arrays || !flat ||
      out_axes_like(PyTuple_GET_ITEM(ret, 0), PyTuple_GET_ITEM(ret, 1), arrays, flat, c->tag) < 0)
    goto done;
  Py_ssize_t m = PyList_GET_SIZE(arrays);
  if (m > max_out) {
    PyErr_Format(PyExc_ValueError, "[%s] The vmap function returned too many arrays.", c->tag);
    goto done;
  }
  for (Py_ssize_t k = 0; k < m; k++) {
    PyObject *a = PyList_GET_ITEM(flat, k);
    out_axes[k] = a == Py_None ? -1 : (int)PyLong_AsLong(a);
  }
  if (PyErr_Occurred() || take_nodes(arrays, outs, m) < 0) goto done;
  *n_out = (int)m;
  rc = 0;
done:
  if (rc < 0) mxpy_keep_error();
  Py_XDECREF(full);
  Py_XDECREF(al);
  Py_XDECREF(afull);
  Py_XDECREF(first);
  Py_XDECREF(afirst);
  Py_XDECREF(ret);
  Py_XDECREF(arrays);
  Py_XDECREF(flat);
  PyGILState_Release(g);
  return rc;
}

/* Calls fun through a CustomTransforms op with the given rules (NULL = default). */
static PyObject *call_custom(PyObject *fun, PyObject *vjp, PyObject *jvp, PyObject *vmap,
                             bool checkpoint, PyObject *args, PyObject *kwargs, const char *tag) {
  mxpy_release_pending_objects();
  PyObject *full = PyTuple_Pack(2, args, kwargs ? kwargs : Py_None);
  PyObject *leaves = PyList_New(0), *result = NULL, *outs_list = NULL;
  mx_array **inputs = NULL, **outs = NULL;
  int n_in = 0, n_out = 0, rc;
  if (!full || !leaves) goto done;
  if (!kwargs) {
    PyObject *d = PyDict_New();
    if (!d) goto done;
    Py_SETREF(full, PyTuple_Pack(2, args, d));
    Py_DECREF(d);
    if (!full) goto done;
  }
  if (mxpy_tree_collect(full, leaves, false, tag) < 0 || !(inputs = mxpy_nodes_from_list(leaves, &n_in)))
    goto done;
  py_custom *c = calloc(1, sizeof *c);
  if (!c) {
    PyErr_NoMemory();
    goto done;
  }
  mx_object_init(&c->base.base, py_custom_destroy);
  c->fun = Py_NewRef(fun);
  c->vjp = Py_XNewRef(vjp);
  c->jvp = Py_XNewRef(jvp);
  c->vmap = Py_XNewRef(vmap);
  c->tag = tag;
  c->n_in = n_in;
  c->in_structure = mxpy_tree_structure(full, NULL);
  c->base.fun = (mx_closure){forward, c};
  c->base.vjp = vjp ? rule_vjp : NULL;
  c->base.jvp = jvp ? rule_jvp : NULL;
  c->base.vmap = vmap ? rule_vmap : NULL;
  c->base.payload = c;
  c->base.checkpoint = checkpoint;
  if (!c->in_structure) {
    mx_object_release(&c->base.base);
    goto done;
  }
  outs = PyMem_Calloc(MX_MAX_OUTPUTS, sizeof(mx_array *));
  if (!outs) {
    mx_object_release(&c->base.base);
    PyErr_NoMemory();
    goto done;
  }
  Py_BEGIN_ALLOW_THREADS
  rc = mx_custom_function(&c->base, inputs, n_in, outs, MX_MAX_OUTPUTS, &n_out);
  Py_END_ALLOW_THREADS
  PyObject *structure = Py_XNewRef(c->out_structure);
  mx_object_release(&c->base.base); /* the op keeps its own reference */
  if (rc < 0) {
    Py_XDECREF(structure);
    mxpy_raise_pending(tag);
    goto done;
  }
  outs_list = mxpy_list_from_nodes(outs, n_out);
  Py_ssize_t index = 0;
  if (outs_list) result = mxpy_tree_fill_slots(structure, outs_list, &index);
  Py_XDECREF(structure);
done:
  Py_XDECREF(full);
  Py_XDECREF(leaves);
  Py_XDECREF(outs_list);
  mxpy_nodes_free(inputs, n_in);
  if (outs) mxpy_nodes_free(outs, n_out);
  return result;
}

/* ------------------------------------------------------------------------------------ */
/* mx.custom_function                                                                    */

typedef struct {
  PyObject_HEAD
  PyObject *fun, *vjp, *jvp, *vmap;
  PyObject *dict;
  PyObject *weakrefs;
} mxpy_customfn;

static int customfn_init(PyObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"f", NULL};
  mxpy_customfn *f = (mxpy_customfn *)self;
  PyObject *fun;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:custom_function", kwlist, &fun)) return -1;
  if (!PyCallable_Check(fun)) {
    PyErr_Format(PyExc_TypeError, "[custom_function] f must be callable, got %s.", Py_TYPE(fun)->tp_name);
    return -1;
  }
  Py_XSETREF(f->fun, Py_NewRef(fun));
  /* look like the wrapped function */
  const char *attrs[] = {"__name__", "__qualname__", "__doc__", "__module__"};
  for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++) {
    PyObject *v = PyObject_GetAttrString(fun, attrs[i]);
    if (!v) {
      PyErr_Clear();
      continue;
    }
    if (!f->dict && !(f->dict = PyDict_New())) {
      Py_DECREF(v);
      return -1;
    }
    int rc = PyDict_SetItemString(f->dict, attrs[i], v);
    Py_DECREF(v);
    if (rc < 0) return -1;
  }
  return 0;
}

static PyObject *customfn_call(PyObject *self, PyObject *args, PyObject *kwargs) {
  mxpy_customfn *f = (mxpy_customfn *)self;
  if (!f->fun) {
    PyErr_SetString(PyExc_RuntimeError, "[custom_function] not initialised.");
    return NULL;
  }
  if (!f->vjp && !f->jvp && !f->vmap) return PyObject_Call(f->fun, args, kwargs);
  return call_custom(f->fun, f->vjp, f->jvp, f->vmap, false, args, kwargs, "custom_function");
}

static PyObject *set_rule(PyObject *self, PyObject *fn, int which) {
  mxpy_customfn *f = (mxpy_customfn *)self;
  if (!PyCallable_Check(fn)) {
    PyErr_Format(PyExc_TypeError, "[custom_function] the %s function must be callable.",
                 which == 0 ? "vjp" : which == 1 ? "jvp" : "vmap");
    return NULL;
  }
  PyObject **slot = which == 0 ? &f->vjp : which == 1 ? &f->jvp : &f->vmap;
  Py_XSETREF(*slot, Py_NewRef(fn));
  return Py_NewRef(self);
}

static PyObject *customfn_vjp(PyObject *self, PyObject *fn) { return set_rule(self, fn, 0); }
static PyObject *customfn_jvp(PyObject *self, PyObject *fn) { return set_rule(self, fn, 1); }
static PyObject *customfn_vmap(PyObject *self, PyObject *fn) { return set_rule(self, fn, 2); }

static PyMethodDef customfn_methods[] = {
    {"vjp", customfn_vjp, METH_O,
     "vjp(self, f)\n--\n\nDefine a custom vjp: f(primals, cotangents, outputs) returns the "
     "cotangents of the primals."},
    {"jvp", customfn_jvp, METH_O,
     "jvp(self, f)\n--\n\nDefine a custom jvp: f(primals, tangents) returns the tangents of the "
     "outputs (a tangent is None where an input has none)."},
    {"vmap", customfn_vmap, METH_O,
     "vmap(self, f)\n--\n\nDefine a custom vectorization: f(inputs, axes) returns (outputs, "
     "out_axes)."},
    {NULL, NULL, 0, NULL},
};

static int customfn_traverse(PyObject *o, visitproc visit, void *arg) {
  mxpy_customfn *f = (mxpy_customfn *)o;
  Py_VISIT(f->fun);
  Py_VISIT(f->vjp);
  Py_VISIT(f->jvp);
  Py_VISIT(f->vmap);
  Py_VISIT(f->dict);
  return 0;
}

static int customfn_clear(PyObject *o) {
  mxpy_customfn *f = (mxpy_customfn *)o;
  Py_CLEAR(f->fun);
  Py_CLEAR(f->vjp);
  Py_CLEAR(f->jvp);
  Py_CLEAR(f->vmap);
  Py_CLEAR(f->dict);
  return 0;
}

static void customfn_dealloc(PyObject *o) {
  PyObject_GC_UnTrack(o);
  if (((mxpy_customfn *)o)->weakrefs) PyObject_ClearWeakRefs(o);
  customfn_clear(o);
  Py_TYPE(o)->tp_free(o);
}

static PyObject *customfn_get_wrapped(PyObject *o, void *c) {
  mxpy_customfn *f = (mxpy_customfn *)o;
  return Py_NewRef(f->fun ? f->fun : Py_None);
}

static PyGetSetDef customfn_getset[] = {
    {"__wrapped__", customfn_get_wrapped, NULL, "The wrapped function.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject customfn_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.custom_function",
    .tp_basicsize = sizeof(mxpy_customfn),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "custom_function(f)\n--\n\nSet up a function for custom gradient and vmap "
              "definitions: use the instance's vjp, jvp and vmap methods as decorators. "
              "Undefined transformations fall back to transforming f; arrays captured by "
              "closure are constants.",
    .tp_call = customfn_call,
    .tp_init = customfn_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = customfn_dealloc,
    .tp_traverse = customfn_traverse,
    .tp_clear = customfn_clear,
    .tp_methods = customfn_methods,
    .tp_getset = customfn_getset,
    .tp_dictoffset = offsetof(mxpy_customfn, dict),
    .tp_weaklistoffset = offsetof(mxpy_customfn, weakrefs),
};

/* ------------------------------------------------------------------------------------ */
/* mx.checkpoint                                                                         */

typedef struct {
  PyObject_HEAD
  PyObject *fun;
  PyObject *weakrefs;
} mxpy_checkpointfn;

static PyObject *checkpointfn_call(PyObject *self, PyObject *args, PyObject *kwargs) {
  mxpy_checkpointfn *f = (mxpy_checkpointfn *)self;
  return call_custom(f->fun, NULL, NULL, NULL, true, args, kwargs, "checkpoint");
}

static int checkpointfn_traverse(PyObject *o, visitproc visit, void *arg) {
  Py_VISIT(((mxpy_checkpointfn *)o)->fun);
  return 0;
}

static int checkpointfn_clear(PyObject *o) {
  Py_CLEAR(((mxpy_checkpointfn *)o)->fun);
  return 0;
}

static void checkpointfn_dealloc(PyObject *o) {
  PyObject_GC_UnTrack(o);
  if (((mxpy_checkpointfn *)o)->weakrefs) PyObject_ClearWeakRefs(o);
  checkpointfn_clear(o);
  PyObject_GC_Del(o);
}

static PyObject *checkpointfn_get_wrapped(PyObject *o, void *c) {
  mxpy_checkpointfn *f = (mxpy_checkpointfn *)o;
  return Py_NewRef(f->fun ? f->fun : Py_None);
}

static PyGetSetDef checkpointfn_getset[] = {
    {"__wrapped__", checkpointfn_get_wrapped, NULL, "The checkpointed function.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject checkpointfn_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core._CheckpointFunction",
    .tp_basicsize = sizeof(mxpy_checkpointfn),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A checkpointed function (made by mlx.core.checkpoint).",
    .tp_call = checkpointfn_call,
    .tp_dealloc = checkpointfn_dealloc,
    .tp_traverse = checkpointfn_traverse,
    .tp_clear = checkpointfn_clear,
    .tp_getset = checkpointfn_getset,
    .tp_weaklistoffset = offsetof(mxpy_checkpointfn, weakrefs),
};

static PyObject *py_checkpoint(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"fun", NULL};
  PyObject *fun;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:checkpoint", kwlist, &fun)) return NULL;
  if (!PyCallable_Check(fun)) {
    PyErr_Format(PyExc_TypeError, "[checkpoint] fun must be callable, got %s.", Py_TYPE(fun)->tp_name);
    return NULL;
  }
  mxpy_checkpointfn *f = PyObject_GC_New(mxpy_checkpointfn, &checkpointfn_type);
  if (!f) return NULL;
  f->fun = Py_NewRef(fun);
  f->weakrefs = NULL;
  PyObject_GC_Track((PyObject *)f);
  return (PyObject *)f;
}

static PyMethodDef custom_methods[] = {
    {"checkpoint", (PyCFunction)(void (*)(void))py_checkpoint, METH_VARARGS | METH_KEYWORDS,
     "checkpoint(fun)\n--\n\nA function computing the same as fun whose backward pass recomputes "
     "fun's intermediates instead of keeping them."},
    {NULL, NULL, 0, NULL},
};

int mxpy_custom_init(PyObject *m) {
  if (PyType_Ready(&customfn_type) < 0 || PyType_Ready(&checkpointfn_type) < 0) return -1;
  if (PyModule_AddObjectRef(m, "custom_function", (PyObject *)&customfn_type) < 0) return -1;
  return PyModule_AddFunctions(m, custom_methods);
}
