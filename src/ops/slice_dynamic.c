/* slice_dynamic.c: slices whose start indices are an array (DynamicSlice and
 * DynamicSliceUpdate primitives) and the static slice updates that combine the update with
 * the region (slice_update_add/prod/max/min, composed of slice + op + slice_update). */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/param_enums.h"
#include "indexing_internal.h"

/* Validates start/axes and writes the normalised axes into ax; the start array reshaped to
 * one dimension into *start1 (scope-owned). 0 or -1. */
static int dynamic_args(const char *op, const mx_array *a, mx_array *start, const int *axes,
                        int n_axes, int32_t *ax, mx_array **start1, mx_stream s) {
  if (!mx_dtype_is_integer(start->dtype))
    return mx_fail_int(MX_EINVAL, "[%s] Start indices must be integers, got type %s.", op,
                       mx_dtype_name(start->dtype));
  if (start->ndim > 1)
    return mx_fail_int(MX_EINVAL,
                       "[%s] array of starting indices must be zero or one dimensional but has dimension %d.",
                       op, start->ndim);
  if (start->size != n_axes)
    return mx_fail_int(MX_EINVAL, "[%s] Number of starting indices %lld does not match number of axes %d.",
                       op, (long long)start->size, n_axes);
  for (int i = 0; i < n_axes; i++) {
    int v = axes[i];
    if (v < -a->ndim || v >= a->ndim)
      return mx_fail_int(MX_EINDEX, "[%s] Invalid axis %d for array with dimension %d.", op, v,
                         a->ndim);
    v = v < 0 ? v + a->ndim : v;
    for (int j = 0; j < i; j++)
      if (ax[j] == v) return mx_fail_int(MX_EINVAL, "[%s] Repeat axes not allowed.", op);
    ax[i] = v;
  }
  int32_t n = n_axes;
  *start1 = mx_reshape(start, &n, 1, s);
  return *start1 ? 0 : -1;
}

mx_array *mx_slice_dynamic(mx_array *a, mx_array *start, const int *axes, int n_axes,
                           const int32_t *slice_size, int n_sizes, mx_stream s) {
  if (!a || !start) return NULL;
  if (n_sizes != a->ndim)
    return mx_fail(MX_EINVAL, "[slice] Invalid slice size for array with %d dimensions.", a->ndim);
  for (int d = 0; d < a->ndim; d++)
    if (slice_size[d] < 0 || slice_size[d] > a->shape[d]) {
      char s1[256], s2[256];
      mx_ix_shape_str(s1, sizeof s1, n_sizes, slice_size);
      mx_ix_shape_str(s2, sizeof s2, a->ndim, a->shape);
      return mx_fail(MX_EINVAL, "[slice] Invalid slice size %s for array with shape %s.", s1, s2);
    }
  int32_t *ax = malloc((size_t)(n_axes + 1) * sizeof(int32_t));
  if (!ax) return mx_fail(MX_ENOMEM, "[slice] out of memory.");
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  mx_array *st = NULL;
  if (dynamic_args("slice", a, start, axes, n_axes, ax, &st, s) == 0) {
    mx_array *in[2] = {a, st};
    mx_p_dynamic_slice p = {{n_axes, ax}, {n_sizes, slice_size}};
    r = mx_keep(mx_op_make1(MX_PRIM_DYNAMIC_SLICE, &p, s, 2, in, a->dtype, a->ndim, slice_size));
  }
  MX_SCOPE_END;
  free(ax);
  return mx_scope_adopt(r);
}

