/* array_index.c: x[idx], x[idx] = v and x.at[idx].<op>(v) for mx.array (spec/semantics.md
 * section 4), with NumPy's rules: ints, slices, None, Ellipsis, integer mx.arrays and lists
 * (advanced indices broadcast together; their dims go first when a slice or None separates
 * them, else where they stand), and boolean-mask assignment. Indices that only slice become
 * a strided slice (a view) or a slice_update; advanced ones a gather or a scatter on the
 * sliced region. Static Python ints are bounds-checked; array indices are not (the kernels
 * clamp gathers and drop out-of-range scatters). Setitem rebinds x's node. */
#include "mxpy_internal.h"

#include <string.h>

typedef enum { IX_INT, IX_SLICE, IX_NONE, IX_ELLIPSIS, IX_ARRAY } ix_kind;

typedef struct ix_item {
  ix_kind kind;
  int axis;                 /* source axis (INT, SLICE, ARRAY) */
  Py_ssize_t ival;          /* INT: the index, wrapped into [0, dim) */
  Py_ssize_t start, stop, step, len; /* SLICE, normalised */
  mx_array *arr;            /* ARRAY: owned */
} ix_item;

typedef struct ix_index {
  ix_item *items;           /* after ellipsis expansion */
  int n;
  int n_adv;                /* INT and ARRAY items when any ARRAY is present, else 0 */
  bool any_array;
  bool adjacent;            /* advanced items not separated by a slice or None */
  bool sliced;              /* some SLICE is not the full axis */
  mx_array *mask;           /* set: a boolean mask index (owned), items unused */
} ix_index;

enum { AT_SET = -2 }; /* the other kinds are MX_SCATTER_NONE or mx_reduce_kind */

static void ix_free(ix_index *ix) {
  for (int i = 0; i < ix->n; i++)
    if (ix->items[i].kind == IX_ARRAY) mx_array_release(ix->items[i].arr);
  PyMem_Free(ix->items);
  if (ix->mask) mx_array_release(ix->mask);
  memset(ix, 0, sizeof *ix);
}

static int bad_type(void) {
  PyErr_SetString(PyExc_ValueError, "Cannot index mlx array using the given type.");
  return -1;
}

/* Classifies one entry of the index. *mask_ok: a boolean array is accepted (as a mask) and
 * returned in it->arr with kind IX_ARRAY and *is_mask set. */
static int classify(PyObject *o, bool mask_ok, ix_item *it, bool *is_mask) {
  memset(it, 0, sizeof *it);
  *is_mask = false;
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
    if (!mask_ok) return bad_type();
    it->arr = mx_array_scalar_i64(o == Py_True, MX_BOOL);
    if (!it->arr) return mxpy_raise_int();
    it->kind = IX_ARRAY;
    *is_mask = true;
    return 0;
  }
  bool listlike = MXPY_IS_ARRAY(o) || PyList_Check(o);
  bool buffer = !listlike && !PyLong_Check(o) && PyObject_CheckBuffer(o);
  if (listlike || buffer) {
    mx_array *a;
    if (mxpy_to_array(o, &a) < 0) return -1;
    if (buffer && a->ndim > 0 && a->dtype != MX_BOOL) { /* NumPy arrays: rejected as MLX */
      mx_array_release(a);
      return bad_type();
    }
    if (buffer && a->ndim == 0 && mx_dtype_is_integer(a->dtype)) { /* NumPy integer scalar */
      mx_array_release(a);
      goto as_int;
    }
    if (a->dtype == MX_BOOL) {
      if (!mask_ok) {
        mx_array_release(a);
        if (buffer) return bad_type();
        PyErr_SetString(PyExc_ValueError, "boolean indices are not yet supported");
        return -1;
      }
      *is_mask = true;
    }
    it->kind = IX_ARRAY;
    it->arr = a;
    return 0;
  }
  if (!(PyLong_Check(o) || PyIndex_Check(o))) return bad_type();
as_int: {
  PyObject *i = PyNumber_Index(o);
  if (!i) {
    PyErr_Clear();
    return bad_type();
  }
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(i, &overflow);
  Py_DECREF(i);
  if (v == -1 && PyErr_Occurred()) return -1;
  it->ival = overflow ? (overflow > 0 ? PY_SSIZE_T_MAX : PY_SSIZE_T_MIN) : (Py_ssize_t)v;
  it->kind = IX_INT;
  return 0;
}
}

