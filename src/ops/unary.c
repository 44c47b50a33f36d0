/* unary.c: element-wise unary ops and astype. Math on integers promotes to float32 first
 * (spec/semantics.md section 2.1); the primitive then runs in the result dtype. */
#include "ops.h"

#include "../core/error.h"

static mx_array *unary(mx_prim p, mx_array *a, mx_stream s) {
  if (!a) return NULL;
  return mx_op_make1(p, NULL, s, 1, &a, a->dtype, a->ndim, a->shape);
}

static mx_array *unary_float(mx_prim p, mx_array *a, mx_stream s) {
  if (!a) return NULL;
  mx_dtype t = mx_at_least_float(a->dtype);
  if (t == a->dtype) return unary(p, a, s);
  MX_SCOPE_BEGIN;
  mx_array *r = unary(p, mx_astype(a, t, s), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_abs(mx_array *a, mx_stream s) {
  if (a && (a->dtype == MX_BOOL || !mx_dtype_is_signed(a->dtype))) return mx_scope_adopt(mx_keep(a));
  if (a && a->dtype == MX_COMPLEX64) /* |z| is real, as MLX gives it */
    return mx_op_make1(MX_PRIM_ABS, NULL, s, 1, &a, MX_FLOAT32, a->ndim, a->shape);
  return unary(MX_PRIM_ABS, a, s);
}

mx_array *mx_negative(mx_array *a, mx_stream s) {
  if (a && a->dtype == MX_BOOL)
    return mx_fail(MX_EINVAL, "[negative] Not supported for bool, use logical_not instead.");
  return unary(MX_PRIM_NEGATIVE, a, s);
}

mx_array *mx_exp(mx_array *a, mx_stream s) { return unary_float(MX_PRIM_EXP, a, s); }
mx_array *mx_log(mx_array *a, mx_stream s) { return unary_float(MX_PRIM_LOG, a, s); }
mx_array *mx_sqrt(mx_array *a, mx_stream s) { return unary_float(MX_PRIM_SQRT, a, s); }
mx_array *mx_erfinv(mx_array *a, mx_stream s) {
  if (a && a->dtype == MX_COMPLEX64) return mx_fail(MX_EINVAL, "[erfinv] Not supported for complex64.");
  return unary_float(MX_PRIM_ERFINV, a, s);
}

mx_array *mx_floor(mx_array *a, mx_stream s) {
  if (a && a->dtype == MX_COMPLEX64) return mx_fail(MX_EINVAL, "[floor] Not supported for complex64.");
  if (a && !mx_dtype_is_inexact(a->dtype)) return mx_scope_adopt(mx_keep(a));
  return unary(MX_PRIM_FLOOR, a, s);
}

mx_array *mx_stop_gradient(mx_array *a, mx_stream s) { return unary(MX_PRIM_STOP_GRADIENT, a, s); }

mx_array *mx_astype(mx_array *a, mx_dtype t, mx_stream s) {
  if (!a) return NULL;
  if ((int)t < 0 || t >= MX_DTYPE_COUNT) return mx_fail(MX_EINVAL, "[astype] Invalid dtype %d.", (int)t);
  if (a->dtype == t) return mx_scope_adopt(mx_keep(a));
  return mx_op_make1(MX_PRIM_ASTYPE, NULL, s, 1, &a, t, a->ndim, a->shape);
}

mx_array *mx_sign(mx_array *a, mx_stream s) {
  if (a && a->dtype == MX_BOOL) return mx_scope_adopt(mx_keep(a));
  return unary(MX_PRIM_SIGN, a, s);
}
