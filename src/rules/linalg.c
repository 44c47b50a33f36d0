/* linalg.c: vjp/jvp/vmap rules of the linalg primitives, written with ops (so they
 * differentiate again). vmap: every primitive batches over leading axes, so the mapped axis
 * moves to the front. Derivatives: Inverse (dY = -Y dA Y), Cholesky and Eigh (real inputs;
 * the input is the symmetric matrix its read triangle defines, so the cotangent lands on that
 * triangle), and SVD through its singular values. QRF, Eig and LUF have none (as MLX). */
#include "rules.h"

#include <string.h>

/* The rule's primitive applied again to x: n outputs (as the op had) into out. */
static int la_apply(const mx_op *op, mx_array *x, mx_array **out) {
  mx_stream s = op->stream;
  switch (op->prim) {
  case MX_PRIM_INVERSE: {
    const mx_p_inverse *p = mx_op_params(op);
    out[0] = p->tri ? mx_linalg_tri_inv(x, p->upper, s) : mx_linalg_inv(x, s);
    return out[0] ? 0 : -1;
  }
  case MX_PRIM_CHOLESKY: {
    const mx_p_cholesky *p = mx_op_params(op);
    out[0] = mx_linalg_cholesky(x, p->upper, s);
    return out[0] ? 0 : -1;
  }
  case MX_PRIM_QRF:
    return mx_linalg_qr(x, s, out);
  case MX_PRIM_SVD: {
    const mx_p_svd *p = mx_op_params(op);
    return mx_linalg_svd(x, p->compute_uv, s, out);
  }
  case MX_PRIM_EIG: {
    const mx_p_eig *p = mx_op_params(op);
    if (p->compute_eigenvectors) return mx_linalg_eig(x, s, out);
    out[0] = mx_linalg_eigvals(x, s);
    return out[0] ? 0 : -1;
  }
  case MX_PRIM_EIGH: {
    const mx_p_eigh *p = mx_op_params(op);
    const char *uplo = p->upper ? "U" : "L";
    if (p->compute_eigenvectors) return mx_linalg_eigh(x, uplo, s, out);
    out[0] = mx_linalg_eigvalsh(x, uplo, s);
    return out[0] ? 0 : -1;
  }
  case MX_PRIM_LUF:
    return mx_linalg_luf("lu_factor", x, s, out);
  default:
    return mx_fail_int(MX_ERUNTIME, "[vmap] %s is not a linalg primitive.",
                       mx_prim_name(op->prim));
  }
}

static int la_vmap(const mx_op *op, mx_array *const *inputs, const int *axes,
                   mx_array **outputs, int *out_axes) {
  mx_array *x = mx_rule_to_front(inputs[0], axes[0], op->stream);
  if (!x || la_apply(op, x, outputs) < 0) return -1;
  for (int k = 0; k < op->n_out; k++) out_axes[k] = 0;
  return 0;
}

/* ---- helpers ---- */

static mx_array *mT(mx_array *x, mx_stream s) { return mx_linalg_mT(x, s); }

static mx_array *mm(mx_array *a, mx_array *b, mx_stream s) { return mx_matmul(a, b, s); }

/* An n x n identity of x's dtype. */
static mx_array *eye_like(mx_array *x, mx_stream s) {
  int n = x->shape[x->ndim - 1];
  return mx_eye(n, n, 0, x->dtype, s);
}

/* tril (upper: triu) of x with its diagonal halved: Phi of the Cholesky derivative. */
static mx_array *phi(mx_array *x, bool upper, mx_stream s) {
  mx_array *t = upper ? mx_triu(x, 0, s) : mx_tril(x, 0, s);
  mx_array *half = mx_multiply(mx_multiply(x, eye_like(x, s), s),
                               mx_scope_adopt(mx_array_scalar_f64(0.5, x->dtype)), s);
  return mx_subtract(t, half, s);
}

