/* median.c: the median over axes, composed as MLX composes it: the reduced axes moved last
 * and merged, sorted (ops_indexing_sort.h), the middle element (or the mean of the two
 * middle ones) in at_least_float(dtype); a NaN anywhere in a reduction gives NaN, as
 * NumPy and MLX. An empty axis list returns a (as float). */
#include "ops.h"

#include <math.h>
#include <stdlib.h>

#include "../core/error.h"

mx_array *mx_median(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  for (int i = 0; i < naxes; i++)
    if (axes[i] < -nd || axes[i] >= nd)
      return mx_fail(MX_EINDEX, "[median] axis %d is out of bounds for array with %d dimensions.",
                     axes[i], nd);
  int32_t *buf = malloc((size_t)(nd + 1) * 4 * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[median] out of memory.");
  int32_t *ax = buf, *perm = buf + nd + 1, *flat = buf + 2 * (nd + 1), *out = buf + 3 * (nd + 1);
  int n = mx_reduce_axes_normalize("median", axes, naxes, nd, ax);
  if (n < 0) {
    free(buf);
    if (mx_error_kind_get() == MX_EINVAL) return mx_fail(MX_EINVAL, "[median] Received duplicate axis.");
    return NULL;
  }
  /* kept axes first (in order), then the reduced ones merged into one of size r */
  int k = 0, no = 0;
  int64_t r = 1;
  for (int i = 0, j = 0; i < nd; i++) {
    bool red = j < n && ax[j] == i;
    if (red) {
      j++;
      r *= a->shape[i];
      if (keepdims) out[no++] = 1;
    } else {
      perm[k] = i;
      flat[k++] = a->shape[i];
      out[no++] = a->shape[i];
    }
  }
  for (int j = 0; j < n; j++) perm[k + j] = ax[j];
  flat[k] = (int32_t)r;
  mx_dtype t = mx_at_least_float(a->dtype);
  mx_array *res = NULL;
  if (r == 0) {
    mx_fail(MX_EINVAL, "[median] Cannot take median along empty axis.");
  } else if (n == 0) {
    res = mx_astype(a, t, s);
  } else {
    MX_SCOPE_BEGIN;
    int last = k;
    mx_array *x = mx_reshape(mx_transpose(a, (const int *)perm, nd, s), flat, k + 1, s);
    mx_array *sorted = mx_sort_axis(x, -1, s);
    int32_t *start = malloc((size_t)(k + 1) * 3 * sizeof(int32_t));
    mx_array *med = NULL;
    if (sorted && start) {
      int32_t *stop = start + k + 1, *step = stop + k + 1;
      for (int d = 0; d <= k; d++) start[d] = 0, stop[d] = sorted->shape[d], step[d] = 1;
      int32_t mp = (int32_t)(r / 2);
      start[last] = mp, stop[last] = mp + 1;
      med = mx_astype(mx_slice(sorted, start, stop, step, s), t, s);
      if (r % 2 == 0) {
        start[last] = mp - 1, stop[last] = mp;
        mx_array *lo = mx_astype(mx_slice(sorted, start, stop, step, s), t, s);
        med = mx_multiply(mx_add(med, lo, s), mx_scope_adopt(mx_array_scalar_f64(0.5, t)), s);
      }
      if (mx_dtype_is_inexact(a->dtype)) { /* NaN sorts last: look for it explicitly */
        mx_array *nan = mx_any(mx_not_equal(x, x, s), &last, 1, true, s);
        med = mx_where(nan, mx_scope_adopt(mx_array_scalar_f64(NAN, t)), med, s);
      }
      med = mx_reshape(med, out, no, s);
    } else if (sorted) {
      mx_fail(MX_ENOMEM, "[median] out of memory.");
    }
    free(start);
    res = mx_keep(med);
    MX_SCOPE_END;
    res = mx_scope_adopt(res);
  }
  free(buf);
  return res;
}