/* Parses idx against a's shape. set: a sole boolean index becomes ix->mask. */
static int parse_index(mx_array *a, PyObject *idx, bool set, ix_index *ix) {
  memset(ix, 0, sizeof *ix);
  int nd = a->ndim;
  bool tuple = PyTuple_Check(idx);
  Py_ssize_t n_in = tuple ? PyTuple_GET_SIZE(idx) : 1;
  size_t cap = (size_t)n_in + (size_t)nd + 1;
  ix_item *raw = PyMem_Calloc(cap, sizeof(ix_item));
  ix->items = PyMem_Calloc(cap, sizeof(ix_item));
  if (!raw || !ix->items) {
    PyMem_Free(raw);
    PyErr_NoMemory();
    return -1;
  }
  int n_raw = 0, n_real = 0, n_ellipsis = 0, rc = -1;
  for (Py_ssize_t i = 0; i < n_in; i++) {
    PyObject *o = tuple ? PyTuple_GET_ITEM(idx, i) : idx;
    if (tuple && PyTuple_Check(o)) {
      bad_type();
      goto done;
    }
    bool is_mask;
    if (classify(o, set && !tuple, &raw[n_raw], &is_mask) < 0) goto done;
    n_raw++;
    if (is_mask) { /* a sole boolean index (only reachable when !tuple) */
      ix->mask = raw[0].arr;
      raw[0].arr = NULL;
      raw[0].kind = IX_NONE;
      rc = 0;
      goto done;
    }
    if (raw[i].kind == IX_ELLIPSIS) n_ellipsis++;
    if (raw[i].kind == IX_INT || raw[i].kind == IX_SLICE || raw[i].kind == IX_ARRAY) n_real++;
  }
  if (n_ellipsis > 1) {
    PyErr_SetString(PyExc_ValueError, "An index can only have a single ellipsis (...)");
    goto done;
  }
  if (n_real > 0 && nd == 0) {
    PyErr_SetString(PyExc_ValueError, "too many indices for array: array is 0-dimensional");
    goto done;
  }
  if (n_real > nd) {
    PyErr_Format(PyExc_ValueError, "Too many indices for array with %d dimensions.", nd);
    goto done;
  }
  /* expand the ellipsis (or the implicit trailing one) into full slices */
  int axis = 0, n_fill = nd - n_real, first_adv = -1, last_adv = -1;
  bool filled = false;
  for (int i = 0; i <= n_raw; i++) {
    if (i == n_raw || raw[i].kind == IX_ELLIPSIS) {
      if (!filled)
        for (int k = 0; k < n_fill; k++, axis++) {
          ix_item *it = &ix->items[ix->n++];
          it->kind = IX_SLICE;
          it->axis = axis;
          it->start = 0;
          it->stop = it->len = a->shape[axis];
          it->step = 1;
        }
      filled = true;
      continue;
    }
    ix_item *it = &ix->items[ix->n++];
    *it = raw[i];
    raw[i].arr = NULL; /* moved */
    if (it->kind == IX_NONE) continue;
    it->axis = axis;
    Py_ssize_t dim = a->shape[axis];
    if (it->kind == IX_INT) {
      Py_ssize_t v = it->ival < 0 ? it->ival + dim : it->ival;
      if (v < 0 || v >= dim) {
        PyErr_Format(PyExc_IndexError, "index %zd is out of bounds for axis %d with size %zd",
                     it->ival, axis, dim);
        goto done;
      }
      it->ival = v;
    } else if (it->kind == IX_SLICE) {
      PyObject *sl = tuple ? PyTuple_GET_ITEM(idx, i) : idx;
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(sl, &start, &stop, &step) < 0) goto done;
      if (step == 0) {
        PyErr_SetString(PyExc_ValueError, "slice step cannot be zero");
        goto done;
      }
      if (step > INT32_MAX || step < -INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "[getitem] slice step must fit in int32");
        goto done;
      }
      Py_ssize_t len = PySlice_AdjustIndices(dim, &start, &stop, step);
      if (len == 0) {
        start = stop = 0;
        step = 1;
      }
      it->start = start;
      it->stop = stop;
      it->step = step;
      it->len = len;
      if (!(start == 0 && stop == dim && step == 1)) ix->sliced = true;
    } else {
      ix->any_array = true;
    }
    axis++;
  }
  /* advanced items: arrays, and ints once an array is present. As NumPy, they stay in place
   * only when no slice, None or Ellipsis (even one standing for no axes) separates them. */
  if (ix->any_array)
    for (int i = 0; i < n_raw; i++)
      if (raw[i].kind == IX_INT || raw[i].kind == IX_ARRAY) {
        ix->n_adv++;
        if (first_adv < 0) first_adv = i;
        last_adv = i;
      }
  ix->adjacent = ix->n_adv > 0 && last_adv - first_adv + 1 == ix->n_adv;
  rc = 0;
