/* gather_scatter.c: the Gather and Scatter primitives' constructors (MLX's gather, scatter,
 * scatter_add/prod/max/min) and helpers shared by the other indexing ops: index dtype
 * checks, broadcasting of index arrays, shape strings, the iota constant. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/param_enums.h"
#include "indexing_internal.h"

void mx_ix_shape_str(char *buf, size_t cap, int n, const int32_t *s) {
  int len = snprintf(buf, cap, "(");
  for (int i = 0; i < n && len < (int)cap - 16; i++)
    len += snprintf(buf + len, cap - (size_t)len, i ? ",%d" : "%d", s[i]);
  snprintf(buf + len, cap - (size_t)len, ")");
}

int mx_ix_check_index_dtype(const char *op, const mx_array *idx) {
  if (idx->dtype == MX_BOOL)
    return mx_fail_int(MX_EINVAL, "[%s] Boolean indices not supported.", op);
  if (!mx_dtype_is_integer(idx->dtype))
    return mx_fail_int(MX_EINVAL, "[%s] Got indices with invalid dtype. Indices must be integral.",
                       op);
  return 0;
}

int mx_ix_broadcast_indices(const char *op, mx_array *const *in, int n, mx_array **out,
                            mx_stream s) {
  int nd = 0;
  for (int i = 0; i < n; i++) {
    if (!in[i]) return -1;
    if (mx_ix_check_index_dtype(op, in[i]) < 0) return -1;
    if (in[i]->ndim > nd) nd = in[i]->ndim;
  }
  int32_t *shape = malloc((size_t)(nd + 1) * sizeof(int32_t));
  int32_t *tmp = malloc((size_t)(nd + 1) * sizeof(int32_t));
  if (!shape || !tmp) {
    free(shape);
    free(tmp);
    return mx_fail_int(MX_ENOMEM, "[%s] out of memory.", op);
  }
  int cur = 0, rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    int r = mx_broadcast_shapes(op, cur, shape, in[i]->ndim, in[i]->shape, tmp);
    if (r < 0) rc = -1;
    else {
      memcpy(shape, tmp, (size_t)r * sizeof(int32_t));
      cur = r;
    }
  }
  for (int i = 0; i < n && rc == 0; i++) {
    out[i] = mx_broadcast_to(in[i], shape, cur, s);
    if (!out[i]) rc = -1;
  }
  free(shape);
  free(tmp);
  return rc;
}

mx_array *mx_index_iota(int32_t n, int ndim, int axis) {
  int32_t *data = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
  int32_t *shape = malloc((size_t)(ndim > 0 ? ndim : 1) * sizeof(int32_t));
  if (!data || !shape) {
    free(data);
    free(shape);
    return mx_fail(MX_ENOMEM, "[iota] out of memory.");
  }
  for (int32_t i = 0; i < n; i++) data[i] = i;
  for (int d = 0; d < ndim; d++) shape[d] = d == axis ? n : 1;
  mx_array *r = mx_array_from_data(data, MX_INT32, ndim, shape);
  free(data);
  free(shape);
  return mx_scope_adopt(r);
}

mx_array *mx_gather(mx_array *a, mx_array *const *indices, int n_idx, const int *axes,
                    int n_axes, const int32_t *slice_sizes, int n_sizes, mx_stream s) {
  if (!a) return NULL;
  for (int i = 0; i < n_idx; i++)
    if (!indices[i]) return NULL;
  int nd = a->ndim;
  if (n_idx != n_axes)
    return mx_fail(MX_EINVAL, "[gather] Number of index arrays (%d) does not match number of axes (%d).",
                   n_idx, n_axes);
  if (n_idx > nd)
    return mx_fail(MX_EINVAL, "[gather] Too many index arrays. Got %d index arrays for input with %d axes.",
                   n_idx, nd);
  if (n_sizes != nd)
    return mx_fail(MX_EINVAL, "[gather] Got slice_sizes with %d entries for array with %d dimensions.",
                   n_sizes, nd);
  int32_t *ax = malloc((size_t)(n_idx + 1) * sizeof(int32_t));
  if (!ax) return mx_fail(MX_ENOMEM, "[gather] out of memory.");
  for (int i = 0; i < n_idx; i++) {
    int v = mx_normalize_axis("gather", axes[i], nd);
    if (v < 0) {
      free(ax);
      return NULL;
    }
    for (int j = 0; j < i; j++)
      if (ax[j] == v) {
        free(ax);
        return mx_fail(MX_EINVAL, "[gather] Repeat axes not allowed in gather.");
      }
    ax[i] = v;
  }
  for (int d = 0; d < nd; d++)
    if (slice_sizes[d] < 0 || slice_sizes[d] > a->shape[d]) {
      char sa[256], sb[256];
      mx_ix_shape_str(sa, sizeof sa, nd, slice_sizes);
      mx_ix_shape_str(sb, sizeof sb, nd, a->shape);
      free(ax);
      return mx_fail(MX_EINVAL, "[gather] Slice sizes must be in [0, a.shape(i)]. Got %s for array with shape %s.",
                     sa, sb);
    }
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  mx_array **in = malloc((size_t)(n_idx + 1) * sizeof(mx_array *));
  if (!in) {
    mx_fail(MX_ENOMEM, "[gather] out of memory.");
  } else if (mx_ix_broadcast_indices("gather", indices, n_idx, in + 1, s) == 0) {
    in[0] = a;
    int ind = n_idx ? in[1]->ndim : 0;
    int32_t *shape = malloc((size_t)(ind + nd + 1) * sizeof(int32_t));
    if (shape) {
      if (ind) memcpy(shape, in[1]->shape, (size_t)ind * sizeof(int32_t));
      memcpy(shape + ind, slice_sizes, (size_t)nd * sizeof(int32_t));
      if (mx_shape_size("gather", ind + nd, shape) >= 0) {
        mx_p_gather p = {{n_idx, ax}, {nd, slice_sizes}};
        r = mx_keep(mx_op_make1(MX_PRIM_GATHER, &p, s, n_idx + 1, in, a->dtype, ind + nd, shape));
      }
      free(shape);
    } else {
      mx_fail(MX_ENOMEM, "[gather] out of memory.");
    }
  }
  free(in);
  MX_SCOPE_END;
  free(ax);
  return mx_scope_adopt(r);
}

mx_array *mx_scatter_reduce(int reduce, mx_array *a, mx_array *const *indices, int n_idx,
                            mx_array *updates, const int *axes, int n_axes, mx_stream s) {
  static const char *names[] = {"scatter", "scatter_add", "scatter_prod", "scatter_min",
                                "scatter_max"};
  const char *op = reduce == MX_REDUCE_SUM    ? names[1]
                   : reduce == MX_REDUCE_PROD ? names[2]
                   : reduce == MX_REDUCE_MIN  ? names[3]
                   : reduce == MX_REDUCE_MAX  ? names[4]
                                              : names[0];
  if (!a || !updates) return NULL;
  for (int i = 0; i < n_idx; i++)
    if (!indices[i]) return NULL;
  int nd = a->ndim;
  if (n_idx != n_axes)
    return mx_fail(MX_EINVAL, "[%s] Number of index arrays (%d) does not match number of axes (%d).",
                   op, n_idx, n_axes);
  if (n_idx > nd)
    return mx_fail(MX_EINVAL, "[%s] Too many index arrays. Got %d index arrays for input with %d axes.",
                   op, n_idx, nd);
  int32_t *ax = malloc((size_t)(n_idx + 1) * sizeof(int32_t));
  if (!ax) return mx_fail(MX_ENOMEM, "[%s] out of memory.", op);
  for (int i = 0; i < n_idx; i++) {
    int v = mx_normalize_axis(op, axes[i], nd);
    if (v < 0) {
      free(ax);
      return NULL;
    }
    for (int j = 0; j < i; j++)
      if (ax[j] == v) {
        free(ax);
        return mx_fail(MX_EINVAL, "[%s] Repeat axes not allowed in scatter.", op);
      }
    ax[i] = v;
  }
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  mx_array **in = malloc((size_t)(n_idx + 2) * sizeof(mx_array *));
  int32_t *ushape = NULL;
  if (!in) {
    mx_fail(MX_ENOMEM, "[%s] out of memory.", op);
    goto out;
  }
  if (mx_ix_broadcast_indices(op, indices, n_idx, in + 1, s) < 0) goto out;
  int ind = n_idx ? in[1]->ndim : 0;
  if (updates->ndim != ind + nd) {
    mx_fail(MX_EINVAL, "[%s] Updates with %d dimensions does not match the sum of the array (%d) and indices (%d) dimensions.",
            op, updates->ndim, nd, ind);
    goto out;
  }
  ushape = malloc((size_t)(ind + nd + 1) * sizeof(int32_t));
  if (!ushape) {
    mx_fail(MX_ENOMEM, "[%s] out of memory.", op);
    goto out;
  }
  for (int d = 0; d < ind; d++) ushape[d] = in[1]->shape[d];
  for (int d = 0; d < nd; d++) {
    int32_t w = updates->shape[ind + d];
    if (w > a->shape[d]) {
      char sa[256], sb[256];
      mx_ix_shape_str(sa, sizeof sa, updates->ndim, updates->shape);
      mx_ix_shape_str(sb, sizeof sb, nd, a->shape);
      mx_fail(MX_EINVAL, "[%s] Updates of shape %s have a window larger than the array of shape %s.",
              op, sa, sb);
      goto out;
    }
    ushape[ind + d] = w;
  }
  /* The leading (index) dims of updates broadcast against the index shape. */
  mx_array *u = mx_broadcast_to(mx_astype(updates, a->dtype, s), ushape, ind + nd, s);
  if (!u) goto out;
  in[0] = a;
  in[n_idx + 1] = u;
  mx_p_scatter p = {reduce, {n_idx, ax}};
  r = mx_keep(mx_op_make1(MX_PRIM_SCATTER, &p, s, n_idx + 2, in, a->dtype, nd, a->shape));
