/* unary_math.c: element-wise unary math of MLX beyond the spine's unary.c: one primitive
 * per MLX primitive (Square, Rsqrt, Expm1, Log2, trig, Erf, Sigmoid, Ceil, Round,
 * LogicalNot, BitwiseInvert, Conjugate, Real, Imag) and the ops MLX composes (reciprocal,
 * degrees, radians, trunc, round with decimals, positive). Depends on ops.h only. */
#include "ops.h"

#include <math.h>

#include "../core/error.h"

static mx_array *same_type(mx_prim p, mx_array *a, mx_stream s) {
  return mx_op_make1(p, NULL, s, 1, &a, a->dtype, a->ndim, a->shape);
}

/* at_least_float(a) then the primitive (spec/semantics.md 2.1). */
static mx_array *float_math(mx_prim p, mx_array *a, mx_stream s) {
  if (!a) return NULL;
  mx_dtype t = mx_at_least_float(a->dtype);
  if (t == a->dtype) return same_type(p, a, s);
  MX_SCOPE_BEGIN;
  mx_array *x = mx_astype(a, t, s);
  mx_array *r = x ? same_type(p, x, s) : NULL;
  MX_SCOPE_RETURN(r);
}

/* float_math for the members MLX rejects on complex64. */
static mx_array *real_math(const char *name, mx_prim p, mx_array *a, mx_stream s) {
  if (a && a->dtype == MX_COMPLEX64)
    return mx_fail(MX_EINVAL, "[%s] Not supported for complex64.", name);
  return float_math(p, a, s);
}

static mx_array *identity(mx_array *a) { return mx_scope_adopt(mx_keep(a)); }

static mx_array *scalar(double v, mx_dtype t) { return mx_scope_adopt(mx_array_scalar_f64(v, t)); }

mx_array *mx_square(mx_array *a, mx_stream s) { return a ? same_type(MX_PRIM_SQUARE, a, s) : NULL; }
mx_array *mx_rsqrt(mx_array *a, mx_stream s) { return float_math(MX_PRIM_RSQRT, a, s); }
mx_array *mx_expm1(mx_array *a, mx_stream s) { return real_math("expm1", MX_PRIM_EXPM1, a, s); }
mx_array *mx_log2(mx_array *a, mx_stream s) { return float_math(MX_PRIM_LOG2, a, s); }
mx_array *mx_log10(mx_array *a, mx_stream s) { return float_math(MX_PRIM_LOG10, a, s); }
mx_array *mx_log1p(mx_array *a, mx_stream s) { return float_math(MX_PRIM_LOG1P, a, s); }
mx_array *mx_sin(mx_array *a, mx_stream s) { return float_math(MX_PRIM_SIN, a, s); }
mx_array *mx_cos(mx_array *a, mx_stream s) { return float_math(MX_PRIM_COS, a, s); }
mx_array *mx_tan(mx_array *a, mx_stream s) { return float_math(MX_PRIM_TAN, a, s); }
mx_array *mx_arcsin(mx_array *a, mx_stream s) { return float_math(MX_PRIM_ARCSIN, a, s); }
mx_array *mx_arccos(mx_array *a, mx_stream s) { return float_math(MX_PRIM_ARCCOS, a, s); }
mx_array *mx_arctan(mx_array *a, mx_stream s) { return float_math(MX_PRIM_ARCTAN, a, s); }
mx_array *mx_sinh(mx_array *a, mx_stream s) { return float_math(MX_PRIM_SINH, a, s); }
mx_array *mx_cosh(mx_array *a, mx_stream s) { return float_math(MX_PRIM_COSH, a, s); }
mx_array *mx_tanh(mx_array *a, mx_stream s) { return float_math(MX_PRIM_TANH, a, s); }
mx_array *mx_arcsinh(mx_array *a, mx_stream s) { return float_math(MX_PRIM_ARCSINH, a, s); }
mx_array *mx_arccosh(mx_array *a, mx_stream s) { return float_math(MX_PRIM_ARCCOSH, a, s); }
mx_array *mx_arctanh(mx_array *a, mx_stream s) { return float_math(MX_PRIM_ARCTANH, a, s); }
mx_array *mx_erf(mx_array *a, mx_stream s) { return real_math("erf", MX_PRIM_ERF, a, s); }
mx_array *mx_sigmoid(mx_array *a, mx_stream s) { return real_math("sigmoid", MX_PRIM_SIGMOID, a, s); }

