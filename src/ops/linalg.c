/* linalg.c: the mx.linalg ops that are one LAPACK primitive each: inv, tri_inv, cholesky,
 * qr, svd, eig(vals), eigh / eigvalsh, lu_factor and lu (composed from LUF). Validation and
 * messages as MLX's linalg (dtype, then rank, then squareness). */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "../core/device.h"
#include "../core/error.h"

/* Dtype (float32/float64, complex64 too when cplx) and rank >= 2 checks; rank_word is
 * "Arrays" or "Input array" as MLX words it. 0 or -1. */
int mx_linalg_check(const char *op, mx_array *a, bool cplx, const char *rank_word) {
  if (!a) return -1;
  if (a->dtype != MX_FLOAT32 && a->dtype != MX_FLOAT64 && !(cplx && a->dtype == MX_COMPLEX64))
    return mx_fail_int(MX_EINVAL,
                       cplx ? "[linalg::%s] Arrays must have type float32, float64 or complex64. "
                              "Received array with type %s."
                            : "[linalg::%s] Arrays must have type float32 or float64. Received "
                              "array with type %s.",
                       op, mx_dtype_name(a->dtype));
  if (a->ndim < 2)
    return mx_fail_int(MX_EINVAL,
                       "[linalg::%s] %s must have >= 2 dimensions. Received array with %d "
                       "dimensions.",
                       op, rank_word ? rank_word : "Arrays", a->ndim);
  return 0;
}

mx_array *mx_linalg_slice2(mx_array *x, int r0, int r1, int c0, int c1, mx_stream s) {
  if (!x) return NULL;
  int nd = x->ndim;
  int32_t *v = malloc((size_t)nd * 3 * sizeof(int32_t));
  if (!v) return mx_fail(MX_ENOMEM, "[linalg] out of memory.");
  int32_t *st = v, *en = v + nd, *sd = v + 2 * nd;
  for (int d = 0; d < nd; d++) {
    st[d] = 0;
    en[d] = x->shape[d];
    sd[d] = 1;
  }
  st[nd - 2] = r0;
  en[nd - 2] = r1;
  st[nd - 1] = c0;
  en[nd - 1] = c1;
  mx_array *r = mx_slice(x, st, en, sd, s);
  free(v);
  return r;
}

static int la_square(const char *op, mx_array *a, const char *msg) {
  if (a->shape[a->ndim - 1] != a->shape[a->ndim - 2])
    return mx_fail_int(MX_EINVAL, "[linalg::%s] %s", op, msg);
  return 0;
}

/* The shape of a with its last two dims replaced by (r, c) (c < 0: one dim r). Owned. */
static int32_t *la_shape(mx_array *a, int r, int c, int *nd) {
  int n = a->ndim - 2 + (c >= 0 ? 2 : 1);
  int32_t *s = malloc((size_t)n * sizeof(int32_t));
  if (!s) return mx_fail(MX_ENOMEM, "[linalg] out of memory.");
  memcpy(s, a->shape, (size_t)(a->ndim - 2) * sizeof(int32_t));
  s[a->ndim - 2] = r;
  if (c >= 0) s[a->ndim - 1] = c;
  *nd = n;
  return s;
}

static int la_device_check(const char *op, mx_prim prim, mx_stream s);

mx_array *mx_linalg_inv(mx_array *a, mx_stream s) {
  if (mx_linalg_check("inv", a, false, NULL) < 0 ||
      la_device_check("inv", MX_PRIM_INVERSE, s) < 0 ||
      la_square("inv", a, "Inverses are only defined for square matrices.") < 0)
    return NULL;
  mx_p_inverse p = {false, false};
  return mx_op_make1(MX_PRIM_INVERSE, &p, s, 1, &a, a->dtype, a->ndim, a->shape);
}

mx_array *mx_linalg_tri_inv(mx_array *a, bool upper, mx_stream s) {
  if (mx_linalg_check("inv", a, false, NULL) < 0 ||
      la_device_check("tri_inv", MX_PRIM_INVERSE, s) < 0 ||
      la_square("inv", a, "Inverses are only defined for square matrices.") < 0)
    return NULL;
  mx_p_inverse p = {true, upper};
  return mx_op_make1(MX_PRIM_INVERSE, &p, s, 1, &a, a->dtype, a->ndim, a->shape);
}