out:
  free(in);
  free(ushape);
  MX_SCOPE_END;
  free(ax);
  return mx_scope_adopt(r);
}

mx_array *mx_scatter(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                     const int *axes, int n_axes, mx_stream s) {
  return mx_scatter_reduce(MX_SCATTER_NONE, a, indices, n_idx, updates, axes, n_axes, s);
}

mx_array *mx_scatter_add(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                         const int *axes, int n_axes, mx_stream s) {
  return mx_scatter_reduce(MX_REDUCE_SUM, a, indices, n_idx, updates, axes, n_axes, s);
}

mx_array *mx_scatter_prod(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                          const int *axes, int n_axes, mx_stream s) {
  return mx_scatter_reduce(MX_REDUCE_PROD, a, indices, n_idx, updates, axes, n_axes, s);
}

mx_array *mx_scatter_max(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                         const int *axes, int n_axes, mx_stream s) {
  return mx_scatter_reduce(MX_REDUCE_MAX, a, indices, n_idx, updates, axes, n_axes, s);
}

mx_array *mx_scatter_min(mx_array *a, mx_array *const *indices, int n_idx, mx_array *updates,
                         const int *axes, int n_axes, mx_stream s) {
  return mx_scatter_reduce(MX_REDUCE_MIN, a, indices, n_idx, updates, axes, n_axes, s);
}
