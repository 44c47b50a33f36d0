/* transforms_py.c: grad, value_and_grad, vjp and jvp over src/transforms/transforms.h
 * (spec/semantics.md section 11). A Python callable is wrapped in an mx_closure whose fn
 * takes the GIL, puts the input nodes (as mx.array objects) into the argument trees, calls
 * the function and hands the arrays of its result tree back; a Python exception raised
 * inside is kept and re-raised unchanged once the C call returns. The GIL is released
 * around the C transform. Differentiated arguments are list/tuple/dict trees of arrays. */
#include "mxpy_internal.h"

#include <stdlib.h>

#include "transforms_py.h"

#include "prim.h"

static void release_all(mx_array **a, int n) {
  for (int i = 0; i < n; i++)
    if (a[i]) mx_array_release(a[i]);
}

/* ------------------------------------------------------------------------------------ */
/* grad / value_and_grad                                                                 */

typedef struct {
  PyObject_HEAD
  PyObject *fun;
  int *argnums;        /* sorted, unique, non-negative */
  int n_argnums;
  PyObject *argnames;  /* tuple of str */
  int value_and_grad;
  PyObject *weakrefs;
} mxpy_gradfn;

static PyTypeObject gradfn_type;

static const char *grad_tag(const mxpy_gradfn *g) {
  return g->value_and_grad ? "value_and_grad" : "grad";
}

/* "{a,b,}" as MLX prints the keyword names of a call. */
static PyObject *kwargs_names(PyObject *kwargs) {
  PyObject *parts = PyList_New(0);
  if (!parts) return NULL;
  Py_ssize_t pos = 0;
  PyObject *k, *v;
  while (kwargs && PyDict_Next(kwargs, &pos, &k, &v)) {
    PyObject *item = PyUnicode_FromFormat("%S,", k);
    if (!item || PyList_Append(parts, item) < 0) {
      Py_XDECREF(item);
      Py_DECREF(parts);
      return NULL;
    }
    Py_DECREF(item);
  }
  PyObject *empty = PyUnicode_FromString("");
  PyObject *joined = empty ? PyUnicode_Join(empty, parts) : NULL;
  Py_XDECREF(empty);
  Py_DECREF(parts);
  if (!joined) return NULL;
  PyObject *r = PyUnicode_FromFormat("{%U}", joined);
  Py_DECREF(joined);
  return r;
}

/* The gradient trees: one argnum -> that tree; several -> a tuple of trees; argnames ->
 * (positional or None, {name: tree}). grads (a list) is consumed in order. */
static PyObject *grad_structure(mxpy_gradfn *g, PyObject *args, PyObject *kwargs, PyObject *grads) {
  Py_ssize_t index = 0, nnames = PyTuple_GET_SIZE(g->argnames);
  PyObject *pos_grads = NULL;
  if (g->n_argnums == 1) {
    pos_grads = mxpy_tree_replace(PyTuple_GET_ITEM(args, g->argnums[0]), grads, &index);
  } else if (g->n_argnums > 1) {
    pos_grads = PyTuple_New(g->n_argnums);
    for (int i = 0; pos_grads && i < g->n_argnums; i++) {
      PyObject *t = mxpy_tree_replace(PyTuple_GET_ITEM(args, g->argnums[i]), grads, &index);
      if (!t) Py_CLEAR(pos_grads);
      else PyTuple_SET_ITEM(pos_grads, i, t);
    }
  } else {
    pos_grads = Py_NewRef(Py_None);
  }
  if (!pos_grads || nnames == 0) return pos_grads;
  PyObject *kw_grads = PyDict_New();
  for (Py_ssize_t j = 0; kw_grads && j < nnames; j++) {
    PyObject *name = PyTuple_GET_ITEM(g->argnames, j);
    PyObject *v = PyDict_GetItemWithError(kwargs, name);
    PyObject *t = v ? mxpy_tree_replace(v, grads, &index) : NULL;
    if (!t || PyDict_SetItem(kw_grads, name, t) < 0) Py_CLEAR(kw_grads);
    Py_XDECREF(t);
  }
  PyObject *r = kw_grads ? PyTuple_Pack(2, pos_grads, kw_grads) : NULL;
  Py_DECREF(pos_grads);
  Py_XDECREF(kw_grads);
  return r;
}

