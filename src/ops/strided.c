/* strided.c: as_strided (a strided view of the row-major data), contiguous and view (bit
 * reinterpretation). Each is one view primitive, resolved without a copy at schedule time
 * when the input's layout allows (ops/views_layout.c). Depends on ops.h. */
#include "layout_util.h"

#include <stdlib.h>
#include <string.h>

mx_array *mx_as_strided(mx_array *a, const int32_t *shape, int nshape, const int64_t *strides,
                        int nstrides, int64_t offset, mx_stream s) {
  if (!a) return NULL;
  if (nshape < 0) shape = a->shape, nshape = a->ndim;
  for (int d = 0; d < nshape; d++)
    if (shape[d] < 0) return mx_fail(MX_EINVAL, "[as_strided] Negative dimensions not allowed.");
  if (nstrides >= 0 && nstrides != nshape)
    return mx_fail(MX_EINVAL, "[as_strided] Got %d strides for a shape of %d dimensions.", nstrides,
                   nshape);
  int64_t size = mx_shape_size("as_strided", nshape, shape);
  if (size < 0) return NULL;
  int64_t *st = malloc((size_t)(nshape > 0 ? nshape : 1) * sizeof *st);
  if (!st) return mx_fail(MX_ENOMEM, "[as_strided] out of memory.");
  if (nstrides >= 0) {
    memcpy(st, strides, (size_t)nshape * sizeof *st);
  } else {
    int64_t acc = 1;
    for (int d = nshape - 1; d >= 0; d--) st[d] = acc, acc *= shape[d];
  }
  mx_array *r = NULL;
  if (size > 0) { /* the lowest and highest element the view reaches must lie in a */
    int64_t lo = offset, hi = offset;
    for (int d = 0; d < nshape; d++) {
      int64_t span = (int64_t)(shape[d] - 1) * st[d];
      if (span < 0) lo += span;
      else hi += span;
    }
    if (lo < 0 || hi >= a->size) {
      mx_fail(MX_EINVAL, "[as_strided] The view reaches elements %lld to %lld of an array of %lld "
                         "elements.", (long long)lo, (long long)hi, (long long)a->size);
      goto out;
    }
  }
  MX_SCOPE_BEGIN;
  mx_array *flat = mx_flatten(a, 0, -1, s);
  mx_p_as_strided p = {{nshape, shape}, {nshape, st}, offset};
  r = flat ? mx_keep(mx_op_make1(MX_PRIM_AS_STRIDED, &p, s, 1, &flat, a->dtype, nshape, shape)) : NULL;
  MX_SCOPE_END;
  r = mx_scope_adopt(r);
out:
  free(st);
  return r;
}

mx_array *mx_as_strided_py(mx_array *a, const int *shape, int nshape, const int *strides,
                           int nstrides, int offset, mx_stream s) {
  if (!a) return NULL;
  int64_t *st = malloc((size_t)(nstrides > 0 ? nstrides : 1) * sizeof *st);
  if (!st) return mx_fail(MX_ENOMEM, "[as_strided] out of memory.");
  for (int d = 0; d < nstrides; d++) st[d] = strides[d];
  mx_array *r = mx_as_strided(a, shape, nshape, st, nstrides, offset, s);
  free(st);
  return r;
}

mx_array *mx_contiguous(mx_array *a, bool allow_col_major, mx_stream s) {
  if (!a) return NULL;
  mx_p_contiguous p = {allow_col_major};
  return mx_op_make1(MX_PRIM_CONTIGUOUS, &p, s, 1, &a, a->dtype, a->ndim, a->shape);
}

mx_array *mx_view(mx_array *a, mx_dtype t, mx_stream s) {
  if (!a) return NULL;
  if ((int)t < 0 || t >= MX_DTYPE_COUNT) return mx_fail(MX_EINVAL, "[view] Invalid dtype %d.", (int)t);
  if (a->dtype == t) return mx_scope_adopt(mx_keep(a));
  int ib = mx_dtype_size(a->dtype), ob = mx_dtype_size(t), nd = a->ndim;
  if (ib != ob && nd == 0)
    return mx_fail(MX_EINVAL, "[view] Changing the type of a scalar is only allowed for types with "
                              "the same size.");
  int32_t *shape = mx_lay_dims("view", nd);
  if (!shape) return NULL;
  memcpy(shape, a->shape, (size_t)nd * sizeof(int32_t));
  mx_array *r = NULL;
  if (ib != ob) {
    int64_t bytes = (int64_t)shape[nd - 1] * ib;
    if (ob > ib && bytes % ob != 0) {
      mx_fail(MX_EINVAL, "[view] When viewing as a larger dtype, the size in bytes of the last "
                         "axis must be a multiple of the requested type size.");
      goto out;
    }
    if (bytes / ob > INT32_MAX) {
      mx_fail(MX_EINVAL, "[view] The last axis would have %lld elements.", (long long)(bytes / ob));
      goto out;
    }
    shape[nd - 1] = (int32_t)(bytes / ob);
  }
  mx_p_view p = {(int32_t)t};
  r = mx_op_make1(MX_PRIM_VIEW, &p, s, 1, &a, t, nd, shape);
out:
  free(shape);
  return r;
}
