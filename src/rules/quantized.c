/* quantized.c: vjp/jvp/vmap rules of the quant primitives, written with ops:
 *  - QuantizedMatmul: x's cotangent is the product with the other orientation; affine scales
 *    and biases get sums over each group of (cotangent-weighted x) times the codes / ones;
 *    the packed weights have no gradient (MLX's error);
 *  - GatherQMM: x's cotangent gathered back with a scatter-add over lhs_indices;
 *  - Dequantize: linear in scales and biases (affine);
 *  - vmap: batch axes to the front (the ops accept leading batch dims). */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

static mx_array *q_qmm(mx_array *x, mx_array *const *in, int n_in, int gs, int bits, int mode,
                       bool transpose, mx_stream s) {
  return mx_quantized_matmul(x, in[1], in[2], n_in > 3 ? in[3] : NULL, transpose, &gs, &bits,
                             mx_qmode_name(mode), s);
}

/* The codes of w as float values (dequantized with scale 1 and bias 0). */
static mx_array *q_codes(mx_array *w, mx_array *scales, int gs, int bits, mx_dtype t,
                         mx_stream s) {
  mx_array *one = mx_ones(scales->shape, scales->ndim, t, s);
  mx_array *zero = mx_zeros(scales->shape, scales->ndim, t, s);
  return mx_dequantize(w, one, zero, &gs, &bits, "affine", NULL, true, t, s);
}

/* Sums a (..., R, C) over its groups of gs along C: (..., R, C / gs). */
static mx_array *q_group_sum(mx_array *a, int gs, mx_stream s) {
  if (!a) return NULL;
  int nd = a->ndim;
  int32_t *sh = malloc((size_t)(nd + 1) * sizeof(int32_t));
  if (!sh) return mx_fail(MX_ENOMEM, "[vjp] out of memory.");
  memcpy(sh, a->shape, (size_t)nd * sizeof(int32_t));
  sh[nd - 1] = a->shape[nd - 1] / gs;
  sh[nd] = gs;
  mx_array *r = mx_reshape(a, sh, nd + 1, s);
  free(sh);
  int ax = -1;
  return mx_sum(r, &ax, 1, false, s);
}

/* Sums the leading dims of a until it has ndim dims. */
static mx_array *q_sum_leading(mx_array *a, int ndim, mx_stream s) {
  if (!a || a->ndim <= ndim) return a;
  int n = a->ndim - ndim;
  int ax[64];
  if (n > 64) return mx_fail(MX_EINVAL, "[vjp] too many batch dimensions.");
  for (int i = 0; i < n; i++) ax[i] = i;
  return mx_sum(a, ax, n, false, s);
}

static int qmm_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                   const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  (void)outputs;
  const mx_p_quantized_matmul *p = mx_op_params(op);
  mx_stream s = op->stream;
  mx_array *x = primals[0], *c = cot[0];
  mx_array *dw = NULL; /* cotangent of the dequantized matrix, as w's rows */
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!c) continue;
    int a = argnums[j];
    if (a == 0) {
      grads[j] = q_qmm(c, primals, op->n_in, p->group_size, p->bits, p->mode, !p->transpose, s);
    } else if (a == 1) {
      return mx_fail_int(MX_EINVAL, "[QuantizedMatmul::vjp] no gradient wrt the quantized weights.");
    } else if (p->mode != MX_QUANT_AFFINE) {
      return mx_fail_int(MX_EINVAL, "[QuantizedMatmul::vjp] no gradient wrt the quantization scales.");
    } else {
      if (!dw) {
        mx_array *xx = x->ndim == 1 ? mx_expand_dims(x, 0, s) : x;
        mx_array *cc = c->ndim == 1 ? mx_expand_dims(c, 0, s) : c;
        dw = p->transpose ? mx_matmul(mx_swapaxes(cc, -1, -2, s), xx, s)
                          : mx_matmul(mx_swapaxes(xx, -1, -2, s), cc, s);
        dw = q_sum_leading(dw, primals[1]->ndim, s);
        if (!dw) return -1;
      }
      mx_array *g = dw;
      if (a == 2)
        g = mx_multiply(g, q_codes(primals[1], primals[2], p->group_size, p->bits, g->dtype, s), s);
      grads[j] = mx_astype(q_group_sum(g, p->group_size, s), primals[a]->dtype, s);
    }
    if (!grads[j]) return -1;
  }
  return 0;
}

static int qmm_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                   mx_array *const *outputs, mx_array **out) {
  (void)outputs;
  const mx_p_quantized_matmul *p = mx_op_params(op);
  for (int i = 1; i < op->n_in; i++)
    if (tangents[i])
      return mx_fail_int(MX_EINVAL, "[QuantizedMatmul::jvp] only the first input has a tangent.");
  out[0] = NULL;
  if (!tangents[0]) return 0;
  out[0] = q_qmm(tangents[0], primals, op->n_in, p->group_size, p->bits, p->mode, p->transpose,
                 op->stream);
  return out[0] ? 0 : -1;
}

