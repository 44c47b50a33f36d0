/* conv.c: vjp/jvp/vmap rules of the Convolution primitive, written with ops so they
 * differentiate again. Per spatial dim, with L the input size, K the kernel's, O the output's,
 * s the stride, d/e the kernel/input dilations and lo the low padding:
 *  - input cotangent: a convolution of the cotangent (input dilation s, stride e) with the
 *    regrouped weights, flipped relative to the forward, low padding (K-1)d - lo;
 *  - weight cotangent: cotangent^T @ the im2col matrix built from K strided slices of the
 *    padded input (no input dilation, few taps), or else a convolution of the transposed
 *    input with the transposed cotangent (stride d, kernel dilation s);
 *  - jvp: the primitive is linear in each input; vmap folds the batch into N (input) or into
 *    the groups (weights). */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

#define CONV_STACK_MAX 64 /* most taps stacked for the im2col form of the weight cotangent */

/* Parameters of a derived convolution: five lists of nsp entries in one block. */
typedef struct conv_derived {
  int32_t *mem;
  mx_p_convolution p;
} conv_derived;

static int conv_derived_init(conv_derived *c, int nsp, int groups, bool flip) {
  c->mem = malloc((size_t)(5 * (nsp > 0 ? nsp : 1)) * sizeof(int32_t));
  if (!c->mem) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  int32_t *m = c->mem;
  c->p = (mx_p_convolution){{nsp, m},           {nsp, m + nsp},     {nsp, m + 2 * nsp},
                            {nsp, m + 3 * nsp}, {nsp, m + 4 * nsp}, groups, flip};
  return 0;
}

/* Stores a derived list value, failing on int32 overflow. */
static int conv_set(const mx_ints *list, int d, int64_t v) {
  if (v < INT32_MIN || v > INT32_MAX)
    return mx_fail_int(MX_EINVAL, "[conv] A derived padding exceeds the int32 range.");
  ((int32_t *)list->v)[d] = (int32_t)v;
  return 0;
}

/* x permuted by perm (n axes; a small helper over mx_transpose). */
static mx_array *conv_permute(mx_array *x, const int *perm, int n, mx_stream s) {
  return mx_transpose(x, perm, n, s);
}

/* Flips the spatial axes 1..nsp of x. */
static mx_array *conv_flip_spatial(mx_array *x, int nsp, mx_stream s) {
  int *axes = malloc((size_t)(nsp > 0 ? nsp : 1) * sizeof(int));
  if (!axes) return mx_fail(MX_ENOMEM, "[conv] out of memory.");
  for (int d = 0; d < nsp; d++) axes[d] = 1 + d;
  mx_array *r = mx_flip(x, axes, nsp, s);
  free(axes);
  return r;
}

/* Shape buffer of n dims (NULL + ENOMEM). */
static int32_t *conv_dims(int n) {
  int32_t *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
  if (!v) mx_fail(MX_ENOMEM, "[conv] out of memory.");
  return v;
}

static int *conv_ints(int n) {
  int *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
  if (!v) mx_fail(MX_ENOMEM, "[conv] out of memory.");
  return v;
}

