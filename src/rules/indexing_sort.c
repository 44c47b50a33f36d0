/* indexing_sort.c: vjp/jvp/vmap rules of the gather/scatter, dynamic slice, masked scatter
 * and sorting primitives (DESIGN section 7), written with ops so they differentiate again.
 * Index inputs get no gradient: asking for one raises, as MLX. Registered from the
 * section E block of rules/common.c. */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

#include "../core/param_enums.h"

/* Batch size of the first mapped input. */
static int batch_size(mx_array *const *in, const int *axes, int n) {
  for (int i = 0; i < n; i++)
    if (axes[i] >= 0) return in[i]->shape[axes[i]];
  return 1;
}

/* x with its batch axis at 0; an unmapped x gets a leading axis of size B (broadcast). */
static mx_array *batched(mx_array *x, int axis, int B, mx_stream s) {
  if (axis >= 0) return mx_rule_to_front(x, axis, s);
  int32_t *shape = malloc((size_t)(x->ndim + 1) * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[vmap] out of memory.");
  shape[0] = B;
  memcpy(shape + 1, x->shape, (size_t)x->ndim * sizeof(int32_t));
  mx_array *r = mx_broadcast_to(mx_expand_dims(x, 0, s), shape, x->ndim + 1, s);
  free(shape);
  return r;
}

/* x with its batch axis at 0, or a leading axis of size 1 when unmapped. */
static mx_array *front_or_1(mx_array *x, int axis, mx_stream s) {
  return axis >= 0 ? mx_rule_to_front(x, axis, s) : mx_expand_dims(x, 0, s);
}

/* Inserts a size-1 dim at position pos. */
static mx_array *insert_one(mx_array *x, int pos, mx_stream s) {
  return mx_expand_dims(x, pos, s);
}

/* Removes the (size-1) dim at position pos. */
static mx_array *drop_dim(mx_array *x, int pos, mx_stream s) {
  if (!x) return NULL;
  int32_t *shape = malloc((size_t)(x->ndim + 1) * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[vmap] out of memory.");
  for (int d = 0, k = 0; d < x->ndim; d++)
    if (d != pos) shape[k++] = x->shape[d];
  mx_array *r = mx_reshape(x, shape, x->ndim - 1, s);
  free(shape);
  return r;
}

/* x[b] along axis 0. */
static mx_array *index0(mx_array *x, int b, mx_stream s) {
  int nd = x->ndim;
  int32_t *buf = malloc((size_t)(3 * nd) * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[vmap] out of memory.");
  for (int d = 0; d < nd; d++) {
    buf[d] = d == 0 ? b : 0;
    buf[nd + d] = d == 0 ? b + 1 : x->shape[d];
    buf[2 * nd + d] = 1;
  }
  mx_array *r = drop_dim(mx_slice(x, buf, buf + nd, buf + 2 * nd, s), 0, s);
  free(buf);
  return r;
}

/* ==== Gather: in a, idx...; out idx.shape + slice_sizes ==== */

static int gather_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot, const int *argnums,
                      int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_gather *r = mx_op_params(op);
  int k = op->n_in - 1;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (argnums[j] != 0 || !cot[0]) continue; /* indices: zero */
    grads[j] = mx_scatter_add(mx_zeros_like(p[0], op->stream), p + 1, k, cot[0],
                              (const int *)r->axes.v, k, op->stream);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int gather_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                      mx_array *const *outputs, mx_array **out) {
  const mx_p_gather *r = mx_op_params(op);
  out[0] = NULL;
  if (!t[0]) return 0;
  out[0] = mx_gather(t[0], p + 1, op->n_in - 1, (const int *)r->axes.v, r->axes.n,
                     r->slice_sizes.v, r->slice_sizes.n, op->stream);
  return out[0] ? 0 : -1;
}

static int gather_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                       int *out_axes) {
  const mx_p_gather *r = mx_op_params(op);
  mx_stream s = op->stream;
  int k = op->n_in - 1, nd = r->slice_sizes.n;
  bool idx_mapped = false;
  for (int j = 1; j <= k; j++) idx_mapped |= axes[j] >= 0;
  int *ax = malloc((size_t)(k + 2) * sizeof(int));
  int32_t *sizes = malloc((size_t)(nd + 2) * sizeof(int32_t));
  mx_array **idx = malloc((size_t)(k + 2) * sizeof(mx_array *));
  if (!ax || !sizes || !idx) {
    free(ax);
    free(sizes);
    free(idx);
    return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  }
  mx_array *g = NULL;
  if (axes[0] < 0 && !idx_mapped) {
    g = mx_gather(in[0], in + 1, k, (const int *)r->axes.v, k, r->slice_sizes.v, nd, s);
    out_axes[0] = -1;
  } else if (!idx_mapped) { /* only a is mapped: gather its batch axis whole */
    mx_array *a = mx_rule_to_front(in[0], axes[0], s);
    sizes[0] = a ? a->shape[0] : 0;
    memcpy(sizes + 1, r->slice_sizes.v, (size_t)nd * sizeof(int32_t));
    for (int j = 0; j < k; j++) ax[j] = r->axes.v[j] + 1;
    g = mx_gather(a, in + 1, k, ax, k, sizes, nd + 1, s);
    out_axes[0] = g ? g->ndim - nd - 1 : 0; /* after the broadcast index dims */
  } else {
    int B = batch_size(in, axes, op->n_in);
    for (int j = 0; j < k; j++) idx[j + 1] = front_or_1(in[j + 1], axes[j + 1], s);
    if (axes[0] < 0) {
      g = mx_gather(in[0], idx + 1, k, (const int *)r->axes.v, k, r->slice_sizes.v, nd, s);
    } else { /* both mapped: a leading iota index picks each example's own slice of a */
      int ind = 0;
      for (int j = 1; j <= k; j++)
        if (idx[j] && idx[j]->ndim > ind) ind = idx[j]->ndim;
      idx[0] = mx_index_iota(B, ind, 0);
      ax[0] = 0;
      sizes[0] = 1;
      for (int j = 0; j < k; j++) ax[j + 1] = r->axes.v[j] + 1;
      memcpy(sizes + 1, r->slice_sizes.v, (size_t)nd * sizeof(int32_t));
      g = drop_dim(mx_gather(mx_rule_to_front(in[0], axes[0], s), idx, k + 1, ax, k + 1, sizes,
                             nd + 1, s),
                   ind, s);
    }
    out_axes[0] = 0;
  }
  free(ax);
  free(sizes);
  free(idx);
  outputs[0] = g;
  return g ? 0 : -1;
}

/* ==== Scatter: in a, idx_0..idx_{k-1}, updates ==== */

/* For max/min: which entries of a and of the updates equal the result, and how many tie. */
typedef struct ties {
  mx_array *mask_a, *mask_u, *count;
} ties;

static int scatter_ties(const mx_op *op, mx_array *const *p, mx_array *out, ties *t) {
  const mx_p_scatter *r = mx_op_params(op);
  mx_stream s = op->stream;
  int k = op->n_in - 2;
  mx_array *a = p[0], *u = p[k + 1];
  int ind = u->ndim - a->ndim;
  mx_array *back = mx_gather(out, p + 1, k, (const int *)r->axes.v, k, u->shape + ind, a->ndim, s);
  t->mask_a = mx_astype(mx_equal(a, out, s), a->dtype, s);
  t->mask_u = mx_astype(mx_equal(u, mx_reshape(back, u->shape, u->ndim, s), s), a->dtype, s);
  t->count = mx_scatter_add(t->mask_a, p + 1, k, t->mask_u, (const int *)r->axes.v, k, s);
  return t->count ? 0 : -1;
}

static int scatter_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                       const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_scatter *r = mx_op_params(op);
  mx_stream s = op->stream;
  int k = op->n_in - 2;
  mx_array *a = p[0], *u = p[k + 1], *g = cot[0];
  const int *ax = (const int *)r->axes.v;
  int ind = u->ndim - a->ndim;
  const int32_t *win = u->shape + ind;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if ((argnums[j] >= 1 && argnums[j] <= k) || !g) continue; /* indices: zero */
    bool wrt_a = argnums[j] == 0;
    mx_array *res = NULL;
    switch (r->reduce) {
    case MX_REDUCE_SUM:
      res = wrt_a ? g : mx_reshape(mx_gather(g, p + 1, k, ax, k, win, a->ndim, s), u->shape, u->ndim, s);
      break;
    case MX_REDUCE_PROD:
      if (wrt_a) {
        res = mx_multiply(g, mx_scatter_prod(mx_ones_like(a, s), p + 1, k, u, ax, k, s), s);
      } else {
        mx_array *go = mx_gather(mx_multiply(g, outputs[0], s), p + 1, k, ax, k, win, a->ndim, s);
        res = mx_divide(mx_reshape(go, u->shape, u->ndim, s), u, s);
      }
      break;
    case MX_REDUCE_MAX:
    case MX_REDUCE_MIN: {
      ties t;
      if (scatter_ties(op, p, outputs[0], &t) < 0) return -1;
      mx_array *share = mx_divide(g, t.count, s);
      if (wrt_a) {
        res = mx_multiply(share, t.mask_a, s);
      } else {
        mx_array *gs = mx_gather(share, p + 1, k, ax, k, win, a->ndim, s);
        res = mx_multiply(mx_reshape(gs, u->shape, u->ndim, s), t.mask_u, s);
      }
      break;
    }
    default: /* assignment: a keeps what was not overwritten, updates get what they wrote */
      if (wrt_a)
        res = mx_scatter(g, p + 1, k, mx_zeros_like(u, s), ax, k, s);
      else
        res = mx_reshape(mx_gather(g, p + 1, k, ax, k, win, a->ndim, s), u->shape, u->ndim, s);
    }
    if (!res) return -1;
    grads[j] = mx_astype(res, wrt_a ? a->dtype : u->dtype, s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int scatter_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                       mx_array *const *outputs, mx_array **out) {
  const mx_p_scatter *r = mx_op_params(op);
  mx_stream s = op->stream;
  int k = op->n_in - 2;
  out[0] = NULL;
  if (!t[0] && !t[k + 1]) return 0;
  mx_array *a = p[0], *u = p[k + 1];
  mx_array *ta = t[0] ? t[0] : mx_zeros_like(a, s), *tu = t[k + 1] ? t[k + 1] : mx_zeros_like(u, s);
  const int *ax = (const int *)r->axes.v;
  int ind = u->ndim - a->ndim;
  switch (r->reduce) {
  case MX_REDUCE_SUM:
    out[0] = mx_scatter_add(ta, p + 1, k, tu, ax, k, s);
    break;
  case MX_REDUCE_PROD: {
    /* d(a * P) = ta * P + a * dP, dP = sum over the updates of tu * P / u at their slots */
    mx_array *P = mx_scatter_prod(mx_ones_like(a, s), p + 1, k, u, ax, k, s);
    mx_array *Pg = mx_reshape(mx_gather(P, p + 1, k, ax, k, u->shape + ind, a->ndim, s), u->shape,
                              u->ndim, s);
    mx_array *dP = mx_scatter_add(mx_zeros_like(a, s), p + 1, k,
                                  mx_divide(mx_multiply(tu, Pg, s), u, s), ax, k, s);
    out[0] = mx_add(mx_multiply(ta, P, s), mx_multiply(a, dP, s), s);
    break;
  }
  case MX_REDUCE_MAX:
  case MX_REDUCE_MIN: {
    ties q;
    if (scatter_ties(op, p, outputs[0], &q) < 0) return -1;
    mx_array *num = mx_scatter_add(mx_multiply(ta, q.mask_a, s), p + 1, k,
                                   mx_multiply(tu, q.mask_u, s), ax, k, s);
    out[0] = mx_divide(num, q.count, s);
    break;
  }
  default:
    out[0] = mx_scatter(ta, p + 1, k, tu, ax, k, s);
  }
  out[0] = mx_astype(out[0], a->dtype, s);
  return out[0] ? 0 : -1;
}

static int scatter_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                        int *out_axes) {
  const mx_p_scatter *r = mx_op_params(op);
  mx_stream s = op->stream;
  int k = op->n_in - 2;
  bool any = false;
  for (int i = 0; i < op->n_in; i++) any |= axes[i] >= 0;
  if (!any) {
    outputs[0] = mx_scatter_reduce(r->reduce, in[0], in + 1, k, in[k + 1], (const int *)r->axes.v,
                                   k, s);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  int B = batch_size(in, axes, op->n_in);
  /* every operand batched: a leading iota index sends example b's updates to a[b] */
  int a_nd = in[0]->ndim - (axes[0] >= 0);
  mx_array *u = batched(in[k + 1], axes[k + 1], B, s); /* (B, idx..., window) */
  if (!u) return -1;
  int ind = u->ndim - 1 - a_nd;
  int *ax = malloc((size_t)(k + 2) * sizeof(int));
  mx_array **idx = malloc((size_t)(k + 2) * sizeof(mx_array *));
  int32_t *ishape = malloc((size_t)(ind + 2) * sizeof(int32_t));
  if (!ax || !idx || !ishape) {
    free(ax);
    free(idx);
    free(ishape);
    return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  }
  memcpy(ishape, u->shape, (size_t)(ind + 1) * sizeof(int32_t)); /* (B, idx...) */
  idx[0] = mx_index_iota(B, ind + 1, 0);
  ax[0] = 0;
  for (int j = 0; j < k; j++) {
    idx[j + 1] = mx_broadcast_to(front_or_1(in[j + 1], axes[j + 1], s), ishape, ind + 1, s);
    ax[j + 1] = r->axes.v[j] + 1;
  }
  mx_array *a = batched(in[0], axes[0], B, s);
  outputs[0] = mx_scatter_reduce(r->reduce, a, idx, k + 1, insert_one(u, ind + 1, s), ax, k + 1, s);
  out_axes[0] = 0;
  free(ax);
  free(idx);
  free(ishape);
  return outputs[0] ? 0 : -1;
}

/* ==== GatherAxis / ScatterAxis ==== */

static int gather_axis_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                           const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_gather_axis *r = mx_op_params(op);
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (argnums[j] != 0 || !cot[0]) continue; /* indices: zero */
    grads[j] = mx_scatter_add_axis(mx_zeros_like(p[0], op->stream), p[1], cot[0], r->axis, op->stream);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int gather_axis_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                           mx_array *const *outputs, mx_array **out) {
  const mx_p_gather_axis *r = mx_op_params(op);
  out[0] = t[0] ? mx_take_along_axis(t[0], p[1], r->axis, op->stream) : NULL;
  return !t[0] || out[0] ? 0 : -1;
}

