/* softmax.c: softmax and logsumexp. When the reduced axes are the last axis (plus leading
 * size-1 axes, MLX's test) and the input is real, one Softmax / LogSumExp primitive runs
 * in at_least_float(dtype); otherwise they are composed as MLX composes them (max-shifted
 * exp and sum; the composed softmax returns a's dtype). */
#include "ops.h"

#include <math.h>
#include <stdlib.h>

#include "../core/error.h"

/* MLX's "reduce the last dim" test on the axes as given (None = every axis in order). */
static bool reduces_last_axis(mx_array *a, const int *axes, int naxes) {
  int nd = a->ndim, n = naxes < 0 ? nd : naxes;
  if (n == 0) return false;
#define AX(i) (naxes < 0 ? (i) : axes[i])
  if (AX(n - 1) != nd - 1 && AX(n - 1) != -1) return false;
  for (int i = n - 2; i >= 0; i--) {
    int ax = AX(i);
    if (ax + 1 != AX(i + 1) || a->shape[ax < 0 ? ax + nd : ax] != 1) return false;
  }
#undef AX
  return true;
}

/* Validates the axes as a reduction does (IndexError / duplicate ValueError). */
static int check_axes(const char *name, mx_array *a, const int *axes, int naxes) {
  int32_t small[MX_INLINE_DIMS];
  int32_t *ax = a->ndim <= MX_INLINE_DIMS ? small : malloc((size_t)a->ndim * sizeof(int32_t));
  if (!ax) return mx_fail_int(MX_ENOMEM, "[%s] out of memory.", name);
  int n = mx_reduce_axes_normalize(name, axes, naxes, a->ndim, ax);
  if (ax != small) free(ax);
  return n < 0 ? -1 : 0;
}

mx_array *mx_softmax(mx_array *a, const int *axes, int naxes, bool precise, mx_stream s) {
  if (!a) return NULL;
  if (a->size == 0) return mx_scope_adopt(mx_keep(a));
  if (a->ndim == 0 && naxes > 0)
    return mx_fail(MX_EINVAL, "[softmax] Received non-empty axes for array with 0 dimensions.");
  if (check_axes("softmax", a, axes, naxes) < 0) return NULL;
  bool cplx = a->dtype == MX_COMPLEX64;
  MX_SCOPE_BEGIN;
  mx_array *r;
  if (!cplx && reduces_last_axis(a, axes, naxes)) {
    mx_dtype t = mx_at_least_float(a->dtype);
    mx_array *x = mx_astype(a, t, s);
    mx_p_softmax p = {precise};
    r = x ? mx_op_make1(MX_PRIM_SOFTMAX, &p, s, 1, &x, t, a->ndim, a->shape) : NULL;
  } else {
    /* precise lifts float16/bfloat16 only (MLX would also drop float64 to float32); bool
     * and integers go through float32 too (bool has no subtraction, unsigned ones wrap),
     * and the result returns to a's dtype as MLX's does */
    bool half = a->dtype == MX_FLOAT16 || a->dtype == MX_BFLOAT16;
    bool lift = (precise && half) || !mx_dtype_is_inexact(a->dtype);
    mx_array *x = lift ? mx_astype(a, MX_FLOAT32, s) : a;
    mx_array *m = mx_stop_gradient(mx_max(x, axes, naxes, true, s), s);
    mx_array *e = mx_exp(mx_subtract(x, m, s), s);
    r = mx_astype(mx_divide(e, mx_sum(e, axes, naxes, true, s), s), a->dtype, s);
  }
  MX_SCOPE_RETURN(r);
}

/* The shape of a reduced over the sorted axes ax[0..n) with or without keepdims. */
static int reduced_shape(mx_array *a, const int32_t *ax, int n, bool keepdims, int32_t *out) {
  int k = 0;
  for (int i = 0, j = 0; i < a->ndim; i++) {
    bool red = j < n && ax[j] == i;
    if (red) j++;
    if (!red) out[k++] = a->shape[i];
    else if (keepdims) out[k++] = 1;
  }
  return k;
}

mx_array *mx_logsumexp(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  if (!a) return NULL;
  if (a->size == 0) return mx_fail(MX_EINVAL, "[logsumexp] Received empty array.");
  if (a->ndim == 0 && naxes > 0)
    return mx_fail(MX_EINVAL, "[logsumexp] Received non-empty axes for array with 0 dimensions.");
  int nd = a->ndim;
  int32_t small[3 * MX_INLINE_DIMS + 3];
  int32_t *ax = nd <= MX_INLINE_DIMS ? small : malloc((size_t)(3 * nd + 3) * sizeof(int32_t));
  if (!ax) return mx_fail(MX_ENOMEM, "[logsumexp] out of memory.");
  int32_t *shape = ax + nd + 1, *kept = shape + nd + 1;
  int n = mx_reduce_axes_normalize("logsumexp", axes, naxes, nd, ax);
  if (n < 0) {
    if (ax != small) free(ax);
    return NULL;
  }
  int ns = reduced_shape(a, ax, n, keepdims, shape);
  MX_SCOPE_BEGIN;
  mx_array *r;
  if (a->dtype != MX_COMPLEX64 && reduces_last_axis(a, axes, naxes)) {
    mx_dtype t = mx_at_least_float(a->dtype);
    mx_array *x = mx_astype(a, t, s);
    for (int i = 0; i < nd; i++) kept[i] = i == nd - 1 ? 1 : a->shape[i];
    r = x ? mx_op_make1(MX_PRIM_LOGSUMEXP, NULL, s, 1, &x, t, nd, kept) : NULL;
    r = mx_reshape(r, shape, ns, s);
  } else {
    /* in floating point from the start: unsigned a - max(a) would wrap */
    mx_array *x = mx_astype(a, mx_at_least_float(a->dtype), s);
    mx_array *m = mx_stop_gradient(mx_max(x, axes, naxes, true, s), s);
    mx_array *out = mx_log(mx_sum(mx_exp(mx_subtract(x, m, s), s), axes, naxes, keepdims, s), s);
    m = mx_reshape(m, shape, ns, s);
    out = mx_add(out, m, s);
    if (m && mx_dtype_is_inexact(m->dtype)) {
      /* an infinite maximum is the answer (inf - inf would give NaN) */
      mx_array *pinf = mx_scope_adopt(mx_array_scalar_f64(INFINITY, m->dtype));
      mx_array *ninf = mx_scope_adopt(mx_array_scalar_f64(-INFINITY, m->dtype));
      out = mx_where(mx_equal(m, pinf, s), m, mx_where(mx_equal(m, ninf, s), m, out, s), s);
    }
    r = out;
  }
  if (ax != small) free(ax);
  MX_SCOPE_RETURN(r);
}