done:
  for (int i = 0; i < n_raw; i++)
    if (raw[i].arr) mx_array_release(raw[i].arr);
  PyMem_Free(raw);
  return rc;
}

/* ---- the basic part: one strided slice per source axis ---- */

typedef struct basic_plan {
  int32_t *start, *stop, *strides; /* per source axis */
  int32_t *sliced;                 /* shape after the slice (ints keep a size-1 dim) */
  int32_t *out;                    /* shape of x[idx] without advanced indices */
  int out_ndim;
  bool need_slice, need_reshape;
  void *mem;
} basic_plan;

/* adv_full: advanced axes (INT/ARRAY with any_array) keep their whole extent. */
static int basic_plan_make(mx_array *a, const ix_index *ix, basic_plan *p) {
  int nd = a->ndim;
  p->mem = PyMem_Malloc(sizeof(int32_t) * ((size_t)5 * nd + (size_t)ix->n + 1));
  if (!p->mem) {
    PyErr_NoMemory();
    return -1;
  }
  int32_t *b = p->mem;
  p->start = b;
  p->stop = b + nd;
  p->strides = b + 2 * nd;
  p->sliced = b + 3 * nd;
  p->out = b + 4 * nd;
  p->out_ndim = 0;
  p->need_slice = false;
  p->need_reshape = false;
  for (int i = 0; i < ix->n; i++) {
    const ix_item *it = &ix->items[i];
    int d = it->axis;
    switch (it->kind) {
    case IX_NONE:
      p->out[p->out_ndim++] = 1;
      p->need_reshape = true;
      break;
    case IX_SLICE:
      p->start[d] = (int32_t)it->start;
      p->stop[d] = (int32_t)it->stop;
      p->strides[d] = (int32_t)it->step;
      p->sliced[d] = (int32_t)it->len;
      p->out[p->out_ndim++] = (int32_t)it->len;
      if (!(it->start == 0 && it->stop == a->shape[d] && it->step == 1)) p->need_slice = true;
      break;
    case IX_INT:
      if (!ix->any_array) {
        p->start[d] = (int32_t)it->ival;
        p->stop[d] = (int32_t)it->ival + 1;
        p->strides[d] = 1;
        p->sliced[d] = 1;
        p->need_slice = p->need_reshape = true;
        break;
      }
      __attribute__((fallthrough)); /* an advanced index keeps the whole axis */
    default:
      p->start[d] = 0;
      p->stop[d] = a->shape[d];
      p->strides[d] = 1;
      p->sliced[d] = a->shape[d];
      break;
    }
  }
  return 0;
}

/* ---- the advanced part: index arrays, their broadcast shape, the output layout ---- */

typedef struct adv_plan {
  mx_array **idx;           /* n_idx index arrays (owned) */
  int n_idx;
  int *axes;                /* their source axes */
  int32_t *ishape;          /* broadcast index shape */
  int irank;
  int32_t *window;          /* per source axis: sliced extent, 1 on advanced axes */
  int32_t *gshape;          /* gather result with the advanced axes dropped: I + rest */
  int grank;
  int *perm;                /* gshape -> output order before the None dims */
  bool permute;
  int32_t *out;             /* shape of x[idx] */
  int out_ndim;
  void *mem;
} adv_plan;

static void adv_free(adv_plan *p) {
  for (int i = 0; i < p->n_idx; i++) mx_array_release(p->idx[i]);
  PyMem_Free(p->mem);
}