static int gather_axis_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                            mx_array **outputs, int *out_axes) {
  const mx_p_gather_axis *r = mx_op_params(op);
  mx_stream s = op->stream;
  if (axes[0] < 0 && axes[1] < 0) {
    outputs[0] = mx_take_along_axis(in[0], in[1], r->axis, s);
    out_axes[0] = -1;
  } else { /* take_along_axis broadcasts the size-1 batch axis of an unmapped operand */
    outputs[0] = mx_take_along_axis(front_or_1(in[0], axes[0], s), front_or_1(in[1], axes[1], s),
                                    r->axis + 1, s);
    out_axes[0] = 0;
  }
  return outputs[0] ? 0 : -1;
}

static int scatter_axis_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                            const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_scatter_axis *r = mx_op_params(op);
  mx_stream s = op->stream;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (argnums[j] == 1 || !cot[0]) continue; /* indices: zero */
    if (argnums[j] == 0)
      grads[j] = r->reduce == MX_REDUCE_SUM
                     ? cot[0]
                     : mx_put_along_axis(cot[0], p[1], mx_zeros_like(p[2], s), r->axis, s);
    else
      grads[j] = mx_take_along_axis(cot[0], p[1], r->axis, s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int scatter_axis_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                            mx_array *const *outputs, mx_array **out) {
  const mx_p_scatter_axis *r = mx_op_params(op);
  mx_stream s = op->stream;
  out[0] = NULL;
  if (!t[0] && !t[2]) return 0;
  mx_array *ta = t[0] ? t[0] : mx_zeros_like(p[0], s), *tu = t[2] ? t[2] : mx_zeros_like(p[2], s);
  out[0] = r->reduce == MX_REDUCE_SUM ? mx_scatter_add_axis(ta, p[1], tu, r->axis, s)
                                      : mx_put_along_axis(ta, p[1], tu, r->axis, s);
  return out[0] ? 0 : -1;
}

