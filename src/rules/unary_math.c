/* unary_math.c: vjp and jvp rules of the unary members of section A of prims.def and the
 * (trivial) rules of Arange, plus Abs, Exp, Log and Sqrt of the spine (so complex64
 * cotangents are conjugated as MLX does). Written with ops, so they differentiate again.
 * Registered after rules/unary.c, whose generic rule every unary member first receives: the
 * assignments here replace it. vmap stays the shared element-wise rule except for the
 * members that turn complex64 into float32 (Abs, Real, Imag). */
#include "rules.h"

#include <math.h>

static mx_array *scalar(double v, mx_array *like) { return mx_scalar_like(v, like); }

/* g * f'(x) for out = f(x): the jvp; the vjp of a complex64 input conjugates around it. */
static mx_array *times_derivative(const mx_op *op, mx_array *x, mx_array *out, mx_array *g) {
  mx_stream s = op->stream;
  switch (op->prim) {
    case MX_PRIM_EXP: return mx_multiply(g, out, s);
    case MX_PRIM_LOG: return mx_divide(g, x, s);
    case MX_PRIM_SQRT: return mx_divide(g, mx_multiply(scalar(2.0, out), out, s), s);
    case MX_PRIM_SQUARE: return mx_multiply(g, mx_multiply(scalar(2.0, x), x, s), s);
    case MX_PRIM_RSQRT: /* -x^(-3/2) / 2 */
      return mx_multiply(g, mx_multiply(scalar(-0.5, out), mx_multiply(out, mx_square(out, s), s), s), s);
    case MX_PRIM_EXPM1: return mx_multiply(g, mx_exp(x, s), s);
    case MX_PRIM_LOG2: return mx_divide(g, mx_multiply(x, scalar(M_LN2, x), s), s);
    case MX_PRIM_LOG10: return mx_divide(g, mx_multiply(x, scalar(M_LN10, x), s), s);
    case MX_PRIM_LOG1P: return mx_divide(g, mx_add(x, scalar(1.0, x), s), s);
    case MX_PRIM_SIN: return mx_multiply(g, mx_cos(x, s), s);
    case MX_PRIM_COS: return mx_negative(mx_multiply(g, mx_sin(x, s), s), s);
    case MX_PRIM_TAN: return mx_divide(g, mx_square(mx_cos(x, s), s), s);
    case MX_PRIM_ARCSIN:
      return mx_multiply(g, mx_rsqrt(mx_subtract(scalar(1.0, x), mx_square(x, s), s), s), s);
    case MX_PRIM_ARCCOS:
      return mx_negative(
          mx_multiply(g, mx_rsqrt(mx_subtract(scalar(1.0, x), mx_square(x, s), s), s), s), s);
    case MX_PRIM_ARCTAN: return mx_divide(g, mx_add(scalar(1.0, x), mx_square(x, s), s), s);
    case MX_PRIM_SINH: return mx_multiply(g, mx_cosh(x, s), s);
    case MX_PRIM_COSH: return mx_multiply(g, mx_sinh(x, s), s);
    case MX_PRIM_TANH: return mx_multiply(g, mx_subtract(scalar(1.0, out), mx_square(out, s), s), s);
    case MX_PRIM_ARCSINH: return mx_multiply(g, mx_rsqrt(mx_add(mx_square(x, s), scalar(1.0, x), s), s), s);
    case MX_PRIM_ARCCOSH:
      return mx_multiply(g, mx_rsqrt(mx_subtract(mx_square(x, s), scalar(1.0, x), s), s), s);
    case MX_PRIM_ARCTANH: return mx_divide(g, mx_subtract(scalar(1.0, x), mx_square(x, s), s), s);
    case MX_PRIM_ERF: { /* 2/sqrt(pi) e^(-x^2) */
      mx_array *e = mx_exp(mx_negative(mx_square(x, s), s), s);
      return mx_multiply(g, mx_multiply(scalar(M_2_SQRTPI, x), e, s), s);
    }
    case MX_PRIM_SIGMOID:
      return mx_multiply(g, mx_multiply(out, mx_subtract(scalar(1.0, out), out, s), s), s);
    case MX_PRIM_CONJUGATE: return mx_conjugate(g, s);
    case MX_PRIM_CEIL:
    case MX_PRIM_ROUND:
    case MX_PRIM_LOGICAL_NOT:
    case MX_PRIM_BITWISE_INVERT: return mx_zeros_like(x, s);
    default: return mx_fail(MX_ERUNTIME, "[%s] no derivative rule.", mx_prim_name(op->prim));
  }
}

