/* linalg_solve.c: the mx.linalg ops composed from the primitives, as MLX composes them:
 * cholesky_inv and solve_triangular through tri_inv, solve through lu, pinv through svd,
 * det / slogdet (closed forms up to 3x3, so they differentiate; lu_factor beyond), cross. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "layout_util.h"

/* A 0-d constant owned by the open scope. */
static mx_array *la_scalar(double v, mx_dtype t) {
  return mx_scope_adopt(mx_array_scalar_f64(v, t));
}

mx_array *mx_linalg_cholesky_inv(mx_array *a, bool upper, mx_stream s) {
  if (mx_linalg_check("cholesky_inv", a, false, NULL) < 0) return NULL;
  if (a->shape[a->ndim - 1] != a->shape[a->ndim - 2])
    return mx_fail(MX_EINVAL,
                   "[linalg::cholesky_inv] Cholesky inverse is only defined for square matrices.");
  MX_SCOPE_BEGIN;
  mx_array *li = mx_linalg_tri_inv(a, upper, s);
  mx_array *r = upper ? mx_matmul(li, mx_linalg_mT(li, s), s)
                      : mx_matmul(mx_linalg_mT(li, s), li, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_linalg_pinv(mx_array *a, mx_stream s) {
  if (mx_linalg_check("pinv", a, false, NULL) < 0) return NULL;
  int m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1], k = m < n ? m : n;
  mx_finfo fi;
  if (mx_finfo_get(a->dtype, &fi) < 0) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *usv[3] = {NULL, NULL, NULL};
  mx_array *r = NULL;
  if (mx_linalg_svd(a, true, s, usv) == 0) {
    int last = -1;
    /* singular values below max(m, n) * eps * max(S) count as zero */
    double rcond = (double)(m > n ? m : n) * fi.eps;
    mx_array *smax = k ? mx_max(usv[1], &last, 1, true, s) : usv[1];
    mx_array *cut = mx_multiply(smax, la_scalar(rcond, a->dtype), s);
    mx_array *zero = la_scalar(0.0, a->dtype);
    mx_array *sinv = mx_where(mx_greater(usv[1], cut, s), mx_reciprocal(usv[1], s), zero, s);
    mx_array *ut = mx_linalg_mT(mx_linalg_slice2(usv[0], 0, m, 0, k, s), s);   /* (k, m) */
    mx_array *v = mx_linalg_mT(mx_linalg_slice2(usv[2], 0, k, 0, n, s), s);    /* (n, k) */
    r = mx_matmul(v, mx_multiply(mx_expand_dims(sinv, -1, s), ut, s), s);
  }
  MX_SCOPE_RETURN(r);
}

/* Shared checks of solve / solve_triangular; *t gets the computation dtype. */
static int solve_check(const char *op, mx_array *a, mx_array *b, mx_dtype *t) {
  if (!a || !b) return -1;
  char sa[128], sb[128];
  if (a->ndim < 2)
    return mx_fail_int(MX_EINVAL,
                       "[linalg::%s] First input must have >= 2 dimensions. Received array "
                       "with %d dimensions.",
                       op, a->ndim);
  if (b->ndim < 1)
    return mx_fail_int(MX_EINVAL,
                       "[linalg::%s] Second input must have >= 1 dimensions. Received array "
                       "with %d dimensions.",
                       op, b->ndim);
  mx_lay_shape_str(sa, sizeof sa, a->ndim, a->shape);
  mx_lay_shape_str(sb, sizeof sb, b->ndim, b->shape);
  int n = a->shape[a->ndim - 1];
  if (n != a->shape[a->ndim - 2])
    return mx_fail_int(MX_EINVAL,
                       "[linalg::%s] First input must be a square matrix. Received array with "
                       "shape %s.",
                       op, sa);
  if (b->shape[b->ndim == 1 ? 0 : b->ndim - 2] != n)
    return mx_fail_int(MX_EINVAL,
                       "[linalg::%s] Last dimension of first input with shape %s must match "
                       "second to last dimension of second input with shape %s.",
                       op, sa, sb);
  *t = mx_promote_types(a->dtype, b->dtype);
  if (*t != MX_FLOAT32 && *t != MX_FLOAT64)
    return mx_fail_int(MX_EINVAL,
                       "[linalg::%s] Input arrays must promote to float32 or float64.  Received "
                       "arrays with type %s and %s.",
                       op, mx_dtype_name(a->dtype), mx_dtype_name(b->dtype));
  return 0;
}

mx_array *mx_linalg_solve_triangular(mx_array *a, mx_array *b, bool upper, mx_stream s) {
  mx_dtype t;
  if (solve_check("solve_triangular", a, b, &t) < 0) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = mx_matmul(mx_linalg_tri_inv(mx_astype(a, t, s), upper, s), mx_astype(b, t, s), s);
  MX_SCOPE_RETURN(r);
}

/* The batch shape of a (..., n, n) and b (..., n, k) broadcast, with (n, k) appended. */
static int32_t *solve_shape(mx_array *a, mx_array *b, int *nd) {
  int na = a->ndim - 2, nb = b->ndim - 2, n = na > nb ? na : nb;
  int32_t *sh = malloc((size_t)(n + 2) * sizeof(int32_t));
  if (!sh) return mx_fail(MX_ENOMEM, "[linalg::solve] out of memory.");
  if (mx_broadcast_shapes("linalg::solve", na, a->shape, nb, b->shape, sh) < 0) {
    free(sh);
    return NULL;
  }
  sh[n] = b->shape[b->ndim - 2];
  sh[n + 1] = b->shape[b->ndim - 1];
  *nd = n + 2;
  return sh;
}

mx_array *mx_linalg_solve(mx_array *a, mx_array *b, mx_stream s) {
  mx_dtype t;
  if (solve_check("solve", a, b, &t) < 0) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *r = NULL;
  bool vec = b->ndim == 1;
  mx_array *b2 = vec ? mx_expand_dims(b, -1, s) : b;
  int nd = 0;
  int32_t *sh = b2 ? solve_shape(a, b2, &nd) : NULL;
  if (sh) {
    int n = a->shape[a->ndim - 1];
    int32_t asq[2];
    memcpy(asq, sh + nd - 2, sizeof asq);
    sh[nd - 2] = sh[nd - 1] = n;
    mx_array *ab = mx_broadcast_to(mx_astype(a, t, s), sh, nd, s);
    sh[nd - 2] = asq[0];
    sh[nd - 1] = asq[1];
    mx_array *bb = mx_broadcast_to(mx_astype(b2, t, s), sh, nd, s);
    mx_array *plu[3] = {NULL, NULL, NULL};
    if (ab && bb && mx_linalg_lu(ab, s, plu) == 0) {
      /* A = L[p] @ U: L U x = b[argsort(p)] */
      mx_array *perm = mx_argsort_axis(plu[0], -1, s);
      mx_array *idx = mx_broadcast_to(mx_expand_dims(perm, -1, s), sh, nd, s);
      mx_array *pb = mx_take_along_axis(bb, idx, -2, s);
      mx_array *y = mx_matmul(mx_linalg_tri_inv(plu[1], false, s), pb, s);
      r = mx_matmul(mx_linalg_tri_inv(plu[2], true, s), y, s);
      if (vec && r) r = mx_squeeze(r, (int[]){-1}, 1, s);
    }
    free(sh);
  }
  MX_SCOPE_RETURN(r);
}

/* ---- determinants ---- */

static int det_check(const char *op, mx_array *a) {
  if (!a) return -1;
  if (a->dtype == MX_COMPLEX64)
    return mx_fail_int(MX_EINVAL, "[linalg::%s] Complex inputs are not supported.", op);
  if (a->ndim < 2)
    return mx_fail_int(MX_EINVAL,
                       "[linalg::%s] Arrays must have >= 2 dimensions. Received array with %d "
                       "dimensions.",
                       op, a->ndim);
  if (a->shape[a->ndim - 1] != a->shape[a->ndim - 2])
    return mx_fail_int(MX_EINVAL, "[linalg::%s] Only defined for square matrices.", op);
  return 0;
}

/* a[..., i, j] with the batch shape. */
static mx_array *det_el(mx_array *a, int i, int j, mx_stream s) {
  return mx_squeeze(mx_linalg_slice2(a, i, i + 1, j, j + 1, s), (int[]){-2, -1}, 2, s);
}

/* Closed form for n <= 3 (differentiable, any real dtype). */
static mx_array *det_small(mx_array *a, int n, mx_stream s) {
  if (n == 0) return mx_ones(a->shape, a->ndim - 2, a->dtype, s);
  if (n == 1) return det_el(a, 0, 0, s);
  if (n == 2)
    return mx_subtract(mx_multiply(det_el(a, 0, 0, s), det_el(a, 1, 1, s), s),
                       mx_multiply(det_el(a, 0, 1, s), det_el(a, 1, 0, s), s), s);
  mx_array *e[3][3];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) e[i][j] = det_el(a, i, j, s);
  mx_array *r = NULL;
  for (int j = 0; j < 3; j++) {
    mx_array *minor = mx_subtract(mx_multiply(e[1][(j + 1) % 3], e[2][(j + 2) % 3], s),
                                  mx_multiply(e[1][(j + 2) % 3], e[2][(j + 1) % 3], s), s);
    mx_array *term = mx_multiply(e[0][j], minor, s);
    r = r ? mx_add(r, term, s) : term;
  }
  return r;
}

