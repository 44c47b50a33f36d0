/* misc.c: rules of RandomBits (not differentiable; batched keys vmap) and Depends. */
#include "rules.h"

#include <stdlib.h>

static int bits_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  const mx_p_random_bits *p = mx_op_params(op);
  mx_array *key = mx_rule_to_front(in[0], axes[0], op->stream);
  mx_array *o = op->outputs[0];
  if (!o) return mx_fail_int(MX_ERUNTIME, "[vmap] RandomBits output was freed.");
  /* keys (K..., 2) give (K..., *shape): the primitive's shape is what follows the batch
   * dims of the key it was traced with; the batched key (B, K..., 2) gives (B, K..., *shape) */
  int key_batch = op->inputs[0]->ndim - 1;
  int tail = o->ndim - key_batch;
  outputs[0] = mx_random_bits(o->shape + key_batch, tail, p->width, key, op->stream);
  out_axes[0] = axes[0] >= 0 ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

static int depends_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                       const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  for (int j = 0; j < n; j++) {
    int i = argnums[j];
    grads[j] = i < op->n_out ? cot[i] : mx_zeros_like(p[i], op->stream);
  }
  return 0;
}

static int depends_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                       mx_array *const *outputs, mx_array **out) {
  for (int k = 0; k < op->n_out; k++) out[k] = t[k];
  return 0;
}

static int depends_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                        int *out_axes) {
  int rc = mx_depends(in, op->n_out, in + op->n_out, op->n_in - op->n_out, outputs);
  for (int k = 0; k < op->n_out; k++) out_axes[k] = axes[k];
  return rc;
}

void mx_rules_register_misc(void) {
  mx_prims[MX_PRIM_RANDOM_BITS].vjp = mx_rule_zero_vjp;
  mx_prims[MX_PRIM_RANDOM_BITS].jvp = mx_rule_zero_jvp;
  mx_prims[MX_PRIM_RANDOM_BITS].vmap = bits_vmap;
  mx_prims[MX_PRIM_DEPENDS].vjp = depends_vjp;
  mx_prims[MX_PRIM_DEPENDS].jvp = depends_jvp;
  mx_prims[MX_PRIM_DEPENDS].vmap = depends_vmap;
}
