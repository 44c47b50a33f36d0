/* take.c: take (through Gather), take_along_axis / put_along_axis / scatter_add_axis
 * (GatherAxis, ScatterAxis) and masked_scatter, with the `axis: int | None` forms the
 * Python bindings call. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/param_enums.h"
#include "indexing_internal.h"

static mx_array *flatten_all(mx_array *a, mx_stream s) {
  int32_t n = -1;
  return mx_reshape(a, &n, 1, s);
}

mx_array *mx_take_axis(mx_array *a, mx_array *indices, int axis, mx_stream s) {
  if (!a || !indices) return NULL;
  int nd = a->ndim;
  if (axis < -nd || axis >= nd)
    return mx_fail(MX_EINDEX, "[take] Received invalid axis %d for array with %d dimensions.", axis,
                   nd);
  if (axis < 0) axis += nd;
  if (mx_ix_check_index_dtype("take", indices) < 0) return NULL;
  if (a->shape[axis] == 0 && indices->size > 0)
    return mx_fail(MX_EINVAL, "[take] Cannot do a non-empty take from an empty axis.");
  int m = indices->ndim;
  int32_t *buf = malloc((size_t)(2 * (m + nd) + 1) * sizeof(int32_t));
  int *perm = malloc((size_t)(m + nd + 1) * sizeof(int));
  if (!buf || !perm) {
    free(buf);
    free(perm);
    return mx_fail(MX_ENOMEM, "[take] out of memory.");
  }
  int32_t *sizes = buf, *shape = buf + nd;
  for (int d = 0; d < nd; d++) sizes[d] = d == axis ? (a->shape[d] > 0 ? 1 : 0) : a->shape[d];
  /* gather gives idx.shape + sizes; drop the indexed dim, then move idx dims to axis */
  int k = 0;
  for (int d = 0; d < m; d++) shape[k++] = indices->shape[d];
  for (int d = 0; d < nd; d++)
    if (d != axis) shape[k++] = a->shape[d];
  k = 0;
  for (int d = 0; d < axis; d++) perm[k++] = m + d;
  for (int d = 0; d < m; d++) perm[k++] = d;
  for (int d = axis + 1; d < nd; d++) perm[k++] = m + d - 1;
  MX_SCOPE_BEGIN;
  int ax = axis;
  mx_array *g = mx_gather(a, &indices, 1, &ax, 1, sizes, nd, s);
  g = mx_reshape(g, shape, m + nd - 1, s);
  mx_array *r = g && axis > 0 && m > 0 ? mx_transpose(g, perm, m + nd - 1, s) : g;
  free(buf);
  free(perm);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_take(mx_array *a, mx_array *indices, mx_stream s) {
  if (!a || !indices) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_take_axis(flatten_all(a, s), indices, 0, s);
  MX_SCOPE_RETURN(r);
}

/* Checks shared by the along-axis ops; returns the normalised axis or -1. */
static int along_axis_check(const char *op, const mx_array *a, const mx_array *indices, int axis) {
  int nd = a->ndim;
  if (axis < -nd || axis >= nd)
    return mx_fail_int(MX_EINDEX, "[%s] Received invalid axis %d for array with %d dimensions.", op,
                       axis, nd);
  if (indices->ndim != nd)
    return mx_fail_int(MX_EINVAL, "[%s] Indices of dimension %d does not match array of dimension %d.",
                       op, indices->ndim, nd);
  if (mx_ix_check_index_dtype(op, indices) < 0) return -1;
  return axis < 0 ? axis + nd : axis;
}

/* The dims of x other than axis, into out; returns their count. */
static int off_axis(const int32_t *shape, int nd, int axis, int32_t *out) {
  int k = 0;
  for (int d = 0; d < nd; d++)
    if (d != axis) out[k++] = shape[d];
  return k;
}

/* out = rest with v inserted at axis. */
static void with_axis(const int32_t *rest, int nd, int axis, int32_t v, int32_t *out) {
  for (int d = 0, k = 0; d < nd; d++) out[d] = d == axis ? v : rest[k++];
}

