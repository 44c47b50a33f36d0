/* binary.c: rules of the binary, comparison and ternary (select) families. The op layer
 * broadcasts operands before the primitive, so cotangents already have operand shapes. */
#include "rules.h"

/* d out / d input[i], times g. */
static mx_array *partial(const mx_op *op, int i, mx_array *const *p, mx_array *out, mx_array *g) {
  mx_stream s = op->stream;
  mx_array *a = p[0], *b = p[1];
  switch (op->prim) {
    case MX_PRIM_ADD: return g;
    case MX_PRIM_SUBTRACT: return i == 0 ? g : mx_negative(g, s);
    case MX_PRIM_MULTIPLY: return mx_multiply(g, i == 0 ? b : a, s);
    case MX_PRIM_DIVIDE:
      return i == 0 ? mx_divide(g, b, s) : mx_negative(mx_divide(mx_multiply(g, out, s), b, s), s);
    case MX_PRIM_MAXIMUM:
      return mx_multiply(g, mx_astype(i == 0 ? mx_greater(a, b, s) : mx_less_equal(a, b, s), g->dtype, s), s);
    case MX_PRIM_MINIMUM:
      return mx_multiply(g, mx_astype(i == 0 ? mx_less(a, b, s) : mx_greater_equal(a, b, s), g->dtype, s), s);
    default: return mx_zeros_like(p[i], s); /* comparisons */
  }
}

static int binary_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                      const int *argnums, int n_argnums, mx_array *const *outputs, mx_array **grads) {
  mx_stream s = op->stream;
  /* complex64: g * conj(d out / d input) = conj(conj(g) * d out / d input), as MLX */
  bool cplx = cot[0] && cot[0]->dtype == MX_COMPLEX64;
  for (int j = 0; j < n_argnums; j++) {
    if (!cot[0]) {
      grads[j] = NULL;
      continue;
    }
    grads[j] = cplx ? mx_conjugate(partial(op, argnums[j], primals, outputs[0], mx_conjugate(cot[0], s)), s)
                    : partial(op, argnums[j], primals, outputs[0], cot[0]);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int binary_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                      mx_array *const *outputs, mx_array **out) {
  mx_array *acc = NULL;
  for (int i = 0; i < 2; i++) {
    if (!tangents[i]) continue;
    mx_array *d = partial(op, i, primals, outputs[0], tangents[i]);
    if (!d) return -1;
    acc = acc ? mx_add(acc, d, op->stream) : d;
  }
  if (acc && mx_prim_family(op->prim)[0] == 'c') acc = mx_zeros_like(outputs[0], op->stream);
  out[0] = acc;
  return acc || (!tangents[0] && !tangents[1]) ? 0 : -1;
}

static int select_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                      const int *argnums, int n_argnums, mx_array *const *outputs, mx_array **grads) {
  mx_stream s = op->stream;
  for (int j = 0; j < n_argnums; j++) {
    int i = argnums[j];
    if (!cot[0]) {
      grads[j] = NULL;
      continue;
    }
    mx_array *zero = mx_zeros_like(cot[0], s);
    if (i == 0) grads[j] = mx_zeros_like(p[0], s);
    else if (i == 1) grads[j] = mx_where(p[0], cot[0], zero, s);
    else grads[j] = mx_where(p[0], zero, cot[0], s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int select_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                      mx_array *const *outputs, mx_array **out) {
  mx_stream s = op->stream;
  if (!t[1] && !t[2]) {
    out[0] = NULL;
    return 0;
  }
  mx_array *tx = t[1] ? t[1] : mx_zeros_like(p[1], s);
  mx_array *ty = t[2] ? t[2] : mx_zeros_like(p[2], s);
  out[0] = mx_where(p[0], tx, ty, s);
  return out[0] ? 0 : -1;
}

void mx_rules_register_binary(void) {
#define REG(NAME, stem)                                        \
  mx_prims[MX_PRIM_##NAME].vjp = binary_vjp;                   \
  mx_prims[MX_PRIM_##NAME].jvp = binary_jvp;                   \
  mx_prims[MX_PRIM_##NAME].vmap = mx_rule_vmap_elementwise;
  MX_BINARY_PRIMS(REG)
  MX_COMPARE_PRIMS(REG)
#undef REG
  mx_prims[MX_PRIM_SELECT].vjp = select_vjp;
  mx_prims[MX_PRIM_SELECT].jvp = select_jvp;
  mx_prims[MX_PRIM_SELECT].vmap = mx_rule_vmap_elementwise;
}
