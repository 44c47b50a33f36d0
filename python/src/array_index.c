/* array_index.c: basic indexing of mx.array: x[idx] and x[idx] = v with idx an int, a slice,
 * Ellipsis, None or a tuple of those (spec/semantics.md section 4). Gets are a slice plus a
 * reshape; sets are a slice_update whose value is weakly typed to x.dtype, cast and
 * broadcast, and rebind x's node. Array, list and boolean indices are not supported yet. */
#include "mxpy_internal.h"

typedef enum { IX_INT, IX_SLICE, IX_NONE, IX_ELLIPSIS } ix_kind;

typedef struct {
  ix_kind kind;
  PyObject *obj;  /* borrowed from the index tuple; NULL for expanded full slices */
  Py_ssize_t ival; /* IX_INT: the integer */
} ix_item;

typedef struct {
  int ndim;                /* source rank */
  int32_t *start, *stop, *strides; /* per source axis, for mx_slice / mx_slice_update */
  int32_t *sliced_shape;   /* per source axis: 1 for int axes, slice length otherwise */
  int32_t *out_shape;      /* shape of x[idx] */
  int out_ndim;
  bool identity;           /* every axis a full slice, no ints, no Nones */
  bool slice_needed;       /* an int axis or a slice that is not the full axis */
  bool need_reshape;       /* ints or Nones present */
  void *mem;
} ix_plan;

static void plan_free(ix_plan *p) { PyMem_Free(p->mem); }

/* Classifies one index entry; -1 + exception for unsupported ones. */
static int classify(PyObject *o, bool set, ix_item *it) {
  it->obj = o;
  if (o == Py_None) {
    it->kind = IX_NONE;
    return 0;
  }
  if (o == Py_Ellipsis) {
    it->kind = IX_ELLIPSIS;
    return 0;
  }
  if (PySlice_Check(o)) {
    it->kind = IX_SLICE;
    return 0;
  }
  if (PyBool_Check(o)) {
    if (set) PyErr_SetString(PyExc_NotImplementedError,
                             "[setitem] boolean mask assignment is not supported yet.");
    else PyErr_SetString(PyExc_ValueError, "boolean indices are not yet supported");
    return -1;
  }
  if (MXPY_IS_ARRAY(o) || PyList_Check(o)) {
    PyErr_Format(PyExc_NotImplementedError,
                 "[%s] Indexing with arrays or lists (gather/scatter) is not supported yet.",
                 set ? "setitem" : "getitem");
    return -1;
  }
  if (PyLong_Check(o) || PyIndex_Check(o)) {
    PyObject *i = PyNumber_Index(o);
    if (!i) {
      PyErr_Clear();
      goto bad;
    }
    it->ival = PyLong_AsSsize_t(i);
    Py_DECREF(i);
    if (it->ival == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      PyErr_SetString(PyExc_IndexError, "index out of range for an mlx array dimension");
      return -1;
    }
    it->kind = IX_INT;
    return 0;
  }
bad:
  PyErr_SetString(PyExc_ValueError, "Cannot index mlx array using the given type.");
  return -1;
}

static int parse_index(mx_array *a, PyObject *idx, bool set, ix_plan *p) {
  int nd = a->ndim;
  Py_ssize_t n_in = PyTuple_Check(idx) ? PyTuple_GET_SIZE(idx) : 1;
  size_t n_items_max = (size_t)n_in + (size_t)nd;
  /* one block: items, then 4 int32 arrays of nd and one of (n_in + nd) */
  size_t bytes = n_items_max * sizeof(ix_item) + sizeof(int32_t) * (4 * (size_t)nd + n_items_max);
  p->mem = PyMem_Malloc(bytes ? bytes : 1);
  if (!p->mem) {
    PyErr_NoMemory();
    return -1;
  }
  ix_item *raw = p->mem;
  int32_t *ints = (int32_t *)(raw + n_items_max);
  p->ndim = nd;
  p->start = ints;
  p->stop = ints + nd;
  p->strides = ints + 2 * nd;
  p->sliced_shape = ints + 3 * nd;
  p->out_shape = ints + 4 * nd;
  p->out_ndim = 0;
  p->slice_needed = false;
  p->need_reshape = false;

  /* classify and count */
  int n_real = 0, n_ellipsis = 0;
  for (Py_ssize_t i = 0; i < n_in; i++) {
    PyObject *o = PyTuple_Check(idx) ? PyTuple_GET_ITEM(idx, i) : idx;
    if (classify(o, set, &raw[i]) < 0) return -1;
    if (raw[i].kind == IX_ELLIPSIS) n_ellipsis++;
    if (raw[i].kind == IX_INT || raw[i].kind == IX_SLICE) n_real++;
  }
  if (n_ellipsis > 1) {
    PyErr_SetString(PyExc_ValueError, "An index can only have a single ellipsis (...)");
    return -1;
  }
  if (n_real > 0 && nd == 0) {
    PyErr_SetString(PyExc_ValueError, "too many indices for array: array is 0-dimensional");
    return -1;
  }
  if (n_real > nd) {
    PyErr_Format(PyExc_ValueError, "Too many indices for array with %d dimensions.", nd);
    return -1;
  }

  /* walk: expand the ellipsis (or the implicit trailing one) into full slices */
  int axis = 0, n_fill = nd - n_real;
  bool filled = false;
  for (Py_ssize_t i = 0; i <= n_in; i++) {
    bool at_end = i == n_in;
    if (at_end || raw[i].kind == IX_ELLIPSIS) {
      if (!filled) {
        for (int k = 0; k < n_fill; k++, axis++) {
          p->start[axis] = 0;
          p->stop[axis] = a->shape[axis];
          p->strides[axis] = 1;
          p->sliced_shape[axis] = a->shape[axis];
          p->out_shape[p->out_ndim++] = a->shape[axis];
        }
        filled = true;
      }
      continue;
    }
    ix_item *it = &raw[i];
    if (it->kind == IX_NONE) {
      p->out_shape[p->out_ndim++] = 1;
      p->need_reshape = true;
      continue;
    }
    Py_ssize_t dim = a->shape[axis];
    if (it->kind == IX_INT) {
      Py_ssize_t v = it->ival < 0 ? it->ival + dim : it->ival;
      if (v < 0 || v >= dim) {
        PyErr_Format(PyExc_IndexError, "index %zd is out of bounds for axis %d with size %zd",
                     it->ival, axis, dim);
        return -1;
      }
      p->start[axis] = (int32_t)v;
      p->stop[axis] = (int32_t)(v + 1);
      p->strides[axis] = 1;
      p->sliced_shape[axis] = 1;
      p->slice_needed = true;
      p->need_reshape = true;
    } else {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(it->obj, &start, &stop, &step) < 0) return -1;
      if (step == 0) {
        PyErr_SetString(PyExc_ValueError, "slice step cannot be zero");
        return -1;
      }
      if (step > INT32_MAX || step < -INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "[getitem] slice step must fit in int32");
        return -1;
      }
      Py_ssize_t len = PySlice_AdjustIndices(dim, &start, &stop, step);
      if (len == 0) {
        start = 0;
        stop = 0;
        step = 1;
      }
      p->start[axis] = (int32_t)start;
      p->stop[axis] = (int32_t)stop;
      p->strides[axis] = (int32_t)step;
      p->sliced_shape[axis] = (int32_t)len;
      p->out_shape[p->out_ndim++] = (int32_t)len;
      if (!(start == 0 && stop == dim && step == 1)) p->slice_needed = true;
    }
    axis++;
  }
  p->identity = !p->slice_needed && !p->need_reshape;
  return 0;
}