static int scatter_axis_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                             mx_array **outputs, int *out_axes) {
  const mx_p_scatter_axis *r = mx_op_params(op);
  mx_stream s = op->stream;
  bool any = axes[0] >= 0 || axes[1] >= 0 || axes[2] >= 0;
  mx_array *a = in[0], *i = in[1], *u = in[2];
  int axis = r->axis;
  if (any) {
    a = batched(in[0], axes[0], batch_size(in, axes, 3), s);
    i = front_or_1(in[1], axes[1], s);
    u = front_or_1(in[2], axes[2], s);
    axis++;
  }
  outputs[0] = r->reduce == MX_REDUCE_SUM ? mx_scatter_add_axis(a, i, u, axis, s)
                                          : mx_put_along_axis(a, i, u, axis, s);
  out_axes[0] = any ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

/* ==== MaskedScatter: in a, mask, src (1-d) ==== */

static int masked_scatter_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                              const int *argnums, int n, mx_array *const *outputs,
                              mx_array **grads) {
  mx_stream s = op->stream;
  mx_array *a = p[0], *mask = p[1], *src = p[2], *g = cot[0];
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (argnums[j] == 1 || !g) { /* the mask: zero */
      continue;
    } else if (argnums[j] == 0) {
      grads[j] = mx_where(mask, mx_zeros_like(g, s), g, s);
    } else {
      /* the True positions in row-major order: a stable argsort of "not mask" puts them
       * first; src element i received g at the i-th of them (if there were that many) */
      int32_t flat = -1;
      mx_array *fmask = mx_reshape(mask, &flat, 1, s);
      mx_array *order = mx_argsort_axis(mx_equal(fmask, mx_zeros_like(fmask, s), s), 0, s);
      int32_t m = (int32_t)(src->size < a->size ? src->size : a->size);
      int32_t zero = 0, one = 1;
      mx_array *vals = mx_take_axis(mx_reshape(g, &flat, 1, s), order, 0, s);
      vals = mx_slice(vals, &zero, &m, &one, s);
      mx_array *n_true = mx_sum(mx_astype(fmask, MX_INT32, s), NULL, -1, false, s);
      mx_array *keep = mx_less(mx_index_iota(m, 1, 0), n_true, s);
      vals = mx_where(keep, vals, mx_zeros_like(vals, s), s);
      if (src->size > m) {
        int32_t total = (int32_t)src->size;
        vals = mx_slice_update(mx_zeros(&total, 1, g->dtype, s), vals, &zero, &m, &one, s);
      }
      grads[j] = mx_astype(vals, src->dtype, s);
    }
    if (!grads[j]) return -1;
  }
  return 0;
}

