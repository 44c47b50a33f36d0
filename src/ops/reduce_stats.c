/* reduce_stats.c: reductions composed from sum as MLX composes them: mean, var, std,
 * count_nonzero, and number_of_elements (a constant from the shape; inside a shapeless trace
 * the NumberOfElements primitive, so a replay divides by the sizes it sees). mean/var/std return
 * at_least_float(a.dtype) (complex var/std are real), computed in that dtype. */
#include "ops.h"

#include <stdlib.h>

#include "../core/error.h"
#include "../core/eval.h"

/* a's reduced axes, normalized and sorted, into *ax (small, or malloc'd when a has more
 * dims than it holds: the caller frees *ax when it is not small); their count, or -1 with
 * the error set. mean/var/std report an axis out of range as MLX's mean does ("[mean] axis
 * ... is out of bounds"). */
static int reduced_axes(const char *name, mx_array *a, const int *axes, int naxes,
                        bool mean_msg, int32_t *small, int32_t **ax) {
  int nd = a->ndim;
  *ax = small;
  if (mean_msg) {
    for (int i = 0; i < naxes; i++)
      if (axes[i] < -nd || axes[i] >= nd)
        return mx_fail_int(MX_EINDEX, "[mean] axis %d is out of bounds for array with %d dimensions.",
                           axes[i], nd);
  }
  if (nd > MX_INLINE_DIMS && !(*ax = malloc((size_t)nd * sizeof(int32_t)))) {
    *ax = small;
    return mx_fail_int(MX_ENOMEM, "[%s] out of memory.", name);
  }
  return mx_reduce_axes_normalize(name, axes, naxes, nd, *ax);
}

/* Product of the sizes of the reduced axes; -1 with the error set. */
static int64_t reduced_count(const char *name, mx_array *a, const int *axes, int naxes,
                             bool mean_msg) {
  int32_t small[MX_INLINE_DIMS], *ax;
  int n = reduced_axes(name, a, axes, naxes, mean_msg, small, &ax);
  int64_t count = 1;
  for (int i = 0; i < n; i++) count *= a->shape[ax[i]];
  if (ax != small) free(ax);
  return n < 0 ? -1 : count;
}

/* The real dtype a complex reduction of |x|^2 lands in, else t. */
static mx_dtype real_of(mx_dtype t) { return t == MX_COMPLEX64 ? MX_FLOAT32 : t; }

mx_array *mx_mean(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  if (!a) return NULL;
  int64_t n = reduced_count("mean", a, axes, naxes, true);
  if (n < 0) return NULL;
  mx_dtype t = mx_at_least_float(a->dtype);
  MX_SCOPE_BEGIN;
  mx_array *scale = mx_number_of_elements(a, axes, naxes, true, t, s);
  mx_array *r = mx_multiply(mx_sum(a, axes, naxes, keepdims, s), scale, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_var(mx_array *a, const int *axes, int naxes, bool keepdims, int ddof, mx_stream s) {
  if (!a) return NULL;
  int64_t n = reduced_count("var", a, axes, naxes, true);
  if (n < 0) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *mu = mx_mean(a, axes, naxes, true, s);
  mx_array *d = mx_subtract(a, mu, s);
  mx_array *sq = a->dtype == MX_COMPLEX64 ? mx_multiply(mx_abs(d, s), mx_abs(d, s), s)
                                          : mx_multiply(d, d, s);
  mx_array *v = mx_sum(sq, axes, naxes, keepdims, s);
  mx_dtype t = real_of(mx_at_least_float(a->dtype));
  if (ddof != 0 && mx_trace_shapeless()) {
    mx_array *den = mx_subtract(mx_number_of_elements(a, axes, naxes, false, t, s),
                                mx_scope_adopt(mx_array_scalar_f64((double)ddof, t)), s);
    v = mx_divide(v, mx_maximum(den, mx_scope_adopt(mx_array_scalar_f64(0.0, t)), s), s);
  } else if (ddof != 0) {
    double den = (double)n - (double)ddof;
    mx_array *norm = mx_scope_adopt(mx_array_scalar_f64(den > 0 ? den : 0.0, t));
    v = mx_divide(v, norm, s);
  } else {
    v = mx_multiply(v, mx_number_of_elements(a, axes, naxes, true, t, s), s);
  }
  MX_SCOPE_RETURN(v);
}

mx_array *mx_std(mx_array *a, const int *axes, int naxes, bool keepdims, int ddof, mx_stream s) {
  if (!a) return NULL;
  if (reduced_count("std", a, axes, naxes, true) < 0) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_sqrt(mx_var(a, axes, naxes, keepdims, ddof, s), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_count_nonzero(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  if (!a) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *zero = mx_scope_adopt(mx_array_scalar_f64(0.0, a->dtype));
  mx_array *r = mx_astype(mx_sum(mx_not_equal(a, zero, s), axes, naxes, keepdims, s), MX_INT32, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_number_of_elements(mx_array *a, const int *axes, int naxes, bool inverted,
                                mx_dtype t, mx_stream s) {
  if (!a) return NULL;
  int32_t small[MX_INLINE_DIMS], *ax;
  int k = reduced_axes("number_of_elements", a, axes, naxes, false, small, &ax);
  mx_array *r = NULL;
  if (k >= 0 && ((int)t < 0 || t >= MX_DTYPE_COUNT)) {
    mx_fail(MX_EINVAL, "[number_of_elements] Invalid dtype %d.", (int)t);
  } else if (k >= 0 && mx_trace_shapeless()) { /* the count of the shapes a replay sees */
    mx_p_number_of_elements p = {{k, ax}, inverted, (int32_t)t};
    r = mx_op_make1(MX_PRIM_NUMBER_OF_ELEMENTS, &p, s, 1, &a, t, 0, NULL); /* adopted */
  } else if (k >= 0) {
    double n = 1;
    for (int i = 0; i < k; i++) n *= a->shape[ax[i]];
    r = mx_scope_adopt(mx_array_scalar_f64(inverted ? 1.0 / n : n, t));
  }
  if (ax != small) free(ax);
  return r;
}
