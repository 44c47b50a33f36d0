/* creation_range.c: arange (the Arange primitive) and what MLX composes from it: linspace,
 * eye / identity / tri (comparisons of aranges), tril / triu (selects with a tri mask),
 * full_like and the window functions. Depends on ops.h only. */
#include "ops.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "../core/error.h"

static mx_array *scalar(double v, mx_dtype t) { return mx_scope_adopt(mx_array_scalar_f64(v, t)); }

mx_array *mx_arange(double start, double stop, double step, mx_dtype t, mx_stream s) {
  if (t == MX_BOOL) return mx_fail(MX_EINVAL, "bool not supported for arange.");
  if ((int)t < 0 || t >= MX_DTYPE_COUNT) return mx_fail(MX_EINVAL, "[arange] Invalid dtype %d.", (int)t);
  if (step == 0.0) return mx_fail(MX_EINVAL, "[arange] step must be nonzero.");
  if (isnan(start) || isnan(stop) || isnan(step) || isinf(start) || isinf(stop))
    return mx_fail(MX_EINVAL, "[arange] Cannot compute length.");
  int32_t n;
  if (isinf(step)) { /* one element when the direction is right, else none */
    n = (step > 0 && start < stop) || (step < 0 && start > stop) ? 1 : 0;
  } else {
    double real_size = ceil((stop - start) / step);
    if (real_size > INT_MAX) return mx_fail(MX_EINVAL, "[arange] Maximum size exceeded.");
    n = real_size > 0 ? (int32_t)real_size : 0;
  }
  mx_p_arange p = {start, stop, step};
  return mx_op_make1(MX_PRIM_ARANGE, &p, s, 0, NULL, t, 1, &n);
}

mx_array *mx_linspace(double start, double stop, int num, bool endpoint, mx_dtype t,
                      mx_stream s) {
  if (num < 0)
    return mx_fail(MX_EINVAL, "[linspace] number of samples, %d, must be non-negative.", num);
  MX_SCOPE_BEGIN;
  mx_array *r;
  if (num == 1) { /* MLX: the float32 array {start}, cast */
    int32_t one = 1;
    r = mx_astype(mx_reshape(scalar(start, MX_FLOAT32), &one, 1, s), t, s);
  } else {
    mx_dtype inner = t == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
    mx_array *frac = mx_divide(mx_arange(0, num, 1, inner, s), scalar(endpoint ? num - 1 : num, inner), s);
    mx_array *rest = mx_subtract(scalar(1.0, inner), frac, s);
    r = mx_add(mx_multiply(rest, scalar(start, inner), s), mx_multiply(frac, scalar(stop, inner), s), s);
    r = mx_astype(r, t, s);
  }
  MX_SCOPE_RETURN(r);
}