static int adv_plan_make(mx_array *a, const ix_index *ix, const basic_plan *bp, adv_plan *p) {
  int nd = a->ndim, m = ix->n_adv;
  memset(p, 0, sizeof *p);
  int maxr = 0;
  for (int i = 0; i < ix->n; i++)
    if (ix->items[i].kind == IX_ARRAY && ix->items[i].arr->ndim > maxr)
      maxr = ix->items[i].arr->ndim;
  size_t ints = (size_t)m + 4u * (size_t)(maxr + nd) + (size_t)ix->n + 4;
  p->mem = PyMem_Calloc(1, sizeof(mx_array *) * (size_t)(m + 1) + sizeof(int32_t) * ints);
  if (!p->mem) {
    PyErr_NoMemory();
    return -1;
  }
  p->idx = p->mem;
  p->axes = (int *)(p->idx + m + 1);
  p->ishape = (int32_t *)(p->axes + m);
  p->window = p->ishape + maxr;
  p->gshape = p->window + nd;
  p->perm = (int *)(p->gshape + maxr + nd);
  p->out = (int32_t *)(p->perm + maxr + nd);
  int k = 0;
  for (int i = 0; i < ix->n; i++) {
    const ix_item *it = &ix->items[i];
    if (it->kind == IX_INT && ix->any_array) {
      p->idx[k] = mx_array_scalar_i64(it->ival, MX_INT64);
    } else if (it->kind == IX_ARRAY) {
      mx_array_retain(it->arr);
      p->idx[k] = it->arr;
    } else {
      continue;
    }
    if (!p->idx[k]) return mxpy_raise_int();
    p->n_idx++;
    p->axes[k++] = it->axis;
  }
  /* broadcast shape of the index arrays */
  int32_t tmp[64];
  int32_t *t = maxr + 1 <= 64 ? tmp : PyMem_Malloc(sizeof(int32_t) * (size_t)(maxr + 1));
  if (!t) {
    PyErr_NoMemory();
    return -1;
  }
  p->irank = 0;
  for (int j = 0; j < m; j++) {
    int r = mx_broadcast_shapes("getitem", p->irank, p->ishape, p->idx[j]->ndim, p->idx[j]->shape, t);
    if (r < 0) {
      if (t != tmp) PyMem_Free(t);
      return mxpy_raise_int();
    }
    memcpy(p->ishape, t, sizeof(int32_t) * (size_t)r);
    p->irank = r;
  }
  if (t != tmp) PyMem_Free(t);
  for (int j = 0; j < m; j++)
    if (!mx_dtype_is_integer(p->idx[j]->dtype)) {
      PyErr_SetString(PyExc_ValueError,
                      "[gather] Got indices with invalid dtype. Indices must be integral.");
      return -1;
    }
  int64_t isize = 1;
  for (int d = 0; d < p->irank; d++) isize *= p->ishape[d];
  /* windows and the gathered shape I + rest */
  int r = p->irank;
  memcpy(p->gshape, p->ishape, sizeof(int32_t) * (size_t)r);
  p->grank = r;
  for (int d = 0; d < nd; d++) {
    bool adv = false;
    for (int j = 0; j < m; j++) adv |= p->axes[j] == d;
    if (adv) {
      if (bp->sliced[d] == 0 && isize > 0) {
        PyErr_Format(PyExc_IndexError, "index 0 is out of bounds for axis %d with size 0", d);
        return -1;
      }
      p->window[d] = bp->sliced[d] > 0 ? 1 : 0;
    } else {
      p->window[d] = bp->sliced[d];
      p->gshape[p->grank++] = bp->sliced[d];
    }
  }
  /* output layout: walk the items; SLICE dims of rest are taken in order */
  int pre = 0; /* slices before the advanced block (adjacent case) */
  bool seen_adv = false;
  for (int i = 0; i < ix->n; i++) {
    ix_kind kd = ix->items[i].kind;
    if (kd == IX_SLICE && !seen_adv) pre++;
    if (kd == IX_INT || kd == IX_ARRAY) seen_adv = true;
  }
  int q = p->grank - r, o = 0;
  if (ix->adjacent) {
    for (int d = 0; d < pre; d++) p->perm[o++] = r + d;
    for (int d = 0; d < r; d++) p->perm[o++] = d;
    for (int d = pre; d < q; d++) p->perm[o++] = r + d;
    p->permute = pre > 0 && r > 0;
  } else {
    for (int d = 0; d < p->grank; d++) p->perm[d] = d;
  }
  /* x[idx]'s shape: None dims inserted among the (permuted) dims */
  int si = 0; /* next slice dim of rest */
  p->out_ndim = 0;
  if (!ix->adjacent)
    for (int d = 0; d < r; d++) p->out[p->out_ndim++] = p->ishape[d];
  bool placed = false;
  for (int i = 0; i < ix->n; i++) {
    ix_kind kd = ix->items[i].kind;
    if (kd == IX_NONE) {
      p->out[p->out_ndim++] = 1;
    } else if (kd == IX_SLICE) {
      p->out[p->out_ndim++] = p->gshape[r + si++];
    } else if (ix->adjacent && !placed) {
      for (int d = 0; d < r; d++) p->out[p->out_ndim++] = p->ishape[d];
      placed = true;
    }
  }
  return 0;
}

/* ---- getitem ---- */