/* The symmetric matrix the read triangle of d defines: E + E^T - diag(E). */
static mx_array *sym_from(mx_array *d, bool upper, mx_stream s) {
  mx_array *e = upper ? mx_triu(d, 0, s) : mx_tril(d, 0, s);
  return mx_subtract(mx_add(e, mT(e, s), s), mx_multiply(e, eye_like(e, s), s), s);
}

/* The cotangent of the read triangle given the symmetric-input cotangent S: tril(S + S^T)
 * with diagonal S_ii (triu for upper). */
static mx_array *to_triangle(mx_array *g, bool upper, mx_stream s) {
  return phi(mx_add(g, mT(g, s), s), upper, s);
}

/* Result of a rule value: grads[j] for argnum 0 (the only input). */
static int la_set_grad(mx_array *g, const int *argnums, int n_argnums, mx_array **grads) {
  for (int j = 0; j < n_argnums; j++) grads[j] = argnums[j] == 0 ? g : NULL;
  return g ? 0 : -1;
}

static int la_real_only(const mx_op *op, mx_array *a) {
  if (a->dtype == MX_COMPLEX64)
    return mx_fail_int(MX_EINVAL, "[%s] Derivatives of complex inputs are not supported.",
                       mx_prim_name(op->prim));
  return 0;
}

/* ---- Inverse ---- */

static mx_array *inv_mask(const mx_op *op, mx_array *x) {
  const mx_p_inverse *p = mx_op_params(op);
  if (!p->tri) return x;
  return p->upper ? mx_triu(x, 0, op->stream) : mx_tril(x, 0, op->stream);
}

static mx_array *inv_output(const mx_op *op, mx_array *const *primals, mx_array *const *outputs) {
  if (outputs[0]) return outputs[0];
  mx_array *y;
  return la_apply(op, primals[0], &y) < 0 ? NULL : y;
}

static int inverse_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                       const int *argnums, int n_argnums, mx_array *const *outputs,
                       mx_array **grads) {
  mx_stream s = op->stream;
  mx_array *y = inv_output(op, primals, outputs);
  mx_array *yt = y ? mT(y, s) : NULL;
  mx_array *g = yt ? mx_negative(mm(mm(yt, cot[0], s), yt, s), s) : NULL;
  return la_set_grad(g ? inv_mask(op, g) : NULL, argnums, n_argnums, grads);
}

static int inverse_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                       mx_array *const *outputs, mx_array **out_tangents) {
  mx_stream s = op->stream;
  mx_array *y = inv_output(op, primals, outputs);
  out_tangents[0] = y ? mx_negative(mm(mm(y, inv_mask(op, tangents[0]), s), y, s), s) : NULL;
  return out_tangents[0] ? 0 : -1;
}

/* ---- Cholesky (L lower; the upper factor is L^T) ---- */

static mx_array *chol_lower(const mx_op *op, mx_array *const *primals, mx_array *const *outputs,
                            bool *upper) {
  const mx_p_cholesky *p = mx_op_params(op);
  *upper = p->upper;
  mx_array *f = outputs[0];
  if (!f) f = mx_linalg_cholesky(primals[0], p->upper, op->stream);
  return p->upper ? mT(f, op->stream) : f;
}

static int cholesky_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                        const int *argnums, int n_argnums, mx_array *const *outputs,
                        mx_array **grads) {
  mx_stream s = op->stream;
  bool upper;
  mx_array *l = chol_lower(op, primals, outputs, &upper);
  if (!l) return -1;
  /* S = L^-T Phi(L^T Lbar) L^-1; the input cotangent is S + S^T on the read triangle */
  mx_array *lbar = mx_tril(upper ? mT(cot[0], s) : cot[0], 0, s);
  mx_array *li = mx_linalg_tri_inv(l, false, s);
  mx_array *p = phi(mm(mT(l, s), lbar, s), false, s);
  mx_array *g = mm(mm(mT(li, s), p, s), li, s);
  g = g ? to_triangle(g, false, s) : NULL;
  return la_set_grad(upper && g ? mT(g, s) : g, argnums, n_argnums, grads);
}

