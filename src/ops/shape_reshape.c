/* shape_reshape.c: ops that only change how dimensions are grouped, all composed from
 * reshape and broadcast_to as MLX composes them: flatten, unflatten, squeeze, expand_dims
 * with several axes, atleast_Nd, broadcast_arrays and meshgrid. Depends on ops.h. */
#include "layout_util.h"

#include <stdlib.h>
#include <string.h>

mx_array *mx_flatten(mx_array *a, int start_axis, int end_axis, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  if (nd == 0) {
    int32_t one = 1;
    return mx_reshape(a, &one, 1, s);
  }
  int start = start_axis + (start_axis < 0 ? nd : 0), end = end_axis + (end_axis < 0 ? nd : 0);
  if (start < 0) start = 0;
  if (end > nd - 1) end = nd - 1;
  if (end < start) return mx_fail(MX_EINVAL, "[flatten] start_axis must be less than or equal to end_axis");
  if (start == end) return mx_scope_adopt(mx_keep(a));
  int64_t merged = 1;
  for (int i = start; i <= end; i++) merged *= a->shape[i];
  if (merged > INT32_MAX)
    return mx_fail(MX_EINVAL, "[flatten] The flattened axis would have %lld elements.",
                   (long long)merged);
  int32_t *shape = mx_lay_dims("flatten", nd);
  if (!shape) return NULL;
  int n = 0;
  for (int i = 0; i < nd; i++) {
    if (i > start && i <= end) shape[n - 1] *= a->shape[i];
    else shape[n++] = a->shape[i];
  }
  mx_array *r = mx_reshape(a, shape, n, s);
  free(shape);
  return r;
}

mx_array *mx_unflatten(mx_array *a, int axis, const int32_t *shape, int n, mx_stream s) {
  if (!a) return NULL;
  if (n == 0) return mx_fail(MX_EINVAL, "[unflatten] Shape to unflatten to cannot be empty.");
  int nd = a->ndim, ax = axis < 0 ? axis + nd : axis;
  if (ax < 0 || ax >= nd)
    return mx_fail(MX_EINDEX, "[unflatten] Invalid axes %d for array with %d dimensions.", ax, nd);
  int32_t *out = mx_lay_dims("unflatten", nd + n - 1);
  if (!out) return NULL;
  int32_t *sub = out + ax;
  memcpy(out, a->shape, (size_t)ax * sizeof(int32_t));
  memcpy(sub, shape, (size_t)n * sizeof(int32_t));
  memcpy(sub + n, a->shape + ax + 1, (size_t)(nd - ax - 1) * sizeof(int32_t));
  int infer = -1;
  int64_t known = 1;
  bool bad = false;
  mx_array *r = NULL;
  for (int i = 0; i < n; i++) {
    if (sub[i] == -1) {
      if (infer >= 0) {
        mx_fail(MX_EINVAL, "[Unflatten] Can only infer one dimension.");
        goto out;
      }
      infer = i;
    } else if (sub[i] < 0 || (sub[i] > 0 && known > a->shape[ax] && known > INT32_MAX / sub[i])) {
      bad = true; /* negative, or a product already past the axis: cannot match */
    } else {
      known *= sub[i];
    }
  }
  if (infer >= 0) {
    bad |= known == 0;
    sub[infer] = known == 0 ? 0 : (int32_t)(a->shape[ax] / known);
    known *= sub[infer];
  }
  if (bad || known != a->shape[ax]) {
    char b[256];
    mx_lay_shape_str(b, sizeof b, n, sub);
    mx_fail(MX_EINVAL, "[Unflatten] Cannot unflatten axis %d with size %d into shape %s.", axis,
            a->shape[ax], b);
    goto out;
  }
  r = n == 1 ? mx_scope_adopt(mx_keep(a)) : mx_reshape(a, out, nd + n - 1, s);
out:
  free(out);
  return r;
}