/* 1 / a in at_least_float(a) (MLX: divide(array(1, dtype), a)). */
mx_array *mx_reciprocal(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_divide(scalar(1.0, mx_at_least_float(a->dtype)), a, s);
  MX_SCOPE_RETURN(r);
}

static mx_array *scaled(mx_array *a, double k, mx_stream s) {
  if (!a) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_multiply(a, scalar(k, mx_at_least_float(a->dtype)), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_degrees(mx_array *a, mx_stream s) { return scaled(a, 180.0 / 3.14159265358979323846, s); }
mx_array *mx_radians(mx_array *a, mx_stream s) { return scaled(a, 3.14159265358979323846 / 180.0, s); }

mx_array *mx_ceil(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  if (a->dtype == MX_COMPLEX64) return mx_fail(MX_EINVAL, "[ceil] Not supported for complex64.");
  if (!mx_dtype_is_inexact(a->dtype)) return identity(a);
  return same_type(MX_PRIM_CEIL, a, s);
}

mx_array *mx_trunc(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  if (a->dtype == MX_COMPLEX64) return mx_fail(MX_EINVAL, "[trunc] Not supported for complex64.");
  if (!mx_dtype_is_inexact(a->dtype)) return identity(a);
  MX_SCOPE_BEGIN;
  mx_array *neg = mx_less(a, scalar(0.0, a->dtype), s);
  mx_array *r = mx_where(neg, mx_ceil(a, s), mx_floor(a, s), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_round(mx_array *a, int decimals, mx_stream s) {
  if (!a) return NULL;
  if (decimals == 0) {
    if (!mx_dtype_is_inexact(a->dtype)) return identity(a);
    return same_type(MX_PRIM_ROUND, a, s);
  }
  mx_dtype t = mx_at_least_float(a->dtype);
  float scale = (float)pow(10.0, decimals);
  MX_SCOPE_BEGIN;
  mx_array *r = mx_multiply(a, scalar(scale, t), s);
  r = mx_round(r, 0, s);
  r = mx_multiply(r, scalar(1.0f / scale, t), s);
  r = mx_astype(r, a->dtype, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_positive(mx_array *a, mx_stream s) {
  (void)s;
  return a ? identity(a) : NULL;
}

mx_array *mx_logical_not(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *b = mx_astype(a, MX_BOOL, s);
  mx_array *r = b ? same_type(MX_PRIM_LOGICAL_NOT, b, s) : NULL;
  MX_SCOPE_RETURN(r);
}

mx_array *mx_bitwise_invert(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  if (mx_dtype_is_inexact(a->dtype))
    return mx_fail(MX_EINVAL, "[bitwise_invert] Bitwise inverse only allowed on integer types.");
  return same_type(MX_PRIM_BITWISE_INVERT, a, s);
}

mx_array *mx_conjugate(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  if (a->dtype != MX_COMPLEX64) return identity(a);
  return same_type(MX_PRIM_CONJUGATE, a, s);
}

mx_array *mx_real(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  if (a->dtype != MX_COMPLEX64) return identity(a);
  return mx_op_make1(MX_PRIM_REAL, NULL, s, 1, &a, MX_FLOAT32, a->ndim, a->shape);
}

mx_array *mx_imag(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  if (a->dtype != MX_COMPLEX64) return mx_zeros_like(a, s);
  return mx_op_make1(MX_PRIM_IMAG, NULL, s, 1, &a, MX_FLOAT32, a->ndim, a->shape);
}