static int masked_scatter_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                              mx_array *const *outputs, mx_array **out) {
  mx_stream s = op->stream;
  out[0] = NULL;
  if (!t[0] && !t[2]) return 0;
  out[0] = mx_masked_scatter(t[0] ? t[0] : mx_zeros_like(p[0], s), p[1],
                             t[2] ? t[2] : mx_zeros_like(p[2], s), s);
  return out[0] ? 0 : -1;
}

/* Each example consumes its own src from the start, so the batch runs one example at a time. */
static int masked_scatter_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                               mx_array **outputs, int *out_axes) {
  mx_stream s = op->stream;
  if (axes[0] < 0 && axes[1] < 0 && axes[2] < 0) {
    outputs[0] = mx_masked_scatter(in[0], in[1], in[2], s);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  int B = batch_size(in, axes, 3);
  mx_array *a = batched(in[0], axes[0], B, s);
  if (!a) return -1;
  mx_array *mask = axes[1] >= 0 ? mx_rule_to_front(in[1], axes[1], s) : in[1];
  mx_array *src = axes[2] >= 0 ? mx_rule_to_front(in[2], axes[2], s) : in[2];
  int nd = a->ndim;
  int32_t *buf = malloc((size_t)(3 * nd) * sizeof(int32_t));
  if (!buf) return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  mx_array *res = a;
  for (int b = 0; b < B && res; b++) {
    mx_array *one = mx_masked_scatter(index0(a, b, s), axes[1] >= 0 ? index0(mask, b, s) : mask,
                                      axes[2] >= 0 ? index0(src, b, s) : src, s);
    for (int d = 0; d < nd; d++) {
      buf[d] = d == 0 ? b : 0;
      buf[nd + d] = d == 0 ? b + 1 : a->shape[d];
      buf[2 * nd + d] = 1;
    }
    res = one ? mx_slice_update(res, mx_expand_dims(one, 0, s), buf, buf + nd, buf + 2 * nd, s) : NULL;
  }
  free(buf);
  outputs[0] = res;
  out_axes[0] = 0;
  return res ? 0 : -1;
}

/* ==== DynamicSlice: in a, start; DynamicSliceUpdate: in src, update, start ==== */

static int dynamic_slice_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                             const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_dynamic_slice *r = mx_op_params(op);
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (argnums[j] != 0 || !cot[0]) continue; /* start indices: zero */
    grads[j] = mx_slice_update_dynamic(mx_zeros_like(p[0], op->stream), cot[0], p[1],
                                       (const int *)r->axes.v, r->axes.n, op->stream);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int dynamic_slice_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                             mx_array *const *outputs, mx_array **out) {
  const mx_p_dynamic_slice *r = mx_op_params(op);
  out[0] = t[0] ? mx_slice_dynamic(t[0], p[1], (const int *)r->axes.v, r->axes.n,
                                   r->slice_size.v, r->slice_size.n, op->stream)
                : NULL;
  return !t[0] || out[0] ? 0 : -1;
}