mx_array *mx_squeeze(mx_array *a, const int *axes, int naxes, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  if (naxes == 0) return mx_scope_adopt(mx_keep(a));
  int32_t *shape = mx_lay_dims("squeeze", nd + 1);
  bool *drop = calloc((size_t)nd + 1, 1);
  mx_array *r = NULL;
  if (!shape || !drop) {
    mx_fail(MX_ENOMEM, "[squeeze] out of memory.");
    goto out;
  }
  if (naxes < 0) {
    for (int i = 0; i < nd; i++) drop[i] = a->shape[i] == 1;
  } else {
    for (int i = 0; i < naxes; i++) { /* duplicates first, as MLX checks them first */
      int ax = axes[i] < 0 ? axes[i] + nd : axes[i];
      for (int j = 0; j < i; j++)
        if (ax == (axes[j] < 0 ? axes[j] + nd : axes[j])) {
          mx_fail(MX_EINVAL, "[squeeze] Received duplicate axes.");
          goto out;
        }
    }
    for (int i = 0; i < naxes; i++) {
      int ax = mx_lay_axis("squeeze", axes[i], nd);
      if (ax < 0) goto out;
      if (a->shape[ax] != 1) {
        mx_fail(MX_EINVAL, "[squeeze] Cannot squeeze axis %d with size %d which is not equal to 1.",
                axes[i], a->shape[ax]);
        goto out;
      }
      drop[ax] = true;
    }
  }
  int n = 0;
  for (int i = 0; i < nd; i++)
    if (!drop[i]) shape[n++] = a->shape[i];
  r = mx_reshape(a, shape, n, s);
out:
  free(shape);
  free(drop);
  return r;
}

mx_array *mx_expand_dims_axes(mx_array *a, const int *axes, int naxes, mx_stream s) {
  if (!a) return NULL;
  if (naxes <= 0) return mx_scope_adopt(mx_keep(a));
  int out_nd = a->ndim + naxes;
  int32_t *shape = mx_lay_dims("expand_dims", out_nd);
  bool *ins = calloc((size_t)out_nd, 1);
  mx_array *r = NULL;
  if (!shape || !ins) {
    mx_fail(MX_ENOMEM, "[expand_dims] out of memory.");
    goto out;
  }
  for (int i = 0; i < naxes; i++)
    for (int j = 0; j < i; j++) {
      int x = axes[i] < 0 ? axes[i] + out_nd : axes[i], y = axes[j] < 0 ? axes[j] + out_nd : axes[j];
      if (axes[i] == axes[j] || x == y) {
        mx_fail(MX_EINVAL, "[expand_dims] Received duplicate axes.");
        goto out;
      }
    }
  for (int i = 0; i < naxes; i++) {
    int ax = mx_lay_axis("expand_dims", axes[i], out_nd);
    if (ax < 0) goto out;
    ins[ax] = true;
  }
  for (int i = 0, j = 0; i < out_nd; i++) shape[i] = ins[i] ? 1 : a->shape[j++];
  r = mx_reshape(a, shape, out_nd, s);
out:
  free(shape);
  free(ins);
  return r;
}

mx_array *mx_atleast(mx_array *a, int ndim, mx_stream s) {
  if (!a) return NULL;
  if (a->ndim >= ndim) return mx_scope_adopt(mx_keep(a));
  int32_t shape[3] = {1, 1, 1};
  switch (a->ndim) { /* NumPy's placement: (n) -> (1, n) / (1, n, 1); (m, n) -> (m, n, 1) */
    case 0: break;
    case 1: shape[1] = a->shape[0]; break;
    default: shape[0] = a->shape[0], shape[1] = a->shape[1]; break;
  }
  return mx_reshape(a, shape, ndim, s);
}

int mx_atleast_list(mx_array *const *in, int n, int ndim, mx_array **out, mx_stream s) {
  int rc = 0;
  MX_SCOPE_BEGIN;
  for (int i = 0; i < n; i++) {
    out[i] = mx_atleast(in[i], ndim, s);
    if (!out[i]) rc = -1;
  }
  if (rc == 0) mx_lay_keep_all(out, n);
  MX_SCOPE_END;
  if (rc == 0) mx_lay_adopt_all(out, n);
  else memset(out, 0, (size_t)n * sizeof *out);
  return rc;
}

