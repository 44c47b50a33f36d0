/* unary_predicates.c: isnan / isinf / isfinite / isposinf / isneginf and nan_to_num, composed
 * of comparisons and selects as MLX composes them (no primitive of their own). Integer and
 * bool inputs are never NaN or infinite. Depends on ops.h only. */
#include "ops.h"

#include <float.h>
#include <math.h>

#include "../core/error.h"

static mx_array *scalar(double v, mx_dtype t) { return mx_scope_adopt(mx_array_scalar_f64(v, t)); }

/* A bool array of a's shape filled with v (the answer for integer and bool inputs). */
static mx_array *constant_bool(mx_array *a, bool v, mx_stream s) {
  MX_SCOPE_BEGIN;
  mx_array *r = mx_full(a->shape, a->ndim, scalar(v ? 1.0 : 0.0, MX_BOOL), MX_BOOL, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_isnan(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  if (!mx_dtype_is_inexact(a->dtype)) return constant_bool(a, false, s);
  return mx_not_equal(a, a, s);
}

static mx_array *equals_inf(mx_array *a, double inf, mx_stream s) {
  if (!a) return NULL;
  if (!mx_dtype_is_inexact(a->dtype)) return constant_bool(a, false, s);
  MX_SCOPE_BEGIN;
  mx_array *r = mx_equal(a, scalar(inf, a->dtype), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_isposinf(mx_array *a, mx_stream s) { return equals_inf(a, INFINITY, s); }
mx_array *mx_isneginf(mx_array *a, mx_stream s) { return equals_inf(a, -INFINITY, s); }

/* complex64: either part infinite (as MLX 0.32: isinf(real) | isinf(imag)). */
mx_array *mx_isinf(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  if (!mx_dtype_is_inexact(a->dtype)) return constant_bool(a, false, s);
  MX_SCOPE_BEGIN;
  mx_array *r;
  if (a->dtype == MX_COMPLEX64)
    r = mx_logical_or(mx_isinf(mx_real(a, s), s), mx_isinf(mx_imag(a, s), s), s);
  else
    r = mx_logical_or(mx_isposinf(a, s), mx_isneginf(a, s), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_isfinite(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  if (!mx_dtype_is_inexact(a->dtype)) return constant_bool(a, true, s);
  MX_SCOPE_BEGIN;
  mx_array *r = mx_logical_not(mx_logical_or(mx_isinf(a, s), mx_isnan(a, s), s), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_nan_to_num(mx_array *a, float nan, bool has_posinf, float posinf, bool has_neginf,
                        float neginf, mx_stream s) {
  if (!a) return NULL;
  mx_dtype t = a->dtype;
  if (!mx_dtype_is_inexact(t)) return mx_scope_adopt(mx_keep(a));
  double max;
  switch (t) {
    case MX_FLOAT32: max = FLT_MAX; break;
    case MX_FLOAT16: max = 65504.0; break;
    case MX_BFLOAT16: max = 3.3895313892515355e38; break;
    default:
      return mx_fail(MX_EINVAL, "[nan_to_num] Does not yet support given type: %s.",
                     mx_dtype_name(t));
  }
  double pos = has_posinf ? posinf : max, neg = has_neginf ? neginf : -max;
  MX_SCOPE_BEGIN;
  mx_array *out = mx_where(mx_isnan(a, s), scalar(nan, t), a, s);
  out = mx_where(mx_isposinf(a, s), scalar(pos, t), out, s);
  out = mx_where(mx_isneginf(a, s), scalar(neg, t), out, s);
  MX_SCOPE_RETURN(out);
}
