/* reduce_scan.c: rules of ArgReduce (not differentiable: zero), Softmax and LogSumExp,
 * written with ops so they differentiate again, and the registration of the family's
 * rules (the Scan rules live in scan.c). */
#include "rules.h"

#include <stdlib.h>

void mx_rules_register_reduce_scan(void);
void mx_rules_register_scan(void); /* scan.c */

/* ---- ArgReduce ---- */

static int arg_reduce_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                          const int *argnums, int n_argnums, mx_array *const *outputs,
                          mx_array **grads) {
  (void)cot, (void)argnums, (void)outputs;
  if (n_argnums == 0) return 0;
  grads[0] = mx_zeros_like(p[0], op->stream);
  return grads[0] ? 0 : -1;
}

static int arg_reduce_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                          mx_array *const *outputs, mx_array **out) {
  (void)p;
  out[0] = t[0] ? mx_zeros_like(outputs[0], op->stream) : NULL;
  return !t[0] || out[0] ? 0 : -1;
}

static int arg_reduce_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                           mx_array **outputs, int *out_axes) {
  const mx_p_arg_reduce *r = mx_op_params(op);
  mx_array *x = mx_rule_to_front(in[0], axes[0], op->stream);
  int shift = axes[0] >= 0 ? 1 : 0, ax = r->axis + shift;
  outputs[0] = r->kind == MX_ARG_REDUCE_MAX ? mx_argmax(x, &ax, 1, true, op->stream)
                                           : mx_argmin(x, &ax, 1, true, op->stream);
  out_axes[0] = shift ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

/* NumberOfElements: the count over the per-example axes is the same for every example. */
static int number_of_elements_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                                   mx_array **outputs, int *out_axes) {
  const mx_p_number_of_elements *r = mx_op_params(op);
  mx_array *x = mx_rule_to_front(in[0], axes[0], op->stream);
  int shift = axes[0] >= 0 ? 1 : 0, small[16];
  int *ax = r->axes.n <= 16 ? small : malloc((size_t)r->axes.n * sizeof(int));
  if (!ax) return mx_fail_int(MX_ENOMEM, "[number_of_elements] out of memory.");
  for (int i = 0; i < r->axes.n; i++) ax[i] = r->axes.v[i] + shift;
  mx_p_number_of_elements p = {{r->axes.n, ax}, r->inverted, r->dtype};
  outputs[0] = x ? mx_op_make1(MX_PRIM_NUMBER_OF_ELEMENTS, &p, op->stream, 1, &x,
                               (mx_dtype)r->dtype, 0, NULL)
                 : NULL;
  if (ax != small) free(ax);
  out_axes[0] = -1;
  return outputs[0] ? 0 : -1;
}

/* ---- Softmax and LogSumExp (last axis) ---- */

/* y * (v - sum(v * y, -1)): the vjp and the jvp of softmax alike. */
static mx_array *softmax_linear(mx_array *y, mx_array *v, mx_stream s) {
  int last = y->ndim - 1;
  mx_array *dot = mx_sum(mx_multiply(v, y, s), &last, 1, true, s);
  return mx_multiply(y, mx_subtract(v, dot, s), s);
}

static int softmax_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                       const int *argnums, int n_argnums, mx_array *const *outputs,
                       mx_array **grads) {
  (void)argnums;
  if (n_argnums == 0) return 0;
  if (!cot[0]) {
    grads[0] = NULL;
    return 0;
  }
  mx_array *y = outputs[0];
  if (!y) {
    mx_p_softmax prm = *(const mx_p_softmax *)mx_op_params(op);
    mx_array *x = p[0];
    y = mx_op_make1(MX_PRIM_SOFTMAX, &prm, op->stream, 1, &x, x->dtype, x->ndim, x->shape);
  }
  grads[0] = y ? softmax_linear(y, cot[0], op->stream) : NULL;
  return grads[0] ? 0 : -1;
}

static int softmax_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                       mx_array *const *outputs, mx_array **out) {
  (void)p;
  out[0] = t[0] ? softmax_linear(outputs[0], t[0], op->stream) : NULL;
  return !t[0] || out[0] ? 0 : -1;
}

/* The row primitive (Softmax or LogSumExp) on x along its last axis. */
static mx_array *row_prim(const mx_op *op, mx_array *x) {
  if (!x) return NULL;
  if (op->prim == MX_PRIM_SOFTMAX)
    return mx_op_make1(MX_PRIM_SOFTMAX, mx_op_params(op), op->stream, 1, &x, x->dtype, x->ndim,
                       x->shape);
  int32_t *shape = malloc((size_t)x->ndim * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[vmap] out of memory.");
  for (int i = 0; i < x->ndim; i++) shape[i] = i == x->ndim - 1 ? 1 : x->shape[i];
  mx_array *r = mx_op_make1(MX_PRIM_LOGSUMEXP, NULL, op->stream, 1, &x, x->dtype, x->ndim, shape);
  free(shape);
  return r;
}

static int row_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                    int *out_axes) {
  mx_array *x = in[0];
  /* the batch axis must not be the last one: move it to the front */
  if (axes[0] >= 0) x = mx_rule_to_front(x, axes[0], op->stream);
  outputs[0] = row_prim(op, x);
  out_axes[0] = axes[0] >= 0 ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

static int logsumexp_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                         const int *argnums, int n_argnums, mx_array *const *outputs,
                         mx_array **grads) {
  (void)argnums;
  if (n_argnums == 0) return 0;
  if (!cot[0]) {
    grads[0] = NULL;
    return 0;
  }
  mx_stream s = op->stream;
  mx_array *o = outputs[0] ? outputs[0] : row_prim(op, p[0]);
  grads[0] = mx_multiply(cot[0], mx_exp(mx_subtract(p[0], o, s), s), s);
  return grads[0] ? 0 : -1;
}

static int logsumexp_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                         mx_array *const *outputs, mx_array **out) {
  if (!t[0]) {
    out[0] = NULL;
    return 0;
  }
  mx_stream s = op->stream;
  int last = p[0]->ndim - 1;
  mx_array *w = mx_exp(mx_subtract(p[0], outputs[0], s), s);
  out[0] = mx_sum(mx_multiply(t[0], w, s), &last, 1, true, s);
  return out[0] ? 0 : -1;
}

void mx_rules_register_reduce_scan(void) {
  mx_prims[MX_PRIM_ARG_REDUCE].vjp = arg_reduce_vjp;
  mx_prims[MX_PRIM_ARG_REDUCE].jvp = arg_reduce_jvp;
  mx_prims[MX_PRIM_ARG_REDUCE].vmap = arg_reduce_vmap;
  mx_rules_register_scan();
  mx_prims[MX_PRIM_SOFTMAX].vjp = softmax_vjp;
  mx_prims[MX_PRIM_SOFTMAX].jvp = softmax_jvp;
  mx_prims[MX_PRIM_SOFTMAX].vmap = row_vmap;
  mx_prims[MX_PRIM_LOGSUMEXP].vjp = logsumexp_vjp;
  mx_prims[MX_PRIM_LOGSUMEXP].jvp = logsumexp_jvp;
  mx_prims[MX_PRIM_LOGSUMEXP].vmap = row_vmap;
  mx_prims[MX_PRIM_NUMBER_OF_ELEMENTS].vjp = mx_rule_zero_vjp;
  mx_prims[MX_PRIM_NUMBER_OF_ELEMENTS].jvp = mx_rule_zero_jvp;
  mx_prims[MX_PRIM_NUMBER_OF_ELEMENTS].vmap = number_of_elements_vmap;
}