/* Column j of a (B, n) start array as a (B,) index. */
static mx_array *start_column(mx_array *st, int j, mx_stream s) {
  int32_t start[2] = {0, j}, stop[2] = {st->shape[0], j + 1}, strides[2] = {1, 1};
  return drop_dim(mx_slice(st, start, stop, strides, s), 1, s);
}

static int dynamic_slice_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                              mx_array **outputs, int *out_axes) {
  const mx_p_dynamic_slice *r = mx_op_params(op);
  mx_stream s = op->stream;
  int na = r->axes.n, nd = r->slice_size.n;
  int *ax = malloc((size_t)(na + 2) * sizeof(int));
  int32_t *sizes = malloc((size_t)(nd + 2) * sizeof(int32_t));
  mx_array **idx = malloc((size_t)(na + 2) * sizeof(mx_array *));
  if (!ax || !sizes || !idx) {
    free(ax);
    free(sizes);
    free(idx);
    return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  }
  mx_array *res = NULL;
  int B = batch_size(in, axes, 2);
  if (axes[1] < 0) {
    for (int j = 0; j < na; j++) ax[j] = r->axes.v[j] + (axes[0] >= 0);
    if (axes[0] >= 0) {
      sizes[0] = B;
      memcpy(sizes + 1, r->slice_size.v, (size_t)nd * sizeof(int32_t));
      res = mx_slice_dynamic(mx_rule_to_front(in[0], axes[0], s), in[1], ax, na, sizes, nd + 1, s);
    } else {
      res = mx_slice_dynamic(in[0], in[1], ax, na, r->slice_size.v, nd, s);
    }
    out_axes[0] = axes[0] >= 0 ? 0 : -1;
  } else { /* per-example starts: a gather whose clamping matches the dynamic slice's */
    mx_array *st = mx_rule_to_front(in[1], axes[1], s);
    int32_t two[2] = {B, na};
    st = mx_reshape(st, two, 2, s);
    int lead = axes[0] >= 0 ? 1 : 0;
    if (lead) {
      idx[0] = mx_index_iota(B, 1, 0);
      ax[0] = 0;
      sizes[0] = 1;
    }
    memcpy(sizes + lead, r->slice_size.v, (size_t)nd * sizeof(int32_t));
    for (int j = 0; j < na && st; j++) {
      idx[j + lead] = start_column(st, j, s);
      ax[j + lead] = r->axes.v[j] + lead;
    }
    mx_array *a = lead ? mx_rule_to_front(in[0], axes[0], s) : in[0];
    res = st ? mx_gather(a, idx, na + lead, ax, na + lead, sizes, nd + lead, s) : NULL;
    if (lead) res = drop_dim(res, 1, s);
    out_axes[0] = 0;
  }
  free(ax);
  free(sizes);
  free(idx);
  outputs[0] = res;
  return res ? 0 : -1;
}