/* The arrays of the differentiated argument trees, in order (non-array leaves raise). */
static PyObject *grad_leaves(mxpy_gradfn *g, PyObject *args, PyObject *kwargs, const char *tag) {
  PyObject *leaves = PyList_New(0);
  if (!leaves) return NULL;
  for (int i = 0; i < g->n_argnums; i++)
    if (mxpy_tree_collect(PyTuple_GET_ITEM(args, g->argnums[i]), leaves, true, tag) < 0) goto fail;
  for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(g->argnames); j++) {
    PyObject *v = PyDict_GetItemWithError(kwargs, PyTuple_GET_ITEM(g->argnames, j));
    if (!v || mxpy_tree_collect(v, leaves, true, tag) < 0) goto fail;
  }
  return leaves;
fail:
  Py_DECREF(leaves);
  return NULL;
}

static PyObject *gradfn_call(PyObject *self, PyObject *args, PyObject *kwargs) {
  mxpy_gradfn *g = (mxpy_gradfn *)self;
  const char *tag = grad_tag(g);
  Py_ssize_t nargs = PyTuple_GET_SIZE(args);
  Py_ssize_t nnames = PyTuple_GET_SIZE(g->argnames);
  if (g->n_argnums > 0 && g->argnums[g->n_argnums - 1] >= nargs) {
    PyErr_Format(PyExc_ValueError,
                 "[%s] Can't compute the gradient of argument index %d because the function is "
                 "called with only %zd positional arguments.",
                 tag, g->argnums[g->n_argnums - 1], nargs);
    return NULL;
  }
  for (Py_ssize_t j = 0; j < nnames; j++) {
    PyObject *name = PyTuple_GET_ITEM(g->argnames, j);
    int has = kwargs ? PyDict_Contains(kwargs, name) : 0;
    if (has < 0) return NULL;
    if (!has) {
      PyObject *names = kwargs_names(kwargs);
      if (names)
        PyErr_Format(PyExc_ValueError,
                     "[%s] Can't compute the gradient of keyword argument '%U' because the "
                     "function is called with the following keyword arguments %U",
                     tag, name, names);
      Py_XDECREF(names);
      return NULL;
    }
  }
  PyObject *result = NULL, *grads_list = NULL;
  mxpy_closure p = {0};
  int n_primals = 0, n_out = 0, rc;
  mx_array **primals = NULL, **grads = NULL, **outs = NULL;
  int *argnums = NULL;
  PyObject *leaves = grad_leaves(g, args, kwargs, tag);
  if (!leaves || !(primals = mxpy_nodes_from_list(leaves, &n_primals))) goto done;
  grads = PyMem_Calloc((size_t)n_primals + 1, sizeof(mx_array *));
  outs = PyMem_Calloc(MX_MAX_OUTPUTS, sizeof(mx_array *));
  argnums = PyMem_Calloc((size_t)n_primals + 1, sizeof(int));
  if (!grads || !outs || !argnums) {
    PyErr_NoMemory();
    goto done;
  }
  for (int i = 0; i < n_primals; i++) argnums[i] = i;
  p.fun = g->fun;
  p.args = args;
  p.kwargs = kwargs;
  p.pos = g->argnums;
  p.n_pos = g->n_argnums;
  p.kw_names = g->argnames;
  p.mode = g->value_and_grad ? MXPY_MODE_VALUE_AND_GRAD : MXPY_MODE_GRAD;
  p.tag = tag;
  mx_closure c = {mxpy_closure_call, &p};
  Py_BEGIN_ALLOW_THREADS
  rc = mx_value_and_grad(c, primals, n_primals, argnums, n_primals, outs, MX_MAX_OUTPUTS, &n_out,
                         grads);
  Py_END_ALLOW_THREADS
  if (rc < 0) {
    mxpy_closure_raise(&p);
    goto done;
  }
  grads_list = mxpy_list_from_nodes(grads, n_primals);
  PyObject *grads_obj = grads_list ? grad_structure(g, args, kwargs, grads_list) : NULL;
  if (!grads_obj) goto done;
  if (!g->value_and_grad) {
    result = grads_obj;
    goto done;
  }
  PyObject *values = mxpy_list_from_nodes(outs, n_out);
  Py_ssize_t index = 0;
  PyObject *value = values && p.value_out ? mxpy_tree_replace(p.value_out, values, &index) : NULL;
  Py_XDECREF(values);
  if (value) result = PyTuple_Pack(2, value, grads_obj);
  Py_XDECREF(value);
  Py_DECREF(grads_obj);
done:
  Py_XDECREF(leaves);
  Py_XDECREF(grads_list);
  mxpy_nodes_free(primals, n_primals);
  if (grads) release_all(grads, n_primals);
  if (outs) release_all(outs, n_out);
  PyMem_Free(grads);
  PyMem_Free(outs);
  PyMem_Free(argnums);
  mxpy_closure_clear(&p);
  return result;
}

