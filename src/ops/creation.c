/* creation.c: full, zeros, ones and copy. full broadcasts a (cast) value array to the
 * shape, so zeros/ones of any size are a stride-0 view of one element until written. */
#include "ops.h"

#include "../core/error.h"

mx_array *mx_full(const int32_t *shape, int ndim, mx_array *vals, mx_dtype t, mx_stream s) {
  if (!vals) return NULL;
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0) return mx_fail(MX_EINVAL, "[full] Negative dimensions not allowed.");
  if (mx_shape_size("full", ndim, shape) < 0) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *v = mx_astype(vals, t, s);
  mx_array *r = mx_broadcast_to(v, shape, ndim, s);
  MX_SCOPE_RETURN(r);
}

static mx_array *filled(const int32_t *shape, int ndim, double value, mx_dtype t, mx_stream s) {
  MX_SCOPE_BEGIN;
  mx_array *v = mx_scope_adopt(mx_array_scalar_f64(value, t));
  mx_array *r = mx_full(shape, ndim, v, t, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_zeros(const int32_t *shape, int ndim, mx_dtype t, mx_stream s) {
  return filled(shape, ndim, 0.0, t, s);
}

mx_array *mx_ones(const int32_t *shape, int ndim, mx_dtype t, mx_stream s) {
  return filled(shape, ndim, 1.0, t, s);
}

mx_array *mx_copy(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  return mx_op_make1(MX_PRIM_COPY, NULL, s, 1, &a, a->dtype, a->ndim, a->shape);
}

mx_array *mx_zeros_like(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  return mx_zeros(a->shape, a->ndim, a->dtype, s);
}

mx_array *mx_ones_like(mx_array *a, mx_stream s) {
  if (!a) return NULL;
  return mx_ones(a->shape, a->ndim, a->dtype, s);
}
