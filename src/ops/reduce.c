/* reduce.c: reductions. The Reduce primitive keeps reduced axes as size 1; without
 * keepdims a reshape drops them. Result dtypes follow spec/semantics.md section 2.1. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/param_enums.h"

static mx_dtype sum_dtype(mx_dtype t) {
  switch (t) {
    case MX_BOOL: case MX_INT8: case MX_INT16: case MX_INT32: return MX_INT32;
    case MX_UINT8: case MX_UINT16: case MX_UINT32: return MX_UINT32;
    default: return t;
  }
}

/* Sorted unique normalised axes into out (capacity a->ndim); returns count or -1. */
static int norm_axes(const char *name, const int *axes, int naxes, int ndim, int32_t *out) {
  if (naxes < 0) {
    for (int i = 0; i < ndim; i++) out[i] = i;
    return ndim;
  }
  bool *seen = calloc((size_t)ndim + 1, 1);
  if (!seen) return mx_fail_int(MX_ENOMEM, "[%s] out of memory.", name);
  int n = 0;
  for (int i = 0; i < naxes; i++) {
    int ax = axes[i];
    if (ax < -ndim || ax >= ndim) {
      free(seen);
      return mx_fail_int(MX_EINVAL, "[%s] Received invalid axis %d for array with %d dimensions.",
                         name, ax, ndim);
    }
    if (ax < 0) ax += ndim;
    if (seen[ax]) {
      free(seen);
      return mx_fail_int(MX_EINVAL, "[%s] Received duplicate axis %d.", name, axes[i]);
    }
    seen[ax] = true;
  }
  for (int i = 0; i < ndim; i++)
    if (seen[i]) out[n++] = i;
  free(seen);
  return n;
}

mx_array *mx_reduce(const char *name, int kind, mx_dtype out_t, mx_array *a, const int *axes,
                    int naxes, bool keepdims, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  int32_t *buf = malloc((size_t)(nd + 1) * 3 * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[%s] out of memory.", name);
  int32_t *ax = buf, *kept = buf + nd + 1, *squeezed = buf + 2 * (nd + 1);
  int n = norm_axes(name, axes, naxes, nd, ax);
  mx_array *r = NULL;
  if (n >= 0) {
    MX_SCOPE_BEGIN;
    mx_array *src = a;
    if (n == 0) {
      r = mx_astype(src, out_t, s);
    } else {
      int ns = 0;
      for (int i = 0, j = 0; i < nd; i++) {
        bool red = j < n && ax[j] == i;
        if (red) j++;
        kept[i] = red ? 1 : a->shape[i];
        if (!red) squeezed[ns++] = a->shape[i];
      }
      mx_p_reduce p = {kind, {n, ax}};
      r = mx_op_make1(MX_PRIM_REDUCE, &p, s, 1, &src, out_t, nd, kept);
      if (!keepdims) r = mx_reshape(r, squeezed, ns, s);
    }
    r = mx_keep(r);
    MX_SCOPE_END;
    r = mx_scope_adopt(r);
  }
  free(buf);
  return r;
}

mx_array *mx_sum(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  if (!a) return NULL;
  return mx_reduce("sum", MX_REDUCE_SUM, sum_dtype(a->dtype), a, axes, naxes, keepdims, s);
}