/* ---- input cotangent ---- */
static mx_array *conv_grad_input(const mx_p_convolution *p, mx_array *in, mx_array *wt,
                                 mx_array *cot, mx_stream s) {
  int nd = in->ndim, nsp = nd - 2, g = p->groups;
  conv_derived c;
  if (conv_derived_init(&c, nsp, g, !p->flip) < 0) return NULL;
  int32_t *shape = conv_dims(nd + 1);
  int *perm = conv_ints(nd + 1);
  mx_array *r = NULL;
  if (!shape || !perm) goto out;
  for (int d = 0; d < nsp; d++) {
    int64_t len = in->shape[1 + d], k = wt->shape[1 + d], o = cot->shape[1 + d];
    int64_t st = p->strides.v[d], lo = p->padding_lo.v[d], kd = p->kernel_dilation.v[d];
    int64_t id = p->input_dilation.v[d];
    if (conv_set(&c.p.strides, d, id) < 0 || conv_set(&c.p.padding_lo, d, (k - 1) * kd - lo) < 0 ||
        conv_set(&c.p.padding_hi, d, (len - 1) * id - (o - 1) * st + lo) < 0 ||
        conv_set(&c.p.kernel_dilation, d, kd) < 0 || conv_set(&c.p.input_dilation, d, st) < 0)
      goto out;
  }
  /* weights (C_out, *K, C_in/g) -> (C_in, *K, C_out/g): group by group, in and out swapped */
  mx_array *w;
  if (g == 1) {
    w = mx_swapaxes(wt, 0, -1, s);
  } else {
    shape[0] = g;
    shape[1] = wt->shape[0] / g;
    memcpy(shape + 2, wt->shape + 1, (size_t)(nd - 1) * sizeof(int32_t));
    perm[0] = 0;
    perm[1] = nd;
    for (int i = 2; i < nd; i++) perm[i] = i;
    perm[nd] = 1;
    w = conv_permute(mx_reshape(wt, shape, nd + 1, s), perm, nd + 1, s);
    if (w) {
      memcpy(shape, w->shape + 1, (size_t)nd * sizeof(int32_t));
      shape[0] = in->shape[nd - 1];
      w = mx_reshape(w, shape, nd, s);
    }
  }
  r = mx_conv_apply(cot, w, &c.p, s);
out:
  free(c.mem);
  free(shape);
  free(perm);
  return r;
}

/* ---- weight cotangent: a convolution of the transposed operands ---- */
static mx_array *conv_grad_weight_conv(const mx_p_convolution *p, mx_array *in, mx_array *wt,
                                       mx_array *cot, mx_stream s) {
  int nd = in->ndim, nsp = nd - 2, g = p->groups;
  conv_derived c;
  if (conv_derived_init(&c, nsp, g, false) < 0) return NULL;
  int32_t *shape = conv_dims(nd + 1);
  int *perm = conv_ints(nd + 1);
  mx_array *r = NULL;
  if (!shape || !perm) goto out;
  for (int d = 0; d < nsp; d++) {
    int64_t len = in->shape[1 + d], k = wt->shape[1 + d], o = cot->shape[1 + d];
    int64_t st = p->strides.v[d], lo = p->padding_lo.v[d], kd = p->kernel_dilation.v[d];
    int64_t id = p->input_dilation.v[d];
    int64_t in_d = 1 + id * (len - 1);
    if (conv_set(&c.p.strides, d, kd) < 0 || conv_set(&c.p.padding_lo, d, lo) < 0 ||
        conv_set(&c.p.padding_hi, d, (k - 1) * kd + (o - 1) * st + 1 - in_d - lo) < 0 ||
        conv_set(&c.p.kernel_dilation, d, st) < 0 || conv_set(&c.p.input_dilation, d, id) < 0)
      goto out;
  }
  /* input (N, *S, C_in) -> (C_in/g, *S, g * N): batch and channels trade places per group */
  int cin = in->shape[nd - 1];
  shape[0] = in->shape[0];
  memcpy(shape + 1, in->shape + 1, (size_t)nsp * sizeof(int32_t));
  shape[nd - 1] = g;
  shape[nd] = cin / g;
  perm[0] = nd;
  for (int d = 0; d < nsp; d++) perm[1 + d] = 1 + d;
  perm[nd - 1] = nd - 1;
  perm[nd] = 0;
  mx_array *x = conv_permute(mx_reshape(in, shape, nd + 1, s), perm, nd + 1, s);
  if (x) {
    memcpy(shape, x->shape, (size_t)(nd - 1) * sizeof(int32_t));
    shape[nd - 1] = g * in->shape[0];
    x = mx_reshape(x, shape, nd, s);
  }
  mx_array *w = mx_swapaxes(cot, 0, -1, s); /* (C_out, *O, N) */
  r = mx_swapaxes(mx_conv_apply(x, w, &c.p, s), 0, -1, s);
  if (r && p->flip) r = conv_flip_spatial(r, nsp, s);
out:
  free(c.mem);
  free(shape);
  free(perm);
  return r;
}

