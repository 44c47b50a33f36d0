/* binary_compose.c: section B ops composed from other ops (no primitive of their own, as
 * in MLX): clip, array_equal, isclose, allclose. The NaN/infinity tests are written with
 * comparisons so that this file needs no unary predicate primitive. */
#include "ops.h"

#include <math.h>

#include "../core/error.h"
#include "../core/param_enums.h"

mx_array *mx_clip(mx_array *a, mx_array *a_min, mx_array *a_max, mx_stream s) {
  if (!a) return NULL;
  if (!a_min && !a_max) return mx_fail(MX_EINVAL, "At most one of a_min and a_max may be None");
  MX_SCOPE_BEGIN;
  mx_array *r = a;
  if (a_min) r = mx_maximum(r, a_min, s);
  if (a_max) r = mx_minimum(r, a_max, s);
  MX_SCOPE_RETURN(r);
}

static mx_array *all(mx_array *x, mx_stream s) {
  return mx_reduce("all", MX_REDUCE_AND, MX_BOOL, x, NULL, -1, false, s);
}

static mx_array *is_nan(mx_array *x, mx_stream s) { return mx_not_equal(x, x, s); }

/* x == +inf (sign > 0) or x == -inf, compared in x's dtype (complex: (+-inf, 0)). */
static mx_array *is_inf_signed(mx_array *x, int sign, mx_stream s) {
  return mx_equal(x, mx_scope_adopt(mx_array_scalar_f64(sign * INFINITY, x->dtype)), s);
}

mx_array *mx_array_equal(mx_array *a, mx_array *b, bool equal_nan, mx_stream s) {
  if (!a || !b) return NULL;
  bool same = a->ndim == b->ndim;
  for (int i = 0; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
  if (!same) return mx_scope_adopt(mx_array_scalar_i64(0, MX_BOOL));
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  MX_SCOPE_BEGIN;
  mx_array *x = mx_astype(a, t, s), *y = mx_astype(b, t, s);
  mx_array *eq = mx_equal(x, y, s);
  if (equal_nan && mx_dtype_is_inexact(t))
    eq = mx_logical_or(eq, mx_logical_and(is_nan(x, s), is_nan(y, s), s), s);
  mx_array *r = all(eq, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_isclose(mx_array *a, mx_array *b, double rtol, double atol, bool equal_nan,
                     mx_stream s) {
  if (!a || !b) return NULL;
  MX_SCOPE_BEGIN;
  /* the tolerances are float32 scalars, as MLX's array(double) */
  mx_array *rt = mx_scope_adopt(mx_array_scalar_f64(rtol, MX_FLOAT32));
  mx_array *at = mx_scope_adopt(mx_array_scalar_f64(atol, MX_FLOAT32));
  mx_array *rhs = mx_add(at, mx_multiply(rt, mx_abs(b, s), s), s);
  mx_array *out = mx_less_equal(mx_abs(mx_subtract(a, b, s), s), rhs, s);
  bool fa = mx_dtype_is_inexact(a->dtype), fb = mx_dtype_is_inexact(b->dtype);
  if (fa || fb) {
    /* an infinity is close only to the same infinity; abs(complex) tests either part */
    mx_array *inf_a = fa ? mx_equal(mx_abs(a, s), mx_scope_adopt(mx_array_scalar_f64(INFINITY, MX_FLOAT32)), s) : NULL;
    mx_array *inf_b = fb ? mx_equal(mx_abs(b, s), mx_scope_adopt(mx_array_scalar_f64(INFINITY, MX_FLOAT32)), s) : NULL;
    mx_array *any_inf = inf_a && inf_b ? mx_logical_or(inf_a, inf_b, s) : (inf_a ? inf_a : inf_b);
    out = mx_logical_and(out, mx_not_equal(any_inf, mx_scope_adopt(mx_array_scalar_i64(1, MX_BOOL)), s), s);
    if (fa && fb) {
      mx_array *pos = mx_logical_and(is_inf_signed(a, 1, s), is_inf_signed(b, 1, s), s);
      mx_array *neg = mx_logical_and(is_inf_signed(a, -1, s), is_inf_signed(b, -1, s), s);
      out = mx_logical_or(out, mx_logical_or(pos, neg, s), s);
      if (equal_nan) out = mx_logical_or(out, mx_logical_and(is_nan(a, s), is_nan(b, s), s), s);
    }
  }
  MX_SCOPE_RETURN(out);
}

mx_array *mx_allclose(mx_array *a, mx_array *b, double rtol, double atol, bool equal_nan,
                      mx_stream s) {
  if (!a || !b) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = all(mx_isclose(a, b, rtol, atol, equal_nan, s), s);
  MX_SCOPE_RETURN(r);
}
