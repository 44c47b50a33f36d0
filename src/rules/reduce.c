/* reduce.c: rules of the Reduce primitive (kept dims: outputs have the input's rank). */
#include "rules.h"

#include <stdlib.h>

#include "../core/param_enums.h"

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
      /* the cotangent is shared equally among the extremal entries */
      mx_array *mask = mx_astype(mx_equal(x, outputs[0], s), x->dtype, s);
      mx_array *count = mx_sum(mask, r->axes.v, r->axes.n, true, s);
      grads[0] = mx_multiply(mx_divide(g, count, s), mask, s);
      break;
    }
    case MX_REDUCE_PROD:
      grads[0] = mx_divide(mx_multiply(g, outputs[0], s), x, s);
      break;
    default:
      grads[0] = mx_zeros_like(x, s);
  }
  return grads[0] ? 0 : -1;
}

static int reduce_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                      mx_array *const *outputs, mx_array **out) {
  const mx_p_reduce *r = mx_op_params(op);
  if (!t[0]) {
    out[0] = NULL;
    return 0;
  }
  if (r->kind != MX_REDUCE_SUM) {
    /* same weights as the vjp: d out = sum(mask * t) / count (max/min), out * sum(t / x) (prod) */
    mx_stream s = op->stream;
    if (r->kind == MX_REDUCE_PROD) {
      out[0] = mx_multiply(outputs[0], mx_sum(mx_divide(t[0], p[0], s), r->axes.v, r->axes.n, true, s), s);
    } else if (r->kind == MX_REDUCE_MAX || r->kind == MX_REDUCE_MIN) {
      mx_array *mask = mx_astype(mx_equal(p[0], outputs[0], s), p[0]->dtype, s);
      mx_array *num = mx_sum(mx_multiply(mask, t[0], s), r->axes.v, r->axes.n, true, s);
      out[0] = mx_divide(num, mx_sum(mask, r->axes.v, r->axes.n, true, s), s);
    } else {
      out[0] = mx_zeros_like(outputs[0], s);
    }
    return out[0] ? 0 : -1;
  }
  out[0] = mx_reduce("sum", MX_REDUCE_SUM, outputs[0]->dtype, t[0], r->axes.v, r->axes.n, true, op->stream);
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