static void gradfn_dealloc(PyObject *o) {
  mxpy_gradfn *g = (mxpy_gradfn *)o;
  PyObject_GC_UnTrack(o);
  if (g->weakrefs) PyObject_ClearWeakRefs(o);
  Py_CLEAR(g->fun);
  Py_CLEAR(g->argnames);
  PyMem_Free(g->argnums);
  PyObject_GC_Del(o);
}

static int gradfn_traverse(PyObject *o, visitproc visit, void *arg) {
  Py_VISIT(((mxpy_gradfn *)o)->fun);
  return 0;
}

static int gradfn_clear(PyObject *o) {
  Py_CLEAR(((mxpy_gradfn *)o)->fun);
  return 0;
}

static PyObject *gradfn_get_wrapped(PyObject *o, void *c) {
  mxpy_gradfn *g = (mxpy_gradfn *)o;
  return Py_NewRef(g->fun ? g->fun : Py_None);
}

static PyGetSetDef gradfn_getset[] = {
    {"__wrapped__", gradfn_get_wrapped, NULL, "The differentiated function.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject gradfn_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core._GradFunction",
    .tp_basicsize = sizeof(mxpy_gradfn),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A function computing gradients (made by mlx.core.grad / value_and_grad).",
    .tp_call = gradfn_call,
    .tp_dealloc = gradfn_dealloc,
    .tp_traverse = gradfn_traverse,
    .tp_clear = gradfn_clear,
    .tp_getset = gradfn_getset,
    .tp_weaklistoffset = offsetof(mxpy_gradfn, weakrefs),
};

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static PyObject *make_gradfn(PyObject *args, PyObject *kwds, int vag) {
  static char *kwlist[] = {"fun", "argnums", "argnames", NULL};
  const char *tag = vag ? "value_and_grad" : "grad";
  PyObject *fun, *argnums_o = Py_None, *argnames_o = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, vag ? "O|OO:value_and_grad" : "O|OO:grad", kwlist,
                                   &fun, &argnums_o, &argnames_o))
    return NULL;
  if (!PyCallable_Check(fun)) {
    PyErr_Format(PyExc_TypeError, "[%s] fun must be callable, got %s.", tag, Py_TYPE(fun)->tp_name);
    return NULL;
  }
  /* argnames: a str or a sequence of str */
  PyObject *names;
  if (argnames_o == NULL || argnames_o == Py_None) {
    names = PyTuple_New(0);
  } else if (PyUnicode_Check(argnames_o)) {
    names = PyTuple_Pack(1, argnames_o);
  } else {
    names = PySequence_Tuple(argnames_o);
    for (Py_ssize_t j = 0; names && j < PyTuple_GET_SIZE(names); j++) {
      if (!PyUnicode_Check(PyTuple_GET_ITEM(names, j))) {
        PyErr_Format(PyExc_TypeError, "[%s] argnames must be strings.", tag);
        Py_CLEAR(names);
      }
    }
  }
  if (!names) return NULL;
  int n = 0, *nums = NULL;
  if (argnums_o == Py_None) {
    if (PyTuple_GET_SIZE(names) == 0) {
      nums = PyMem_Malloc(sizeof(int));
      if (nums) nums[n++] = 0;
    } else {
      nums = PyMem_Malloc(sizeof(int));
    }
  } else if (PyLong_Check(argnums_o)) {
    nums = PyMem_Malloc(sizeof(int));
    if (nums) {
      nums[n++] = (int)PyLong_AsLong(argnums_o);
      if (nums[0] == -1 && PyErr_Occurred()) goto fail;
    }
  } else {
    PyObject *seq = PySequence_Fast(argnums_o, "argnums must be an int or a sequence of ints");
    if (!seq) goto fail;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
    nums = PyMem_Malloc(sizeof(int) * (size_t)(m > 0 ? m : 1));
    for (Py_ssize_t i = 0; nums && i < m; i++) {
      long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
      if (v == -1 && PyErr_Occurred()) {
        Py_DECREF(seq);
        goto fail;
      }
      nums[n++] = (int)v;
    }
    Py_DECREF(seq);
  }
  if (!nums) {
    PyErr_NoMemory();
    goto fail;
  }
  if (n == 0 && PyTuple_GET_SIZE(names) == 0) {
    PyErr_Format(PyExc_ValueError, "[%s] Gradient wrt no argument requested", tag);
    goto fail;
  }
  qsort(nums, (size_t)n, sizeof(int), cmp_int);
  if (n > 0 && nums[0] < 0) {
    PyErr_Format(PyExc_ValueError,
                 "[%s] Can't compute the gradient of negative argument index %d", tag, nums[0]);
    goto fail;
  }
  for (int i = 1; i < n; i++) {
    if (nums[i] == nums[i - 1]) {
      PyErr_Format(PyExc_ValueError, "[%s] Duplicate argument index %d is not allowed.", tag,
                   nums[i]);
      goto fail;
    }
  }
  mxpy_gradfn *g = PyObject_GC_New(mxpy_gradfn, &gradfn_type);
  if (!g) goto fail;
  g->fun = Py_NewRef(fun);
  g->argnums = nums;
  g->n_argnums = n;
  g->argnames = names;
  g->value_and_grad = vag;
  g->weakrefs = NULL;
  PyObject_GC_Track((PyObject *)g);
  return (PyObject *)g;
