/* reduce.c: the Reduce primitive's ops: sum, prod, max, min, all, any. The primitive keeps
 * reduced axes as size 1; without keepdims a reshape drops them. Result dtypes follow
 * spec/semantics.md section 2.1; an empty axis list returns the input (as MLX). */
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

int mx_reduce_axes_normalize(const char *name, const int *axes, int naxes, int ndim, int32_t *out) {
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
      return mx_fail_int(MX_EINDEX, "[%s] Invalid axis %d for array with %d dimensions.", name,
                         ax, ndim);
    }
    if (ax < 0) ax += ndim;
    if (seen[ax]) {
      free(seen);
      return mx_fail_int(MX_EINVAL, "[%s] Duplicate axes detected in reduction.", name);
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
  int n = mx_reduce_axes_normalize(name, axes, naxes, nd, ax);
  mx_array *r = NULL;
  if (n >= 0) {
    MX_SCOPE_BEGIN;
    mx_array *src = a;
    int ns = 0;
    bool noop = true; /* every reduced axis has size 1: a cast and a reshape */
    for (int i = 0, j = 0; i < nd; i++) {
      bool red = j < n && ax[j] == i;
      if (red) j++;
      if (red && a->shape[i] != 1) noop = false;
      kept[i] = red ? 1 : a->shape[i];
      if (!red) squeezed[ns++] = a->shape[i];
    }
    if (noop) {
      r = mx_astype(src, out_t, s);
    } else {
      mx_p_reduce p = {kind, {n, ax}};
      r = mx_op_make1(MX_PRIM_REDUCE, &p, s, 1, &src, out_t, nd, kept);
    }
    if (!keepdims) r = mx_reshape(r, squeezed, ns, s);
    r = mx_keep(r);
    MX_SCOPE_END;
    r = mx_scope_adopt(r);
  }
  free(buf);
  return r;
}

/* MLX returns the input itself for an empty axis list (sum, prod, max, min). */
static bool no_axes(mx_array *a, int naxes) { return a && naxes == 0; }

mx_array *mx_sum(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  if (!a) return NULL;
  if (no_axes(a, naxes)) return mx_scope_adopt(mx_keep(a));
  return mx_reduce("sum", MX_REDUCE_SUM, sum_dtype(a->dtype), a, axes, naxes, keepdims, s);
}

mx_array *mx_prod(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  if (!a) return NULL;
  if (no_axes(a, naxes)) return mx_scope_adopt(mx_keep(a));
  return mx_reduce("prod", MX_REDUCE_PROD, sum_dtype(a->dtype), a, axes, naxes, keepdims, s);
}

/* max / min: a reduced axis of size 0 has no extremum. */
static mx_array *extremum(const char *name, int kind, mx_array *a, const int *axes, int naxes,
                          bool keepdims, mx_stream s) {
  if (!a) return NULL;
  if (no_axes(a, naxes)) return mx_scope_adopt(mx_keep(a));
  int32_t small[MX_INLINE_DIMS];
  int32_t *ax = a->ndim <= MX_INLINE_DIMS ? small : malloc((size_t)a->ndim * sizeof(int32_t));
  if (!ax) return mx_fail(MX_ENOMEM, "[%s] out of memory.", name);
  int n = mx_reduce_axes_normalize(name, axes, naxes, a->ndim, ax);
  int empty = -1;
  for (int i = 0; i < n && empty < 0; i++)
    if (a->shape[ax[i]] == 0) empty = ax[i];
  if (ax != small) free(ax);
  if (n < 0) return NULL;
  if (empty >= 0)
    return mx_fail(MX_EINVAL, "[%s] Cannot %s reduce over axis %d with size 0.", name, name, empty);
  return mx_reduce(name, kind, a->dtype, a, axes, naxes, keepdims, s);
}

mx_array *mx_max(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  return extremum("max", MX_REDUCE_MAX, a, axes, naxes, keepdims, s);
}

mx_array *mx_min(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  return extremum("min", MX_REDUCE_MIN, a, axes, naxes, keepdims, s);
}

mx_array *mx_all(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  return mx_reduce("all", MX_REDUCE_AND, MX_BOOL, a, axes, naxes, keepdims, s);
}

mx_array *mx_any(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  return mx_reduce("any", MX_REDUCE_OR, MX_BOOL, a, axes, naxes, keepdims, s);
}