/* ---- weight cotangent: cotangent^T @ im2col, the im2col from strided slices ---- */
static mx_array *conv_grad_weight_slices(const mx_p_convolution *p, mx_array *in, mx_array *wt,
                                         mx_array *cot, int64_t kprod, mx_stream s) {
  int nd = in->ndim, nsp = nd - 2, g = p->groups;
  int32_t *buf = conv_dims(6 * nd);
  int *axes = conv_ints(nd);
  mx_array **taps = malloc((size_t)kprod * sizeof(mx_array *));
  mx_array *r = NULL;
  if (!buf || !axes || !taps) {
    mx_fail(MX_ENOMEM, "[conv] out of memory.");
    goto out;
  }
  int32_t *plo = buf, *phi = buf + nd, *start = phi + nd, *stop = start + nd, *step = stop + nd;
  int32_t *kidx = step + nd;
  bool padded = false;
  for (int d = 0; d < nsp; d++) {
    int64_t len = in->shape[1 + d], k = wt->shape[1 + d], o = cot->shape[1 + d];
    int64_t st = p->strides.v[d], lo = p->padding_lo.v[d], kd = p->kernel_dilation.v[d];
    int64_t last = (o - 1) * st + (k - 1) * kd - lo; /* last input position read */
    int64_t a = lo > 0 ? lo : 0, b = last - (len - 1) > 0 ? last - (len - 1) : 0;
    if (a > INT32_MAX || b > INT32_MAX) {
      mx_fail(MX_EINVAL, "[conv] A derived padding exceeds the int32 range.");
      goto out;
    }
    axes[d] = 1 + d;
    plo[d] = (int32_t)a;
    phi[d] = (int32_t)b;
    padded |= a > 0 || b > 0;
  }
  mx_array *x = in;
  if (padded) x = mx_pad(in, axes, nsp, plo, nsp, phi, nsp, mx_scalar_like(0.0, in), "constant", s);
  if (!x) goto out;
  for (int i = 0; i < nd; i++) start[i] = 0, stop[i] = x->shape[i], step[i] = 1, kidx[i] = 0;
  for (int64_t t = 0; t < kprod; t++) {
    for (int d = 0; d < nsp; d++) {
      int64_t st = p->strides.v[d], lo = p->padding_lo.v[d], kd = p->kernel_dilation.v[d];
      int64_t b = kidx[d] * kd + plo[d] - lo;
      start[1 + d] = (int32_t)b;
      stop[1 + d] = (int32_t)(b + (cot->shape[1 + d] - 1) * st + 1);
      step[1 + d] = (int32_t)st;
    }
    taps[t] = mx_slice(x, start, stop, step, s);
    for (int d = nsp - 1; d >= 0; d--) {
      if (++kidx[d] < wt->shape[1 + d]) break;
      kidx[d] = 0;
    }
  }
  /* (N, *O, taps, C_in) -> rows (N * O) of taps x C_in */
  mx_array *col = mx_stack(taps, (int)kprod, nsp + 1, s);
  int64_t m = in->shape[0];
  for (int d = 0; d < nsp; d++) m *= cot->shape[1 + d];
  if (m > INT32_MAX || kprod * in->shape[nd - 1] > INT32_MAX) {
    mx_fail(MX_EINVAL, "[conv] The im2col matrix of the weight gradient is too large.");
    goto out;
  }
  int cin = in->shape[nd - 1], cout = wt->shape[0];
  mx_array *grad;
  if (g == 1) {
    int32_t cs[2] = {(int32_t)m, (int32_t)(kprod * cin)}, ts[2] = {(int32_t)m, cout};
    grad = mx_matmul(mx_swapaxes(mx_reshape(cot, ts, 2, s), 0, 1, s), mx_reshape(col, cs, 2, s), s);
  } else {
    int32_t cs[4] = {(int32_t)m, (int32_t)kprod, g, cin / g};
    int32_t cs3[3] = {g, (int32_t)m, (int32_t)(kprod * (cin / g))};
    int32_t ts[3] = {(int32_t)m, g, cout / g};
    int pc[4] = {2, 0, 1, 3}, pt[3] = {1, 2, 0};
    mx_array *a = mx_reshape(conv_permute(mx_reshape(col, cs, 4, s), pc, 4, s), cs3, 3, s);
    grad = mx_matmul(conv_permute(mx_reshape(cot, ts, 3, s), pt, 3, s), a, s);
  }
  r = mx_reshape(grad, wt->shape, nd, s);
  if (r && p->flip) r = conv_flip_spatial(r, nsp, s);
out:
  free(buf);
  free(axes);
  free(taps);
  return r;
}