mx_array *mx_take_along_axis(mx_array *a, mx_array *indices, int axis, mx_stream s) {
  if (!a || !indices) return NULL;
  int ax = along_axis_check("take_along_axis", a, indices, axis);
  if (ax < 0) return NULL;
  int nd = a->ndim;
  int32_t *buf = malloc((size_t)(5 * nd + 1) * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[take_along_axis] out of memory.");
  int32_t *ra = buf, *ri = buf + nd, *rb = buf + 2 * nd, *sa = buf + 3 * nd, *si = buf + 4 * nd;
  mx_array *r = NULL;
  int n = off_axis(a->shape, nd, ax, ra);
  off_axis(indices->shape, nd, ax, ri);
  if (mx_broadcast_shapes("broadcast_shapes", n, ra, n, ri, rb) >= 0) {
    with_axis(rb, nd, ax, a->shape[ax], sa);
    with_axis(rb, nd, ax, indices->shape[ax], si);
    if (a->shape[ax] == 0 && mx_shape_size("take_along_axis", nd, si) > 0) {
      mx_fail(MX_EINVAL, "[take_along_axis] Cannot do a non-empty take from an empty axis.");
    } else {
      MX_SCOPE_BEGIN;
      mx_array *in[2] = {mx_broadcast_to(a, sa, nd, s), mx_broadcast_to(indices, si, nd, s)};
      mx_p_gather_axis p = {ax};
      if (in[0] && in[1])
        r = mx_keep(mx_op_make1(MX_PRIM_GATHER_AXIS, &p, s, 2, in, a->dtype, nd, si));
      MX_SCOPE_END;
    }
  }
  free(buf);
  return mx_scope_adopt(r);
}

static mx_array *scatter_axis(const char *op, int reduce, mx_array *a, mx_array *indices,
                              mx_array *values, int axis, mx_stream s) {
  if (!a || !indices || !values) return NULL;
  int ax = along_axis_check(op, a, indices, axis);
  if (ax < 0) return NULL;
  int nd = a->ndim;
  int nv = values->ndim > nd ? values->ndim : nd;
  int32_t *buf = malloc((size_t)(5 * nv + 1) * sizeof(int32_t));
  if (!buf) return mx_fail(MX_ENOMEM, "[%s] out of memory.", op);
  int32_t *u = buf, *ru = buf + nv, *ra = buf + 2 * nv, *rb = buf + 3 * nv, *us = buf + 4 * nv;
  mx_array *r = NULL;
  int nu = mx_broadcast_shapes("broadcast_shapes", indices->ndim, indices->shape, values->ndim,
                               values->shape, u);
  if (nu > nd) {
    mx_fail(MX_EINVAL, "[%s] Values of %d dimensions do not fit an array of %d dimensions.", op,
            values->ndim, nd);
  } else if (nu >= 0) {
    int n = off_axis(u, nd, ax, ru);
    off_axis(a->shape, nd, ax, ra);
    if (mx_broadcast_shapes("broadcast_shapes", n, ra, n, ru, rb) >= 0) {
      if (memcmp(rb, ra, (size_t)n * sizeof(int32_t)) != 0) {
        char s1[256], s2[256];
        mx_ix_shape_str(s1, sizeof s1, nu, u);
        mx_ix_shape_str(s2, sizeof s2, nd, a->shape);
        mx_fail(MX_EINVAL, "[%s] Updates of shape %s do not fit along axis %d of an array of shape %s.",
                op, s1, ax, s2);
      } else {
        with_axis(ra, nd, ax, u[ax], us);
        MX_SCOPE_BEGIN;
        mx_array *in[3] = {a, mx_broadcast_to(indices, us, nd, s),
                           mx_broadcast_to(mx_astype(values, a->dtype, s), us, nd, s)};
        mx_p_scatter_axis p = {reduce, ax};
        if (in[1] && in[2])
          r = mx_keep(mx_op_make1(MX_PRIM_SCATTER_AXIS, &p, s, 3, in, a->dtype, nd, a->shape));
        MX_SCOPE_END;
      }
    }
  }
  free(buf);
  return mx_scope_adopt(r);
}

mx_array *mx_put_along_axis(mx_array *a, mx_array *indices, mx_array *values, int axis,
                            mx_stream s) {
  return scatter_axis("put_along_axis", MX_SCATTER_NONE, a, indices, values, axis, s);
}

mx_array *mx_scatter_add_axis(mx_array *a, mx_array *indices, mx_array *values, int axis,
                              mx_stream s) {
  return scatter_axis("scatter_add_axis", MX_REDUCE_SUM, a, indices, values, axis, s);
}

static int opt_axis(const char *op, int axis_n) {
  if (axis_n > 1) return mx_fail_int(MX_ETYPE, "[%s] axis must be an int or None.", op);
  return 0;
}

mx_array *mx_take_opt(mx_array *a, mx_array *indices, const int *axis, int axis_n, mx_stream s) {
  if (opt_axis("take", axis_n) < 0) return NULL;
  return axis_n < 0 ? mx_take(a, indices, s) : mx_take_axis(a, indices, axis[0], s);
}

mx_array *mx_take_along_axis_opt(mx_array *a, mx_array *indices, const int *axis, int axis_n,
                                 mx_stream s) {
  if (opt_axis("take_along_axis", axis_n) < 0) return NULL;
  if (axis_n >= 0) return mx_take_along_axis(a, indices, axis[0], s);
  if (!a || !indices) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_take_along_axis(flatten_all(a, s), indices, 0, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_put_along_axis_opt(mx_array *a, mx_array *indices, mx_array *values,
                                const int *axis, int axis_n, mx_stream s) {
  if (opt_axis("put_along_axis", axis_n) < 0) return NULL;
  if (axis_n >= 0) return mx_put_along_axis(a, indices, values, axis[0], s);
  if (!a || !indices || !values) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_put_along_axis(flatten_all(a, s), indices, values, 0, s);
  r = mx_reshape(r, a->shape, a->ndim, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_masked_scatter(mx_array *a, mx_array *mask, mx_array *src, mx_stream s) {
  if (!a || !mask || !src) return NULL;
  if (mask->dtype != MX_BOOL)
    return mx_fail(MX_EINVAL, "[masked_scatter] The mask has to be boolean.");
  if (mask->ndim > a->ndim)
    return mx_fail(MX_EINVAL, "[masked_scatter] The mask cannot have more dimensions than the target.");
  MX_SCOPE_BEGIN;
  mx_array *in[3] = {a, mx_broadcast_to(mask, a->shape, a->ndim, s),
                     flatten_all(mx_astype(src, a->dtype, s), s)};
  mx_array *r = NULL;
  if (in[1] && in[2]) r = mx_op_make1(MX_PRIM_MASKED_SCATTER, NULL, s, 3, in, a->dtype, a->ndim, a->shape);
  MX_SCOPE_RETURN(r);
}