static int cholesky_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                        mx_array *const *outputs, mx_array **out_tangents) {
  mx_stream s = op->stream;
  bool upper;
  mx_array *l = chol_lower(op, primals, outputs, &upper);
  if (!l) return -1;
  /* dL = L Phi(L^-1 dA L^-T) */
  mx_array *li = mx_linalg_tri_inv(l, false, s);
  mx_array *da = sym_from(tangents[0], upper, s);
  mx_array *dl = mm(l, phi(mm(mm(li, da, s), mT(li, s), s), false, s), s);
  out_tangents[0] = upper && dl ? mT(dl, s) : dl;
  return out_tangents[0] ? 0 : -1;
}

/* ---- Eigh: A = V diag(w) V^T ---- */

/* F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it. */
static mx_array *eigh_f(mx_array *w, mx_stream s) {
  mx_array *d = mx_subtract(mx_expand_dims(w, -2, s), mx_expand_dims(w, -1, s), s);
  mx_array *eye = mx_astype(eye_like(d, s), MX_BOOL, s);
  mx_array *one = mx_scope_adopt(mx_array_scalar_f64(1.0, w->dtype));
  mx_array *safe = mx_where(eye, one, d, s);
  return mx_where(eye, mx_zeros_like(d, s), mx_reciprocal(safe, s), s);
}

static int eigh_parts(const mx_op *op, mx_array *const *primals, mx_array *const *outputs,
                      mx_array **w, mx_array **v) {
  const mx_p_eigh *p = mx_op_params(op);
  if (la_real_only(op, primals[0]) < 0) return -1;
  *w = outputs[0];
  *v = p->compute_eigenvectors ? outputs[1] : NULL;
  if (!*w || !*v) {
    mx_array *wv[2];
    if (mx_linalg_eigh(primals[0], p->upper ? "U" : "L", op->stream, wv) < 0) return -1;
    *w = wv[0];
    *v = wv[1];
  }
  return 0;
}

static int eigh_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                    const int *argnums, int n_argnums, mx_array *const *outputs,
                    mx_array **grads) {
  mx_stream s = op->stream;
  const mx_p_eigh *p = mx_op_params(op);
  mx_array *w, *v;
  if (eigh_parts(op, primals, outputs, &w, &v) < 0) return -1;
  /* S = V (diag(wbar) + F o (V^T Vbar)) V^T */
  mx_array *inner = NULL;
  if (cot[0]) inner = mx_multiply(mx_expand_dims(cot[0], -1, s), eye_like(v, s), s);
  if (p->compute_eigenvectors && op->n_out > 1 && cot[1]) {
    mx_array *t = mx_multiply(eigh_f(w, s), mm(mT(v, s), cot[1], s), s);
    inner = inner ? mx_add(inner, t, s) : t;
  }
  if (!inner) return la_set_grad(mx_zeros_like(primals[0], s), argnums, n_argnums, grads);
  mx_array *g = mm(mm(v, inner, s), mT(v, s), s);
  /* the symmetric part is what the decomposition sees */
  g = mx_multiply(mx_add(g, mT(g, s), s), mx_scope_adopt(mx_array_scalar_f64(0.5, g->dtype)), s);
  return la_set_grad(to_triangle(g, p->upper, s), argnums, n_argnums, grads);
}

static int eigh_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                    mx_array *const *outputs, mx_array **out_tangents) {
  mx_stream s = op->stream;
  const mx_p_eigh *p = mx_op_params(op);
  mx_array *w, *v;
  if (eigh_parts(op, primals, outputs, &w, &v) < 0) return -1;
  mx_array *m = mm(mm(mT(v, s), sym_from(tangents[0], p->upper, s), s), v, s);
  out_tangents[0] = mx_diagonal(m, 0, -2, -1, s);
  if (op->n_out > 1) out_tangents[1] = mm(v, mx_multiply(eigh_f(w, s), m, s), s);
  for (int k = 0; k < op->n_out; k++)
    if (!out_tangents[k]) return -1;
  return 0;
}