static int qmm_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                    int *out_axes) {
  const mx_p_quantized_matmul *p = mx_op_params(op);
  for (int i = 1; i < op->n_in; i++)
    if (axes[i] >= 0)
      return mx_fail_int(MX_EINVAL,
                         "[QuantizedMatmul::vmap] only the first input can be batched.");
  mx_array *x = in[0];
  int ux = x->ndim - 1; /* x's rank without the batch axis */
  if (in[1]->ndim > 2 && ux <= 2)
    return mx_fail_int(MX_EINVAL,
                       "[QuantizedMatmul::vmap] batched x needs batch dims matching a batched w.");
  x = mx_rule_to_front(x, axes[0], op->stream);
  outputs[0] = q_qmm(x, in, op->n_in, p->group_size, p->bits, p->mode, p->transpose, op->stream);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

/* GatherQMM: dx = scatter-add over lhs of (cot_i @ W[rhs_i] in the other orientation). */
static int gqmm_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                    const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  (void)outputs;
  const mx_p_gather_qmm *p = mx_op_params(op);
  mx_stream s = op->stream;
  int n_in = op->n_in;
  mx_array *x = primals[0], *lhs = primals[n_in - 2], *rhs = primals[n_in - 1];
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!cot[0]) continue;
    if (argnums[j] != 0)
      return mx_fail_int(MX_EINVAL, "[GatherQMM::vjp] cannot compute the gradient wrt the "
                                    "quantized matrix, its scales or the indices.");
    int gs = p->group_size, bits = p->bits;
    mx_array *b = p->mode == MX_QUANT_AFFINE ? primals[3] : NULL;
    /* products per index entry: lhs_indices = arange over the entries */
    int64_t ni = lhs->size;
    mx_array *ar = mx_arange(0, (double)ni, 1, MX_UINT32, s);
    ar = mx_reshape(ar, lhs->shape, lhs->ndim, s);
    mx_array *d = mx_gather_qmm(cot[0], primals[1], primals[2], b, ar, rhs, !p->transpose, &gs,
                                &bits, mx_qmode_name(p->mode), NULL, false, s);
    if (!d) return -1;
    int M = x->shape[x->ndim - 2], K = x->shape[x->ndim - 1];
    int64_t nb = 1;
    for (int i = 0; i < x->ndim - 2; i++) nb *= x->shape[i];
    int32_t upd[4] = {(int32_t)ni, 1, M, K}, flat[3] = {(int32_t)nb, M, K};
    int32_t li_shape[1] = {(int32_t)ni};
    mx_array *u = mx_reshape(d, upd, 4, s);
    mx_array *li = mx_reshape(lhs, li_shape, 1, s);
    mx_array *z = mx_zeros(flat, 3, d->dtype, s);
    int ax0 = 0;
    mx_array *g = mx_scatter_add(z, &li, 1, u, &ax0, 1, s);
    g = mx_reshape(g, x->shape, x->ndim, s);
    grads[j] = mx_astype(g, x->dtype, s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int deq_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                   const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  (void)outputs;
  const mx_p_dequantize *p = mx_op_params(op);
  mx_stream s = op->stream;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!cot[0]) continue;
    int a = argnums[j];
    if (a == 0 || p->mode != MX_QUANT_AFFINE)
      return mx_fail_int(MX_EINVAL,
                         "[Dequantize::vjp] no gradient wrt the quantized matrix or fp scales.");
    mx_array *g = cot[0];
    if (a == 1)
      g = mx_multiply(g, q_codes(primals[0], primals[1], p->group_size, p->bits, g->dtype, s), s);
    grads[j] = mx_astype(q_group_sum(g, p->group_size, s), primals[a]->dtype, s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int deq_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                   mx_array *const *outputs, mx_array **out) {
  const mx_p_dequantize *p = mx_op_params(op);
  mx_stream s = op->stream;
  out[0] = NULL;
  if (tangents[0] || (p->mode != MX_QUANT_AFFINE && op->n_in > 1 && tangents[1]))
    return mx_fail_int(MX_EINVAL, "[Dequantize::jvp] no tangent for the quantized matrix.");
  if (p->mode != MX_QUANT_AFFINE) return 0;
  mx_dtype t = outputs[0] ? outputs[0]->dtype : MX_FLOAT32;
  mx_array *acc = NULL;
  int gs = p->group_size;
  int nd = primals[0]->ndim;
  int32_t *sh = malloc((size_t)(nd + 1) * sizeof(int32_t));
  if (!sh) return mx_fail_int(MX_ENOMEM, "[jvp] out of memory.");
  int32_t *full = malloc((size_t)(nd + 1) * sizeof(int32_t));
  if (!full) {
    free(sh);
    return mx_fail_int(MX_ENOMEM, "[jvp] out of memory.");
  }
  memcpy(sh, primals[1]->shape, (size_t)nd * sizeof(int32_t));
  sh[nd] = 1;
  memcpy(full, sh, (size_t)(nd + 1) * sizeof(int32_t));
  full[nd] = gs;
  int32_t *oshape = outputs[0] ? outputs[0]->shape : NULL;
  for (int i = 1; i <= 2; i++) {
    if (!tangents[i]) continue;
    mx_array *tt = mx_broadcast_to(mx_reshape(mx_astype(tangents[i], t, s), sh, nd + 1, s), full,
                                   nd + 1, s);
    if (i == 1) tt = mx_multiply(tt, mx_reshape(q_codes(primals[0], primals[1], gs, p->bits, t, s),
                                                full, nd + 1, s), s);
    acc = acc ? mx_add(acc, tt, s) : tt;
  }
  if (acc && oshape) acc = mx_reshape(acc, oshape, nd, s);
  free(sh);
  free(full);
  out[0] = acc;
  return acc ? 0 : -1;
}