fail:
  PyMem_Free(nums);
  Py_DECREF(names);
  return NULL;
}

static PyObject *py_grad(PyObject *m, PyObject *args, PyObject *kwds) {
  return make_gradfn(args, kwds, 0);
}

static PyObject *py_value_and_grad(PyObject *m, PyObject *args, PyObject *kwds) {
  return make_gradfn(args, kwds, 1);
}

/* ------------------------------------------------------------------------------------ */
/* vjp / jvp                                                                             */

/* A list/tuple of arrays -> retained nodes (count in *n). */
static mx_array **array_list_of(PyObject *o, int *n, const char *tag, const char *what);

/* As MLX's binding: any other sequence (an array: its rows) is taken as its items. */
static mx_array **array_list(PyObject *o, int *n, const char *tag, const char *what) {
  if (!MXPY_IS_ARRAY(o) && (PyList_Check(o) || PyTuple_Check(o) || PyUnicode_Check(o) || PyBytes_Check(o) ||
                            PyDict_Check(o) || !PySequence_Check(o)))
    return array_list_of(o, n, tag, what);
  PyObject *t = PySequence_Tuple(o);
  if (!t) return NULL;
  mx_array **r = array_list_of(t, n, tag, what);
  Py_DECREF(t);
  return r;
}

static mx_array **array_list_of(PyObject *o, int *n, const char *tag, const char *what) {
  if (!PyList_Check(o) && !PyTuple_Check(o)) {
    PyErr_Format(PyExc_TypeError, "[%s] %s must be a list of arrays, got %s.", tag, what,
                 Py_TYPE(o)->tp_name);
    return NULL;
  }
  Py_ssize_t k = PySequence_Size(o);
  mx_array **nodes = PyMem_Calloc((size_t)(k > 0 ? k : 1), sizeof(mx_array *));
  if (!nodes) {
    PyErr_NoMemory();
    return NULL;
  }
  for (Py_ssize_t i = 0; i < k; i++) {
    PyObject *e = PyList_Check(o) ? PyList_GET_ITEM(o, i) : PyTuple_GET_ITEM(o, i);
    if (!MXPY_IS_ARRAY(e)) {
      PyErr_Format(PyExc_TypeError, "[%s] %s must be a list of arrays; element %zd is %s.", tag,
                   what, i, Py_TYPE(e)->tp_name);
      release_all(nodes, (int)i);
      PyMem_Free(nodes);
      return NULL;
    }
    if (!(nodes[i] = mxpy_array_node_retained(e))) {
      release_all(nodes, (int)i);
      PyMem_Free(nodes);
      return NULL;
    }
  }
  *n = (int)k;
  return nodes;
}