mx_array *mx_full_like(mx_array *a, mx_array *vals, mx_dtype t, mx_stream s) {
  if (!a || !vals) return NULL;
  int n = a->ndim > vals->ndim ? a->ndim : vals->ndim;
  int32_t small[MX_INLINE_DIMS];
  int32_t *shape = n <= MX_INLINE_DIMS ? small : malloc((size_t)n * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[full_like] out of memory.");
  mx_array *r = NULL;
  int nd = mx_broadcast_shapes("broadcast_shapes", a->ndim, a->shape, vals->ndim, vals->shape, shape);
  if (nd >= 0) r = mx_full(shape, nd, vals, t, s);
  if (shape != small) free(shape);
  return r;
}

/* (n, 1) rows i against (1, m) columns j - k, both int32 aranges. */
static int diagonal_grid(int n, int m, int k, mx_stream s, mx_array **rows, mx_array **cols) {
  *rows = mx_expand_dims(mx_arange(0, n, 1, MX_INT32, s), 1, s);
  *cols = mx_expand_dims(mx_arange(-(double)k, (double)m - k, 1, MX_INT32, s), 0, s);
  return *rows && *cols ? 0 : -1;
}

mx_array *mx_eye(int n, int m, int k, mx_dtype t, mx_stream s) {
  if (n < 0 || m < 0) return mx_fail(MX_EINVAL, "[eye] N and M must be positive integers.");
  MX_SCOPE_BEGIN;
  mx_array *rows, *cols, *r = NULL;
  if (diagonal_grid(n, m, k, s, &rows, &cols) == 0) r = mx_astype(mx_equal(rows, cols, s), t, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_identity(int n, mx_dtype t, mx_stream s) { return mx_eye(n, n, 0, t, s); }

mx_array *mx_tri(int n, int m, int k, mx_dtype t, mx_stream s) {
  MX_SCOPE_BEGIN;
  mx_array *rows, *cols, *r = NULL;
  if (diagonal_grid(n, m, k, s, &rows, &cols) == 0) r = mx_astype(mx_greater_equal(rows, cols, s), t, s);
  MX_SCOPE_RETURN(r);
}

/* ---- windows: float32, n = arange(M); empty for M < 1, [1] for M == 1 ---- */

static mx_array *window_edge(int M, mx_stream s) {
  int32_t n = M < 1 ? 0 : 1;
  return M < 1 ? mx_zeros(&n, 1, MX_FLOAT32, s) : mx_ones(&n, 1, MX_FLOAT32, s);
}

/* factor * arange(M) in float32 */
static mx_array *window_phase(int M, double factor, mx_stream s) {
  return mx_multiply(scalar((float)factor, MX_FLOAT32), mx_arange(0, M, 1, MX_FLOAT32, s), s);
}

/* 1 - |2n/(M-1) - 1| */
mx_array *mx_bartlett(int M, mx_stream s) {
  if (M <= 1) return window_edge(M, s);
  MX_SCOPE_BEGIN;
  mx_array *one = scalar(1.0, MX_FLOAT32);
  mx_array *r = mx_subtract(one, mx_abs(mx_subtract(window_phase(M, 2.0 / (M - 1), s), one, s), s), s);
  MX_SCOPE_RETURN(r);
}

/* sin^2(pi n / (M-1)) */
mx_array *mx_hanning(int M, mx_stream s) {
  if (M <= 1) return window_edge(M, s);
  MX_SCOPE_BEGIN;
  mx_array *r = mx_square(mx_sin(window_phase(M, M_PI / (M - 1), s), s), s);
  MX_SCOPE_RETURN(r);
}

/* 0.54 - 0.46 cos(2 pi n / (M-1)) */
mx_array *mx_hamming(int M, mx_stream s) {
  if (M <= 1) return window_edge(M, s);
  MX_SCOPE_BEGIN;
  mx_array *c = mx_cos(window_phase(M, 2.0 * M_PI / (M - 1), s), s);
  mx_array *r = mx_subtract(scalar(0.54f, MX_FLOAT32), mx_multiply(scalar(0.46f, MX_FLOAT32), c, s), s);
  MX_SCOPE_RETURN(r);
}

/* 0.42 - 0.5 c + 0.08 (2c^2 - 1) = (0.34 - 0.5 c) + 0.16 c^2 with c = cos(2 pi n / (M-1));
 * this form makes both ends exactly 0. */
mx_array *mx_blackman(int M, mx_stream s) {
  if (M <= 1) return window_edge(M, s);
  MX_SCOPE_BEGIN;
  mx_array *c = mx_cos(window_phase(M, 2.0 * M_PI / (M - 1), s), s);
  mx_array *lin = mx_subtract(scalar(0.34f, MX_FLOAT32), mx_multiply(scalar(0.5f, MX_FLOAT32), c, s), s);
  mx_array *r = mx_add(lin, mx_multiply(scalar(0.16f, MX_FLOAT32), mx_square(c, s), s), s);
  MX_SCOPE_RETURN(r);
}
