/* shape_layout.c: vjp/jvp/vmap rules of the section-D primitives (AsStrided, Contiguous,
 * View, Concatenate, Pad, AddMM), written with ops so they differentiate again. As in MLX,
 * View has no derivative; AsStrided's vjp scatter-adds the cotangent back through the view. */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

/* a[lo:hi] along ax (scope-owned). */
static mx_array *range_of(mx_array *a, int ax, int32_t lo, int32_t hi, mx_stream s) {
  int nd = a->ndim;
  int32_t *start = malloc((size_t)(3 * nd) * sizeof(int32_t));
  if (!start) return mx_fail(MX_ENOMEM, "[vjp] out of memory.");
  int32_t *stop = start + nd, *step = stop + nd;
  for (int d = 0; d < nd; d++) start[d] = 0, stop[d] = a->shape[d], step[d] = 1;
  start[ax] = lo;
  stop[ax] = hi;
  mx_array *r = mx_slice(a, start, stop, step, s);
  free(start);
  return r;
}

/* x with a new leading axis of size b (x unbatched). */
static mx_array *add_batch(mx_array *x, int b, mx_stream s) {
  int32_t *shape = malloc((size_t)(x->ndim + 1) * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[vmap] out of memory.");
  shape[0] = b;
  memcpy(shape + 1, x->shape, (size_t)x->ndim * sizeof(int32_t));
  int zero = 0;
  mx_array *r = mx_broadcast_to(mx_expand_dims_axes(x, &zero, 1, s), shape, x->ndim + 1, s);
  free(shape);
  return r;
}

/* alpha * x, skipping the multiply for alpha == 1. */
static mx_array *scaled(mx_array *x, double alpha, mx_stream s) {
  if (!x || alpha == 1.0) return x;
  return mx_multiply(x, mx_scalar_like(alpha, x), s);
}

/* ---- AsStrided: the input is the flattened array ---- */
static int as_strided_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                          const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_as_strided *r = mx_op_params(op);
  mx_stream s = op->stream;
  for (int j = 0; j < n; j++) grads[j] = NULL;
  if (n == 0 || !cot[0]) return 0;
  /* the flat position each output element reads, then every cotangent summed there */
  int64_t size = p[0]->size, m = cot[0]->size;
  mx_array *idx = mx_as_strided(mx_arange(0, (double)size, 1, MX_INT32, s), r->shape.v, r->shape.n,
                                r->strides.v, r->strides.n, r->offset, s);
  int32_t flat_m = (int32_t)m, upd_shape[2] = {(int32_t)m, 1};
  idx = mx_reshape(idx, &flat_m, 1, s);
  mx_array *upd = mx_reshape(cot[0], upd_shape, 2, s);
  int32_t flat_n = (int32_t)size;
  int axis = 0;
  mx_array *zero = mx_zeros(&flat_n, 1, p[0]->dtype, s);
  grads[0] = mx_scatter_add(zero, &idx, 1, upd, &axis, 1, s);
  return grads[0] ? 0 : -1;
}

static int as_strided_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                          mx_array *const *outputs, mx_array **out) {
  const mx_p_as_strided *r = mx_op_params(op);
  out[0] = t[0] ? mx_as_strided(t[0], r->shape.v, r->shape.n, r->strides.v, r->strides.n,
                                r->offset, op->stream)
                : NULL;
  return !t[0] || out[0] ? 0 : -1;
}

static int as_strided_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                           mx_array **outputs, int *out_axes) {
  const mx_p_as_strided *r = mx_op_params(op);
  mx_stream s = op->stream;
  if (axes[0] < 0) {
    outputs[0] = mx_as_strided(in[0], r->shape.v, r->shape.n, r->strides.v, r->strides.n,
                               r->offset, s);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  /* the input is the flattened array: (B, N) rows of the batch */
  mx_array *x = mx_rule_to_front(in[0], axes[0], s);
  int n = r->shape.n;
  int32_t *shape = malloc((size_t)(n + 1) * sizeof(int32_t));
  int64_t *st = malloc((size_t)(n + 1) * sizeof(int64_t));
  if (!x || !shape || !st) {
    free(shape);
    free(st);
    return x ? mx_fail_int(MX_ENOMEM, "[vmap] out of memory.") : -1;
  }
  shape[0] = x->shape[0];
  st[0] = x->size / (x->shape[0] ? x->shape[0] : 1);
  memcpy(shape + 1, r->shape.v, (size_t)n * sizeof(int32_t));
  memcpy(st + 1, r->strides.v, (size_t)n * sizeof(int64_t));
  outputs[0] = mx_as_strided(x, shape, n + 1, st, n + 1, r->offset, s);
  free(shape);
  free(st);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

/* ---- Contiguous: the identity ---- */
static int contiguous_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                          const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  if (n > 0) grads[0] = cot[0];
  return 0;
}

static int contiguous_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                          mx_array *const *outputs, mx_array **out) {
  const mx_p_contiguous *r = mx_op_params(op);
  out[0] = t[0] ? mx_contiguous(t[0], r->allow_col_major, op->stream) : NULL;
  return !t[0] || out[0] ? 0 : -1;
}

