/* diagonal.c: diagonal, diag and trace, composed from views so they stay differentiable:
 * the two axes move to the end, merge into one (a view when the data is contiguous there),
 * and the diagonal is a strided slice of that axis. diag of a vector places it with pads and
 * reshapes. Depends on ops.h. */
#include "layout_util.h"

#include <stdlib.h>
#include <string.h>

/* Diagonal length of an (n1, n2) matrix at offset k. */
static int32_t diag_len(int32_t n1, int32_t n2, int k) {
  int64_t l = k >= 0 ? (int64_t)n2 - k : (int64_t)n1 + k;
  if (l > n1) l = n1;
  if (l > n2) l = n2;
  return l < 0 ? 0 : (int32_t)l;
}

/* The same diagonal through as_strided, for matrices whose merged axis exceeds int32. */
static mx_array *diagonal_strided(mx_array *a, int offset, int ax1, int ax2, int32_t len,
                                  mx_stream s) {
  int nd = a->ndim;
  int64_t *row = malloc((size_t)nd * 2 * sizeof *row);
  int32_t *shape = mx_lay_dims("diagonal", nd);
  mx_array *r = NULL;
  if (!row || !shape) {
    mx_fail(MX_ENOMEM, "[diagonal] out of memory.");
  } else {
    int64_t *st = row + nd, acc = 1;
    for (int d = nd - 1; d >= 0; d--) row[d] = acc, acc *= a->shape[d];
    int n = 0;
    for (int d = 0; d < nd; d++)
      if (d != ax1 && d != ax2) shape[n] = a->shape[d], st[n++] = row[d];
    shape[n] = len;
    st[n] = row[ax1] + row[ax2];
    int64_t off = (offset >= 0 ? (int64_t)offset * row[ax2] : -(int64_t)offset * row[ax1]);
    r = mx_as_strided(a, shape, nd - 1, st, nd - 1, len ? off : 0, s);
  }
  free(row);
  free(shape);
  return r;
}

mx_array *mx_diagonal(mx_array *a, int offset, int axis1, int axis2, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  if (nd < 2)
    return mx_fail(MX_EINVAL, "[diagonal] Array must have at least two dimensions, but got %d "
                              "dimensions.", nd);
  int ax1 = axis1 < 0 ? axis1 + nd : axis1, ax2 = axis2 < 0 ? axis2 + nd : axis2;
  if (ax1 < 0 || ax1 >= nd)
    return mx_fail(MX_EINDEX, "[diagonal] Invalid axis1 %d for array with %d dimensions.", axis1, nd);
  if (ax2 < 0 || ax2 >= nd)
    return mx_fail(MX_EINDEX, "[diagonal] Invalid axis2 %d for array with %d dimensions.", axis2, nd);
  if (ax1 == ax2) return mx_fail(MX_EINVAL, "[diagonal] axis1 and axis2 cannot be the same axis");
  int32_t n1 = a->shape[ax1], n2 = a->shape[ax2];
  int32_t len = diag_len(n1, n2, offset);
  if ((int64_t)n1 * n2 > INT32_MAX) return diagonal_strided(a, offset, ax1, ax2, len, s);
  int *perm = mx_lay_ints("diagonal", nd);
  int32_t *buf = mx_lay_dims("diagonal", 3 * nd);
  mx_array *r = NULL;
  if (!perm || !buf) goto out;
  int32_t *start = buf, *stop = buf + nd, *step = stop + nd;
  int n = 0;
  for (int d = 0; d < nd; d++)
    if (d != ax1 && d != ax2) perm[n++] = d;
  perm[n] = ax1, perm[n + 1] = ax2;
  MX_SCOPE_BEGIN;
  /* (..., n1, n2) -> (..., n1 * n2); the diagonal starts at r0 * n2 + c0, step n2 + 1 */
  mx_array *x = mx_flatten(mx_transpose(a, perm, nd, s), nd - 2, nd - 1, s);
  if (x) {
    for (int d = 0; d < nd - 1; d++) start[d] = 0, stop[d] = x->shape[d], step[d] = 1;
    int64_t r0 = offset < 0 ? -(int64_t)offset : 0, c0 = offset > 0 ? offset : 0;
    int64_t first = r0 * n2 + c0;
    start[nd - 2] = len ? (int32_t)first : 0;
    stop[nd - 2] = len ? (int32_t)(first + (int64_t)(len - 1) * (n2 + 1) + 1) : 0;
    step[nd - 2] = n2 + 1;
    x = mx_slice(x, start, stop, step, s);
  }
  r = mx_keep(x);
  MX_SCOPE_END;
  r = mx_scope_adopt(r);
out:
  free(perm);
  free(buf);
  return r;
}

mx_array *mx_diag(mx_array *a, int k, mx_stream s) {
  if (!a) return NULL;
  if (a->ndim == 2) return mx_diagonal(a, k, 0, 1, s);
  if (a->ndim != 1)
    return mx_fail(MX_EINVAL, "[diag] array must be 1-D or 2-D, got array with %d dimensions.",
                   a->ndim);
  int64_t n = a->shape[0], m = n + (k < 0 ? -(int64_t)k : k);
  if (m * (m + 1) > INT32_MAX)
    return mx_fail(MX_EINVAL, "[diag] A %lld x %lld result is beyond the supported size.",
                   (long long)m, (long long)m);
  int32_t sq[2] = {(int32_t)m, (int32_t)m};
  if (n == 0) return mx_zeros(sq, 2, a->dtype, s);
  /* v_i lands at i * (m + 1) + base of the flattened (m, m) result */
  int64_t base = (k < 0 ? -(int64_t)k * m : k);
  int64_t body = n * (m + 1) - m; /* from v_0 through v_{n-1} */
  int32_t col[2] = {(int32_t)n, 1}, lo0[2] = {0, 0}, hi0[2] = {0, (int32_t)m};
  int32_t lo1 = (int32_t)base, hi1 = (int32_t)(m * m - base - body);
  int32_t start = 0, stop = (int32_t)body, step = 1;
  int axes[2] = {0, 1}, ax0 = 0;
  MX_SCOPE_BEGIN;
  mx_array *zero = mx_zeros(NULL, 0, a->dtype, s);
  mx_array *x = mx_pad(mx_reshape(a, col, 2, s), axes, 2, lo0, 2, hi0, 2, zero, "constant", s);
  x = mx_slice(mx_flatten(x, 0, -1, s), &start, &stop, &step, s);
  x = mx_pad(x, &ax0, 1, &lo1, 1, &hi1, 1, zero, "constant", s);
  mx_array *r = mx_reshape(x, sq, 2, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_trace(mx_array *a, int offset, int axis1, int axis2, bool has_dtype, mx_dtype t,
                   mx_stream s) {
  if (!a) return NULL;
  if (a->ndim < 2)
    return mx_fail(MX_EINVAL, "[trace] Array must have at least two dimensions, but got %d "
                              "dimensions.", a->ndim);
  int last = -1;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_sum(mx_diagonal(a, offset, axis1, axis2, s), &last, 1, false, s);
  if (has_dtype) r = mx_astype(r, t, s);
  MX_SCOPE_RETURN(r);
}