static mx_array *conv_grad_weight(const mx_p_convolution *p, mx_array *in, mx_array *wt,
                                  mx_array *cot, mx_stream s) {
  int nsp = in->ndim - 2;
  int64_t kprod = 1;
  bool slices = true;
  for (int d = 0; d < nsp; d++) {
    kprod *= wt->shape[1 + d];
    slices &= p->input_dilation.v[d] == 1 && wt->shape[1 + d] > 0 && cot->shape[1 + d] > 0;
  }
  slices &= in->shape[0] > 0 && kprod <= CONV_STACK_MAX;
  return slices ? conv_grad_weight_slices(p, in, wt, cot, kprod, s)
                : conv_grad_weight_conv(p, in, wt, cot, s);
}

static int conv_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                    const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  (void)outputs;
  const mx_p_convolution *p = mx_op_params(op);
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!cot[0]) continue;
    grads[j] = argnums[j] == 0 ? conv_grad_input(p, primals[0], primals[1], cot[0], op->stream)
                               : conv_grad_weight(p, primals[0], primals[1], cot[0], op->stream);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int conv_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                    mx_array *const *outputs, mx_array **out) {
  (void)outputs;
  const mx_p_convolution *p = mx_op_params(op);
  mx_array *acc = NULL;
  if (tangents[0]) acc = mx_conv_apply(tangents[0], primals[1], p, op->stream);
  if (tangents[1]) {
    mx_array *d = mx_conv_apply(primals[0], tangents[1], p, op->stream);
    acc = acc ? mx_add(acc, d, op->stream) : d;
  }
  out[0] = acc;
  return acc || (!tangents[0] && !tangents[1]) ? 0 : -1;
}

/* An empty vmapped batch: zeros shaped as the unbatched result with a leading 0. */
static mx_array *conv_vmap_empty(const mx_p_convolution *p, mx_array *x, int ax, mx_array *w,
                                 int aw, mx_stream s) {
  mx_array *xu = x, *wu = w;
  int32_t *shape = conv_dims((x->ndim > w->ndim ? x->ndim : w->ndim) + 1);
  if (!shape) return NULL;
  mx_array *r = NULL;
  if (ax >= 0) {
    for (int i = 0, j = 0; i < x->ndim; i++)
      if (i != ax) shape[j++] = x->shape[i];
    xu = mx_zeros(shape, x->ndim - 1, x->dtype, s);
  }
  if (aw >= 0) {
    for (int i = 0, j = 0; i < w->ndim; i++)
      if (i != aw) shape[j++] = w->shape[i];
    wu = mx_zeros(shape, w->ndim - 1, w->dtype, s);
  }
  mx_array *o = mx_conv_apply(xu, wu, p, s); /* only its shape is used */
  if (o) {
    shape[0] = 0;
    memcpy(shape + 1, o->shape, (size_t)o->ndim * sizeof(int32_t));
    r = mx_zeros(shape, o->ndim + 1, o->dtype, s);
  }
  free(shape);
  return r;
}

