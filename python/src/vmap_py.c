/* vmap_py.c: mx.vmap(fun, in_axes=0, out_axes=0) over src/transforms/vmap.c (spec/
 * semantics.md section 11). The arguments (one tree, or the tuple of them) and the outputs
 * are trees of arrays; in_axes/out_axes are prefix trees of them whose leaves are an int, None
 * or a 1-tuple of either. The function is traced once on placeholders, then the trace is
 * replayed on the batched inputs; both core calls run without the GIL. */
#include "transforms_py.h"

typedef struct {
  PyObject_HEAD
  PyObject *fun;
  PyObject *in_axes;
  PyObject *out_axes;
  PyObject *weakrefs;
} mxpy_vmapfn;

static PyTypeObject vmapfn_type;

static int axis_error(void) {
  PyErr_SetString(PyExc_ValueError, "[vmap] axis must be int or None.");
  return -1;
}

static int prefix_error(bool output) {
  PyErr_Format(PyExc_ValueError, "[vmap] %s is not a valid prefix tree of the %s.",
               output ? "out_axes" : "in_axes", output ? "outputs" : "arguments");
  return -1;
}

static bool is_axis_leaf(PyObject *a) { return a == Py_None || PyLong_Check(a); }

/* Appends the normalised axis of array x for the axis object a (int or None). */
static int push_axis(PyObject *x, PyObject *a, bool output, PyObject *flat) {
  long axis = -1;
  if (a != Py_None) {
    axis = PyLong_AsLong(a);
    if (axis == -1 && PyErr_Occurred()) return -1;
    mx_array *node = mxpy_array_node(x);
    if (!node) return -1;
    int ndim = node->ndim + (output ? 1 : 0);
    if (axis < 0) axis += ndim;
    if (axis < 0 || axis >= ndim) {
      PyObject *shape = PyObject_GetAttrString(x, "shape");
      if (!shape) return -1;
      PyObject *parts = PyUnicode_FromString(",");
      PyObject *items = PyList_New(0);
      for (Py_ssize_t d = 0; items && d < PyTuple_GET_SIZE(shape); d++) {
        PyObject *str = PyObject_Str(PyTuple_GET_ITEM(shape, d));
        if (!str || PyList_Append(items, str) < 0) Py_CLEAR(items);
        Py_XDECREF(str);
      }
      PyObject *joined = parts && items ? PyUnicode_Join(parts, items) : NULL;
      if (joined)
        PyErr_Format(PyExc_IndexError, "[vmap] Invalid%svectorization axis %ld for array with shape (%U)",
                     output ? " output " : " ", axis, joined);
      Py_XDECREF(joined);
      Py_XDECREF(items);
      Py_XDECREF(parts);
      Py_DECREF(shape);
      return -1;
    }
  }
  PyObject *v = PyLong_FromLong(axis);
  int rc = v ? PyList_Append(flat, v) : -1;
  Py_XDECREF(v);
  return rc;
}

/* Flattens the prefix tree `axes` against `tree` into one axis per array leaf. */
static int flat_axes(PyObject *tree, PyObject *axes, bool output, PyObject *flat) {
  if (MXPY_IS_ARRAY(tree)) {
    if (PyTuple_Check(axes)) { /* (axis,) */
      if (PyTuple_GET_SIZE(axes) != 1 || !is_axis_leaf(PyTuple_GET_ITEM(axes, 0))) return axis_error();
      axes = PyTuple_GET_ITEM(axes, 0);
    }
    if (!is_axis_leaf(axes)) return axis_error();
    return push_axis(tree, axes, output, flat);
  }
  if (is_axis_leaf(axes)) { /* one axis for every array of the subtree */
    PyObject *leaves = PyList_New(0);
    if (!leaves) return -1;
    int rc = mxpy_tree_collect(tree, leaves, true, "vmap");
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(leaves); i++)
      rc = push_axis(PyList_GET_ITEM(leaves, i), axes, output, flat);
    Py_DECREF(leaves);
    return rc;
  }
  if (Py_EnterRecursiveCall(" while matching vmap axes")) return -1;
  int rc = 0;
  if (PyDict_Check(tree) && PyDict_Check(axes)) {
    if (PyDict_GET_SIZE(tree) != PyDict_GET_SIZE(axes)) rc = prefix_error(output);
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (rc == 0 && PyDict_Next(tree, &pos, &k, &v)) {
      PyObject *a = PyDict_GetItemWithError(axes, k);
      if (!a) rc = PyErr_Occurred() ? -1 : prefix_error(output);
      else rc = flat_axes(v, a, output, flat);
    }
  } else if ((PyList_Check(tree) && PyList_Check(axes)) || (PyTuple_Check(tree) && PyTuple_Check(axes))) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(tree);
    if (PySequence_Fast_GET_SIZE(axes) != n) rc = prefix_error(output);
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++)
      rc = flat_axes(PySequence_Fast_GET_ITEM(tree, i), PySequence_Fast_GET_ITEM(axes, i), output, flat);
  } else if (PyList_Check(axes) || PyTuple_Check(axes) || PyDict_Check(axes)) {
    rc = prefix_error(output);
  } else {
    rc = axis_error();
  }
  Py_LeaveRecursiveCall();
  return rc;
}