static mx_array *get_basic(mx_array *a, const basic_plan *bp, mx_stream s) {
  mx_array *sl = bp->need_slice ? mx_slice(a, bp->start, bp->stop, bp->strides, s) : NULL;
  if (!bp->need_slice) mx_array_retain(a), sl = a;
  if (!sl || !bp->need_reshape) return sl;
  mx_array *r = mx_reshape(sl, bp->out, bp->out_ndim, s);
  mx_array_release(sl);
  return r;
}

static mx_array *get_advanced(mx_array *a, const ix_index *ix, const basic_plan *bp, mx_stream s) {
  adv_plan ap;
  if (adv_plan_make(a, ix, bp, &ap) < 0) {
    adv_free(&ap);
    return NULL;
  }
  mx_array *r = NULL;
  size_t mark = mx_scope_begin();
  mx_array *src = bp->need_slice ? mx_slice(a, bp->start, bp->stop, bp->strides, s) : a;
  mx_array *g = mx_gather(src, ap.idx, ix->n_adv, ap.axes, ix->n_adv, ap.window, a->ndim, s);
  g = mx_reshape(g, ap.gshape, ap.grank, s);
  if (ap.permute) g = mx_transpose(g, ap.perm, ap.grank, s);
  g = mx_reshape(g, ap.out, ap.out_ndim, s);
  r = mx_keep(g);
  mx_scope_end(mark);
  adv_free(&ap);
  if (!r) mxpy_raise_or_runtime("getitem");
  return r;
}

PyObject *mxpy_array_getitem(PyObject *self, PyObject *idx) {
  mx_array *a = mxpy_array_node_retained(self);
  if (!a) return NULL;
  ix_index ix;
  basic_plan bp = {0};
  mx_array *out = NULL;
  if (parse_index(a, idx, false, &ix) < 0 || basic_plan_make(a, &ix, &bp) < 0) goto fail;
  mx_stream s = mx_stream_default();
  if (ix.any_array) {
    out = get_advanced(a, &ix, &bp, s);
    if (!out) goto fail;
  } else {
    out = get_basic(a, &bp, s);
    if (!out) {
      mxpy_raise_or_runtime("getitem");
      goto fail;
    }
  }
  PyMem_Free(bp.mem);
  ix_free(&ix);
  mx_array_release(a);
  return mxpy_array_wrap(out);
fail:
  PyMem_Free(bp.mem);
  ix_free(&ix);
  mx_array_release(a);
  return NULL;
}

/* ---- setitem and .at ---- */

/* value weakly typed to a's dtype and cast; new reference or NULL + exception. */
static mx_array *value_array(PyObject *self, mx_array *a, PyObject *value) {
  PyObject *objs[2] = {self, value};
  mx_array *arr[2];
  if (mxpy_to_weak_arrays(objs, 2, arr) < 0) return NULL;
  mx_array_release(arr[0]);
  mx_array *u = arr[1];
  if (u->dtype != a->dtype) {
    mx_array *t = mx_astype(u, a->dtype, mx_stream_default());
    mx_array_release(u);
    u = t;
    if (!u) mxpy_raise_or_runtime("setitem");
  }
  return u;
}

/* Leading size-1 dims of v dropped (scope-owned result). */
static mx_array *strip_leading_ones(mx_array *v, mx_stream s) {
  int lead = 0;
  while (v && lead < v->ndim && v->shape[lead] == 1) lead++;
  return lead ? mx_reshape(v, v->shape + lead, v->ndim - lead, s) : v;
}

/* Combines region r with update u (same shape) for the .at kinds. */
static mx_array *combine(int kind, mx_array *r, mx_array *u, mx_stream s) {
  switch (kind) {
  case MX_REDUCE_SUM: return mx_add(r, u, s);
  case MX_REDUCE_PROD: return mx_multiply(r, u, s);
  case MX_REDUCE_MAX: return mx_maximum(r, u, s);
  case MX_REDUCE_MIN: return mx_minimum(r, u, s);
  default: return u;
  }
}