/* Through lu_factor: the diagonal of U and (-1)^(row swaps). */
static int det_lu(mx_array *a, mx_stream s, mx_array **diag, mx_array **parity) {
  mx_array *f[2] = {NULL, NULL};
  if (mx_linalg_lu_factor(a, s, f) < 0) return -1;
  int k = a->shape[a->ndim - 1];
  mx_array *swaps = mx_not_equal(f[1], mx_arange(0, k, 1, MX_UINT32, s), s);
  int last = -1;
  mx_array *cnt = mx_astype(mx_sum(swaps, &last, 1, false, s), a->dtype, s);
  /* 1 - 2 * (count mod 2) */
  mx_array *two = la_scalar(2.0, a->dtype);
  *parity = mx_subtract(la_scalar(1.0, a->dtype),
                        mx_multiply(two, mx_remainder(cnt, two, s), s), s);
  *diag = mx_diagonal(f[0], 0, -2, -1, s);
  return *parity && *diag ? 0 : -1;
}

mx_array *mx_linalg_det(mx_array *a, mx_stream s) {
  if (det_check("det", a) < 0) return NULL;
  int n = a->shape[a->ndim - 1];
  MX_SCOPE_BEGIN;
  mx_array *r = NULL;
  if (n <= 3) {
    r = det_small(mx_astype(a, mx_at_least_float(a->dtype), s), n, s);
  } else {
    mx_array *d, *par;
    int last = -1;
    if (det_lu(a, s, &d, &par) == 0) r = mx_multiply(par, mx_prod(d, &last, 1, false, s), s);
  }
  MX_SCOPE_RETURN(r);
}