static int contiguous_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                           mx_array **outputs, int *out_axes) {
  const mx_p_contiguous *r = mx_op_params(op);
  outputs[0] = mx_contiguous(in[0], r->allow_col_major, op->stream);
  out_axes[0] = axes[0];
  return outputs[0] ? 0 : -1;
}

/* ---- View: the last axis rescales, so a batch axis there moves to the front ---- */
static int view_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  const mx_p_view *r = mx_op_params(op);
  mx_array *x = in[0];
  int ax = axes[0];
  if (ax >= 0 && ax == x->ndim - 1 && mx_dtype_size(x->dtype) != mx_dtype_size((mx_dtype)r->dtype)) {
    x = mx_rule_to_front(x, ax, op->stream);
    ax = 0;
  }
  outputs[0] = mx_view(x, (mx_dtype)r->dtype, op->stream);
  out_axes[0] = ax;
  return outputs[0] ? 0 : -1;
}

/* ---- Concatenate ---- */
static int concatenate_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                           const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_concatenate *r = mx_op_params(op);
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!cot[0]) continue;
    int32_t at = 0;
    for (int i = 0; i < argnums[j]; i++) at += p[i]->shape[r->axis];
    grads[j] = range_of(cot[0], r->axis, at, at + p[argnums[j]]->shape[r->axis], op->stream);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int concatenate_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                           mx_array *const *outputs, mx_array **out) {
  const mx_p_concatenate *r = mx_op_params(op);
  bool any = false;
  for (int i = 0; i < op->n_in; i++) any |= t[i] != NULL;
  out[0] = NULL;
  if (!any) return 0;
  mx_array **ts = malloc((size_t)op->n_in * sizeof *ts);
  if (!ts) return mx_fail_int(MX_ENOMEM, "[jvp] out of memory.");
  for (int i = 0; i < op->n_in; i++) ts[i] = t[i] ? t[i] : mx_zeros_like(p[i], op->stream);
  int ax = r->axis;
  out[0] = mx_concatenate(ts, op->n_in, &ax, op->stream);
  free(ts);
  return out[0] ? 0 : -1;
}

static int concatenate_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                            mx_array **outputs, int *out_axes) {
  const mx_p_concatenate *r = mx_op_params(op);
  mx_stream s = op->stream;
  int n = op->n_in, b = -1;
  for (int i = 0; i < n; i++)
    if (axes[i] >= 0) b = in[i]->shape[axes[i]];
  int ax = r->axis + (b >= 0 ? 1 : 0);
  mx_array **x = malloc((size_t)n * sizeof *x);
  if (!x) return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  for (int i = 0; i < n; i++) {
    if (b < 0) x[i] = in[i];
    else x[i] = axes[i] >= 0 ? mx_rule_to_front(in[i], axes[i], s) : add_batch(in[i], b, s);
  }
  outputs[0] = mx_concatenate(x, n, &ax, s);
  free(x);
  out_axes[0] = b >= 0 ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

/* ---- Pad: inputs (a, value) ---- */
static mx_array *pad_interior(const mx_op *op, mx_array *g, const int32_t *a_shape) {
  const mx_p_pad *r = mx_op_params(op);
  mx_array *x = g;
  for (int i = 0; i < r->axes.n && x; i++) {
    int d = r->axes.v[i];
    x = range_of(x, d, r->low.v[i], r->low.v[i] + a_shape[d], op->stream);
  }
  return x;
}

static int pad_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot, const int *argnums,
                   int n, mx_array *const *outputs, mx_array **grads) {
  mx_stream s = op->stream;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!cot[0]) continue;
    mx_array *inner = pad_interior(op, cot[0], p[0]->shape);
    if (argnums[j] == 0) {
      grads[j] = inner;
    } else { /* the fill value receives everything outside the interior */
      mx_array *rest = mx_subtract(mx_sum(cot[0], NULL, -1, false, s), mx_sum(inner, NULL, -1, false, s), s);
      grads[j] = mx_reshape(mx_astype(rest, p[1]->dtype, s), p[1]->shape, p[1]->ndim, s);
    }
    if (!grads[j]) return -1;
  }
  return 0;
}

static mx_array *pad_with(const mx_op *op, mx_array *a, mx_array *v) {
  const mx_p_pad *r = mx_op_params(op);
  return mx_pad(a, r->axes.v, r->axes.n, r->low.v, r->low.n, r->high.v, r->high.n, v, "constant",
                op->stream);
}

static int pad_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                   mx_array *const *outputs, mx_array **out) {
  out[0] = NULL;
  if (!t[0] && !t[1]) return 0;
  mx_array *ta = t[0] ? t[0] : mx_zeros_like(p[0], op->stream);
  mx_array *tv = t[1] ? t[1] : mx_zeros_like(p[1], op->stream);
  out[0] = pad_with(op, ta, tv);
  return out[0] ? 0 : -1;
}