PyObject *mxpy_array_getitem(PyObject *self, PyObject *idx) {
  mx_array *a = mxpy_array_node_retained(self);
  if (!a) return NULL;
  ix_plan p = {0};
  mx_array *out = NULL;
  if (parse_index(a, idx, false, &p) < 0) goto fail;
  if (p.identity) {
    plan_free(&p);
    return mxpy_array_wrap(a); /* the same value; the retain moves into the new object */
  }
  mx_stream s = mx_stream_default();
  mx_array *sl = a;
  if (p.slice_needed) sl = mx_slice(a, p.start, p.stop, p.strides, s);
  else mx_array_retain(a);
  if (sl && p.need_reshape) {
    out = mx_reshape(sl, p.out_shape, p.out_ndim, s);
    mx_array_release(sl);
  } else {
    out = sl;
  }
  plan_free(&p);
  mx_array_release(a);
  return mxpy_array_wrap(out);
fail:
  plan_free(&p);
  mx_array_release(a);
  return NULL;
}

/* The update for x[idx] = value: weakly typed to x.dtype, cast, leading 1-dims dropped,
 * broadcast to x[idx].shape and reshaped to the sliced rank. New node or NULL + exception. */
static mx_array *prepare_update(PyObject *self, mx_array *a, PyObject *value, const ix_plan *p) {
  PyObject *objs[2] = {self, value};
  mx_array *arr[2];
  if (mxpy_to_weak_arrays(objs, 2, arr) < 0) return NULL;
  mx_array_release(arr[0]);
  mx_array *u = arr[1];
  mx_stream s = mx_stream_default();
  mx_array *t;
  if (u->dtype != a->dtype) {
    t = mx_astype(u, a->dtype, s);
    mx_array_release(u);
    if (!(u = t)) goto core_fail;
  }
  int lead = 0;
  while (lead < u->ndim && u->shape[lead] == 1) lead++;
  if (lead > 0) {
    t = mx_reshape(u, u->shape + lead, u->ndim - lead, s);
    mx_array_release(u);
    if (!(u = t)) goto core_fail;
  }
  t = mx_broadcast_to(u, p->out_shape, p->out_ndim, s);
  mx_array_release(u);
  if (!(u = t)) goto core_fail;
  if (p->identity) return u;
  if (p->need_reshape) {
    t = mx_reshape(u, p->sliced_shape, p->ndim, s);
    mx_array_release(u);
    if (!(u = t)) goto core_fail;
  }
  return u;
core_fail:
  mxpy_raise_or_runtime("setitem");
  return NULL;
}

int mxpy_array_setitem(PyObject *self, PyObject *idx, PyObject *value) {
  if (value == NULL) {
    PyErr_SetString(PyExc_TypeError, "'mlx.core.array' object does not support item deletion");
    return -1;
  }
  mx_array *a = mxpy_array_node_retained(self);
  if (!a) return -1;
  ix_plan p = {0};
  int rc = -1;
  if (parse_index(a, idx, true, &p) < 0) goto done;
  mx_array *u = prepare_update(self, a, value, &p);
  if (!u) goto done;
  mx_array *r;
  if (!p.slice_needed) {
    r = u; /* every element is replaced: the broadcast value is the new array */
  } else {
    r = mx_slice_update(a, u, p.start, p.stop, p.strides, mx_stream_default());
    mx_array_release(u);
    if (!r) {
      mxpy_raise_or_runtime("setitem");
      goto done;
    }
  }
  mxpy_array_rebind(self, r);
  rc = 0;
done:
  plan_free(&p);
  mx_array_release(a);
  return rc;
}