mx_array *mx_slice_update_dynamic(mx_array *src, mx_array *update, mx_array *start,
                                  const int *axes, int n_axes, mx_stream s) {
  if (!src || !update || !start) return NULL;
  int nd = src->ndim;
  if (update->ndim > nd)
    return mx_fail(MX_EINVAL, "[slice_update] Update with %d dimensions does not fit an array with %d dimensions.",
                   update->ndim, nd);
  int32_t *buf = malloc((size_t)(nd + n_axes + 1) * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[slice_update] out of memory.");
  int32_t *ax = buf, *ushape = buf + n_axes;
  int lead = nd - update->ndim;
  for (int d = 0; d < nd; d++) ushape[d] = d < lead ? 1 : update->shape[d - lead];
  mx_array *r = NULL;
  for (int d = 0; d < nd; d++)
    if (ushape[d] > src->shape[d]) {
      char s1[256], s2[256];
      mx_ix_shape_str(s1, sizeof s1, update->ndim, update->shape);
      mx_ix_shape_str(s2, sizeof s2, nd, src->shape);
      free(buf);
      return mx_fail(MX_EINVAL, "[slice_update] Update of shape %s does not fit in an array of shape %s.",
                     s1, s2);
    }
  MX_SCOPE_BEGIN;
  mx_array *st = NULL;
  if (dynamic_args("slice_update", src, start, axes, n_axes, ax, &st, s) == 0) {
    mx_array *u = mx_reshape(mx_astype(update, src->dtype, s), ushape, nd, s);
    mx_array *in[3] = {src, u, st};
    mx_p_dynamic_slice_update p = {{n_axes, ax}};
    if (u) r = mx_keep(mx_op_make1(MX_PRIM_DYNAMIC_SLICE_UPDATE, &p, s, 3, in, src->dtype, nd, src->shape));
  }
  MX_SCOPE_END;
  free(buf);
  return mx_scope_adopt(r);
}

typedef mx_array *(*combine_fn)(mx_array *, mx_array *, mx_stream);

static mx_array *slice_update_with(combine_fn f, mx_array *src, mx_array *update,
                                   const int32_t *start, const int32_t *stop,
                                   const int32_t *strides, mx_stream s) {
  if (!src || !update) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *region = mx_slice(src, start, stop, strides, s);
  mx_array *v = region ? f(region, mx_astype(update, src->dtype, s), s) : NULL;
  /* combine in src's dtype (bool + bool stays bool, as MLX's in-place reduction) */
  mx_array *r = mx_slice_update(src, mx_astype(v, src->dtype, s), start, stop, strides, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_slice_update_add(mx_array *src, mx_array *update, const int32_t *start,
                              const int32_t *stop, const int32_t *strides, mx_stream s) {
  return slice_update_with(mx_add, src, update, start, stop, strides, s);
}

mx_array *mx_slice_update_prod(mx_array *src, mx_array *update, const int32_t *start,
                               const int32_t *stop, const int32_t *strides, mx_stream s) {
  return slice_update_with(mx_multiply, src, update, start, stop, strides, s);
}

mx_array *mx_slice_update_max(mx_array *src, mx_array *update, const int32_t *start,
                              const int32_t *stop, const int32_t *strides, mx_stream s) {
  return slice_update_with(mx_maximum, src, update, start, stop, strides, s);
}

mx_array *mx_slice_update_min(mx_array *src, mx_array *update, const int32_t *start,
                              const int32_t *stop, const int32_t *strides, mx_stream s) {
  return slice_update_with(mx_minimum, src, update, start, stop, strides, s);
}

/* Normalised start/stop/strides of a static slice into out (3 * ndim entries). 0 or -1. */
static int normalize_static(const char *op, const mx_array *a, const int32_t *start, int n_start,
                            const int32_t *stop, int n_stop, const int32_t *strides,
                            int n_strides, int32_t *out) {
  int nd = a->ndim;
  if (n_start != nd || n_stop != nd || (strides && n_strides != nd))
    return mx_fail_int(MX_EINVAL, "[%s] Invalid number of indices or strides for array with dimension %d.",
                       op, nd);
  for (int d = 0; d < nd; d++) {
    int64_t n = a->shape[d], st = strides ? strides[d] : 1;
    if (st == 0) return mx_fail_int(MX_EINVAL, "[%s] Slice step cannot be zero.", op);
    int64_t b = start[d], e = stop[d];
    if (b < 0) b += n;
    if (e < 0) e += n;
    if (st > 0) {
      b = b < 0 ? 0 : (b > n ? n : b);
      e = e < 0 ? 0 : (e > n ? n : e);
      if (e < b) e = b;
    } else {
      b = b < -1 ? -1 : (b > n - 1 ? n - 1 : b);
      e = e < -1 ? -1 : (e > n - 1 ? n - 1 : e);
      if (e > b) e = b;
    }
    out[d] = (int32_t)b;
    out[nd + d] = (int32_t)e;
    out[2 * nd + d] = (int32_t)st;
  }
  return 0;
}

mx_array *mx_slice_static(mx_array *a, const int32_t *start, int n_start, const int32_t *stop,
                          int n_stop, const int32_t *strides, int n_strides, mx_stream s) {
  if (!a) return NULL;
  int32_t *buf = malloc((size_t)(3 * a->ndim + 1) * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[slice] out of memory.");
  mx_array *r = NULL;
  if (normalize_static("slice", a, start, n_start, stop, n_stop, strides, n_strides, buf) == 0)
    r = mx_slice(a, buf, buf + a->ndim, buf + 2 * a->ndim, s);
  free(buf);
  return r;
}

mx_array *mx_slice_update_static(int reduce, mx_array *src, mx_array *update,
                                 const int32_t *start, int n_start, const int32_t *stop,
                                 int n_stop, const int32_t *strides, int n_strides, mx_stream s) {
  if (!src || !update) return NULL;
  int nd = src->ndim;
  int32_t *buf = malloc((size_t)(3 * nd + 1) * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[slice_update] out of memory.");
  mx_array *r = NULL;
  if (normalize_static("slice_update", src, start, n_start, stop, n_stop, strides, n_strides,
                       buf) == 0) {
    const int32_t *b = buf, *e = buf + nd, *st = buf + 2 * nd;
    switch (reduce) {
    case MX_REDUCE_SUM: r = mx_slice_update_add(src, update, b, e, st, s); break;
    case MX_REDUCE_PROD: r = mx_slice_update_prod(src, update, b, e, st, s); break;
    case MX_REDUCE_MAX: r = mx_slice_update_max(src, update, b, e, st, s); break;
    case MX_REDUCE_MIN: r = mx_slice_update_min(src, update, b, e, st, s); break;
    default: r = mx_slice_update(src, update, b, e, st, s);
    }
  }
  free(buf);
  return r;
}