static int dynamic_slice_update_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                                    const int *argnums, int n, mx_array *const *outputs,
                                    mx_array **grads) {
  const mx_p_dynamic_slice_update *r = mx_op_params(op);
  mx_stream s = op->stream;
  const int *ax = (const int *)r->axes.v;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (argnums[j] == 2 || !cot[0]) continue; /* start indices: zero */
    if (argnums[j] == 0)
      grads[j] = mx_slice_update_dynamic(cot[0], mx_zeros_like(p[1], s), p[2], ax, r->axes.n, s);
    else
      grads[j] = mx_slice_dynamic(cot[0], p[2], ax, r->axes.n, p[1]->shape, p[1]->ndim, s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int dynamic_slice_update_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                                    mx_array *const *outputs, mx_array **out) {
  const mx_p_dynamic_slice_update *r = mx_op_params(op);
  mx_stream s = op->stream;
  out[0] = NULL;
  if (!t[0] && !t[1]) return 0;
  out[0] = mx_slice_update_dynamic(t[0] ? t[0] : mx_zeros_like(p[0], s),
                                   t[1] ? t[1] : mx_zeros_like(p[1], s), p[2],
                                   (const int *)r->axes.v, r->axes.n, s);
  return out[0] ? 0 : -1;
}

static int dynamic_slice_update_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                                     mx_array **outputs, int *out_axes) {
  const mx_p_dynamic_slice_update *r = mx_op_params(op);
  mx_stream s = op->stream;
  int na = r->axes.n;
  if (axes[0] < 0 && axes[1] < 0 && axes[2] < 0) {
    outputs[0] = mx_slice_update_dynamic(in[0], in[1], in[2], (const int *)r->axes.v, na, s);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  int B = batch_size(in, axes, 3);
  mx_array *src = batched(in[0], axes[0], B, s), *upd = batched(in[1], axes[1], B, s);
  int *ax = malloc((size_t)(na + 2) * sizeof(int));
  mx_array **idx = malloc((size_t)(na + 2) * sizeof(mx_array *));
  if (!ax || !idx) {
    free(ax);
    free(idx);
    return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  }
  mx_array *res = NULL;
  if (src && upd && axes[2] < 0) {
    for (int j = 0; j < na; j++) ax[j] = r->axes.v[j] + 1;
    res = mx_slice_update_dynamic(src, upd, in[2], ax, na, s);
  } else if (src && upd) {
    /* per-example starts: clamp as the kernel would, then scatter the windows */
    mx_array *st = mx_astype(mx_rule_to_front(in[2], axes[2], s), MX_INT64, s);
    int32_t two[2] = {B, na};
    st = mx_reshape(st, two, 2, s);
    idx[0] = mx_index_iota(B, 1, 0);
    ax[0] = 0;
    for (int j = 0; j < na && st; j++) {
      int d = r->axes.v[j] + 1;
      mx_array *v = start_column(st, j, s);
      mx_array *dim = mx_array_scalar_i64(src->shape[d], MX_INT64);
      mx_array *hi = mx_array_scalar_i64(src->shape[d] - upd->shape[d], MX_INT64);
      mx_array *zero = mx_array_scalar_i64(0, MX_INT64);
      mx_scope_adopt(dim);
      mx_scope_adopt(hi);
      mx_scope_adopt(zero);
      v = mx_where(mx_less(v, zero, s), mx_add(v, dim, s), v, s);
      idx[j + 1] = mx_minimum(mx_maximum(v, zero, s), hi, s);
      ax[j + 1] = d;
    }
    res = st ? mx_scatter(src, idx, na + 1, insert_one(upd, 1, s), ax, na + 1, s) : NULL;
  }
  free(ax);
  free(idx);
  outputs[0] = res;
  out_axes[0] = 0;
  return res ? 0 : -1;
}

/* ==== Sort, ArgSort, Partition, ArgPartition ==== */

/* The permutation the primitive applies along its axis (matches the values kernel). */
static mx_array *sort_perm(const mx_op *op, mx_array *a) {
  if (op->prim == MX_PRIM_SORT || op->prim == MX_PRIM_ARGSORT) {
    const mx_p_sort *r = mx_op_params(op);
    return mx_argsort_axis(a, r->axis, op->stream);
  }
  const mx_p_partition *r = mx_op_params(op);
  return mx_argpartition_axis(a, r->kth, r->axis, op->stream);
}

static int sort_axis_of(const mx_op *op) {
  if (op->prim == MX_PRIM_SORT || op->prim == MX_PRIM_ARGSORT)
    return ((const mx_p_sort *)mx_op_params(op))->axis;
  return ((const mx_p_partition *)mx_op_params(op))->axis;
}

static int sort_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot, const int *argnums,
                    int n, mx_array *const *outputs, mx_array **grads) {
  mx_stream s = op->stream;
  bool values = op->prim == MX_PRIM_SORT || op->prim == MX_PRIM_PARTITION;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!values) {
      grads[j] = mx_zeros_like(p[0], s);
    } else if (cot[0]) {
      grads[j] = mx_scatter_add_axis(mx_zeros_like(p[0], s), mx_stop_gradient(sort_perm(op, p[0]), s),
                                     cot[0], sort_axis_of(op), s);
    } else {
      continue;
    }
    if (!grads[j]) return -1;
  }
  return 0;
}

