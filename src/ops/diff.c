/* diff.c: the n-th discrete difference along an axis, as MLX: n rounds of
 * a[1:] - a[:-1] (not_equal for bool), stopping once the axis is empty. */
#include "ops.h"

#include <stdlib.h>

#include "../core/error.h"

mx_array *mx_diff(mx_array *a, int n, int axis, mx_stream s) {
  if (!a) return NULL;
  if (n < 0) return mx_fail(MX_EINVAL, "[diff] Order `n` must be non-negative.");
  int nd = a->ndim;
  if (axis < -nd || axis >= nd) return mx_fail(MX_EINDEX, "[diff] Axis is out of bounds for the array.");
  if (axis < 0) axis += nd;
  int32_t *buf = malloc((size_t)nd * 3 * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[diff] out of memory.");
  int32_t *start = buf, *stop = buf + nd, *step = buf + 2 * nd;
  MX_SCOPE_BEGIN;
  mx_array *x = a;
  for (int k = 0; k < n && x && x->shape[axis] > 0; k++) {
    for (int d = 0; d < nd; d++) {
      start[d] = 0;
      stop[d] = x->shape[d];
      step[d] = 1;
    }
    start[axis] = 1;
    mx_array *hi = mx_slice(x, start, stop, step, s);
    start[axis] = 0;
    stop[axis] = x->shape[axis] - 1;
    mx_array *lo = mx_slice(x, start, stop, step, s);
    x = a->dtype == MX_BOOL ? mx_not_equal(hi, lo, s) : mx_subtract(hi, lo, s);
  }
  free(buf);
  MX_SCOPE_RETURN(x);
}
