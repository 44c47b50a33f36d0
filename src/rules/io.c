/* io.c: rules of Load (src/io): its input is raw uint8 bytes, so it has no gradient (zero
 * vjp and jvp); vmap over a batch of byte vectors loads a batch of tensors, since the bytes
 * of row i are the row-major bytes of output i. */
#include "rules.h"

#include <stdlib.h>

static int load_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  mx_array *o = op->outputs[0];
  if (!o) return mx_fail_int(MX_ERUNTIME, "[vmap] Load output was freed.");
  if (axes[0] < 0) {
    mx_array *x = in[0];
    outputs[0] = mx_op_make1(MX_PRIM_LOAD, op->params, op->stream, 1, &x, o->dtype, o->ndim,
                             o->shape);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  mx_array *x = mx_rule_to_front(in[0], axes[0], op->stream);
  if (!x) return -1;
  int ndim = o->ndim + 1;
  int32_t small[MX_INLINE_DIMS + 1];
  int32_t *shape = ndim <= MX_INLINE_DIMS + 1 ? small : malloc((size_t)ndim * sizeof(int32_t));
  if (!shape) return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  shape[0] = x->shape[0];
  for (int d = 0; d < o->ndim; d++) shape[d + 1] = o->shape[d];
  outputs[0] = mx_op_make1(MX_PRIM_LOAD, op->params, op->stream, 1, &x, o->dtype, ndim, shape);
  if (shape != small) free(shape);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_io(void) {
  mx_prims[MX_PRIM_LOAD].vjp = mx_rule_zero_vjp;
  mx_prims[MX_PRIM_LOAD].jvp = mx_rule_zero_jvp;
  mx_prims[MX_PRIM_LOAD].vmap = load_vmap;
}