static PyObject *vjp_jvp(PyObject *args, PyObject *kwds, bool is_vjp) {
  static char *kwlist_vjp[] = {"fun", "primals", "cotangents", NULL};
  static char *kwlist_jvp[] = {"fun", "primals", "tangents", NULL};
  const char *tag = is_vjp ? "vjp" : "jvp";
  PyObject *fun, *prim_o, *tan_o;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, is_vjp ? "OOO:vjp" : "OOO:jvp",
                                   is_vjp ? kwlist_vjp : kwlist_jvp, &fun, &prim_o, &tan_o))
    return NULL;
  int n_p = 0, n_t = 0, n_out = 0, rc;
  PyObject *result = NULL, *call_args = NULL;
  mx_array **outs = NULL, **res = NULL, **tans = NULL;
  int *pos = NULL;
  mxpy_closure p = {0};
  mx_array **prims = array_list(prim_o, &n_p, tag, "primals");
  if (!prims) return NULL;
  tans = array_list(tan_o, &n_t, tag, is_vjp ? "cotangents" : "tangents");
  if (!tans) goto done;
  if (!is_vjp && n_t != n_p) {
    PyErr_SetString(PyExc_ValueError, "[jvp] Number of inputs does not match number of tangents.");
    goto done;
  }
  outs = PyMem_Calloc(MX_MAX_OUTPUTS, sizeof(mx_array *));
  /* vjp: one cotangent-weighted gradient per primal; jvp: one tangent per output */
  res = PyMem_Calloc(is_vjp ? (size_t)(n_p > 0 ? n_p : 1) : MX_MAX_OUTPUTS, sizeof(mx_array *));
  pos = PyMem_Calloc((size_t)(n_p > 0 ? n_p : 1), sizeof(int));
  call_args = PySequence_Tuple(prim_o);
  if (!outs || !res || !pos || !call_args) {
    if (!PyErr_Occurred()) PyErr_NoMemory();
    goto done;
  }
  for (int i = 0; i < n_p; i++) pos[i] = i;
  p.fun = fun;
  p.args = call_args;
  p.pos = pos;
  p.n_pos = n_p;
  p.mode = MXPY_MODE_LIST;
  p.tag = tag;
  mx_closure c = {mxpy_closure_call, &p};
  Py_BEGIN_ALLOW_THREADS
  if (is_vjp)
    rc = mx_vjp(c, prims, n_p, tans, n_t, outs, MX_MAX_OUTPUTS, &n_out, res);
  else
    rc = mx_jvp(c, prims, n_p, tans, outs, MX_MAX_OUTPUTS, &n_out, res);
  Py_END_ALLOW_THREADS
  if (rc < 0) {
    mxpy_closure_raise(&p);
    goto done;
  }
  PyObject *lo = mxpy_list_from_nodes(outs, n_out);
  PyObject *lr = lo ? mxpy_list_from_nodes(res, is_vjp ? n_p : n_out) : NULL;
  if (lo && lr) result = PyTuple_Pack(2, lo, lr);
  Py_XDECREF(lo);
  Py_XDECREF(lr);
