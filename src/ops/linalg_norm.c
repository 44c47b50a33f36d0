/* linalg_norm.c: mx.linalg.norm composed from reductions (any device): vector norms of every
 * order, matrix norms 1 / -1 / inf / -inf / 'fro' from sums of absolute values, and the
 * singular-value norms 2 / -2 / 'nuc' through svd. Results are at least floating. */
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

static mx_array *norm_scalar(double v, mx_dtype t) {
  return mx_scope_adopt(mx_array_scalar_f64(v, t));
}

static mx_array *norm_l2(mx_array *a, const int *axes, int naxes, bool keepdims, mx_stream s) {
  mx_array *sq = a->dtype == MX_COMPLEX64 ? mx_multiply(mx_abs(a, s), mx_abs(a, s), s)
                                          : mx_square(a, s);
  return mx_sqrt(mx_sum(sq, axes, naxes, keepdims, s), s);
}

static mx_array *norm_vector(mx_array *a, double ord, int axis, bool keepdims, mx_stream s) {
  mx_dtype t = mx_at_least_float(a->dtype);
  if (ord == 0.0)
    return mx_astype(mx_sum(mx_not_equal(a, norm_scalar(0.0, a->dtype), s), &axis, 1, keepdims, s),
                     t, s);
  if (ord == 1.0) return mx_astype(mx_sum(mx_abs(a, s), &axis, 1, keepdims, s), t, s);
  if (ord == 2.0) return norm_l2(a, &axis, 1, keepdims, s);
  if (ord == INFINITY) return mx_astype(mx_max(mx_abs(a, s), &axis, 1, keepdims, s), t, s);
  if (ord == -INFINITY) return mx_astype(mx_min(mx_abs(a, s), &axis, 1, keepdims, s), t, s);
  mx_array *p = mx_power(mx_abs(a, s), norm_scalar(ord, t), s);
  return mx_power(mx_sum(p, &axis, 1, keepdims, s), norm_scalar(1.0 / ord, t), s);
}

/* Singular values of the (row, col) matrices: max (2), min (-2) or sum (nuc). */
static mx_array *norm_singular(mx_array *a, int row, int col, int which, bool keepdims,
                               mx_stream s) {
  int nd = a->ndim;
  int *perm = malloc((size_t)nd * sizeof(int));
  if (!perm) return mx_fail(MX_ENOMEM, "[linalg::norm] out of memory.");
  int k = 0;
  for (int d = 0; d < nd; d++)
    if (d != row && d != col) perm[k++] = d;
  perm[k++] = row;
  perm[k++] = col;
  mx_array *sv = NULL, *r = NULL;
  if (mx_linalg_svd(mx_transpose(a, perm, nd, s), false, s, &sv) == 0) {
    int last = -1;
    r = which == 2    ? mx_max(sv, &last, 1, false, s)
        : which == -2 ? mx_min(sv, &last, 1, false, s)
                      : mx_sum(sv, &last, 1, false, s);
    if (keepdims && r) {
      int ax[2] = {row < col ? row : col, row < col ? col : row};
      r = mx_expand_dims_axes(r, ax, 2, s);
    }
  }
  free(perm);
  return r;
}

static mx_array *norm_matrix(mx_array *a, double ord, const int *axes, bool keepdims,
                             mx_stream s) {
  int row = mx_normalize_axis("linalg::norm", axes[0], a->ndim);
  int col = row < 0 ? -1 : mx_normalize_axis("linalg::norm", axes[1], a->ndim);
  if (col < 0) return NULL;
  mx_dtype t = mx_at_least_float(a->dtype);
  if (ord == 1.0 || ord == -1.0 || ord == INFINITY || ord == -INFINITY) {
    /* 1 / -1: sum over rows, extreme over columns; inf / -inf: the other way round */
    bool by_rows = fabs(ord) == 1.0;
    int first = by_rows ? row : col, second = by_rows ? col : row;
    if (!keepdims && second > first) second--;
    mx_array *sums = mx_sum(mx_abs(a, s), &first, 1, keepdims, s);
    mx_array *r = ord > 0 ? mx_max(sums, &second, 1, keepdims, s)
                          : mx_min(sums, &second, 1, keepdims, s);
    return mx_astype(r, t, s);
  }
  if (ord == 2.0 || ord == -2.0) return norm_singular(a, row, col, (int)ord, keepdims, s);
  return mx_fail(MX_EINVAL, "[linalg::norm] Invalid ord %g for matrix norm.", ord);
}

mx_array *mx_linalg_norm(mx_array *a, const double *ord, const int *axes, int naxes,
                         bool keepdims, mx_stream s) {
  if (!a) return NULL;
  if (naxes > 2 || (ord && naxes < 0 && a->ndim > 2) || (ord && naxes == 0) ||
      (ord && naxes < 0 && a->ndim == 0))
    return mx_fail(MX_EINVAL, "[linalg::norm] Received too many axes for norm.");
  MX_SCOPE_BEGIN;
  mx_array *r;
  if (!ord) {
    r = norm_l2(a, axes, naxes, keepdims, s);
  } else {
    int all[2] = {0, 1};
    const int *ax = naxes < 0 ? all : axes;
    int n = naxes < 0 ? a->ndim : naxes;
    r = n == 1 ? norm_vector(a, *ord, ax[0], keepdims, s) : norm_matrix(a, *ord, ax, keepdims, s);
  }
  MX_SCOPE_RETURN(r);
}

mx_array *mx_linalg_norm_str(mx_array *a, const char *ord, const int *axes, int naxes,
                             bool keepdims, mx_stream s) {
  if (!a) return NULL;
  int n = naxes < 0 ? a->ndim : naxes;
  if (n != 2)
    return mx_fail(MX_EINVAL,
                   "[linalg::norm] Norm '%s' only supported for matrices, but received %d "
                   "axis/axes.",
                   ord, n);
  int all[2] = {0, 1};
  const int *ax = naxes < 0 ? all : axes;
  bool fro = !strcmp(ord, "f") || !strcmp(ord, "fro");
  if (!fro && strcmp(ord, "nuc"))
    return mx_fail(MX_EINVAL, "[linalg::norm] Invalid ord value '%s' for matrix norm.", ord);
  MX_SCOPE_BEGIN;
  mx_array *r = NULL;
  if (fro) {
    r = norm_l2(a, ax, 2, keepdims, s);
  } else {
    int row = mx_normalize_axis("linalg::norm", ax[0], a->ndim);
    int col = row < 0 ? -1 : mx_normalize_axis("linalg::norm", ax[1], a->ndim);
    if (col >= 0) r = norm_singular(a, row, col, 0, keepdims, s);
  }
  MX_SCOPE_RETURN(r);
}

mx_array *mx_linalg_norm_capi(mx_array *a, double ord, const int *axis, int n, bool keepdims,
                              mx_stream s) {
  return mx_linalg_norm(a, &ord, axis, axis ? n : -1, keepdims, s);
}

mx_array *mx_linalg_norm_str_capi(mx_array *a, const char *ord, const int *axis, int n,
                                  bool keepdims, mx_stream s) {
  if (!ord) return mx_fail(MX_EINVAL, "[linalg::norm] ord must be a string.");
  return mx_linalg_norm_str(a, ord, axis, axis ? n : -1, keepdims, s);
}

mx_array *mx_linalg_norm_l2_capi(mx_array *a, const int *axis, int n, bool keepdims,
                                 mx_stream s) {
  return mx_linalg_norm(a, NULL, axis, axis ? n : -1, keepdims, s);
}
