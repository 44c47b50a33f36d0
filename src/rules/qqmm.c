/* qqmm.c: vjp/jvp/vmap rules of QQMatmul, written with ops.
 *  - vjp (MLX's rule): the cotangent is quantized too: dx = qqmm(cot, w^T), dw =
 *    qqmm(cot^T, x^T) over the flattened rows; with nvfp4 global scales the cotangent's is
 *    max|cot| and each operand keeps its own; scales and global scales get zeros; x has no
 *    gradient through a packed w (MLX's error).
 *  - jvp: the same quantized products of each tangent with the other operand.
 *  - vmap: batch axes to the front; a batched w becomes the primitive's batched form. */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

typedef struct qq_parts {
  mx_array *x, *w, *scales, *gx, *gw;
  bool packed;
} qq_parts;

static qq_parts qq_split(mx_array *const *in, int n_in) {
  qq_parts q = {in[0], in[1], NULL, NULL, NULL, in[1]->dtype == MX_UINT32};
  int g = q.packed ? 3 : 2;
  if (q.packed) q.scales = in[2];
  if (n_in >= g + 2) {
    q.gx = in[g];
    q.gw = in[g + 1];
  }
  return q;
}

static mx_array *qq_make(const mx_p_qqmatmul *p, mx_array *x, mx_array *w, mx_array *sc,
                         mx_array *gx, mx_array *gw, mx_stream s) {
  return mx_qqmm_make(x, w, sc, p->group_size, p->bits, p->mode, gx, gw, s);
}

/* The float32 global scale MLX gives a cotangent or tangent: max |a|. */
static mx_array *qq_amax(mx_array *a, mx_stream s) {
  return mx_astype(mx_max(mx_abs(a, s), NULL, -1, false, s), MX_FLOAT32, s);
}

/* a (..., R, C) with its dims before the last flattened into the rows: (rows, C). */
static mx_array *qq_rows(mx_array *a, mx_stream s) {
  int c = a->shape[a->ndim - 1];
  int32_t sh[2] = {(int32_t)(c ? a->size / c : 0), (int32_t)c};
  if (!c) {
    int64_t r = 1;
    for (int i = 0; i < a->ndim - 1; i++) r *= a->shape[i];
    sh[0] = (int32_t)r;
  }
  return mx_reshape(a, sh, 2, s);
}

static int qq_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                  const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  (void)outputs;
  const mx_p_qqmatmul *p = mx_op_params(op);
  mx_stream s = op->stream;
  qq_parts q = qq_split(primals, op->n_in);
  mx_array *c = cot[0];
  mx_array *gc = c && q.gx ? qq_amax(c, s) : NULL;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    int a = argnums[j];
    if (a >= 2 || !c) {
      grads[j] = mx_zeros_like(primals[a], s);
    } else if (a == 0) {
      if (q.packed)
        return mx_fail_int(MX_EINVAL,
                           "[qqmm] The gradient with respect to x needs w in non-quantized form.");
      grads[j] = qq_make(p, c, mx_swapaxes(q.w, -1, -2, s), NULL, gc, q.gw, s);
    } else if (q.packed) {
      return mx_fail_int(MX_EINVAL, "[qqmm] No gradient with respect to the quantized weights.");
    } else {
      mx_array *cc = c->ndim == 1 ? mx_expand_dims(c, 0, s) : c;
      mx_array *xx = q.x->ndim == 1 ? mx_expand_dims(q.x, 0, s) : q.x;
      if (q.w->ndim == 2) {
        cc = qq_rows(cc, s);
        xx = qq_rows(xx, s);
      }
      mx_array *d = qq_make(p, mx_swapaxes(cc, -1, -2, s), mx_swapaxes(xx, -1, -2, s), NULL, gc,
                            q.gx, s);
      grads[j] = mx_astype(d, q.w->dtype, s);
    }
    if (!grads[j]) return -1;
  }
  return 0;
}