done:
  release_all(prims, n_p);
  PyMem_Free(prims);
  if (tans) {
    release_all(tans, n_t);
    PyMem_Free(tans);
  }
  if (outs) release_all(outs, n_out);
  if (res) release_all(res, is_vjp ? n_p : n_out);
  PyMem_Free(outs);
  PyMem_Free(res);
  PyMem_Free(pos);
  Py_XDECREF(call_args);
  mxpy_closure_clear(&p);
  return result;
}

static PyObject *py_vjp(PyObject *m, PyObject *args, PyObject *kwds) {
  return vjp_jvp(args, kwds, true);
}

static PyObject *py_jvp(PyObject *m, PyObject *args, PyObject *kwds) {
  return vjp_jvp(args, kwds, false);
}

/* {class name: (has vjp, has jvp, has vmap)} for every primitive of the table (the harness
 * reports the missing rules). */
static PyObject *py_primitive_rules(PyObject *m, PyObject *unused) {
  PyObject *d = PyDict_New();
  for (int p = 0; d && p < MX_PRIM_COUNT; p++) {
    PyObject *t = Py_BuildValue("(OOO)", mx_prims[p].vjp ? Py_True : Py_False,
                                mx_prims[p].jvp ? Py_True : Py_False,
                                mx_prims[p].vmap ? Py_True : Py_False);
    if (!t || PyDict_SetItemString(d, mx_prim_name(p), t) < 0) Py_CLEAR(d);
    Py_XDECREF(t);
  }
  return d;
}

#define KW (METH_VARARGS | METH_KEYWORDS)
#define CF(f) ((PyCFunction)(void (*)(void))(f))
PyMethodDef mxpy_transforms_methods[] = {
    {"grad", CF(py_grad), KW,
     "grad(fun, argnums=None, argnames=[])\n--\n\n"
     "Returns a function which computes the gradient of fun."},
    {"value_and_grad", CF(py_value_and_grad), KW,
     "value_and_grad(fun, argnums=None, argnames=[])\n--\n\n"
     "Returns a function which computes the value and gradient of fun."},
    {"vjp", CF(py_vjp), KW,
     "vjp(fun, primals, cotangents)\n--\n\nCompute the vector-Jacobian product."},
    {"jvp", CF(py_jvp), KW,
     "jvp(fun, primals, tangents)\n--\n\nCompute the Jacobian-vector product."},
    {"_primitive_rules", py_primitive_rules, METH_NOARGS,
     "{primitive class: (has vjp, has jvp, has vmap)} (for the conformance harness)."},
    {NULL, NULL, 0, NULL},
};

int mxpy_transforms_init(PyObject *m) {
  if (PyType_Ready(&gradfn_type) < 0) return -1;
  if (mxpy_vmap_init(m) < 0 || mxpy_custom_init(m) < 0 || mxpy_compile_init(m) < 0 ||
      mxpy_export_init(m) < 0)
    return -1;
  return 0;
}
