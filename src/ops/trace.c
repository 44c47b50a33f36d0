/* trace.c: the sum along a diagonal of two axes (offset above / below it), cast to dtype
 * first when given, as MLX. The diagonal is selected with a mask (where, so an infinity
 * off the diagonal adds nothing) and summed over both axes. */
#include "ops.h"

#include <stdlib.h>

#include "../core/error.h"

/* 0, 1, ..., len-1 along `axis` of an ndim-dimensional int32 array of size-1 dims. */
static mx_array *iota_along(int ndim, int axis, int32_t len, mx_stream s) {
  int32_t *shape = malloc((size_t)ndim * sizeof(int32_t));
  if (!shape) return mx_fail(MX_ENOMEM, "[trace] out of memory.");
  for (int i = 0; i < ndim; i++) shape[i] = i == axis ? len : 1;
  mx_array *r = mx_scan(mx_ones(shape, ndim, MX_INT32, s), MX_SCAN_SUM, axis, false, false, s);
  free(shape);
  return r;
}

mx_array *mx_trace(mx_array *a, int offset, int axis1, int axis2, bool dtype_has, mx_dtype dtype,
                   mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  if (nd < 2)
    return mx_fail(MX_EINVAL, "[trace] Array must have at least two dimensions, but got %d dimensions.",
                   nd);
  if (axis1 < -nd || axis1 >= nd)
    return mx_fail(MX_EINDEX, "[trace] Invalid axis1 %d for array with %d dimensions.", axis1, nd);
  if (axis2 < -nd || axis2 >= nd)
    return mx_fail(MX_EINDEX, "[trace] Invalid axis2 %d for array with %d dimensions.", axis2, nd);
  if (axis1 < 0) axis1 += nd;
  if (axis2 < 0) axis2 += nd;
  if (axis1 == axis2) return mx_fail(MX_EINVAL, "[trace] axis1 and axis2 cannot be the same axis");
  MX_SCOPE_BEGIN;
  mx_array *x = dtype_has ? mx_astype(a, dtype, s) : a;
  mx_array *i = iota_along(nd, axis1, a->shape[axis1], s);
  mx_array *j = iota_along(nd, axis2, a->shape[axis2], s);
  mx_array *k = mx_scope_adopt(mx_array_scalar_i64(offset, MX_INT32));
  mx_array *on = mx_equal(mx_subtract(j, i, s), k, s);
  mx_array *masked = x ? mx_where(on, x, mx_scope_adopt(mx_array_scalar_i64(0, x->dtype)), s) : NULL;
  int axes[2] = {axis1, axis2};
  mx_array *r = mx_sum(masked, axes, 2, false, s);
  MX_SCOPE_RETURN(r);
}
