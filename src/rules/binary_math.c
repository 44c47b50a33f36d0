/* binary_math.c: rules of the section B primitives (remainder, power, logaddexp, arctan2,
 * bitwise, shifts, logical, divmod). rules/binary.c registers its generic binary rule for
 * every member of MX_BINARY_PRIMS / MX_COMPARE_PRIMS, whose fallback derivative is zero;
 * mx_rules_register_binary_math runs after it (rules/common.c, section B) and installs the
 * rules below for each new primitive explicitly. Operands are already broadcast and cast
 * by the op layer, so derivatives have the operands' shapes. */
#include "rules.h"

/* d out / d input[i] times g (a cotangent or a tangent); out = the primitive's output. */
static mx_array *partial(const mx_op *op, int i, mx_array *const *p, mx_array *out, mx_array *g) {
  mx_stream s = op->stream;
  mx_array *a = p[0], *b = p[1];
  switch (op->prim) {
    case MX_PRIM_REMAINDER: /* a - b * floor(a / b) */
      return i == 0 ? g : mx_negative(mx_multiply(g, mx_floor_divide(a, b, s), s), s);
    case MX_PRIM_POWER:
      if (i == 0) /* b * a^(b-1) */
        return mx_multiply(g, mx_multiply(b, mx_power(a, mx_subtract(b, mx_scalar_like(1.0, b), s), s), s), s);
      /* log(a) * a^b, and 0 where a^b is 0 (so 0 * log 0 gives 0, as MLX) */
      return mx_multiply(g, mx_where(out, mx_multiply(mx_log(a, s), out, s), mx_scalar_like(0.0, out), s), s);
    case MX_PRIM_LOGADDEXP: { /* sigmoid(a - b) and sigmoid(b - a) */
      mx_array *d = i == 0 ? mx_subtract(b, a, s) : mx_subtract(a, b, s);
      mx_array *one = mx_scalar_like(1.0, d);
      return mx_multiply(g, mx_divide(one, mx_add(one, mx_exp(d, s), s), s), s);
    }
    case MX_PRIM_ARCTAN2: { /* b / (a^2 + b^2) and -a / (a^2 + b^2) */
      mx_array *t = mx_add(mx_multiply(a, a, s), mx_multiply(b, b, s), s);
      return i == 0 ? mx_divide(mx_multiply(g, b, s), t, s)
                    : mx_negative(mx_divide(mx_multiply(g, a, s), t, s), s);
    }
    default: /* bitwise, shifts, logical: piecewise constant */
      return mx_zeros_like(p[i], s);
  }
}

static int math_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                    const int *argnums, int n_argnums, mx_array *const *outputs, mx_array **grads) {
  for (int j = 0; j < n_argnums; j++) {
    grads[j] = cot[0] ? partial(op, argnums[j], primals, outputs[0], cot[0]) : NULL;
    if (cot[0] && !grads[j]) return -1;
  }
  return 0;
}

static int math_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                    mx_array *const *outputs, mx_array **out) {
  mx_array *acc = NULL;
  for (int i = 0; i < 2; i++) {
    if (!tangents[i]) continue;
    mx_array *d = partial(op, i, primals, outputs[0], tangents[i]);
    if (!d) return -1;
    acc = acc ? mx_add(acc, d, op->stream) : d;
    if (!acc) return -1;
  }
  out[0] = acc;
  return 0;
}

/* Zero derivatives with the output's dtype (bool for the logical ops). */
static int zero_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                    mx_array *const *outputs, mx_array **out) {
  out[0] = NULL;
  if (!tangents[0] && !tangents[1]) return 0;
  out[0] = mx_zeros_like(outputs[0], op->stream);
  return out[0] ? 0 : -1;
}

/* DivMod: the quotient is piecewise constant; the remainder a - b * floor(a / b). */
static int divmod_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                      const int *argnums, int n_argnums, mx_array *const *outputs, mx_array **grads) {
  mx_stream s = op->stream;
  for (int j = 0; j < n_argnums; j++) {
    grads[j] = NULL;
    if (!cot[1]) continue;
    grads[j] = argnums[j] == 0 ? cot[1]
                               : mx_negative(mx_multiply(cot[1], mx_floor_divide(p[0], p[1], s), s), s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int divmod_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                      mx_array *const *outputs, mx_array **out) {
  mx_stream s = op->stream;
  out[0] = out[1] = NULL;
  if (!t[0] && !t[1]) return 0;
  out[0] = mx_zeros_like(p[0], s);
  mx_array *r = t[0];
  if (t[1]) {
    mx_array *d = mx_negative(mx_multiply(t[1], mx_floor_divide(p[0], p[1], s), s), s);
    r = r ? mx_add(r, d, s) : d;
  }
  out[1] = r;
  return out[0] && out[1] ? 0 : -1;
}

/* Batch axes to the front, ranks aligned after the batch axis, divmod reapplied. */
static int divmod_vmap(const mx_op *op, mx_array *const *inputs, const int *axes,
                       mx_array **outputs, int *out_axes) {
  mx_stream s = op->stream;
  int rank = 0;
  for (int i = 0; i < 2; i++) {
    int r = inputs[i]->ndim - (axes[i] >= 0);
    if (r > rank) rank = r;
  }
  mx_array *in[2];
  for (int i = 0; i < 2; i++) {
    in[i] = inputs[i];
    if (axes[i] >= 0)
      in[i] = mx_rule_pad_after_batch(mx_rule_to_front(inputs[i], axes[i], s), rank + 1, s);
  }
  mx_array *res[2];
  if (mx_divmod(in[0], in[1], s, res) < 0) return -1;
  for (int k = 0; k < 2; k++) { /* already owned by the rule's scope */
    outputs[k] = res[k];
    out_axes[k] = 0;
  }
  return 0;
}

void mx_rules_register_binary_math(void) {
#define REG_MATH(NAME)                                 \
  mx_prims[MX_PRIM_##NAME].vjp = math_vjp;             \
  mx_prims[MX_PRIM_##NAME].jvp = math_jvp;             \
  mx_prims[MX_PRIM_##NAME].vmap = mx_rule_vmap_elementwise;
#define REG_ZERO(NAME)                                 \
  mx_prims[MX_PRIM_##NAME].vjp = math_vjp;             \
  mx_prims[MX_PRIM_##NAME].jvp = zero_jvp;             \
  mx_prims[MX_PRIM_##NAME].vmap = mx_rule_vmap_elementwise;
  REG_MATH(REMAINDER)
  REG_MATH(POWER)
  REG_MATH(LOGADDEXP)
  REG_MATH(ARCTAN2)
  REG_ZERO(BITWISE_AND)
  REG_ZERO(BITWISE_OR)
  REG_ZERO(BITWISE_XOR)
  REG_ZERO(LEFT_SHIFT)
  REG_ZERO(RIGHT_SHIFT)
  REG_ZERO(LOGICAL_AND)
  REG_ZERO(LOGICAL_OR)
#undef REG_MATH
#undef REG_ZERO
  mx_prims[MX_PRIM_DIVMOD].vjp = divmod_vjp;
  mx_prims[MX_PRIM_DIVMOD].jvp = divmod_jvp;
  mx_prims[MX_PRIM_DIVMOD].vmap = divmod_vmap;
}
