/* diagonal.c: diagonal, diag, tril and triu, composed of gather, scatter and where (so their
 * gradients come from those rules). */
#include "ops.h"

#include <stdlib.h>

#include "../core/error.h"

mx_array *mx_diagonal(mx_array *a, int offset, int axis1, int axis2, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  if (nd < 2)
    return mx_fail(MX_EINVAL, "[diagonal] Array must have at least two dimensions, but got %d dimensions.", nd);
  if (axis1 < -nd || axis1 >= nd)
    return mx_fail(MX_EINDEX, "[diagonal] Invalid axis1 %d for array with %d dimensions.", axis1, nd);
  if (axis2 < -nd || axis2 >= nd)
    return mx_fail(MX_EINDEX, "[diagonal] Invalid axis2 %d for array with %d dimensions.", axis2, nd);
  int a1 = axis1 < 0 ? axis1 + nd : axis1, a2 = axis2 < 0 ? axis2 + nd : axis2;
  if (a1 == a2) return mx_fail(MX_EINVAL, "[diagonal] axis1 and axis2 cannot be the same axis");
  int64_t n1 = a->shape[a1], n2 = a->shape[a2];
  int64_t r0 = offset < 0 ? -(int64_t)offset : 0, c0 = offset > 0 ? offset : 0;
  int64_t len = n1 - r0 < n2 - c0 ? n1 - r0 : n2 - c0;
  if (len < 0) len = 0;
  int *perm = malloc(sizeof(int) * (size_t)nd);
  int32_t *shape = malloc(sizeof(int32_t) * (size_t)(nd + 1));
  if (!perm || !shape) {
    free(perm);
    free(shape);
    return mx_fail(MX_ENOMEM, "[diagonal] out of memory.");
  }
  int k = 0;
  for (int d = 0; d < nd; d++)
    if (d != a1 && d != a2) shape[k] = a->shape[d], perm[k++] = d;
  perm[nd - 2] = a1;
  perm[nd - 1] = a2;
  shape[nd - 2] = (int32_t)len; /* the result: the other dims, then the diagonal */
  mx_array *r = NULL;
  MX_SCOPE_BEGIN;
  if (len == 0 || mx_shape_size("diagonal", nd - 1, shape) == 0) {
    r = mx_zeros(shape, nd - 1, a->dtype, s);
  } else {
    mx_array *t = mx_transpose(a, perm, nd, s);
    mx_array *i = mx_index_iota((int32_t)len, 1, 0);
    mx_array *idx[2] = {mx_add(i, mx_scalar_like((double)r0, i), s),
                        mx_add(i, mx_scalar_like((double)c0, i), s)};
    int axes[2] = {nd - 2, nd - 1};
    int32_t *sizes = malloc(sizeof(int32_t) * (size_t)nd);
    if (sizes && t) {
      for (int d = 0; d < nd; d++) sizes[d] = d < nd - 2 ? t->shape[d] : 1;
      /* (len, others..., 1, 1) -> (len, others...) -> (others..., len) */
      mx_array *g = mx_gather(t, idx, 2, axes, 2, sizes, nd, s);
      int32_t *gs = malloc(sizeof(int32_t) * (size_t)nd);
      if (gs && g) {
        gs[0] = (int32_t)len;
        for (int d = 0; d < nd - 2; d++) gs[d + 1] = t->shape[d];
        r = mx_moveaxis(mx_reshape(g, gs, nd - 1, s), 0, nd - 2, s);
      }
      free(gs);
    }
    free(sizes);
  }
  free(perm);
  free(shape);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_diag(mx_array *a, int k, mx_stream s) {
  if (!a) return NULL;
  if (a->ndim == 2) return mx_diagonal(a, k, 0, 1, s);
  if (a->ndim != 1)
    return mx_fail(MX_EINVAL, "[diag] array must be 1-D or 2-D, got array with %d dimensions.", a->ndim);
  int64_t n = a->shape[0], m = n + (k < 0 ? -(int64_t)k : k);
  if (m > INT32_MAX) return mx_fail(MX_EINVAL, "[diag] the result would be too large.");
  int32_t shape[2] = {(int32_t)m, (int32_t)m};
  MX_SCOPE_BEGIN;
  mx_array *z = mx_zeros(shape, 2, a->dtype, s), *r = z;
  if (n > 0) {
    mx_array *i = mx_index_iota((int32_t)n, 1, 0);
    mx_array *idx[2] = {mx_add(i, mx_scalar_like(k < 0 ? -(double)k : 0.0, i), s),
                        mx_add(i, mx_scalar_like(k > 0 ? (double)k : 0.0, i), s)};
    int axes[2] = {0, 1};
    int32_t ushape[3] = {(int32_t)n, 1, 1};
    r = mx_scatter(z, idx, 2, mx_reshape(a, ushape, 3, s), axes, 2, s);
  }
  MX_SCOPE_RETURN(r);
}

/* Keeps the entries with col - row <= k (lower) or >= k (upper) of the last two dims. */
static mx_array *triangle(const char *op, bool lower, mx_array *x, int k, mx_stream s) {
  if (!x) return NULL;
  if (x->ndim < 2) return mx_fail(MX_EINVAL, "[%s] array must be at least 2-D", op);
  int nd = x->ndim;
  MX_SCOPE_BEGIN;
  mx_array *rows = mx_index_iota(x->shape[nd - 2], 2, 0), *cols = mx_index_iota(x->shape[nd - 1], 2, 1);
  mx_array *diff = mx_subtract(cols, rows, s);
  mx_array *kk = diff ? mx_scope_adopt(mx_array_scalar_i64(k, MX_INT32)) : NULL;
  mx_array *mask = lower ? mx_less_equal(diff, kk, s) : mx_greater_equal(diff, kk, s);
  mx_array *r = mx_where(mask, x, mx_zeros_like(x, s), s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_tril(mx_array *x, int k, mx_stream s) { return triangle("tril", true, x, k, s); }
mx_array *mx_triu(mx_array *x, int k, mx_stream s) { return triangle("triu", false, x, k, s); }