static int sort_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                    mx_array *const *outputs, mx_array **out) {
  bool values = op->prim == MX_PRIM_SORT || op->prim == MX_PRIM_PARTITION;
  out[0] = NULL;
  if (!t[0] || !values) return 0;
  out[0] = mx_take_along_axis(t[0], mx_stop_gradient(sort_perm(op, p[0]), op->stream),
                              sort_axis_of(op), op->stream);
  return out[0] ? 0 : -1;
}

static int sort_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  mx_stream s = op->stream;
  mx_array *a = mx_rule_to_front(in[0], axes[0], s);
  int shift = axes[0] >= 0 ? 1 : 0, axis = sort_axis_of(op) + shift;
  switch (op->prim) {
  case MX_PRIM_SORT: outputs[0] = mx_sort_axis(a, axis, s); break;
  case MX_PRIM_ARGSORT: outputs[0] = mx_argsort_axis(a, axis, s); break;
  case MX_PRIM_PARTITION:
    outputs[0] = mx_partition_axis(a, ((const mx_p_partition *)mx_op_params(op))->kth, axis, s);
    break;
  default:
    outputs[0] = mx_argpartition_axis(a, ((const mx_p_argpartition *)mx_op_params(op))->kth, axis, s);
  }
  out_axes[0] = shift ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