/* x[mask] = v: MLX's rules for the value's shape (spec/semantics.md section 4). */
static mx_array *set_masked(mx_array *a, mx_array *mask, mx_array *v, mx_stream s) {
  int nd = a->ndim, mn = mask->ndim;
  char sm[256], sa[256];
  if (mn > nd) {
    PyErr_SetString(PyExc_ValueError,
                    "[masked_scatter] The mask cannot have more dimensions than the target.");
    return NULL;
  }
  bool lead_ok = true;
  for (int d = 0; d < mn; d++) lead_ok &= mask->shape[d] == a->shape[d];
  if (!lead_ok) {
    int l = snprintf(sm, sizeof sm, "(");
    for (int d = 0; d < mn && l < 200; d++) l += snprintf(sm + l, sizeof sm - (size_t)l, d ? ",%d" : "%d", mask->shape[d]);
    snprintf(sm + l, sizeof sm - (size_t)l, ")");
    l = snprintf(sa, sizeof sa, "(");
    for (int d = 0; d < nd && l < 200; d++) l += snprintf(sa + l, sizeof sa - (size_t)l, d ? ",%d" : "%d", a->shape[d]);
    snprintf(sa + l, sizeof sa - (size_t)l, ")");
    PyErr_Format(PyExc_ValueError,
                 "[masked_scatter] The boolean mask should have the same shape as the beginning "
                 "of the indexed array but the mask has shape %s and the array has shape %s",
                 sm, sa);
    return NULL;
  }
  int t = nd - mn;
  if (v->ndim > t + 1) {
    PyErr_Format(PyExc_ValueError,
                 "[masked_scatter] Value array shape must be broadcastable with the last %d "
                 "dimensions of the input.",
                 t);
    return NULL;
  }
  int32_t *shape = PyMem_Malloc(sizeof(int32_t) * (size_t)(nd + 2));
  if (!shape) {
    PyErr_NoMemory();
    return NULL;
  }
  size_t mark = mx_scope_begin();
  /* the source: rows of a's trailing shape, as many as the value has (or one per mask entry) */
  shape[0] = v->ndim == t + 1 ? v->shape[0] : (int32_t)mask->size;
  memcpy(shape + 1, a->shape + mn, sizeof(int32_t) * (size_t)t);
  mx_array *src = mx_broadcast_to(v, shape, t + 1, s);
  memcpy(shape, mask->shape, sizeof(int32_t) * (size_t)mn);
  for (int d = mn; d < nd; d++) shape[d] = 1;
  mx_array *r = mx_keep(mx_masked_scatter(a, mx_reshape(mask, shape, nd, s), src, s));
  mx_scope_end(mark);
  PyMem_Free(shape);
  if (!r) mxpy_raise_or_runtime("setitem");
  return r;
}

/* Basic (slice-only) update: kind AT_SET assigns, else combines. */
static mx_array *set_basic(mx_array *a, const basic_plan *bp, mx_array *v, int kind, mx_stream s) {
  size_t mark = mx_scope_begin();
  mx_array *u = mx_broadcast_to(strip_leading_ones(v, s), bp->out, bp->out_ndim, s);
  mx_array *r = NULL;
  if (u && !bp->need_slice) { /* every element is replaced or combined */
    u = mx_reshape(u, a->shape, a->ndim, s);
    r = kind == AT_SET ? u : combine(kind, a, u, s);
  } else if (u) {
    u = mx_reshape(u, bp->sliced, a->ndim, s);
    switch (kind) {
    case MX_REDUCE_SUM: r = mx_slice_update_add(a, u, bp->start, bp->stop, bp->strides, s); break;
    case MX_REDUCE_PROD: r = mx_slice_update_prod(a, u, bp->start, bp->stop, bp->strides, s); break;
    case MX_REDUCE_MAX: r = mx_slice_update_max(a, u, bp->start, bp->stop, bp->strides, s); break;
    case MX_REDUCE_MIN: r = mx_slice_update_min(a, u, bp->start, bp->stop, bp->strides, s); break;
    default: r = mx_slice_update(a, u, bp->start, bp->stop, bp->strides, s);
    }
  }
  r = mx_keep(r);
  mx_scope_end(mark);
  if (!r) mxpy_raise_or_runtime("setitem");
  return r;
}