int mx_linalg_slogdet(mx_array *a, mx_stream s, mx_array **out) {
  out[0] = out[1] = NULL;
  if (det_check("slogdet", a) < 0) return -1;
  int n = a->shape[a->ndim - 1], last = -1, rc = -1;
  MX_SCOPE_BEGIN;
  mx_array *sign = NULL, *logabs = NULL;
  if (n <= 3) {
    mx_array *d = det_small(mx_astype(a, mx_at_least_float(a->dtype), s), n, s);
    sign = mx_sign(d, s);
    logabs = mx_log(mx_abs(d, s), s);
  } else {
    mx_array *d, *par;
    if (det_lu(a, s, &d, &par) == 0) {
      sign = mx_multiply(par, mx_prod(mx_sign(d, s), &last, 1, false, s), s);
      logabs = mx_sum(mx_log(mx_abs(d, s), s), &last, 1, false, s);
    }
  }
  if (sign && logabs) {
    out[0] = mx_keep(sign);
    out[1] = mx_keep(logabs);
    rc = 0;
  }
  MX_SCOPE_END;
  if (rc == 0) {
    out[0] = mx_scope_adopt(out[0]);
    out[1] = mx_scope_adopt(out[1]);
  }
  return rc;
}

/* ---- cross product ---- */

/* x[..., i] along axis (kept as size 1). */
static mx_array *cross_at(mx_array *x, int axis, int i, mx_stream s) {
  int nd = x->ndim;
  int32_t *v = malloc((size_t)nd * 3 * sizeof(int32_t));
  if (!v) return mx_fail(MX_ENOMEM, "[linalg::cross] out of memory.");
  for (int d = 0; d < nd; d++) {
    v[d] = 0;
    v[nd + d] = x->shape[d];
    v[2 * nd + d] = 1;
  }
  v[axis] = i;
  v[nd + axis] = i + 1;
  mx_array *r = mx_slice(x, v, v + nd, v + 2 * nd, s);
  free(v);
  return r;
}

mx_array *mx_linalg_cross(mx_array *a, mx_array *b, int axis, mx_stream s) {
  if (!a || !b) return NULL;
  int ax[2];
  mx_array *in[2] = {a, b};
  for (int k = 0; k < 2; k++) {
    int nd = in[k]->ndim;
    ax[k] = axis < 0 ? axis + nd : axis;
    if (ax[k] < 0 || ax[k] >= nd)
      return mx_fail(MX_EINDEX, "[linalg::cross] Axis %d is out of bounds for array with %d "
                                "dimensions.", axis, nd);
    int sz = in[k]->shape[ax[k]];
    if (sz != 2 && sz != 3)
      return mx_fail(MX_EINVAL, "[linalg::cross] The specified axis must have size 2 or 3.");
  }
  MX_SCOPE_BEGIN;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  mx_array *c[2][3];
  for (int k = 0; k < 2; k++) {
    mx_array *x = mx_astype(in[k], t, s);
    for (int i = 0; i < 3; i++)
      c[k][i] = i < in[k]->shape[ax[k]] ? cross_at(x, ax[k], i, s)
                                        : mx_zeros_like(cross_at(x, ax[k], 0, s), s);
  }
  mx_array *parts[3];
  for (int i = 0; i < 3; i++) {
    int p = (i + 1) % 3, q = (i + 2) % 3;
    parts[i] = mx_subtract(mx_multiply(c[0][p], c[1][q], s), mx_multiply(c[0][q], c[1][p], s), s);
  }
  int out_ax = axis < 0 ? axis : ax[0];
  if (parts[0] && axis < 0) out_ax = parts[0]->ndim + axis;
  mx_array *r = parts[0] && parts[1] && parts[2] ? mx_concatenate(parts, 3, &out_ax, s) : NULL;
  MX_SCOPE_RETURN(r);
}