mx_array *mx_linalg_cholesky(mx_array *a, bool upper, mx_stream s) {
  if (mx_linalg_check("cholesky", a, false, NULL) < 0 ||
      la_device_check("cholesky", MX_PRIM_CHOLESKY, s) < 0 ||
      la_square("cholesky", a, "Cholesky decomposition is only defined for square matrices.") < 0)
    return NULL;
  mx_p_cholesky p = {upper};
  return mx_op_make1(MX_PRIM_CHOLESKY, &p, s, 1, &a, a->dtype, a->ndim, a->shape);
}

/* MLX runs the factorizations on the CPU only. Here a GPU stream is taken when the GPU
 * backend has a kernel for the primitive (CUDA's cuSOLVER kernels, the fake device's CPU
 * ones); otherwise MLX's ValueError. */
static int la_device_check(const char *op, mx_prim prim, mx_stream s) {
  if (s.device.type != MX_GPU) return 0;
  const mx_gpu_backend *g = mx_gpu();
  if (g && g->kernel && g->kernel(prim)) return 0;
  return mx_fail_int(MX_EINVAL, "[linalg::%s] This op is not yet supported on the GPU. "
                                "Explicitly pass a CPU stream to run it.", op);
}

/* Makes a multi-output linalg op with n_out specs; out gets new references. */
static int la_make(mx_prim prim, const void *p, mx_stream s, mx_array *a, int n_out,
                   const mx_out_spec *specs, mx_array **out) {
  return mx_op_make(prim, p, s, 1, &a, n_out, specs, out);
}

int mx_linalg_qr(mx_array *a, mx_stream s, mx_array **out) {
  out[0] = out[1] = NULL;
  if (mx_linalg_check("qr", a, false, NULL) < 0 || la_device_check("qr", MX_PRIM_QRF, s) < 0)
    return -1;
  int m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1], k = m < n ? m : n, nq = 0, nr = 0;
  int32_t *qs = la_shape(a, m, k, &nq), *rs = la_shape(a, k, n, &nr);
  int rc = -1;
  if (qs && rs) {
    mx_out_spec specs[2] = {{a->dtype, nq, qs}, {a->dtype, nr, rs}};
    rc = la_make(MX_PRIM_QRF, NULL, s, a, 2, specs, out);
  }
  free(qs);
  free(rs);
  return rc;
}

int mx_linalg_svd(mx_array *a, bool compute_uv, mx_stream s, mx_array **out) {
  out[0] = NULL;
  if (compute_uv) out[1] = out[2] = NULL;
  if (mx_linalg_check("svd", a, true, "Input array") < 0 ||
      la_device_check("svd", MX_PRIM_SVD, s) < 0)
    return -1;
  int m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1], k = m < n ? m : n, nu = 0, ns = 0, nv = 0;
  mx_dtype real = a->dtype == MX_COMPLEX64 ? MX_FLOAT32 : a->dtype;
  int32_t *us = la_shape(a, m, m, &nu), *ss = la_shape(a, k, -1, &ns), *vs = la_shape(a, n, n, &nv);
  int rc = -1;
  if (us && ss && vs) {
    mx_p_svd p = {compute_uv};
    mx_out_spec specs[3] = {{a->dtype, nu, us}, {real, ns, ss}, {a->dtype, nv, vs}};
    rc = compute_uv ? la_make(MX_PRIM_SVD, &p, s, a, 3, specs, out)
                    : la_make(MX_PRIM_SVD, &p, s, a, 1, specs + 1, out);
  }
  free(us);
  free(ss);
  free(vs);
  return rc;
}

static int la_eig(const char *op, mx_array *a, bool vectors, mx_stream s, mx_array **out) {
  out[0] = NULL;
  if (vectors) out[1] = NULL;
  if (mx_linalg_check(op, a, true, NULL) < 0 || la_device_check(op, MX_PRIM_EIG, s) < 0 ||
      la_square(op, a, "Only defined for square matrices.") < 0)
    return -1;
  int n = a->shape[a->ndim - 1], nw = 0;
  int32_t *ws = la_shape(a, n, -1, &nw);
  if (!ws) return -1;
  mx_p_eig p = {vectors};
  mx_out_spec specs[2] = {{MX_COMPLEX64, nw, ws}, {MX_COMPLEX64, a->ndim, a->shape}};
  int rc = la_make(MX_PRIM_EIG, &p, s, a, vectors ? 2 : 1, specs, out);
  free(ws);
  return rc;
}

int mx_linalg_eig(mx_array *a, mx_stream s, mx_array **out) {
  return la_eig("eig", a, true, s, out);
}