/* The flat axes as a C vector (PyMem). */
static int *int_vector(PyObject *list) {
  Py_ssize_t n = PyList_GET_SIZE(list);
  int *v = PyMem_Calloc((size_t)n + 1, sizeof(int));
  if (!v) {
    PyErr_NoMemory();
    return NULL;
  }
  for (Py_ssize_t i = 0; i < n; i++) v[i] = (int)PyLong_AsLong(PyList_GET_ITEM(list, i));
  return v;
}

static PyObject *vmapfn_call(PyObject *self, PyObject *args, PyObject *kwargs) {
  mxpy_vmapfn *f = (mxpy_vmapfn *)self;
  if (kwargs && PyDict_GET_SIZE(kwargs) > 0) {
    PyErr_SetString(PyExc_TypeError, "[vmap] Keyword arguments are not supported.");
    return NULL;
  }
  Py_ssize_t nargs = PyTuple_GET_SIZE(args);
  PyObject *result = NULL, *leaves = NULL, *in_flat = NULL, *out_flat = NULL, *outs_list = NULL;
  mx_array **inputs = NULL, **s_in = NULL, **s_out = NULL, **outs = NULL;
  int *in_axes = NULL, *out_axes = NULL, *pos = NULL;
  int n_in = 0, n_out = 0, rc;
  mxpy_closure p = {0};
  leaves = PyList_New(0);
  in_flat = PyList_New(0);
  if (!leaves || !in_flat || mxpy_tree_collect(args, leaves, true, "vmap") < 0) goto done;
  if (flat_axes(nargs == 1 ? PyTuple_GET_ITEM(args, 0) : args, f->in_axes, false, in_flat) < 0)
    goto done;
  if (!(inputs = mxpy_nodes_from_list(leaves, &n_in)) || !(in_axes = int_vector(in_flat))) goto done;
  pos = PyMem_Calloc((size_t)nargs + 1, sizeof(int));
  s_in = PyMem_Calloc((size_t)n_in + 1, sizeof(mx_array *));
  s_out = PyMem_Calloc(MX_MAX_OUTPUTS, sizeof(mx_array *));
  if (!pos || !s_in || !s_out) {
    PyErr_NoMemory();
    goto done;
  }
  for (Py_ssize_t i = 0; i < nargs; i++) pos[i] = (int)i;
  p.fun = f->fun;
  p.args = args;
  p.pos = pos;
  p.n_pos = (int)nargs;
  p.mode = MXPY_MODE_TREE;
  p.tag = "vmap";
  mx_closure c = {mxpy_closure_call, &p};
  Py_BEGIN_ALLOW_THREADS
  rc = mx_vmap_trace(c, inputs, n_in, in_axes, s_in, s_out, MX_MAX_OUTPUTS, &n_out);
  Py_END_ALLOW_THREADS
  if (rc < 0) {
    mxpy_closure_raise(&p);
    goto done;
  }
  out_flat = PyList_New(0);
  if (!out_flat || flat_axes(p.value_out, f->out_axes, true, out_flat) < 0) goto done;
  if (PyList_GET_SIZE(out_flat) != n_out) {
    PyErr_SetString(PyExc_ValueError, "[vmap] The number of out axes must match the number of outputs.");
    goto done;
  }
  if (!(out_axes = int_vector(out_flat))) goto done;
  outs = PyMem_Calloc((size_t)n_out + 1, sizeof(mx_array *));
  if (!outs) {
    PyErr_NoMemory();
    goto done;
  }
  Py_BEGIN_ALLOW_THREADS
  rc = mx_vmap_replace(inputs, s_in, n_in, in_axes, s_out, n_out, out_axes, outs);
  Py_END_ALLOW_THREADS
  if (rc < 0) {
    mxpy_raise_pending("vmap");
    goto done;
  }
  outs_list = mxpy_list_from_nodes(outs, n_out);
  Py_ssize_t index = 0;
  if (outs_list) result = mxpy_tree_replace(p.value_out, outs_list, &index);
done:
  Py_XDECREF(leaves);
  Py_XDECREF(in_flat);
  Py_XDECREF(out_flat);
  Py_XDECREF(outs_list);
  mxpy_nodes_free(inputs, n_in);
  if (s_in) mxpy_nodes_free(s_in, n_in);
  if (s_out) mxpy_nodes_free(s_out, n_out);
  if (outs) mxpy_nodes_free(outs, n_out);
  PyMem_Free(in_axes);
  PyMem_Free(out_axes);
  PyMem_Free(pos);
  mxpy_closure_clear(&p);
  return result;
}