static int qq_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                  mx_array *const *outputs, mx_array **out) {
  (void)outputs;
  const mx_p_qqmatmul *p = mx_op_params(op);
  mx_stream s = op->stream;
  qq_parts q = qq_split(primals, op->n_in);
  mx_array *acc = NULL;
  if (tangents[0]) {
    mx_array *t = tangents[0];
    acc = qq_make(p, t, q.w, q.scales, q.gx ? qq_amax(t, s) : NULL, q.gw, s);
    if (!acc) return -1;
  }
  if (tangents[1] && !q.packed) {
    mx_array *t = tangents[1];
    mx_array *d = qq_make(p, q.x, t, NULL, q.gx, q.gx ? qq_amax(t, s) : NULL, s);
    acc = acc ? mx_add(acc, d, s) : d;
    if (!acc) return -1;
  }
  out[0] = acc ? acc : mx_zeros_like(outputs[0], s);
  return out[0] ? 0 : -1;
}

/* in with axis ax moved to the front, or broadcast along a new front axis of size b. */
static mx_array *qq_front(mx_array *in, int ax, int b, mx_stream s) {
  if (ax >= 0) return mx_rule_to_front(in, ax, s);
  int nd = in->ndim;
  int32_t *sh = malloc((size_t)(nd + 1) * sizeof(int32_t));
  if (!sh) return mx_fail(MX_ENOMEM, "[vmap] out of memory.");
  sh[0] = b;
  memcpy(sh + 1, in->shape, (size_t)nd * sizeof(int32_t));
  mx_array *r = mx_broadcast_to(mx_expand_dims(in, 0, s), sh, nd + 1, s);
  free(sh);
  return r;
}

static int qq_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                   int *out_axes) {
  const mx_p_qqmatmul *p = mx_op_params(op);
  mx_stream s = op->stream;
  qq_parts q = qq_split(in, op->n_in);
  int nw = q.packed ? 3 : 2; /* x, w [, scales] */
  for (int i = nw; i < op->n_in; i++)
    if (axes[i] >= 0)
      return mx_fail_int(MX_EINVAL, "[qqmm] vmap over a global scale is not supported.");
  bool w_mapped = axes[1] >= 0 || (q.packed && axes[2] >= 0);
  out_axes[0] = 0;
  if (!w_mapped && q.w->ndim == 2) {
    outputs[0] = qq_make(p, mx_rule_to_front(q.x, axes[0], s), q.w, q.scales, q.gx, q.gw, s);
    return outputs[0] ? 0 : -1;
  }
  int b = -1;
  for (int i = 0; i < nw; i++)
    if (axes[i] >= 0) b = in[i]->shape[axes[i]];
  mx_array *v[3] = {NULL, NULL, NULL};
  for (int i = 0; i < nw; i++)
    if (!(v[i] = qq_front(in[i], axes[i], b, s))) return -1;
  if (q.w->ndim > 2) { /* already the batched form: the new axis joins the batch dims */
    outputs[0] = qq_make(p, v[0], v[1], v[2], q.gx, q.gw, s);
    return outputs[0] ? 0 : -1;
  }
  /* a matrix w per batch entry: x's rows of each entry flattened, then unflattened */
  int ux = q.x->ndim;
  int K = q.x->shape[ux - 1], N = q.w->shape[0];
  int64_t rows = 1;
  for (int i = 0; i < ux - 1; i++) rows *= q.x->shape[i];
  int32_t xs[3] = {(int32_t)b, (int32_t)rows, (int32_t)K};
  mx_array *r = qq_make(p, mx_reshape(v[0], xs, 3, s), v[1], v[2], q.gx, q.gw, s);
  int32_t *os = r ? malloc((size_t)(ux + 1) * sizeof(int32_t)) : NULL;
  if (!os) return r ? mx_fail_int(MX_ENOMEM, "[vmap] out of memory.") : -1;
  os[0] = b;
  memcpy(os + 1, q.x->shape, (size_t)(ux - 1) * sizeof(int32_t));
  os[ux] = N;
  outputs[0] = mx_reshape(r, os, ux + 1, s);
  free(os);
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_qqmm(void) {
  mx_prims[MX_PRIM_QQMATMUL].vjp = qq_vjp;
  mx_prims[MX_PRIM_QQMATMUL].jvp = qq_jvp;
  mx_prims[MX_PRIM_QQMATMUL].vmap = qq_vmap;
}
