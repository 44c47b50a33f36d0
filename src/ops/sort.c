/* sort.c: sort, argsort, partition, argpartition (the Sort, ArgSort, Partition and
 * ArgPartition primitives; stable, NaN last, indices uint32) and topk (the last k entries
 * of a partition). The plain forms work on the flattened array. */
#include "ops.h"

#include <stdlib.h>

#include "../core/error.h"
#include "indexing_internal.h"

static mx_array *flatten_all(mx_array *a, mx_stream s) {
  int32_t n = -1;
  return mx_reshape(a, &n, 1, s);
}

static int sort_axis(const char *op, const mx_array *a, int axis) {
  if (axis < -a->ndim || axis >= a->ndim)
    return mx_fail_int(MX_EINDEX, "[%s] Axis %d is out of bounds for array with %d dimensions.", op,
                       axis, a->ndim);
  return axis < 0 ? axis + a->ndim : axis;
}

static mx_array *make_sort(mx_prim prim, const char *op, mx_array *a, int axis, mx_stream s) {
  if (!a) return NULL;
  int ax = sort_axis(op, a, axis);
  if (ax < 0) return NULL;
  mx_dtype t = prim == MX_PRIM_ARGSORT ? MX_UINT32 : a->dtype;
  if (prim == MX_PRIM_SORT) {
    mx_p_sort p = {ax};
    return mx_op_make1(prim, &p, s, 1, &a, t, a->ndim, a->shape);
  }
  mx_p_argsort p = {ax};
  return mx_op_make1(prim, &p, s, 1, &a, t, a->ndim, a->shape);
}

/* Normalised kth (ValueError naming the raw kth/axis as MLX does), or INT32_MIN on error. */
static int check_kth(const char *op, const mx_array *a, int kth, int axis, int ax) {
  int n = a->shape[ax];
  if (kth < -n || kth >= n) {
    char sh[256];
    mx_ix_shape_str(sh, sizeof sh, a->ndim, a->shape);
    mx_fail(MX_EINVAL, "[%s] Received invalid kth %d along axis %d for array with shape: %s", op,
            kth, axis, sh);
    return INT32_MIN;
  }
  return kth < 0 ? kth + n : kth;
}

static mx_array *make_partition(mx_prim prim, const char *op, mx_array *a, int kth, int axis,
                                mx_stream s) {
  if (!a) return NULL;
  int ax = sort_axis(op, a, axis);
  if (ax < 0) return NULL;
  int k = check_kth(op, a, kth, axis, ax);
  if (k == INT32_MIN) return NULL;
  mx_dtype t = prim == MX_PRIM_ARGPARTITION ? MX_UINT32 : a->dtype;
  if (prim == MX_PRIM_PARTITION) {
    mx_p_partition p = {k, ax};
    return mx_op_make1(prim, &p, s, 1, &a, t, a->ndim, a->shape);
  }
  mx_p_argpartition p = {k, ax};
  return mx_op_make1(prim, &p, s, 1, &a, t, a->ndim, a->shape);
}

mx_array *mx_sort_axis(mx_array *a, int axis, mx_stream s) {
  return make_sort(MX_PRIM_SORT, "sort", a, axis, s);
}

mx_array *mx_argsort_axis(mx_array *a, int axis, mx_stream s) {
  return make_sort(MX_PRIM_ARGSORT, "argsort", a, axis, s);
}

mx_array *mx_partition_axis(mx_array *a, int kth, int axis, mx_stream s) {
  return make_partition(MX_PRIM_PARTITION, "partition", a, kth, axis, s);
}

mx_array *mx_argpartition_axis(mx_array *a, int kth, int axis, mx_stream s) {
  return make_partition(MX_PRIM_ARGPARTITION, "argpartition", a, kth, axis, s);
}

