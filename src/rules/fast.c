/* fast.c: vjp/jvp/vmap rules of the mx.fast primitives, written with ops so they
 * differentiate again. Norms: the closed-form derivatives of MLX's RMSNormVJP/LayerNormVJP
 * (computed in float32 for half types). RoPE: linear in its input, the vjp is the inverse
 * rotation. Attention: derivatives through the composed softmax(scale q k^T + mask) v,
 * recomputing the weights. vmap folds the batch into a non-normalized axis, the batch of the
 * offsets, or the heads of attention; batched RoPE frequencies rotate entry by entry. */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

static const int LAST = -1;

/* x in float32 when it is a half type (the derivatives' compute type), else x. */
static mx_array *fast_up(mx_array *x, mx_stream s) {
  if (x && (x->dtype == MX_FLOAT16 || x->dtype == MX_BFLOAT16)) return mx_astype(x, MX_FLOAT32, s);
  return x;
}

static mx_array *fast_mean_last(mx_array *x, mx_stream s) { return mx_mean(x, &LAST, 1, true, s); }

/* Sum of g over every axis but the last (the shape of a 1-d weight). */
static mx_array *fast_sum_rows(mx_array *g, mx_stream s) {
  if (!g) return NULL;
  if (g->ndim <= 1) return g;
  int axes[64], n = g->ndim - 1 < 64 ? g->ndim - 1 : 64;
  for (int i = 0; i < n; i++) axes[i] = i;
  if (g->ndim - 1 > 64) g = mx_flatten(g, 0, g->ndim - 2, s), axes[0] = 0, n = 1;
  return mx_sum(g, axes, n, false, s);
}

static mx_array *fast_cast_like(mx_array *x, mx_array *like, mx_stream s) {
  return x ? mx_astype(x, like->dtype, s) : NULL;
}

/* ---- RMSNorm / LayerNorm ---- */

typedef struct norm_parts {
  mx_array *x, *xc, *n, *n3; /* float32 for half types; xc = x - mean (x for RMSNorm) */
} norm_parts;

static void norm_parts_make(norm_parts *p, mx_array *x, double eps, bool layer, mx_stream s) {
  p->x = fast_up(x, s);
  p->xc = layer ? mx_subtract(p->x, fast_mean_last(p->x, s), s) : p->x;
  mx_array *var = fast_mean_last(mx_square(p->xc, s), s);
  p->n = mx_rsqrt(mx_add(var, mx_scalar_like(eps, p->x), s), s);
  p->n3 = mx_multiply(mx_square(p->n, s), p->n, s);
}