static int conv_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  const mx_p_convolution *p = mx_op_params(op);
  mx_stream s = op->stream;
  int nsp = p->strides.n, nd = nsp + 2;
  mx_array *x = in[0], *w = in[1];
  if (axes[0] < 0 && axes[1] < 0) {
    outputs[0] = mx_conv_apply(x, w, p, s);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  int b = axes[0] >= 0 ? x->shape[axes[0]] : w->shape[axes[1]];
  if (b == 0) {
    outputs[0] = conv_vmap_empty(p, x, axes[0], w, axes[1], s);
    out_axes[0] = 0;
    return outputs[0] ? 0 : -1;
  }
  int32_t *shape = conv_dims(nd + 1);
  if (!shape) return -1;
  mx_array *r = NULL;
  if (axes[1] < 0) { /* input only: (B, N, ...) folds into the batch */
    x = mx_rule_to_front(x, axes[0], s);
    if (!x) goto out;
    shape[0] = b * x->shape[1];
    memcpy(shape + 1, x->shape + 2, (size_t)(nd - 1) * sizeof(int32_t));
    r = mx_conv_apply(mx_reshape(x, shape, nd, s), w, p, s);
    if (r) {
      shape[0] = b;
      memcpy(shape + 1, r->shape, (size_t)nd * sizeof(int32_t));
      shape[1] = x->shape[1];
      r = mx_reshape(r, shape, nd + 1, s);
    }
    out_axes[0] = 0;
    goto out;
  }
  /* weights (B, C_out, ...) -> (B * C_out, ...) with B times the groups; the input's channels
   * repeat (or its own batch is laid out) as B blocks */
  w = mx_rule_to_front(w, axes[1], s);
  if (axes[0] >= 0) {
    x = mx_moveaxis(mx_rule_to_front(x, axes[0], s), 0, nsp + 1, s);
  } else if (x) {
    int ax = nsp + 1;
    x = mx_expand_dims(x, ax, s);
    if (x) {
      memcpy(shape, x->shape, (size_t)(nd + 1) * sizeof(int32_t));
      shape[nsp + 1] = b;
      x = mx_broadcast_to(x, shape, nd + 1, s);
    }
  }
  if (!x || !w) goto out;
  memcpy(shape, x->shape, (size_t)nd * sizeof(int32_t));
  shape[nd - 1] = b * x->shape[nd];
  x = mx_reshape(x, shape, nd, s);
  shape[0] = b * w->shape[1];
  memcpy(shape + 1, w->shape + 2, (size_t)(nd - 1) * sizeof(int32_t));
  w = mx_reshape(w, shape, nd, s);
  conv_derived c;
  if (conv_derived_init(&c, nsp, p->groups * b, p->flip) < 0) goto out;
  memcpy(c.mem, p->strides.v, (size_t)nsp * sizeof(int32_t));
  memcpy(c.mem + nsp, p->padding_lo.v, (size_t)nsp * sizeof(int32_t));
  memcpy(c.mem + 2 * nsp, p->padding_hi.v, (size_t)nsp * sizeof(int32_t));
  memcpy(c.mem + 3 * nsp, p->kernel_dilation.v, (size_t)nsp * sizeof(int32_t));
  memcpy(c.mem + 4 * nsp, p->input_dilation.v, (size_t)nsp * sizeof(int32_t));
  r = mx_conv_apply(x, w, &c.p, s);
  free(c.mem);
  if (r) {
    memcpy(shape, r->shape, (size_t)(nd - 1) * sizeof(int32_t));
    shape[nd - 1] = b;
    shape[nd] = r->shape[nd - 1] / b;
    r = mx_reshape(r, shape, nd + 1, s);
  }
  out_axes[0] = nsp + 1;
out:
  free(shape);
  outputs[0] = r;
  return r ? 0 : -1;
}

void mx_rules_register_conv(void) {
  mx_prims[MX_PRIM_CONVOLUTION].vjp = conv_vjp;
  mx_prims[MX_PRIM_CONVOLUTION].jvp = conv_jvp;
  mx_prims[MX_PRIM_CONVOLUTION].vmap = conv_vmap;
}