mx_array *mx_topk_axis(mx_array *a, int k, int axis, mx_stream s) {
  if (!a) return NULL;
  int ax = sort_axis("topk", a, axis);
  if (ax < 0) return NULL;
  int n = a->shape[ax];
  if (k < 0 || k > n) {
    char sh[256];
    mx_ix_shape_str(sh, sizeof sh, a->ndim, a->shape);
    return mx_fail(MX_EINVAL, "[topk] Received invalid k=%d along axis %d for array with shape: %s",
                   k, axis, sh);
  }
  int nd = a->ndim;
  int32_t *buf = malloc((size_t)(3 * nd) * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[topk] out of memory.");
  int32_t *start = buf, *stop = buf + nd, *strides = buf + 2 * nd;
  for (int d = 0; d < nd; d++) {
    start[d] = 0;
    stop[d] = a->shape[d];
    strides[d] = 1;
  }
  start[ax] = n - k;
  MX_SCOPE_BEGIN;
  mx_array *p = k == 0 ? a : mx_partition_axis(a, n - k, ax, s);
  mx_array *r = mx_slice(p, start, stop, strides, s);
  free(buf);
  MX_SCOPE_RETURN(r);
}

#define FLAT1(name, call)                                  \
  mx_array *name(mx_array *a, mx_stream s) {               \
    if (!a) return NULL;                                   \
    MX_SCOPE_BEGIN;                                        \
    mx_array *r = call(flatten_all(a, s), 0, s);           \
    MX_SCOPE_RETURN(r);                                    \
  }
#define FLAT2(name, call)                                  \
  mx_array *name(mx_array *a, int k, mx_stream s) {        \
    if (!a) return NULL;                                   \
    MX_SCOPE_BEGIN;                                        \
    mx_array *r = call(flatten_all(a, s), k, 0, s);        \
    MX_SCOPE_RETURN(r);                                    \
  }
FLAT1(mx_sort, mx_sort_axis)
FLAT1(mx_argsort, mx_argsort_axis)
FLAT2(mx_partition, mx_partition_axis)
FLAT2(mx_argpartition, mx_argpartition_axis)
FLAT2(mx_topk, mx_topk_axis)

static int opt_axis(const char *op, int axis_n) {
  if (axis_n > 1) return mx_fail_int(MX_ETYPE, "[%s] axis must be an int or None.", op);
  return 0;
}

mx_array *mx_sort_opt(mx_array *a, const int *axis, int axis_n, mx_stream s) {
  if (opt_axis("sort", axis_n) < 0) return NULL;
  return axis_n < 0 ? mx_sort(a, s) : mx_sort_axis(a, axis[0], s);
}

mx_array *mx_argsort_opt(mx_array *a, const int *axis, int axis_n, mx_stream s) {
  if (opt_axis("argsort", axis_n) < 0) return NULL;
  return axis_n < 0 ? mx_argsort(a, s) : mx_argsort_axis(a, axis[0], s);
}

mx_array *mx_partition_opt(mx_array *a, int kth, const int *axis, int axis_n, mx_stream s) {
  if (opt_axis("partition", axis_n) < 0) return NULL;
  return axis_n < 0 ? mx_partition(a, kth, s) : mx_partition_axis(a, kth, axis[0], s);
}

mx_array *mx_argpartition_opt(mx_array *a, int kth, const int *axis, int axis_n, mx_stream s) {
  if (opt_axis("argpartition", axis_n) < 0) return NULL;
  return axis_n < 0 ? mx_argpartition(a, kth, s) : mx_argpartition_axis(a, kth, axis[0], s);
}

mx_array *mx_topk_opt(mx_array *a, int k, const int *axis, int axis_n, mx_stream s) {
  if (opt_axis("topk", axis_n) < 0) return NULL;
  return axis_n < 0 ? mx_topk(a, k, s) : mx_topk_axis(a, k, axis[0], s);
}

mx_array *mx_searchsorted(mx_array *a, mx_array *values, bool right, mx_stream s) {
  if (!a || !values) return NULL;
  if (a->ndim != 1)
    return mx_fail(MX_EINVAL, "[searchsorted] The sorted sequence must be 1-D but has %d dimensions.",
                   a->ndim);
  mx_dtype t = mx_promote_types(a->dtype, values->dtype);
  MX_SCOPE_BEGIN;
  mx_array *in[2] = {mx_astype(a, t, s), mx_astype(values, t, s)};
  mx_p_search_sorted p = {right};
  mx_array *r = in[0] && in[1]
                    ? mx_op_make1(MX_PRIM_SEARCH_SORTED, &p, s, 2, in, MX_UINT32, values->ndim, values->shape)
                    : NULL;
  MX_SCOPE_RETURN(r);
}