/* Advanced update: a scatter of the value (laid out as x[idx]) into the sliced region. */
static mx_array *set_advanced(mx_array *a, const ix_index *ix, const basic_plan *bp, mx_array *v,
                              int kind, mx_stream s) {
  adv_plan ap;
  if (adv_plan_make(a, ix, bp, &ap) < 0) {
    adv_free(&ap);
    return NULL;
  }
  int nd = a->ndim, r = ap.irank, m = ix->n_adv;
  for (int j = 0; j < m; j++) /* MLX's scatter: a window of 1 along an empty indexed axis */
    if (bp->sliced[ap.axes[j]] == 0) {
      char us[256], as[256];
      int len = snprintf(us, sizeof us, "(");
      for (int d = 0; d < r + nd && len < (int)sizeof us; d++) {
        bool adv = false;
        for (int k = 0; d >= r && k < m; k++) adv |= ap.axes[k] == d - r;
        int v = d < r ? ap.ishape[d] : adv ? 1 : bp->sliced[d - r];
        len += snprintf(us + len, sizeof us - (size_t)len, d ? ",%d" : "%d", v);
      }
      if (len < (int)sizeof us) snprintf(us + len, sizeof us - (size_t)len, ")");
      len = snprintf(as, sizeof as, "(");
      for (int d = 0; d < nd && len < (int)sizeof as; d++)
        len += snprintf(as + len, sizeof as - (size_t)len, d ? ",%d" : "%d", bp->sliced[d]);
      if (len < (int)sizeof as) snprintf(as + len, sizeof as - (size_t)len, ")");
      adv_free(&ap);
      PyErr_Format(PyExc_ValueError, "[scatter] Updates with shape %s are too large for array with shape %s.", us, as);
      return NULL;
    }
  int32_t *ushape = PyMem_Malloc(sizeof(int32_t) * (size_t)(r + nd + ap.grank + 1));
  int *inv = PyMem_Malloc(sizeof(int) * (size_t)(ap.grank + 1));
  if (!ushape || !inv) {
    PyMem_Free(ushape);
    PyMem_Free(inv);
    adv_free(&ap);
    PyErr_NoMemory();
    return NULL;
  }
  size_t mark = mx_scope_begin();
  /* the value as x[idx], then in gather order I + rest, then I + window */
  mx_array *u = mx_broadcast_to(strip_leading_ones(v, s), ap.out, ap.out_ndim, s);
  int32_t *pshape = ushape + r + nd;
  for (int d = 0; d < ap.grank; d++) pshape[d] = ap.gshape[ap.perm[d]];
  u = mx_reshape(u, pshape, ap.grank, s);
  if (ap.permute) {
    for (int d = 0; d < ap.grank; d++) inv[ap.perm[d]] = d;
    u = mx_transpose(u, inv, ap.grank, s);
  }
  memcpy(ushape, ap.ishape, sizeof(int32_t) * (size_t)r);
  memcpy(ushape + r, ap.window, sizeof(int32_t) * (size_t)nd);
  u = mx_reshape(u, ushape, r + nd, s);
  int reduce = kind == AT_SET ? MX_SCATTER_NONE : kind;
  mx_array *region = bp->need_slice ? mx_slice(a, bp->start, bp->stop, bp->strides, s) : a;
  mx_array *res = mx_scatter_reduce(reduce, region, ap.idx, m, u, ap.axes, m, s);
  if (bp->need_slice) res = mx_slice_update(a, res, bp->start, bp->stop, bp->strides, s);
  mx_array *out = mx_keep(res);
  mx_scope_end(mark);
  PyMem_Free(ushape);
  PyMem_Free(inv);
  adv_free(&ap);
  if (!out) mxpy_raise_or_runtime("setitem");
  return out;
}

/* The new value of self after self[idx] (op)= value; kind AT_SET or an .at kind.
 * New reference or NULL + exception. */
static mx_array *apply_update(PyObject *self, PyObject *idx, PyObject *value, int kind,
                              bool negate, bool reciprocal) {
  mx_array *a = mxpy_array_node_retained(self);
  if (!a) return NULL;
  ix_index ix;
  basic_plan bp = {0};
  mx_array *v = NULL, *r = NULL;
  if (parse_index(a, idx, kind == AT_SET, &ix) < 0) goto done;
  if (!(v = value_array(self, a, value))) goto done;
  mx_stream s = mx_stream_default();
  if (negate || reciprocal) { /* MLX: subtract adds -v; divide multiplies by 1/v in a's dtype */
    size_t mark = mx_scope_begin();
    mx_array *one = mx_scope_adopt(mx_array_scalar_f64(1.0, v->dtype));
    mx_array *t = mx_keep(negate ? mx_negative(v, s) : mx_astype(mx_divide(one, v, s), a->dtype, s));
    mx_scope_end(mark);
    mx_array_release(v);
    if (!(v = t)) {
      mxpy_raise_or_runtime("at");
      goto done;
    }
  }
  if (ix.mask) {
    r = set_masked(a, ix.mask, v, s);
    goto done;
  }
  if (basic_plan_make(a, &ix, &bp) < 0) goto done;
  r = ix.any_array ? set_advanced(a, &ix, &bp, v, kind, s) : set_basic(a, &bp, v, kind, s);
done:
  PyMem_Free(bp.mem);
  ix_free(&ix);
  if (v) mx_array_release(v);
  mx_array_release(a);
  return r;
}