static int norm_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                    const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  (void)outputs;
  mx_stream s = op->stream;
  bool layer = op->prim == MX_PRIM_LAYER_NORM;
  double eps = *(const double *)mx_op_params(op);
  for (int j = 0; j < n; j++) grads[j] = NULL;
  if (!cot[0]) return 0;
  norm_parts p;
  norm_parts_make(&p, primals[0], eps, layer, s);
  mx_array *g = fast_up(cot[0], s), *w = fast_up(primals[1], s);
  for (int j = 0; j < n; j++) {
    int a = argnums[j];
    mx_array *r;
    if (a == 0) {
      mx_array *wg = mx_multiply(g, w, s);
      mx_array *t = mx_multiply(mx_multiply(p.xc, fast_mean_last(mx_multiply(wg, p.xc, s), s), s),
                                p.n3, s);
      if (layer) wg = mx_subtract(wg, fast_mean_last(wg, s), s);
      r = mx_subtract(mx_multiply(wg, p.n, s), t, s);
    } else if (primals[a]->ndim == 0) {
      r = mx_zeros_like(primals[a], s);
    } else if (a == 1) {
      r = fast_sum_rows(mx_multiply(g, mx_multiply(p.xc, p.n, s), s), s);
    } else {
      r = fast_sum_rows(g, s);
    }
    grads[j] = fast_cast_like(r, primals[a], s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int norm_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                    mx_array *const *outputs, mx_array **out) {
  (void)outputs;
  mx_stream s = op->stream;
  bool layer = op->prim == MX_PRIM_LAYER_NORM;
  double eps = *(const double *)mx_op_params(op);
  norm_parts p;
  norm_parts_make(&p, primals[0], eps, layer, s);
  mx_array *acc = NULL;
  if (tangents[0]) {
    mx_array *t = fast_up(tangents[0], s);
    mx_array *tc = layer ? mx_subtract(t, fast_mean_last(t, s), s) : t;
    mx_array *dn = mx_multiply(p.n3, fast_mean_last(mx_multiply(p.xc, tc, s), s), s);
    mx_array *d = mx_subtract(mx_multiply(tc, p.n, s), mx_multiply(p.xc, dn, s), s);
    acc = mx_multiply(d, fast_up(primals[1], s), s);
  }
  if (tangents[1]) {
    mx_array *d = mx_multiply(mx_multiply(p.xc, p.n, s), fast_up(tangents[1], s), s);
    acc = acc ? mx_add(acc, d, s) : d;
  }
  if (layer && tangents[2]) {
    mx_array *d = fast_up(tangents[2], s);
    acc = acc ? mx_add(acc, d, s) : mx_broadcast_to(d, primals[0]->shape, primals[0]->ndim, s);
  }
  out[0] = acc ? fast_cast_like(acc, primals[0], s) : NULL;
  return acc && !out[0] ? -1 : 0;
}

/* A batched weight/bias (V, D) or (V,) reshaped to broadcast against y (V, ..., D). */
static mx_array *norm_vmap_param(mx_array *w, int ax, int ndim, mx_stream s) {
  if (ax < 0) return w;
  w = mx_rule_to_front(w, ax, s);
  if (!w) return NULL;
  int32_t shape[64];
  if (ndim > 64) return mx_fail(MX_EINVAL, "[vmap] too many dimensions.");
  for (int i = 0; i < ndim; i++) shape[i] = 1;
  shape[0] = w->shape[0];
  if (w->ndim == 2) shape[ndim - 1] = w->shape[1];
  return mx_reshape(w, shape, ndim, s);
}

static int norm_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  mx_stream s = op->stream;
  bool layer = op->prim == MX_PRIM_LAYER_NORM;
  double eps = *(const double *)mx_op_params(op);
  mx_array *x = in[0];
  int ax = axes[0];
  bool params_batched = axes[1] >= 0 || (layer && axes[2] >= 0);
  if (ax >= 0 && (params_batched || ax == x->ndim - 1)) {
    x = mx_rule_to_front(x, ax, s);
    ax = 0;
  }
  if (!params_batched) {
    outputs[0] = mx_op_make1(op->prim, mx_op_params(op), s, op->n_in,
                             (mx_array *const[]){x, in[1], layer ? in[2] : NULL}, x->dtype,
                             x->ndim, x->shape);
    out_axes[0] = ax;
    return outputs[0] ? 0 : -1;
  }
  /* a batched weight or bias: normalize, then scale and shift in the output dtype */
  int nd = (ax < 0 ? x->ndim + 1 : x->ndim);
  mx_array *y = layer ? mx_fast_layer_norm(x, NULL, NULL, eps, s) : mx_fast_rms_norm(x, NULL, eps, s);
  if (ax < 0 && y) y = mx_expand_dims(y, 0, s);
  y = mx_multiply(y, norm_vmap_param(in[1], axes[1], nd, s), s);
  if (layer) y = mx_add(y, norm_vmap_param(in[2], axes[2], nd, s), s);
  outputs[0] = y;
  out_axes[0] = 0;
  return y ? 0 : -1;
}

/* ---- RoPE ---- */

static int rope_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                    const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  (void)outputs;
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (argnums[j] != 0)
      return mx_fail_int(MX_EINVAL, "[RoPE::vjp] vjp for offset or frequencies not supported");
  }
  if (!cot[0]) return 0;
  mx_p_rope p = *(const mx_p_rope *)mx_op_params(op);
  p.forward = !p.forward;
  grads[0] = mx_fast_rope_apply(cot[0], primals[1], op->n_in > 2 ? primals[2] : NULL, &p,
                                op->stream);
  return grads[0] ? 0 : -1;
}

