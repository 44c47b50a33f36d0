/* unary.c: rules of the unary family. vjp and jvp both multiply by the derivative, so one
 * function gives g * f'(x) for a cotangent or a tangent g. */
#include "rules.h"

#include <math.h>

/* g * f'(x) with out = f(x); NULL g means zero and gives NULL. */
static mx_array *times_derivative(const mx_op *op, mx_array *x, mx_array *out, mx_array *g) {
  if (!g) return NULL;
  mx_stream s = op->stream;
  switch (op->prim) {
    case MX_PRIM_ABS: return mx_multiply(g, mx_sign(x, s), s);
    case MX_PRIM_NEGATIVE: return mx_negative(g, s);
    case MX_PRIM_EXP: return mx_multiply(g, out, s);
    case MX_PRIM_LOG: return mx_divide(g, x, s);
    case MX_PRIM_SQRT: return mx_divide(g, mx_multiply(mx_scalar_like(2.0, out), out, s), s);
    case MX_PRIM_ERFINV: {
      mx_array *k = mx_scalar_like(0.5 * sqrt(M_PI), out);
      return mx_multiply(g, mx_multiply(k, mx_exp(mx_multiply(out, out, s), s), s), s);
    }
    case MX_PRIM_COPY: return g;
    case MX_PRIM_FLOOR:
    case MX_PRIM_SIGN: return mx_zeros_like(x, s);
    default: return mx_fail(MX_ERUNTIME, "[%s] no derivative rule.", mx_prim_name(op->prim));
  }
}

static int unary_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                     const int *argnums, int n_argnums, mx_array *const *outputs, mx_array **grads) {
  if (n_argnums == 0) return 0;
  mx_array *g = cot[0];
  if (!g) {
    grads[0] = NULL;
    return 0;
  }
  if (op->prim == MX_PRIM_ASTYPE) grads[0] = mx_astype(g, primals[0]->dtype, op->stream);
  else grads[0] = times_derivative(op, primals[0], outputs[0], g);
  return grads[0] ? 0 : -1;
}

static int unary_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                     mx_array *const *outputs, mx_array **out) {
  mx_array *t = tangents[0];
  if (!t) {
    out[0] = NULL;
    return 0;
  }
  if (op->prim == MX_PRIM_ASTYPE) out[0] = mx_astype(t, outputs[0]->dtype, op->stream);
  else out[0] = times_derivative(op, primals[0], outputs[0], t);
  return out[0] ? 0 : -1;
}

void mx_rules_register_unary(void) {
#define REG(NAME, stem)                                        \
  mx_prims[MX_PRIM_##NAME].vjp = unary_vjp;                    \
  mx_prims[MX_PRIM_##NAME].jvp = unary_jvp;                    \
  mx_prims[MX_PRIM_##NAME].vmap = mx_rule_vmap_elementwise;
  MX_UNARY_PRIMS(REG)
#undef REG
}