int mxpy_array_setitem(PyObject *self, PyObject *idx, PyObject *value) {
  if (value == NULL) {
    PyErr_SetString(PyExc_TypeError, "'mlx.core.array' object does not support item deletion");
    return -1;
  }
  mx_array *r = apply_update(self, idx, value, AT_SET, false, false);
  if (!r) return -1;
  mxpy_array_rebind(self, r);
  return 0;
}

/* ---- ArrayAt: x.at[idx].add(v) and friends ---- */

typedef struct mxpy_array_at {
  PyObject_HEAD
  PyObject *array;
  PyObject *index;          /* NULL until x.at[idx] */
} mxpy_array_at;

static PyTypeObject array_at_type;

PyObject *mxpy_array_get_at(PyObject *self, void *closure) {
  (void)closure;
  mxpy_array_at *at = PyObject_New(mxpy_array_at, &array_at_type);
  if (!at) return NULL;
  Py_INCREF(self);
  at->array = self;
  at->index = NULL;
  return (PyObject *)at;
}

static void array_at_dealloc(PyObject *o) {
  mxpy_array_at *at = (mxpy_array_at *)o;
  Py_XDECREF(at->array);
  Py_XDECREF(at->index);
  PyObject_Free(o);
}

static PyObject *array_at_getitem(PyObject *o, PyObject *idx) {
  mxpy_array_at *at = (mxpy_array_at *)o;
  Py_INCREF(idx);
  Py_XSETREF(at->index, idx);
  Py_INCREF(o);
  return o;
}

static PyObject *at_apply(PyObject *o, PyObject *args, PyObject *kwds, const char *name, int kind,
                          bool negate, bool reciprocal) {
  static char *kwlist[] = {"value", NULL};
  char fmt[32];
  snprintf(fmt, sizeof fmt, "O:%s", name);
  PyObject *value;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &value)) return NULL;
  mxpy_array_at *at = (mxpy_array_at *)o;
  if (!at->index) {
    PyErr_SetString(PyExc_ValueError, "[at] Indices not set: use x.at[idx].op(value).");
    return NULL;
  }
  mx_array *a = mxpy_array_node(at->array);
  if (!a) return NULL;
  mx_array *r = apply_update(at->array, at->index, value, kind, negate, reciprocal);
  return r ? mxpy_array_wrap(r) : NULL;
}

#define AT_METHOD(name, kind, neg, rec)                                        \
  static PyObject *at_##name(PyObject *o, PyObject *args, PyObject *kwds) {    \
    return at_apply(o, args, kwds, #name, kind, neg, rec);                     \
  }
AT_METHOD(add, MX_REDUCE_SUM, false, false)
AT_METHOD(subtract, MX_REDUCE_SUM, true, false)
AT_METHOD(multiply, MX_REDUCE_PROD, false, false)
AT_METHOD(divide, MX_REDUCE_PROD, false, true)
AT_METHOD(maximum, MX_REDUCE_MAX, false, false)
AT_METHOD(minimum, MX_REDUCE_MIN, false, false)

#define AT_DEF(name, doc) \
  {#name, (PyCFunction)(void (*)(void))at_##name, METH_VARARGS | METH_KEYWORDS, doc}
static PyMethodDef array_at_methods[] = {
    AT_DEF(add, "add(self, value)\n--\n\nAdd value at the indices; repeated indices accumulate."),
    AT_DEF(subtract, "subtract(self, value)\n--\n\nSubtract value at the indices (accumulating)."),
    AT_DEF(multiply, "multiply(self, value)\n--\n\nMultiply by value at the indices (accumulating)."),
    AT_DEF(divide, "divide(self, value)\n--\n\nDivide by value at the indices (accumulating)."),
    AT_DEF(maximum, "maximum(self, value)\n--\n\nMaximum with value at the indices."),
    AT_DEF(minimum, "minimum(self, value)\n--\n\nMinimum with value at the indices."),
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods array_at_mapping = {.mp_subscript = array_at_getitem};

static PyTypeObject array_at_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mlx.core.ArrayAt",
    .tp_basicsize = sizeof(mxpy_array_at),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A helper object to apply updates at specific indices (x.at[idx].add(y)).",
    .tp_dealloc = array_at_dealloc,
    .tp_as_mapping = &array_at_mapping,
    .tp_methods = array_at_methods,
};

int mxpy_index_init(PyObject *m) {
  if (PyType_Ready(&array_at_type) < 0 || mxpy_searchsorted_init(m) < 0) return -1;
  return PyModule_AddObjectRef(m, "ArrayAt", (PyObject *)&array_at_type);
}
