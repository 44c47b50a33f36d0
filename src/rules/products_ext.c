/* products_ext.c: vjp/jvp/vmap rules of GatherMM and Hadamard, written with ops (so they
 * compose to any order). GatherMM's inputs: a (Ba, M, K), b (Bb, K, N), lhs and rhs indices
 * of the output's batch shape. */
#include "rules.h"

#include <stdlib.h>

/* Adds the batch of matrices g (batch..., R, C) into zeros (B, R, C) at the flattened idx. */
static mx_array *pe_scatter_back(mx_array *like, mx_array *g, mx_array *idx, mx_stream s) {
  if (!g || !idx) return NULL;
  int32_t n = (int32_t)idx->size;
  int32_t us[4] = {n, 1, g->shape[g->ndim - 2], g->shape[g->ndim - 1]};
  mx_array *flat = mx_reshape(idx, &n, 1, s);
  mx_array *upd = mx_reshape(g, us, 4, s);
  int axis = 0;
  return mx_scatter_add(mx_zeros_like(like, s), &flat, 1, upd, &axis, 1, s);
}

static int gather_mm_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                         const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  mx_stream s = op->stream;
  bool sorted = ((const mx_p_gather_mm *)op->params)->sorted_indices;
  for (int j = 0; j < n; j++) {
    int k = argnums[j];
    if (!cot[0] || k >= 2) {
      grads[j] = k >= 2 ? mx_zeros_like(p[k], s) : NULL;
      if (k >= 2 && !grads[j]) return -1;
      continue;
    }
    mx_array *g = k == 0 ? mx_gather_mm(cot[0], mx_swapaxes(p[1], -1, -2, s), NULL, p[3], sorted, s)
                         : mx_gather_mm(mx_swapaxes(p[0], -1, -2, s), cot[0], p[2], NULL, false, s);
    grads[j] = pe_scatter_back(p[k], g, p[k == 0 ? 2 : 3], s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int gather_mm_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                         mx_array *const *outputs, mx_array **out) {
  mx_stream s = op->stream;
  bool sorted = ((const mx_p_gather_mm *)op->params)->sorted_indices;
  mx_array *acc = NULL;
  if (t[0]) acc = mx_gather_mm(t[0], p[1], p[2], p[3], sorted, s);
  if (t[1]) {
    mx_array *d = mx_gather_mm(p[0], t[1], p[2], p[3], sorted, s);
    acc = acc ? mx_add(acc, d, s) : d;
  }
  out[0] = acc;
  return acc || (!t[0] && !t[1]) ? 0 : -1;
}

/* The mapped axis of x moved to the front; V copies folded into its batch (dim 0) when
 * x is an operand; for indices, a leading axis (V or 1). */
static int gather_mm_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                          int *out_axes) {
  mx_stream s = op->stream;
  bool sorted = ((const mx_p_gather_mm *)op->params)->sorted_indices;
  int32_t V = 1;
  for (int i = 0; i < 4; i++)
    if (axes[i] >= 0) V = in[i]->shape[axes[i]];
  mx_array *mats[2], *idx[2];
  for (int i = 0; i < 2; i++) {
    mx_array *x = mx_rule_to_front(in[i], axes[i], s);
    mx_array *id = axes[2 + i] >= 0 ? mx_rule_to_front(in[2 + i], axes[2 + i], s)
                                    : mx_expand_dims(in[2 + i], 0, s);
    if (!x || !id) return -1;
    if (axes[i] >= 0) {
      int32_t B = x->shape[1];
      int32_t sh[3] = {V * B, x->shape[2], x->shape[3]};
      x = mx_reshape(x, sh, 3, s);
      /* wrap negative indices inside their own batch before shifting by v * B */
      mx_array *bsz = mx_array_scalar_i64(B, MX_INT64);
      mx_array *i64 = mx_astype(id, MX_INT64, s);
      mx_scope_adopt(bsz);
      i64 = mx_where(mx_less(i64, mx_scalar_like(0, i64), s), mx_add(i64, bsz, s), i64, s);
      int nd = id->ndim;
      int32_t *os = malloc((size_t)nd * sizeof(int32_t));
      if (!os) return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
      os[0] = V;
      for (int d = 1; d < nd; d++) os[d] = 1;
      mx_array *off = mx_reshape(mx_multiply(mx_arange(0, V, 1, MX_INT64, s), bsz, s), os, nd, s);
      free(os);
      id = mx_add(i64, off, s);
    }
    mats[i] = x, idx[i] = id;
  }
  outputs[0] = mx_gather_mm(mats[0], mats[1], idx[0], idx[1], sorted, s);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

static int hadamard_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                        const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_hadamard *h = (const mx_p_hadamard *)op->params;
  for (int j = 0; j < n; j++) {
    grads[j] = cot[0] ? mx_hadamard_prim(cot[0], h->scale, h->m, !h->transpose, op->stream) : NULL;
    if (cot[0] && !grads[j]) return -1;
  }
  return 0;
}

static int hadamard_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                        mx_array *const *outputs, mx_array **out) {
  const mx_p_hadamard *h = (const mx_p_hadamard *)op->params;
  out[0] = t[0] ? mx_hadamard_prim(t[0], h->scale, h->m, h->transpose, op->stream) : NULL;
  return out[0] || !t[0] ? 0 : -1;
}

static int hadamard_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                         int *out_axes) {
  const mx_p_hadamard *h = (const mx_p_hadamard *)op->params;
  mx_array *x = in[0];
  int ax = axes[0];
  if (ax >= 0 && ax == x->ndim - 1) x = mx_rule_to_front(x, ax, op->stream), ax = 0;
  outputs[0] = mx_hadamard_prim(x, h->scale, h->m, h->transpose, op->stream);
  out_axes[0] = ax;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_products_ext(void) {
  mx_prim_vt *v = mx_prims;
  v[MX_PRIM_GATHER_MM].vjp = gather_mm_vjp;
  v[MX_PRIM_GATHER_MM].jvp = gather_mm_jvp;
  v[MX_PRIM_GATHER_MM].vmap = gather_mm_vmap;
  v[MX_PRIM_HADAMARD].vjp = hadamard_vjp;
  v[MX_PRIM_HADAMARD].jvp = hadamard_jvp;
  v[MX_PRIM_HADAMARD].vmap = hadamard_vmap;
}