/* Moves every batched input's axis to the front and broadcasts the others to it. */
static int q_vmap_front(mx_array *const *in, const int *axes, int n, mx_array **out, mx_stream s) {
  int b = -1;
  for (int i = 0; i < n; i++)
    if (axes[i] >= 0) b = in[i]->shape[axes[i]];
  for (int i = 0; i < n; i++) {
    if (axes[i] >= 0) {
      out[i] = mx_rule_to_front(in[i], axes[i], s);
    } else {
      int nd = in[i]->ndim;
      int32_t *sh = malloc((size_t)(nd + 1) * sizeof(int32_t));
      if (!sh) return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
      sh[0] = b;
      memcpy(sh + 1, in[i]->shape, (size_t)nd * sizeof(int32_t));
      out[i] = mx_broadcast_to(mx_expand_dims(in[i], 0, s), sh, nd + 1, s);
      free(sh);
    }
    if (!out[i]) return -1;
  }
  return 0;
}

static int deq_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                    int *out_axes) {
  const mx_p_dequantize *p = mx_op_params(op);
  mx_stream s = op->stream;
  mx_array *v[3] = {NULL, NULL, NULL};
  int n = op->n_in;
  if (p->mode == MX_QUANT_NVFP4 && n > 2) n = 2; /* the global scale stays a scalar */
  if (q_vmap_front(in, axes, n, v, s) < 0) return -1;
  if (op->n_in > n) v[2] = in[2];
  mx_dtype t = op->outputs[0] ? op->outputs[0]->dtype : MX_FLOAT32;
  int gs = p->group_size, bits = p->bits;
  bool aff = p->mode == MX_QUANT_AFFINE;
  outputs[0] = mx_dequantize(v[0], v[1], aff ? v[2] : NULL, &gs, &bits, mx_qmode_name(p->mode),
                             aff ? NULL : v[2], true, t, s);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

static int quant_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                      int *out_axes) {
  const mx_p_quantize *p = mx_op_params(op);
  if (op->n_in > 1 && axes[1] >= 0)
    return mx_fail_int(MX_EINVAL, "[Quantize::vmap] the global scale cannot be batched.");
  mx_array *w = mx_rule_to_front(in[0], axes[0], op->stream);
  int gs = p->group_size, bits = p->bits, n = 0;
  if (mx_quantize(w, &gs, &bits, mx_qmode_name(p->mode), op->n_in > 1 ? in[1] : NULL, outputs, &n,
                  op->stream) < 0)
    return -1;
  for (int i = 0; i < n; i++) out_axes[i] = 0;
  return 0;
}

static int fp8_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                    int *out_axes) {
  mx_dtype t = op->outputs[0] ? op->outputs[0]->dtype : MX_FLOAT32;
  outputs[0] = op->prim == MX_PRIM_TO_FP8 ? mx_to_fp8(in[0], op->stream)
                                           : mx_from_fp8(in[0], t, op->stream);
  out_axes[0] = axes[0];
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_quantized(void) {
  mx_prims[MX_PRIM_QUANTIZED_MATMUL].vjp = qmm_vjp;
  mx_prims[MX_PRIM_QUANTIZED_MATMUL].jvp = qmm_jvp;
  mx_prims[MX_PRIM_QUANTIZED_MATMUL].vmap = qmm_vmap;
  mx_prims[MX_PRIM_GATHER_QMM].vjp = gqmm_vjp;
  mx_prims[MX_PRIM_DEQUANTIZE].vjp = deq_vjp;
  mx_prims[MX_PRIM_DEQUANTIZE].jvp = deq_jvp;
  mx_prims[MX_PRIM_DEQUANTIZE].vmap = deq_vmap;
  mx_prims[MX_PRIM_QUANTIZE].vmap = quant_vmap;
  mx_prims[MX_PRIM_TO_FP8].vmap = fp8_vmap;
  mx_prims[MX_PRIM_FROM_FP8].vmap = fp8_vmap;
}