static void vmapfn_dealloc(PyObject *o) {
  mxpy_vmapfn *f = (mxpy_vmapfn *)o;
  PyObject_GC_UnTrack(o);
  if (f->weakrefs) PyObject_ClearWeakRefs(o);
  Py_CLEAR(f->fun);
  Py_CLEAR(f->in_axes);
  Py_CLEAR(f->out_axes);
  PyObject_GC_Del(o);
}

static int vmapfn_traverse(PyObject *o, visitproc visit, void *arg) {
  mxpy_vmapfn *f = (mxpy_vmapfn *)o;
  Py_VISIT(f->fun);
  Py_VISIT(f->in_axes);
  Py_VISIT(f->out_axes);
  return 0;
}

static int vmapfn_clear(PyObject *o) {
  mxpy_vmapfn *f = (mxpy_vmapfn *)o;
  Py_CLEAR(f->fun);
  Py_CLEAR(f->in_axes);
  Py_CLEAR(f->out_axes);
  return 0;
}

static PyObject *vmapfn_get_wrapped(PyObject *o, void *c) {
  mxpy_vmapfn *f = (mxpy_vmapfn *)o;
  return Py_NewRef(f->fun ? f->fun : Py_None);
}

static PyGetSetDef vmapfn_getset[] = {
    {"__wrapped__", vmapfn_get_wrapped, NULL, "The vectorized function.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject vmapfn_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core._VmapFunction",
    .tp_basicsize = sizeof(mxpy_vmapfn),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A vectorized function (made by mlx.core.vmap).",
    .tp_call = vmapfn_call,
    .tp_dealloc = vmapfn_dealloc,
    .tp_traverse = vmapfn_traverse,
    .tp_clear = vmapfn_clear,
    .tp_getset = vmapfn_getset,
    .tp_weaklistoffset = offsetof(mxpy_vmapfn, weakrefs),
};

static PyObject *py_vmap(PyObject *m, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"fun", "in_axes", "out_axes", NULL};
  PyObject *fun, *in_axes = NULL, *out_axes = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:vmap", kwlist, &fun, &in_axes, &out_axes))
    return NULL;
  if (!PyCallable_Check(fun)) {
    PyErr_Format(PyExc_TypeError, "[vmap] fun must be callable, got %s.", Py_TYPE(fun)->tp_name);
    return NULL;
  }
  /* as MLX's binding: a bare None is not accepted for the axes objects */
  if (in_axes == Py_None || out_axes == Py_None) {
    PyErr_Format(PyExc_TypeError, "vmap(): incompatible function arguments: %s=None is not "
                 "accepted (use an int, or None inside a tuple/list/dict).",
                 in_axes == Py_None ? "in_axes" : "out_axes");
    return NULL;
  }
  mxpy_vmapfn *f = PyObject_GC_New(mxpy_vmapfn, &vmapfn_type);
  if (!f) return NULL;
  f->fun = Py_NewRef(fun);
  f->in_axes = in_axes ? Py_NewRef(in_axes) : PyLong_FromLong(0);
  f->out_axes = out_axes ? Py_NewRef(out_axes) : PyLong_FromLong(0);
  f->weakrefs = NULL;
  PyObject_GC_Track((PyObject *)f);
  if (!f->in_axes || !f->out_axes) {
    Py_DECREF(f);
    return NULL;
  }
  return (PyObject *)f;
}

PyMethodDef mxpy_vmap_methods[] = {
    {"vmap", (PyCFunction)(void (*)(void))py_vmap, METH_VARARGS | METH_KEYWORDS,
     "vmap(fun, in_axes=0, out_axes=0)\n--\n\nReturns a vectorized version of fun: in_axes and "
     "out_axes are ints, None, or prefix trees of the arguments / outputs."},
    {NULL, NULL, 0, NULL},
};

int mxpy_vmap_init(PyObject *m) {
  if (PyType_Ready(&vmapfn_type) < 0) return -1;
  return PyModule_AddFunctions(m, mxpy_vmap_methods);
}
