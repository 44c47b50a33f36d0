/* reduce.c: rules of the Reduce primitive (kept dims: outputs have the input's rank).
 * sum: broadcast; max/min: the vjp shares the cotangent equally among tied extrema and
 * the jvp takes the tangent at the first arg-extremum (as MLX); prod: products of the
 * other elements through exclusive cumprods both ways (exact with zeros); and/or: zero. */
#include "rules.h"

#include <stdlib.h>

#include "../core/param_enums.h"

/* x with the reduced axes moved last and merged: shape (kept dims..., R). perm (capacity
 * ndim) receives the permutation, so unflatten_reduced can undo it. */
static mx_array *flatten_reduced(mx_array *x, const mx_ints *axes, int32_t *perm, mx_stream s) {
  int nd = x->ndim, k = 0;
  int32_t *shape = malloc((size_t)(nd + 1) * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[vjp] out of memory.");
  int64_t r = 1;
  for (int i = 0, j = 0; i < nd; i++) {
    if (j < axes->n && axes->v[j] == i) {
      j++;
      r *= x->shape[i];
    } else {
      shape[k] = x->shape[i];
      perm[k++] = i;
    }
  }
  for (int j = 0; j < axes->n; j++) perm[k + j] = axes->v[j];
  shape[k] = (int32_t)r;
  mx_array *out = mx_reshape(mx_transpose(x, (const int *)perm, nd, s), shape, k + 1, s);
  free(shape);
  return out;
}

/* Inverse of flatten_reduced for an array of that flattened shape: back to x's layout. */
static mx_array *unflatten_reduced(mx_array *y, mx_array *x, const int32_t *perm, mx_stream s) {
  int nd = x->ndim;
  int32_t *shape = malloc((size_t)nd * sizeof(int32_t));
  int *inv = malloc((size_t)nd * sizeof(int));
  mx_array *out = NULL;
  if (shape && inv) {
    for (int i = 0; i < nd; i++) {
      shape[i] = x->shape[perm[i]];
      inv[perm[i]] = i;
    }
    out = mx_transpose(mx_reshape(y, shape, nd, s), inv, nd, s);
  } else {
    mx_fail(MX_ENOMEM, "[vjp] out of memory.");
  }
  free(shape);
  free(inv);
  return out;
}

/* prod over the last axis of xf, with every element left out in turn:
 * exclusive cumprod forward times exclusive cumprod backward. */
static mx_array *others_product(mx_array *xf, mx_stream s) {
  if (!xf) return NULL;
  int ax = xf->ndim - 1;
  return mx_multiply(mx_scan(xf, MX_SCAN_PROD, ax, false, false, s),
                     mx_scan(xf, MX_SCAN_PROD, ax, true, false, s), s);
}

/* One-hot (bool) of the first arg-extremum of xf along its last axis. */
static mx_array *first_extremum_mask(mx_array *xf, int kind, mx_stream s) {
  if (!xf) return NULL;
  int nd = xf->ndim, last = nd - 1;
  int32_t *shape = malloc((size_t)nd * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[jvp] out of memory.");
  for (int i = 0; i < nd; i++) shape[i] = i == last ? xf->shape[last] : 1;
  mx_array *iota = mx_scan(mx_ones(shape, nd, MX_UINT32, s), MX_SCAN_SUM, last, false, false, s);
  free(shape);
  mx_array *idx = kind == MX_REDUCE_MAX ? mx_argmax(xf, &last, 1, true, s)
                                        : mx_argmin(xf, &last, 1, true, s);
  return mx_equal(iota, idx, s);
}

static int reduce_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                      const int *argnums, int n_argnums, mx_array *const *outputs, mx_array **grads) {
  const mx_p_reduce *r = mx_op_params(op);
  mx_stream s = op->stream;
  if (n_argnums == 0) return 0;
  mx_array *x = p[0], *g = cot[0];
  if (!g) {
    grads[0] = NULL;
    return 0;
  }
  switch (r->kind) {
    case MX_REDUCE_SUM:
      grads[0] = mx_broadcast_to(mx_astype(g, x->dtype, s), x->shape, x->ndim, s);
      break;
    case MX_REDUCE_MAX:
    case MX_REDUCE_MIN: {
      /* as MLX: a bool mask, its int32 count, the cotangent divided by the count */
      mx_array *mask = mx_equal(x, outputs[0], s);
      mx_array *count = mx_sum(mask, r->axes.v, r->axes.n, true, s);
      grads[0] = mx_multiply(mx_divide(g, count, s), mask, s);
      break;
    }
    case MX_REDUCE_PROD: {
      int32_t *perm = malloc((size_t)x->ndim * sizeof(int32_t));
      if (!perm) return mx_fail_int(MX_ENOMEM, "[vjp] out of memory.");
      mx_array *xf = flatten_reduced(x, &r->axes, perm, s);
      mx_array *gf = xf ? mx_expand_dims(mx_reshape(g, xf->shape, xf->ndim - 1, s), -1, s) : NULL;
      grads[0] = unflatten_reduced(mx_multiply(others_product(xf, s), gf, s), x, perm, s);
      free(perm);
      break;
    }
    default:
      grads[0] = mx_zeros_like(x, s);
  }
  return grads[0] ? 0 : -1;
}

static int reduce_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                      mx_array *const *outputs, mx_array **out) {
  const mx_p_reduce *r = mx_op_params(op);
  mx_stream s = op->stream;
  mx_array *o = outputs[0];
  if (!t[0]) {
    out[0] = NULL;
    return 0;
  }
  switch (r->kind) {
    case MX_REDUCE_SUM:
      out[0] = mx_reduce("sum", MX_REDUCE_SUM, o->dtype, t[0], r->axes.v, r->axes.n, true, s);
      break;
    case MX_REDUCE_PROD:
    case MX_REDUCE_MAX:
    case MX_REDUCE_MIN: {
      int32_t *perm = malloc((size_t)p[0]->ndim * sizeof(int32_t));
      if (!perm) return mx_fail_int(MX_ENOMEM, "[jvp] out of memory.");
      mx_array *xf = flatten_reduced(p[0], &r->axes, perm, s);
      mx_array *tf = flatten_reduced(t[0], &r->axes, perm, s);
      mx_array *w;
      if (r->kind == MX_REDUCE_PROD) {
        w = mx_multiply(tf, others_product(xf, s), s);
      } else {
        mx_array *zero = mx_zeros_like(tf, s);
        w = mx_where(first_extremum_mask(xf, r->kind, s), tf, zero, s);
      }
      int last = xf ? xf->ndim - 1 : 0;
      out[0] = mx_reshape(mx_sum(w, &last, 1, false, s), o->shape, o->ndim, s);
      free(perm);
      break;
    }
    default:
      out[0] = mx_zeros_like(o, s);
  }
  return out[0] ? 0 : -1;
}

static int reduce_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                       int *out_axes) {
  const mx_p_reduce *r = mx_op_params(op);
  mx_array *x = mx_rule_to_front(in[0], axes[0], op->stream);
  int shift = axes[0] >= 0 ? 1 : 0;
  int *ax = malloc((size_t)(r->axes.n + 1) * sizeof(int));
  if (!ax) return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  for (int i = 0; i < r->axes.n; i++) ax[i] = r->axes.v[i] + shift;
  mx_dtype out_t = op->outputs[0] ? op->outputs[0]->dtype : x->dtype;
  outputs[0] = mx_reduce(mx_prim_name(op->prim), r->kind, out_t, x, ax, r->axes.n, true, op->stream);
  free(ax);
  out_axes[0] = shift ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_reduce(void) {
  mx_prims[MX_PRIM_REDUCE].vjp = reduce_vjp;
  mx_prims[MX_PRIM_REDUCE].jvp = reduce_jvp;
  mx_prims[MX_PRIM_REDUCE].vmap = reduce_vmap;
}