mx_array *mx_linalg_eigvals(mx_array *a, mx_stream s) {
  mx_array *w;
  return la_eig("eigvals", a, false, s, &w) < 0 ? NULL : w;
}

/* UPLO "L" reads the lower triangle; any other string the upper one (as MLX). */
static int la_eigh(const char *op, mx_array *a, const char *uplo, bool vectors, mx_stream s,
                   mx_array **out) {
  out[0] = NULL;
  if (vectors) out[1] = NULL;
  if (mx_linalg_check(op, a, true, NULL) < 0 || la_device_check(op, MX_PRIM_EIGH, s) < 0 ||
      la_square(op, a, "Only defined for square matrices.") < 0)
    return -1;
  int n = a->shape[a->ndim - 1], nw = 0;
  int32_t *ws = la_shape(a, n, -1, &nw);
  if (!ws) return -1;
  mx_p_eigh p = {strcmp(uplo ? uplo : "L", "L") != 0, vectors};
  mx_dtype real = a->dtype == MX_COMPLEX64 ? MX_FLOAT32 : a->dtype;
  mx_out_spec specs[2] = {{real, nw, ws}, {a->dtype, a->ndim, a->shape}};
  int rc = la_make(MX_PRIM_EIGH, &p, s, a, vectors ? 2 : 1, specs, out);
  free(ws);
  return rc;
}

int mx_linalg_eigh(mx_array *a, const char *uplo, mx_stream s, mx_array **out) {
  return la_eigh("eigh", a, uplo, true, s, out);
}

mx_array *mx_linalg_eigvalsh(mx_array *a, const char *uplo, mx_stream s) {
  mx_array *w;
  return la_eigh("eigvalsh", a, uplo, false, s, &w) < 0 ? NULL : w;
}

/* The three LUF outputs (LU, pivots, perm) under op's name. */
int mx_linalg_luf(const char *op, mx_array *a, mx_stream s, mx_array **out) {
  out[0] = out[1] = out[2] = NULL;
  if (mx_linalg_check(op, a, false, NULL) < 0 || la_device_check(op, MX_PRIM_LUF, s) < 0)
    return -1;
  int m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1], k = m < n ? m : n, np = 0, nr = 0;
  int32_t *ps = la_shape(a, k, -1, &np), *rs = la_shape(a, m, -1, &nr);
  int rc = -1;
  if (ps && rs) {
    mx_out_spec specs[3] = {{a->dtype, a->ndim, a->shape}, {MX_UINT32, np, ps}, {MX_UINT32, nr, rs}};
    rc = la_make(MX_PRIM_LUF, NULL, s, a, 3, specs, out);
  }
  free(ps);
  free(rs);
  return rc;
}

int mx_linalg_lu_factor(mx_array *a, mx_stream s, mx_array **out) {
  mx_array *r[3];
  out[0] = out[1] = NULL;
  if (mx_linalg_luf("lu_factor", a, s, r) < 0) return -1;
  out[0] = r[0];
  out[1] = r[1];
  if (mx_scope_active()) return 0; /* the scope owns r[2] */
  mx_array_release(r[2]);
  return 0;
}

int mx_linalg_lu(mx_array *a, mx_stream s, mx_array **out) {
  out[0] = out[1] = out[2] = NULL;
  if (!a) return -1;
  int m = a->ndim >= 2 ? a->shape[a->ndim - 2] : 0, n = a->ndim >= 2 ? a->shape[a->ndim - 1] : 0;
  int k = m < n ? m : n;
  MX_SCOPE_BEGIN;
  mx_array *r[3] = {NULL, NULL, NULL};
  int rc = mx_linalg_luf("lu", a, s, r);
  if (rc == 0) {
    {
      mx_array *lpart = mx_linalg_slice2(r[0], 0, m, 0, k, s);
      mx_array *l = mx_add(mx_tril(lpart, -1, s), mx_eye(m, k, 0, a->dtype, s), s);
      mx_array *u = mx_triu(mx_linalg_slice2(r[0], 0, k, 0, n, s), 0, s);
      if (l && u) {
        out[0] = mx_keep(r[2]);
        out[1] = mx_keep(l);
        out[2] = mx_keep(u);
      } else {
        rc = -1;
      }
    }
  }
  MX_SCOPE_END;
  for (int i = 0; rc == 0 && i < 3; i++) out[i] = mx_scope_adopt(out[i]);
  return rc;
}

mx_array *mx_linalg_mT(mx_array *x, mx_stream s) {
  if (!x) return NULL;
  return mx_swapaxes(x, -1, -2, s);
}
