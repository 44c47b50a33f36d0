/* ops_linalg.h: op constructors of mx.linalg (decompositions through LAPACKE, norms, solves)
 * (declarations only; included by ops.h, whose ownership and error rules apply). Matrices are
 * the last two axes, batched over the leading ones. Multi-result ops fill out[] with new
 * references (scope-owned inside a scope) and return 0, or -1 with the error set. */
#ifndef MX_OPS_LINALG_H
#define MX_OPS_LINALG_H

/* ---- one primitive each (src/ops/linalg.c) ---- */
mx_array *mx_linalg_inv(mx_array *a, mx_stream s);
mx_array *mx_linalg_tri_inv(mx_array *a, bool upper, mx_stream s);
mx_array *mx_linalg_cholesky(mx_array *a, bool upper, mx_stream s);
int mx_linalg_qr(mx_array *a, mx_stream s, mx_array **out);                  /* Q, R */
/* U, S, Vt (compute_uv) or S alone in out[0] */
int mx_linalg_svd(mx_array *a, bool compute_uv, mx_stream s, mx_array **out);
int mx_linalg_eig(mx_array *a, mx_stream s, mx_array **out);                 /* w, V */
mx_array *mx_linalg_eigvals(mx_array *a, mx_stream s);
int mx_linalg_eigh(mx_array *a, const char *uplo, mx_stream s, mx_array **out); /* w, V */
mx_array *mx_linalg_eigvalsh(mx_array *a, const char *uplo, mx_stream s);
int mx_linalg_lu_factor(mx_array *a, mx_stream s, mx_array **out);           /* LU, pivots */
int mx_linalg_lu(mx_array *a, mx_stream s, mx_array **out);                  /* p, L, U */

/* ---- composed (src/ops/linalg_solve.c) ---- */
mx_array *mx_linalg_cholesky_inv(mx_array *a, bool upper, mx_stream s);
mx_array *mx_linalg_pinv(mx_array *a, mx_stream s);
mx_array *mx_linalg_solve(mx_array *a, mx_array *b, mx_stream s);
mx_array *mx_linalg_solve_triangular(mx_array *a, mx_array *b, bool upper, mx_stream s);
mx_array *mx_linalg_det(mx_array *a, mx_stream s);
int mx_linalg_slogdet(mx_array *a, mx_stream s, mx_array **out);             /* sign, log|det| */
mx_array *mx_linalg_cross(mx_array *a, mx_array *b, int axis, mx_stream s);

/* ---- norms (src/ops/linalg_norm.c): axes NULL with naxes < 0 is None ---- */
/* ord NULL: the default (2-norm of the flattened array, or along axes) */
mx_array *mx_linalg_norm(mx_array *a, const double *ord, const int *axes, int naxes,
                         bool keepdims, mx_stream s);
/* ord "fro", "f" or "nuc" */
mx_array *mx_linalg_norm_str(mx_array *a, const char *ord, const int *axes, int naxes,
                             bool keepdims, mx_stream s);
/* C API forms: axis NULL is None */
mx_array *mx_linalg_norm_capi(mx_array *a, double ord, const int *axis, int n, bool keepdims,
                              mx_stream s);
mx_array *mx_linalg_norm_str_capi(mx_array *a, const char *ord, const int *axis, int n,
                                  bool keepdims, mx_stream s);
mx_array *mx_linalg_norm_l2_capi(mx_array *a, const int *axis, int n, bool keepdims,
                                 mx_stream s);

/* ---- list forms for the bindings (malloc'd *out of *n arrays) ---- */
int mx_linalg_qr_list(mx_array *a, mx_stream s, mx_array ***out, int *n);
int mx_linalg_svd_list(mx_array *a, bool compute_uv, mx_stream s, mx_array ***out, int *n);
int mx_linalg_eig_list(mx_array *a, mx_stream s, mx_array ***out, int *n);
int mx_linalg_eigh_list(mx_array *a, const char *uplo, mx_stream s, mx_array ***out, int *n);
int mx_linalg_lu_list(mx_array *a, mx_stream s, mx_array ***out, int *n);
int mx_linalg_lu_factor_list(mx_array *a, mx_stream s, mx_array ***out, int *n);
int mx_linalg_slogdet_list(mx_array *a, mx_stream s, mx_array ***out, int *n);

/* ---- helpers shared by the linalg op files and rules ---- */
/* dtype (float32/float64, + complex64 when cplx) then rank >= 2; rank_word NULL: "Arrays" */
int mx_linalg_check(const char *op, mx_array *a, bool cplx, const char *rank_word);
/* The LUF primitive's three outputs (LU, pivots, perm) with op's name in messages */
int mx_linalg_luf(const char *op, mx_array *a, mx_stream s, mx_array **out);
/* x[..., r0:r1, c0:c1] */
mx_array *mx_linalg_slice2(mx_array *x, int r0, int r1, int c0, int c1, mx_stream s);
/* The transpose of the last two axes. */
mx_array *mx_linalg_mT(mx_array *x, mx_stream s);

#endif