static int math_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                    const int *argnums, int n_argnums, mx_array *const *outputs,
                    mx_array **grads) {
  if (n_argnums == 0) return 0;
  mx_array *g = cot[0];
  if (!g) {
    grads[0] = NULL;
    return 0;
  }
  mx_stream s = op->stream;
  switch (op->prim) {
    case MX_PRIM_ABS: grads[0] = mx_multiply(g, mx_sign(primals[0], s), s); break;
    /* float32 part of a complex64 input: the cotangent is the real part (Real) or i times
     * it (Imag), as MLX */
    case MX_PRIM_REAL: grads[0] = mx_astype(g, MX_COMPLEX64, s); break;
    case MX_PRIM_IMAG:
      grads[0] = mx_multiply(mx_scope_adopt(mx_array_scalar_c64(0.0f, 1.0f)), g, s);
      break;
    default:
      /* complex64: g * conj(f'(x)), as MLX's vjps; conj is the identity on real dtypes */
      grads[0] = mx_conjugate(times_derivative(op, primals[0], outputs[0], mx_conjugate(g, s)), s);
  }
  return grads[0] ? 0 : -1;
}

static int math_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                    mx_array *const *outputs, mx_array **out) {
  mx_array *t = tangents[0];
  if (!t) {
    out[0] = NULL;
    return 0;
  }
  mx_stream s = op->stream;
  switch (op->prim) {
    case MX_PRIM_ABS: /* complex64: Re(conj(sign(x)) t), a float32 like the output */
      out[0] = mx_real(mx_multiply(mx_conjugate(mx_sign(primals[0], s), s), t, s), s);
      break;
    case MX_PRIM_REAL: out[0] = mx_real(t, s); break;
    case MX_PRIM_IMAG: out[0] = mx_imag(t, s); break;
    default: out[0] = times_derivative(op, primals[0], outputs[0], t);
  }
  return out[0] ? 0 : -1;
}

/* vmap of the members whose output dtype differs from the input's (complex64 -> float32):
 * the op is element-wise, so it applies to the batched input as is and the mapped axis stays
 * where it was (the shared element-wise rule would need the output node to know the dtype). */
static int to_real_vmap(const mx_op *op, mx_array *const *inputs, const int *axes,
                        mx_array **outputs, int *out_axes) {
  mx_stream s = op->stream;
  switch (op->prim) {
    case MX_PRIM_ABS: outputs[0] = mx_abs(inputs[0], s); break;
    case MX_PRIM_REAL: outputs[0] = mx_real(inputs[0], s); break;
    default: outputs[0] = mx_imag(inputs[0], s);
  }
  out_axes[0] = axes[0];
  return outputs[0] ? 0 : -1;
}

/* Arange has no inputs: nothing to differentiate, nothing mapped. */
static int arange_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                      const int *argnums, int n_argnums, mx_array *const *outputs,
                      mx_array **grads) {
  return 0;
}

static int arange_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                      mx_array *const *outputs, mx_array **out) {
  out[0] = NULL;
  return 0;
}

static int arange_vmap(const mx_op *op, mx_array *const *inputs, const int *axes,
                       mx_array **outputs, int *out_axes) {
  const mx_p_arange *p = mx_op_params(op);
  mx_dtype t = op->outputs[0] ? op->outputs[0]->dtype : MX_FLOAT32;
  outputs[0] = mx_arange(p->start, p->stop, p->step, t, op->stream);
  out_axes[0] = -1;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_unary_math(void) {
  static const mx_prim members[] = {
      /* spine members whose complex64 rules MLX conjugates (rules/unary.c keeps the rest) */
      MX_PRIM_ABS,     MX_PRIM_EXP,     MX_PRIM_LOG,        MX_PRIM_SQRT,
      /* section A members */
      MX_PRIM_SQUARE,  MX_PRIM_RSQRT,   MX_PRIM_EXPM1,      MX_PRIM_LOG2,
      MX_PRIM_LOG10,   MX_PRIM_LOG1P,   MX_PRIM_SIN,        MX_PRIM_COS,
      MX_PRIM_TAN,     MX_PRIM_ARCSIN,  MX_PRIM_ARCCOS,     MX_PRIM_ARCTAN,
      MX_PRIM_SINH,    MX_PRIM_COSH,    MX_PRIM_TANH,       MX_PRIM_ARCSINH,
      MX_PRIM_ARCCOSH, MX_PRIM_ARCTANH, MX_PRIM_ERF,        MX_PRIM_SIGMOID,
      MX_PRIM_CEIL,    MX_PRIM_ROUND,   MX_PRIM_LOGICAL_NOT, MX_PRIM_BITWISE_INVERT,
      MX_PRIM_CONJUGATE, MX_PRIM_REAL,  MX_PRIM_IMAG,
  };
  for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
    mx_prims[members[i]].vjp = math_vjp;
    mx_prims[members[i]].jvp = math_jvp;
  }
  mx_prims[MX_PRIM_ABS].vmap = to_real_vmap;
  mx_prims[MX_PRIM_REAL].vmap = to_real_vmap;
  mx_prims[MX_PRIM_IMAG].vmap = to_real_vmap;
  mx_prims[MX_PRIM_ARANGE].vjp = arange_vjp;
  mx_prims[MX_PRIM_ARANGE].jvp = arange_jvp;
  mx_prims[MX_PRIM_ARANGE].vmap = arange_vmap;
}