static int rope_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                    mx_array *const *outputs, mx_array **out) {
  (void)outputs;
  if (op->n_in > 2 && tangents[2])
    return mx_fail_int(MX_EINVAL, "[RoPE::jvp] jvp for frequencies not supported");
  out[0] = NULL;
  if (!tangents[0]) return 0;
  out[0] = mx_fast_rope_apply(tangents[0], primals[1], op->n_in > 2 ? primals[2] : NULL,
                              mx_op_params(op), op->stream);
  return out[0] ? 0 : -1;
}

/* Entry i of x along axis 0. */
static mx_array *fast_index0(mx_array *x, int32_t i, mx_stream s) {
  int32_t start[64] = {0}, stop[64], step[64];
  if (x->ndim > 64) return mx_fail(MX_EINVAL, "[vmap] too many dimensions.");
  for (int d = 0; d < x->ndim; d++) stop[d] = x->shape[d], step[d] = 1;
  start[0] = i;
  stop[0] = i + 1;
  return mx_squeeze(mx_slice(x, start, stop, step, s), (const int[]){0}, 1, s);
}

/* Batched frequencies: one rotation per batch entry (each entry has its own angles). */
static int rope_vmap_freqs(const mx_op *op, mx_array *const *in, const int *axes,
                           mx_array **outputs, int *out_axes) {
  mx_stream s = op->stream;
  mx_array *fr = mx_rule_to_front(in[2], axes[2], s);
  mx_array *x = axes[0] >= 0 ? mx_rule_to_front(in[0], axes[0], s) : in[0];
  mx_array *off = axes[1] >= 0 ? mx_rule_to_front(in[1], axes[1], s) : in[1];
  if (!fr || !x || !off) return -1;
  int32_t v = fr->shape[0];
  mx_array **parts = malloc((size_t)(v > 0 ? v : 1) * sizeof(mx_array *));
  if (!parts) return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  int rc = 0;
  for (int32_t i = 0; i < v && rc == 0; i++) {
    mx_array *xi = axes[0] >= 0 ? fast_index0(x, i, s) : x;
    mx_array *oi = axes[1] >= 0 ? fast_index0(off, i, s) : off;
    mx_array *fi = fast_index0(fr, i, s);
    parts[i] = xi && oi && fi ? mx_fast_rope_apply(xi, oi, fi, mx_op_params(op), s) : NULL;
    rc = parts[i] ? 0 : -1;
  }
  outputs[0] = rc == 0 ? mx_stack(parts, v, 0, s) : NULL;
  free(parts);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

static int rope_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  mx_stream s = op->stream;
  const mx_p_rope *p = mx_op_params(op);
  mx_array *freqs = op->n_in > 2 ? in[2] : NULL;
  if (op->n_in > 2 && axes[2] >= 0) return rope_vmap_freqs(op, in, axes, outputs, out_axes);
  mx_array *x = in[0], *off = in[1];
  if (axes[1] < 0) { /* the batch becomes a head axis (axis 1) */
    x = mx_moveaxis(x, axes[0], 1, s);
    outputs[0] = x ? mx_fast_rope_apply(x, off, freqs, p, s) : NULL;
    out_axes[0] = 1;
    return outputs[0] ? 0 : -1;
  }
  /* batched offsets: fold the batch V into the rope batch B, offsets as (V * B,) */
  off = mx_rule_to_front(off, axes[1], s);
  int32_t v = off->shape[0];
  int unb = x->ndim - (axes[0] >= 0 ? 1 : 0);
  int32_t shape[64];
  if (unb + 1 > 64) return mx_fail_int(MX_EINVAL, "[vmap] too many dimensions.");
  if (axes[0] >= 0) {
    x = mx_rule_to_front(x, axes[0], s);
  } else {
    x = mx_expand_dims(x, 0, s);
    memcpy(shape, x->shape, (size_t)(unb + 1) * sizeof(int32_t));
    shape[0] = v;
    x = mx_broadcast_to(x, shape, unb + 1, s);
  }
  if (!x) return -1;
  int32_t b = x->shape[1];
  int32_t ob[2] = {v, b};
  off = mx_broadcast_to(off->ndim == 1 ? mx_expand_dims(off, 1, s) : off, ob, 2, s);
  int32_t flat = v * b;
  off = mx_reshape(off, &flat, 1, s);
  memcpy(shape, x->shape + 1, (size_t)unb * sizeof(int32_t));
  shape[0] = flat;
  mx_array *xf = mx_reshape(x, shape, unb, s);
  mx_array *r = xf && off ? mx_fast_rope_apply(xf, off, freqs, p, s) : NULL;
  outputs[0] = r ? mx_reshape(r, x->shape, unb + 1, s) : NULL;
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

/* ---- ScaledDotProductAttention ---- */

/* The composed forward on float32-or-wider copies: k, v repeated to the query heads, the
 * logits S (B, Nq, Tq, Tk) with the mask applied, and the weights P over [sink, keys]
 * (P_sink NULL without sinks). */
typedef struct sdpa_parts {
  mx_array *q, *k, *v, *p, *p_sink;
  int rep;
} sdpa_parts;

static mx_array *sdpa_rep(mx_array *x, int rep, mx_stream s) {
  if (rep == 1) return x;
  int ax = 1;
  return mx_repeat(x, rep, &ax, s);
}

/* Sums the rep query heads of each kv head: (B, Nq, T, E) -> (B, Nkv, T, E). */
static mx_array *sdpa_unrep(mx_array *x, int rep, mx_stream s) {
  if (rep == 1 || !x) return x;
  int32_t shape[5] = {x->shape[0], x->shape[1] / rep, rep, x->shape[2], x->shape[3]};
  int ax = 2;
  return mx_sum(mx_reshape(x, shape, 5, s), &ax, 1, false, s);
}

static mx_array *sdpa_logits(const mx_op *op, mx_array *const *primals, sdpa_parts *sp,
                             mx_array **mask_out) {
  mx_stream s = op->stream;
  const mx_p_sdpa *p = mx_op_params(op);
  sp->rep = primals[0]->shape[1] / primals[1]->shape[1];
  sp->q = fast_up(primals[0], s);
  sp->k = sdpa_rep(fast_up(primals[1], s), sp->rep, s);
  sp->v = sdpa_rep(fast_up(primals[2], s), sp->rep, s);
  mx_array *sc = mx_matmul(mx_multiply(sp->q, mx_scalar_like(p->scale, sp->q), s),
                           mx_swapaxes(sp->k, -1, -2, s), s);
  if (!sc) return NULL;
  mx_finfo fi;
  if (mx_finfo_get(primals[0]->dtype, &fi) < 0) return NULL;
  mx_array *hidden = mx_scalar_like(fi.min, sc); /* a hidden key's score, as MLX's reference */
  *mask_out = NULL;
  if (p->causal) {
    int32_t tq = sc->shape[2], tk = sc->shape[3];
    mx_array *qi = mx_arange((double)(tk - tq), (double)tk, 1, MX_INT32, s);
    mx_array *kj = mx_arange(0, (double)tk, 1, MX_INT32, s);
    mx_array *vis = mx_greater_equal(mx_expand_dims(qi, 1, s), mx_expand_dims(kj, 0, s), s);
    sc = mx_where(vis, sc, hidden, s);
  }
  if (p->has_mask) {
    mx_array *m = primals[3];
    if (m->dtype == MX_BOOL) {
      sc = mx_where(m, sc, hidden, s);
    } else {
      sc = mx_add(sc, fast_up(m, s), s);
      *mask_out = m;
    }
  }
  return sc;
}

/* Softmax over [sink, keys]: sets sp->p (keys) and sp->p_sink (or NULL). */
static int sdpa_weights(const mx_op *op, mx_array *const *primals, mx_array *sc, sdpa_parts *sp) {
  mx_stream s = op->stream;
  const mx_p_sdpa *p = mx_op_params(op);
  sp->p_sink = NULL;
  if (!sc) return -1;
  if (!p->has_sinks) {
    sp->p = mx_softmax(sc, &LAST, 1, true, s);
    return sp->p ? 0 : -1;
  }
  mx_array *sk = fast_up(primals[op->n_in - 1], s);
  int32_t shape[4] = {1, sk->shape[0], 1, 1};
  int32_t bshape[4] = {sc->shape[0], sc->shape[1], sc->shape[2], 1};
  sk = mx_broadcast_to(mx_reshape(sk, shape, 4, s), bshape, 4, s);
  mx_array *cat[2] = {sk, sc};
  mx_array *pf = mx_softmax(mx_concatenate(cat, 2, &LAST, s), &LAST, 1, true, s);
  if (!pf) return -1;
  int32_t st[4] = {0, 0, 0, 1}, sp_end[4] = {pf->shape[0], pf->shape[1], pf->shape[2], pf->shape[3]};
  int32_t one[4] = {1, 1, 1, 1}, z[4] = {0, 0, 0, 0}, e1[4] = {sp_end[0], sp_end[1], sp_end[2], 1};
  sp->p = mx_slice(pf, st, sp_end, one, s);
  sp->p_sink = mx_slice(pf, z, e1, one, s);
  return sp->p && sp->p_sink ? 0 : -1;
}

static int sdpa_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                    const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  (void)outputs;
  mx_stream s = op->stream;
  const mx_p_sdpa *p = mx_op_params(op);
  for (int j = 0; j < n; j++) grads[j] = NULL;
  if (!cot[0]) return 0;
  sdpa_parts sp;
  mx_array *amask;
  if (sdpa_weights(op, primals, sdpa_logits(op, primals, &sp, &amask), &sp) < 0) return -1;
  mx_array *g = fast_up(cot[0], s);
  mx_array *dp = mx_matmul(g, mx_swapaxes(sp.v, -1, -2, s), s);
  mx_array *rowdot = mx_sum(mx_multiply(dp, sp.p, s), &LAST, 1, true, s);
  mx_array *ds = mx_multiply(sp.p, mx_subtract(dp, rowdot, s), s);
  mx_array *scale = mx_scalar_like(p->scale, sp.q);
  for (int j = 0; j < n; j++) {
    int a = argnums[j];
    mx_array *r;
    if (a == 0) {
      r = mx_multiply(mx_matmul(ds, sp.k, s), scale, s);
    } else if (a == 1) {
      r = sdpa_unrep(mx_multiply(mx_matmul(mx_swapaxes(ds, -1, -2, s), sp.q, s), scale, s),
                     sp.rep, s);
    } else if (a == 2) {
      r = sdpa_unrep(mx_matmul(mx_swapaxes(sp.p, -1, -2, s), g, s), sp.rep, s);
    } else if (p->has_mask && a == 3) {
      r = primals[3]->dtype == MX_BOOL ? mx_zeros_like(primals[3], s) : ds;
    } else { /* sinks: d(sink logit) = -P_sink * rowdot, summed over batch and queries */
      int axes[3] = {0, 2, 3};
      r = mx_sum(mx_negative(mx_multiply(sp.p_sink, rowdot, s), s), axes, 3, false, s);
    }
    grads[j] = fast_cast_like(r, primals[a], s);
    if (!grads[j]) return -1;
  }
  (void)amask;
  return 0;
}