/* ---- SVD through the singular values: dS = diag(U^T dA V) ---- */

static int svd_parts(const mx_op *op, mx_array *const *primals, mx_array *const *outputs,
                     mx_array **u, mx_array **vt) {
  const mx_p_svd *p = mx_op_params(op);
  if (la_real_only(op, primals[0]) < 0) return -1;
  mx_array *a = primals[0];
  int m = a->shape[a->ndim - 2], n = a->shape[a->ndim - 1], k = m < n ? m : n;
  mx_array *usv[3] = {NULL, NULL, NULL};
  if (p->compute_uv && outputs[0] && outputs[2]) {
    usv[0] = outputs[0];
    usv[2] = outputs[2];
  } else if (mx_linalg_svd(a, true, op->stream, usv) < 0) {
    return -1;
  }
  *u = mx_linalg_slice2(usv[0], 0, m, 0, k, op->stream);
  *vt = mx_linalg_slice2(usv[2], 0, k, 0, n, op->stream);
  return *u && *vt ? 0 : -1;
}

static int svd_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                   const int *argnums, int n_argnums, mx_array *const *outputs,
                   mx_array **grads) {
  const mx_p_svd *p = mx_op_params(op);
  mx_stream s = op->stream;
  if (p->compute_uv && (cot[0] || cot[2]))
    return mx_fail_int(MX_EINVAL,
                       "[SVD] vjp is only implemented through the singular values (U and Vt "
                       "must not receive cotangents).");
  mx_array *sbar = cot[p->compute_uv ? 1 : 0];
  mx_array *u, *vt;
  if (!sbar) return la_set_grad(mx_zeros_like(primals[0], s), argnums, n_argnums, grads);
  if (svd_parts(op, primals, outputs, &u, &vt) < 0) return -1;
  mx_array *g = mm(mx_multiply(u, mx_expand_dims(sbar, -2, s), s), vt, s);
  return la_set_grad(g, argnums, n_argnums, grads);
}

static int svd_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                   mx_array *const *outputs, mx_array **out_tangents) {
  const mx_p_svd *p = mx_op_params(op);
  mx_stream s = op->stream;
  if (p->compute_uv)
    return mx_fail_int(MX_EINVAL,
                       "[SVD] jvp is only implemented for the singular values "
                       "(compute_uv=False).");
  mx_array *u, *vt;
  if (svd_parts(op, primals, outputs, &u, &vt) < 0) return -1;
  /* diag(U^T dA V) = sum_i U_ik (dA V)_ik */
  mx_array *dav = mm(tangents[0], mT(vt, s), s);
  int ax = -2;
  out_tangents[0] = mx_sum(mx_multiply(u, dav, s), &ax, 1, false, s);
  return out_tangents[0] ? 0 : -1;
}

void mx_rules_register_linalg(void) {
#define LA_VMAP(NAME, stem) mx_prims[MX_PRIM_##NAME].vmap = la_vmap;
  MX_LINALG_PRIMS(LA_VMAP)
#undef LA_VMAP
  mx_prims[MX_PRIM_INVERSE].vjp = inverse_vjp;
  mx_prims[MX_PRIM_INVERSE].jvp = inverse_jvp;
  mx_prims[MX_PRIM_CHOLESKY].vjp = cholesky_vjp;
  mx_prims[MX_PRIM_CHOLESKY].jvp = cholesky_jvp;
  mx_prims[MX_PRIM_EIGH].vjp = eigh_vjp;
  mx_prims[MX_PRIM_EIGH].jvp = eigh_jvp;
  mx_prims[MX_PRIM_SVD].vjp = svd_vjp;
  mx_prims[MX_PRIM_SVD].jvp = svd_jvp;
}