static int pad_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                    int *out_axes) {
  const mx_p_pad *r = mx_op_params(op);
  mx_stream s = op->stream;
  if (axes[0] < 0 && axes[1] < 0) {
    outputs[0] = pad_with(op, in[0], in[1]);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  int b = axes[0] >= 0 ? in[0]->shape[axes[0]] : in[1]->shape[axes[1]];
  mx_array *a = axes[0] >= 0 ? mx_rule_to_front(in[0], axes[0], s) : add_batch(in[0], b, s);
  int n = r->axes.n;
  int *ax = malloc((size_t)(n + 1) * sizeof(int));
  if (!ax || !a) {
    free(ax);
    return a ? mx_fail_int(MX_ENOMEM, "[vmap] out of memory.") : -1;
  }
  for (int i = 0; i < n; i++) ax[i] = r->axes.v[i] + 1;
  if (axes[1] < 0) {
    outputs[0] = mx_pad(a, ax, n, r->low.v, n, r->high.v, n, in[1], "constant", s);
  } else { /* one fill value per batch entry: select between the padded input and the fills */
    mx_array *zero = mx_zeros(NULL, 0, a->dtype, s), *no = mx_zeros(NULL, 0, MX_BOOL, s);
    mx_array *inside = mx_pad(mx_ones_like(mx_astype(a, MX_BOOL, s), s), ax, n, r->low.v, n,
                              r->high.v, n, no, "constant", s);
    mx_array *padded = mx_pad(a, ax, n, r->low.v, n, r->high.v, n, zero, "constant", s);
    mx_array *fill = mx_rule_pad_after_batch(mx_rule_to_front(in[1], axes[1], s), a->ndim, s);
    outputs[0] = mx_where(inside, padded, fill, s);
  }
  free(ax);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

/* ---- AddMM: inputs (a, b, c) with a, b as Matmul's and c of the output's shape ---- */
static int addmm_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                     const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_addmm *r = mx_op_params(op);
  mx_stream s = op->stream;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!cot[0]) continue;
    if (argnums[j] == 0) grads[j] = scaled(mx_matmul(cot[0], mx_swapaxes(p[1], -1, -2, s), s), r->alpha, s);
    else if (argnums[j] == 1) grads[j] = scaled(mx_matmul(mx_swapaxes(p[0], -1, -2, s), cot[0], s), r->alpha, s);
    else grads[j] = scaled(cot[0], r->beta, s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int addmm_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                     mx_array *const *outputs, mx_array **out) {
  const mx_p_addmm *r = mx_op_params(op);
  mx_stream s = op->stream;
  mx_array *acc = NULL;
  if (t[0]) acc = mx_matmul(t[0], p[1], s);
  if (t[1]) {
    mx_array *d = mx_matmul(p[0], t[1], s);
    acc = acc ? mx_add(acc, d, s) : d;
  }
  acc = scaled(acc, r->alpha, s);
  if (t[2]) {
    mx_array *d = scaled(t[2], r->beta, s);
    acc = acc ? mx_add(acc, d, s) : d;
  }
  out[0] = acc;
  return acc || (!t[0] && !t[1] && !t[2]) ? 0 : -1;
}

static int addmm_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                      int *out_axes) {
  const mx_p_addmm *r = mx_op_params(op);
  mx_stream s = op->stream;
  mx_array *x[3];
  bool any = false;
  for (int i = 0; i < 3; i++) {
    any |= axes[i] >= 0;
    x[i] = mx_rule_to_front(in[i], axes[i], s);
  }
  if (any) {
    int zero = 0;
    for (int i = 0; i < 3; i++)
      if (axes[i] < 0) x[i] = mx_expand_dims_axes(x[i], &zero, 1, s);
  }
  outputs[0] = mx_addmm(x[2], x[0], x[1], r->alpha, r->beta, s);
  out_axes[0] = any ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_shape_layout(void) {
  mx_prim_vt *v = mx_prims;
  v[MX_PRIM_AS_STRIDED].vjp = as_strided_vjp;
  v[MX_PRIM_AS_STRIDED].jvp = as_strided_jvp;
  v[MX_PRIM_AS_STRIDED].vmap = as_strided_vmap;
  v[MX_PRIM_CONTIGUOUS].vjp = contiguous_vjp;
  v[MX_PRIM_CONTIGUOUS].jvp = contiguous_jvp;
  v[MX_PRIM_CONTIGUOUS].vmap = contiguous_vmap;
  v[MX_PRIM_VIEW].vmap = view_vmap;
  v[MX_PRIM_CONCATENATE].vjp = concatenate_vjp;
  v[MX_PRIM_CONCATENATE].jvp = concatenate_jvp;
  v[MX_PRIM_CONCATENATE].vmap = concatenate_vmap;
  v[MX_PRIM_PAD].vjp = pad_vjp;
  v[MX_PRIM_PAD].jvp = pad_jvp;
  v[MX_PRIM_PAD].vmap = pad_vmap;
  v[MX_PRIM_ADDMM].vjp = addmm_vjp;
  v[MX_PRIM_ADDMM].jvp = addmm_jvp;
  v[MX_PRIM_ADDMM].vmap = addmm_vmap;
  mx_views_register_layout();
}