static int sdpa_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                    mx_array *const *outputs, mx_array **out) {
  (void)outputs;
  mx_stream s = op->stream;
  const mx_p_sdpa *p = mx_op_params(op);
  out[0] = NULL;
  sdpa_parts sp;
  mx_array *amask;
  if (sdpa_weights(op, primals, sdpa_logits(op, primals, &sp, &amask), &sp) < 0) return -1;
  mx_array *scale = mx_scalar_like(p->scale, sp.q);
  mx_array *dsc = NULL; /* tangent of the key logits */
  if (tangents[0])
    dsc = mx_multiply(mx_matmul(fast_up(tangents[0], s), mx_swapaxes(sp.k, -1, -2, s), s), scale, s);
  if (tangents[1]) {
    mx_array *tk = sdpa_rep(fast_up(tangents[1], s), sp.rep, s);
    mx_array *d = mx_multiply(mx_matmul(sp.q, mx_swapaxes(tk, -1, -2, s), s), scale, s);
    dsc = dsc ? mx_add(dsc, d, s) : d;
  }
  if (p->has_mask && tangents[3] && amask) {
    mx_array *d = fast_up(tangents[3], s);
    dsc = dsc ? mx_add(dsc, d, s) : d;
  }
  mx_array *dsink = p->has_sinks ? tangents[op->n_in - 1] : NULL;
  mx_array *acc = NULL;
  if (dsc || dsink) {
    /* dP = P * (dS - sum(P * dS)) over [sink, keys] */
    mx_array *mean = NULL;
    if (dsc) mean = mx_sum(mx_multiply(sp.p, dsc, s), &LAST, 1, true, s);
    mx_array *dsk = NULL;
    if (dsink) {
      int32_t shape[4] = {1, dsink->shape[0], 1, 1};
      dsk = mx_reshape(fast_up(dsink, s), shape, 4, s);
      mx_array *ms = mx_multiply(sp.p_sink, dsk, s);
      mean = mean ? mx_add(mean, ms, s) : ms;
    }
    mx_array *dp = dsc ? mx_multiply(sp.p, mx_subtract(dsc, mean, s), s)
                       : mx_negative(mx_multiply(sp.p, mean, s), s);
    acc = mx_matmul(dp, sp.v, s);
  }
  if (tangents[2]) {
    mx_array *d = mx_matmul(sp.p, sdpa_rep(fast_up(tangents[2], s), sp.rep, s), s);
    acc = acc ? mx_add(acc, d, s) : d;
  }
  if (!acc) return 0;
  out[0] = fast_cast_like(acc, primals[0], s);
  return out[0] ? 0 : -1;
}

