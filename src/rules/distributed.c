/* distributed.c: vjp/jvp/vmap rules of the collectives, written with the collective ops so
 * they compose: all_sum's vjp and jvp are all_sum; all_max/all_min route the (summed)
 * cotangent to the ranks holding the extremum, split evenly between ties; all_gather's vjp
 * is this rank's block of the cotangent and sum_scatter's is an all_gather. */
#include "rules.h"

#include <stdlib.h>

#include "../core/distributed.h"

void mx_rules_register_distributed(void);

static mx_group *group_param(const mx_op *op) {
  switch (op->prim) {
    case MX_PRIM_ALL_REDUCE: return (mx_group *)((const mx_p_all_reduce *)op->params)->group;
    case MX_PRIM_ALL_GATHER: return (mx_group *)((const mx_p_all_gather *)op->params)->group;
    default: return (mx_group *)((const mx_p_reduce_scatter *)op->params)->group;
  }
}

/* Share of each rank in the extremum out: 1/count where x equals it, 0 elsewhere. */
static mx_array *extremum_share(mx_array *x, mx_array *out, mx_dtype t, mx_group *g, mx_stream s) {
  mx_array *hit = mx_astype(mx_equal(x, out, s), t, s);
  return mx_divide(hit, mx_dist_all_sum(hit, g, s), s);
}

static int all_reduce_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                          const int *argnums, int n_argnums, mx_array *const *outputs,
                          mx_array **grads) {
  (void)argnums, (void)n_argnums;
  const mx_p_all_reduce *p = op->params;
  mx_group *g = group_param(op);
  if (!cot[0]) return 0;
  mx_array *total = mx_dist_all_sum(cot[0], g, op->stream);
  if (p->kind != MX_DIST_SUM)
    total = mx_multiply(total, extremum_share(primals[0], outputs[0], cot[0]->dtype, g, op->stream),
                        op->stream);
  grads[0] = total;
  return total ? 0 : -1;
}

static int all_reduce_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                          mx_array *const *outputs, mx_array **out_tangents) {
  const mx_p_all_reduce *p = op->params;
  mx_group *g = group_param(op);
  if (!tangents[0]) return 0;
  mx_array *t = tangents[0];
  if (p->kind != MX_DIST_SUM)
    t = mx_multiply(t, extremum_share(primals[0], outputs[0], t->dtype, g, op->stream), op->stream);
  out_tangents[0] = mx_dist_all_sum(t, g, op->stream);
  return out_tangents[0] ? 0 : -1;
}

static int all_reduce_vmap(const mx_op *op, mx_array *const *inputs, const int *axes,
                           mx_array **outputs, int *out_axes) {
  const mx_p_all_reduce *p = op->params;
  mx_group *g = group_param(op);
  mx_array *x = inputs[0];
  outputs[0] = p->kind == MX_DIST_SUM   ? mx_dist_all_sum(x, g, op->stream)
               : p->kind == MX_DIST_MAX ? mx_dist_all_max(x, g, op->stream)
                                        : mx_dist_all_min(x, g, op->stream);
  out_axes[0] = axes[0];
  return outputs[0] ? 0 : -1;
}

static int all_gather_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                          const int *argnums, int n_argnums, mx_array *const *outputs,
                          mx_array **grads) {
  (void)argnums, (void)n_argnums, (void)outputs;
  if (!cot[0]) return 0;
  mx_group *g = group_param(op);
  mx_array *x = primals[0];
  mx_array *c = cot[0];
  int32_t *b = malloc((size_t)c->ndim * 3 * sizeof(int32_t));
  if (!b) return mx_fail_int(MX_ENOMEM, "[vjp] out of memory.");
  int32_t *start = b, *stop = b + c->ndim, *step = b + 2 * c->ndim;
  for (int i = 0; i < c->ndim; i++) {
    start[i] = 0;
    stop[i] = c->shape[i];
    step[i] = 1;
  }
  int32_t n0 = x->ndim ? x->shape[0] : 1;
  start[0] = g->rank * n0;
  stop[0] = start[0] + n0;
  mx_array *block = mx_slice(c, start, stop, step, op->stream);
  free(b);
  grads[0] = mx_reshape(block, x->shape, x->ndim, op->stream);
  return grads[0] ? 0 : -1;
}

static int all_gather_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                          mx_array *const *outputs, mx_array **out_tangents) {
  (void)primals, (void)outputs;
  if (!tangents[0]) return 0;
  out_tangents[0] = mx_dist_all_gather(tangents[0], group_param(op), op->stream);
  return out_tangents[0] ? 0 : -1;
}

/* Batched x with the batch axis moved (or inserted) at 1, so axis 0 stays the sample's. */
static mx_array *batch_to_one(mx_array *x, int axis, mx_stream s) {
  if (x->ndim == 1) return mx_expand_dims(x, 0, s);
  return axis == 1 ? x : mx_moveaxis(x, axis, 1, s);
}

static int all_gather_vmap(const mx_op *op, mx_array *const *inputs, const int *axes,
                           mx_array **outputs, int *out_axes) {
  mx_array *x = inputs[0];
  int ax = axes[0];
  if (ax == 0) {
    x = batch_to_one(x, ax, op->stream);
    ax = 1;
  }
  outputs[0] = mx_dist_all_gather(x, group_param(op), op->stream);
  out_axes[0] = ax;
  return outputs[0] ? 0 : -1;
}

static int reduce_scatter_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                              const int *argnums, int n_argnums, mx_array *const *outputs,
                              mx_array **grads) {
  (void)primals, (void)argnums, (void)n_argnums, (void)outputs;
  if (!cot[0]) return 0;
  grads[0] = mx_dist_all_gather(cot[0], group_param(op), op->stream);
  return grads[0] ? 0 : -1;
}

static int reduce_scatter_jvp(const mx_op *op, mx_array *const *primals,
                              mx_array *const *tangents, mx_array *const *outputs,
                              mx_array **out_tangents) {
  (void)primals, (void)outputs;
  if (!tangents[0]) return 0;
  out_tangents[0] = mx_dist_sum_scatter(tangents[0], group_param(op), op->stream);
  return out_tangents[0] ? 0 : -1;
}

static int reduce_scatter_vmap(const mx_op *op, mx_array *const *inputs, const int *axes,
                               mx_array **outputs, int *out_axes) {
  mx_array *x = inputs[0];
  int ax = axes[0];
  if (ax == 0) {
    x = batch_to_one(x, ax, op->stream);
    ax = 1;
  }
  outputs[0] = mx_dist_sum_scatter(x, group_param(op), op->stream);
  out_axes[0] = ax;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_distributed(void) {
  mx_prims[MX_PRIM_ALL_REDUCE].vjp = all_reduce_vjp;
  mx_prims[MX_PRIM_ALL_REDUCE].jvp = all_reduce_jvp;
  mx_prims[MX_PRIM_ALL_REDUCE].vmap = all_reduce_vmap;
  mx_prims[MX_PRIM_ALL_GATHER].vjp = all_gather_vjp;
  mx_prims[MX_PRIM_ALL_GATHER].jvp = all_gather_jvp;
  mx_prims[MX_PRIM_ALL_GATHER].vmap = all_gather_vmap;
  mx_prims[MX_PRIM_REDUCE_SCATTER].vjp = reduce_scatter_vjp;
  mx_prims[MX_PRIM_REDUCE_SCATTER].jvp = reduce_scatter_jvp;
  mx_prims[MX_PRIM_REDUCE_SCATTER].vmap = reduce_scatter_vmap;
}