/* ==== SearchSorted: integer output, no gradient ==== */

static int search_sorted_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                             const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  for (int j = 0; j < n; j++) {
    grads[j] = mx_zeros_like(p[argnums[j]], op->stream);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int search_sorted_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                             mx_array *const *outputs, mx_array **out) {
  out[0] = NULL;
  return 0;
}

static int search_sorted_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                              mx_array **outputs, int *out_axes) {
  const mx_p_search_sorted *r = mx_op_params(op);
  mx_stream s = op->stream;
  if (axes[0] < 0) { /* values of any shape: the batch axis stays where it is */
    outputs[0] = mx_searchsorted(in[0], in[1], r->right, s);
    out_axes[0] = axes[1];
    return outputs[0] ? 0 : -1;
  }
  /* one sorted sequence per example */
  int B = in[0]->shape[axes[0]];
  mx_array *a = mx_rule_to_front(in[0], axes[0], s);
  mx_array *v = axes[1] >= 0 ? mx_rule_to_front(in[1], axes[1], s) : NULL;
  mx_array *res = NULL;
  int nd = (v ? v->ndim : in[1]->ndim + 1);
  int32_t *buf = malloc(sizeof(int32_t) * (size_t)(4 * nd + 1));
  if (!buf || !a) {
    free(buf);
    return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  }
  for (int b = 0; b < B; b++) {
    mx_array *one = mx_searchsorted(index0(a, b, s), v ? index0(v, b, s) : in[1], r->right, s);
    if (!one) break;
    if (!res) {
      buf[0] = B;
      for (int d = 0; d < one->ndim; d++) buf[d + 1] = one->shape[d];
      res = mx_zeros(buf, one->ndim + 1, MX_UINT32, s);
    }
    for (int d = 0; d <= one->ndim; d++) {
      buf[nd + d] = d == 0 ? b : 0;
      buf[2 * nd + d] = d == 0 ? b + 1 : one->shape[d - 1];
      buf[3 * nd + d] = 1;
    }
    res = mx_slice_update(res, mx_expand_dims(one, 0, s), buf + nd, buf + 2 * nd, buf + 3 * nd, s);
  }
  free(buf);
  outputs[0] = res;
  out_axes[0] = 0;
  return res ? 0 : -1;
}

void mx_rules_register_indexing_sort(void) {
#define SET(P, name)                        \
  mx_prims[MX_PRIM_##P].vjp = name##_vjp;   \
  mx_prims[MX_PRIM_##P].jvp = name##_jvp;   \
  mx_prims[MX_PRIM_##P].vmap = name##_vmap;
  SET(GATHER, gather)
  SET(SCATTER, scatter)
  SET(GATHER_AXIS, gather_axis)
  SET(SCATTER_AXIS, scatter_axis)
  SET(MASKED_SCATTER, masked_scatter)
  SET(DYNAMIC_SLICE, dynamic_slice)
  SET(DYNAMIC_SLICE_UPDATE, dynamic_slice_update)
  SET(SORT, sort)
  SET(ARGSORT, sort)
  SET(PARTITION, sort)
  SET(ARGPARTITION, sort)
  SET(SEARCH_SORTED, search_sorted)
#undef SET
}