/* x with its batch (axis ax, or none: broadcast to v) folded into axis 1:
 * (B, H, ...) -> (B, v * H, ...), batch-major. */
static mx_array *sdpa_fold(mx_array *x, int ax, int32_t v, mx_stream s) {
  if (ax >= 0) {
    x = mx_rule_to_front(x, ax, s);
  } else {
    x = mx_expand_dims(x, 0, s);
    if (!x) return NULL;
    int32_t shape[5];
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof(int32_t));
    shape[0] = v;
    x = mx_broadcast_to(x, shape, x->ndim, s);
  }
  if (!x) return NULL;
  if (x->ndim == 2) { /* sinks (v, Nq) */
    int32_t flat = x->shape[0] * x->shape[1];
    return mx_reshape(x, &flat, 1, s);
  }
  x = mx_swapaxes(x, 0, 1, s);
  if (!x) return NULL;
  int32_t shape[4] = {x->shape[0], x->shape[1] * x->shape[2], x->shape[3], x->shape[4]};
  return mx_reshape(x, shape, 4, s);
}

static int sdpa_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  mx_stream s = op->stream;
  const mx_p_sdpa *p = mx_op_params(op);
  int32_t v = -1;
  for (int i = 0; i < op->n_in && v < 0; i++)
    if (axes[i] >= 0) v = in[i]->shape[axes[i]];
  mx_array *f[5] = {NULL};
  for (int i = 0; i < op->n_in; i++) {
    f[i] = sdpa_fold(in[i], axes[i], v, s);
    if (!f[i]) return -1;
  }
  int k = 3;
  mx_array *mask = p->has_mask ? f[k++] : NULL;
  mx_array *sinks = p->has_sinks ? f[k] : NULL;
  mx_array *r = mx_fast_sdpa_apply(f[0], f[1], f[2], mask, sinks, p, s);
  if (!r) return -1;
  int32_t shape[5] = {r->shape[0], v, r->shape[1] / (v ? v : 1), r->shape[2], r->shape[3]};
  outputs[0] = mx_reshape(r, shape, 5, s);
  out_axes[0] = 1;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_fast(void) {
  mx_prims[MX_PRIM_RMS_NORM].vjp = norm_vjp;
  mx_prims[MX_PRIM_RMS_NORM].jvp = norm_jvp;
  mx_prims[MX_PRIM_RMS_NORM].vmap = norm_vmap;
  mx_prims[MX_PRIM_LAYER_NORM].vjp = norm_vjp;
  mx_prims[MX_PRIM_LAYER_NORM].jvp = norm_jvp;
  mx_prims[MX_PRIM_LAYER_NORM].vmap = norm_vmap;
  mx_prims[MX_PRIM_ROPE].vjp = rope_vjp;
  mx_prims[MX_PRIM_ROPE].jvp = rope_jvp;
  mx_prims[MX_PRIM_ROPE].vmap = rope_vmap;
  mx_prims[MX_PRIM_SDPA].vjp = sdpa_vjp;
  mx_prims[MX_PRIM_SDPA].jvp = sdpa_jvp;
  mx_prims[MX_PRIM_SDPA].vmap = sdpa_vmap;
}