int mx_broadcast_shapes_n(const int32_t *const *shapes, const int *ndims, int n, int32_t **out) {
  *out = NULL;
  if (n == 0) return mx_fail_int(MX_EINVAL, "[broadcast_shapes] Must provide at least one shape.");
  int nd = 0;
  for (int i = 0; i < n; i++) nd = ndims[i] > nd ? ndims[i] : nd;
  int32_t *acc = mx_lay_dims("broadcast_shapes", nd), *tmp = mx_lay_dims("broadcast_shapes", nd);
  if (!acc || !tmp) {
    free(acc);
    free(tmp);
    return -1;
  }
  int cur = ndims[0];
  memcpy(acc, shapes[0], (size_t)cur * sizeof(int32_t));
  for (int i = 1; i < n && cur >= 0; i++) {
    cur = mx_broadcast_shapes("broadcast_shapes", cur, acc, ndims[i], shapes[i], tmp);
    if (cur >= 0) memcpy(acc, tmp, (size_t)cur * sizeof(int32_t));
  }
  free(tmp);
  if (cur < 0) {
    free(acc);
    return -1;
  }
  *out = acc;
  return cur;
}

int mx_broadcast_arrays(mx_array *const *in, int n, mx_array **out, mx_stream s) {
  for (int i = 0; i < n; i++) {
    out[i] = NULL;
    if (!in[i]) return -1;
  }
  if (n == 0) return 0;
  const int32_t **shapes = calloc((size_t)n, sizeof *shapes);
  int *ndims = calloc((size_t)n, sizeof *ndims);
  int32_t *shape = NULL;
  int nd = -1;
  if (!shapes || !ndims) {
    mx_fail(MX_ENOMEM, "[broadcast_arrays] out of memory.");
  } else {
    for (int i = 0; i < n; i++) shapes[i] = in[i]->shape, ndims[i] = in[i]->ndim;
    nd = mx_broadcast_shapes_n(shapes, ndims, n, &shape);
  }
  free(shapes);
  free(ndims);
  if (nd < 0) return -1;
  int rc = 0;
  MX_SCOPE_BEGIN;
  for (int i = 0; i < n; i++)
    if (!(out[i] = mx_broadcast_to(in[i], shape, nd, s))) rc = -1;
  if (rc == 0) mx_lay_keep_all(out, n);
  MX_SCOPE_END;
  free(shape);
  if (rc == 0) mx_lay_adopt_all(out, n);
  else memset(out, 0, (size_t)n * sizeof *out);
  return rc;
}

int mx_meshgrid(mx_array *const *in, int n, bool sparse, const char *indexing, mx_array **out,
                mx_stream s) {
  for (int i = 0; i < n; i++) {
    out[i] = NULL;
    if (!in[i]) return -1;
  }
  bool xy = strcmp(indexing, "xy") == 0;
  if (!xy && strcmp(indexing, "ij") != 0)
    return mx_fail_int(MX_EINVAL, "[meshgrid] Invalid indexing value. Valid values are 'xy' and 'ij'.");
  int32_t *shape = mx_lay_dims("meshgrid", n);
  mx_array **grid = malloc((size_t)(n > 0 ? n : 1) * sizeof *grid);
  if (!shape || !grid) {
    free(shape);
    free(grid);
    return mx_fail_int(MX_ENOMEM, "[meshgrid] out of memory.");
  }
  int rc = 0;
  MX_SCOPE_BEGIN;
  for (int i = 0; i < n; i++) {
    /* x goes along axis 1 and y along axis 0 under "xy" indexing */
    int at = (xy && n > 1 && i < 2) ? 1 - i : i;
    for (int d = 0; d < n; d++) shape[d] = d == at ? -1 : 1;
    if (!(grid[i] = mx_reshape(in[i], shape, n, s))) rc = -1;
  }
  if (rc == 0 && !sparse) rc = mx_broadcast_arrays(grid, n, out, s);
  else if (rc == 0) memcpy(out, grid, (size_t)n * sizeof *out);
  if (rc == 0) mx_lay_keep_all(out, n);
  MX_SCOPE_END;
  free(shape);
  free(grid);
  if (rc == 0) mx_lay_adopt_all(out, n);
  else memset(out, 0, (size_t)n * sizeof *out);
  return rc;
}
