/* conv.c: vjp/jvp/vmap rules of the Convolution and ConvolutionWeight primitives, written
 * with ops so they differentiate again. Per spatial dim, with L the input size, K the kernel's,
 * O the output's, s the stride, d/e the kernel/input dilations and lo the low padding:
 *  - input cotangent: a convolution of the cotangent (input dilation s, stride e) with the
 *    regrouped weights, flipped relative to the forward, low padding (K-1)d - lo;
 *  - weight cotangent: the ConvolutionWeight primitive (cotangent^T @ im2col of the input);
 *  - ConvolutionWeight is bilinear in (input, cotangent): its own cotangents are the input
 *    cotangent above and a forward convolution;
 *  - jvp: both primitives are linear in each input; vmap folds the batch into N (input only)
 *    or into the groups. */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

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

static int conv_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                    const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  (void)outputs;
  const mx_p_convolution *p = mx_op_params(op);
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!cot[0]) continue;
    grads[j] = argnums[j] == 0
                   ? conv_grad_input(p, primals[0], primals[1], cot[0], op->stream)
                   : mx_conv_weight_apply(primals[0], cot[0], p, primals[1]->shape + 1, op->stream);
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

/* The Convolution parameters of a ConvolutionWeight (list views shared). */
static mx_p_convolution conv_of_weight(const mx_p_conv_weight *w) {
  return (mx_p_convolution){w->strides,        w->padding_lo, w->padding_hi, w->kernel_dilation,
                            w->input_dilation, w->groups,     w->flip};
}

/* x (N, *S, C) with a batch of b at axis ax (or none: repeated b times) as (N, *S, b * C),
 * batch-major along the channels: entry i's channels are block i. nsp spatial dims. */
static mx_array *conv_fold_channels(mx_array *x, int ax, int b, int nsp, mx_stream s) {
  int nd = nsp + 2;
  if (!x) return NULL;
  if (ax >= 0) {
    x = mx_moveaxis(mx_rule_to_front(x, ax, s), 0, nsp + 1, s);
  } else {
    x = mx_expand_dims(x, nsp + 1, s);
    if (!x) return NULL;
    int32_t *shape = conv_dims(nd + 1);
    if (!shape) return NULL;
    memcpy(shape, x->shape, (size_t)(nd + 1) * sizeof(int32_t));
    shape[nsp + 1] = b;
    x = mx_broadcast_to(x, shape, nd + 1, s);
    free(shape);
  }
  if (!x) return NULL;
  int32_t *shape = conv_dims(nd);
  if (!shape) return NULL;
  memcpy(shape, x->shape, (size_t)(nd - 1) * sizeof(int32_t));
  shape[nd - 1] = b * x->shape[nd];
  mx_array *r = mx_reshape(x, shape, nd, s);
  free(shape);
  return r;
}

/* x's shape without axis ax (ax < 0: x's shape) into shape; returns the ndim. */
static int conv_unbatched_shape(mx_array *x, int ax, int32_t *shape) {
  int k = 0;
  for (int i = 0; i < x->ndim; i++)
    if (i != ax) shape[k++] = x->shape[i];
  return k;
}

/* Copies p's lists into c (whose groups the caller set). */
static void conv_copy_lists(conv_derived *c, const mx_p_convolution *p) {
  int nsp = p->strides.n;
  memcpy(c->mem, p->strides.v, (size_t)nsp * sizeof(int32_t));
  memcpy(c->mem + nsp, p->padding_lo.v, (size_t)nsp * sizeof(int32_t));
  memcpy(c->mem + 2 * nsp, p->padding_hi.v, (size_t)nsp * sizeof(int32_t));
  memcpy(c->mem + 3 * nsp, p->kernel_dilation.v, (size_t)nsp * sizeof(int32_t));
  memcpy(c->mem + 4 * nsp, p->input_dilation.v, (size_t)nsp * sizeof(int32_t));
}

static int conv_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                     int *out_axes) {
  const mx_p_convolution *p = mx_op_params(op);
  mx_stream s = op->stream;
  int nsp = p->strides.n, nd = nsp + 2;
  mx_array *x = in[0], *w = in[1], *r = NULL;
  outputs[0] = NULL;
  if (axes[0] < 0 && axes[1] < 0) {
    out_axes[0] = -1;
    outputs[0] = mx_conv_apply(x, w, p, s);
    return outputs[0] ? 0 : -1;
  }
  int b = axes[0] >= 0 ? x->shape[axes[0]] : w->shape[axes[1]];
  int32_t *shape = conv_dims(nd + 2);
  if (!shape) return -1;
  if (b == 0) { /* zeros shaped as the unbatched result with a leading 0 */
    mx_array *xu = mx_zeros(shape, conv_unbatched_shape(x, axes[0], shape), x->dtype, s);
    mx_array *wu = mx_zeros(shape, conv_unbatched_shape(w, axes[1], shape), w->dtype, s);
    mx_array *o = mx_conv_apply(xu, wu, p, s); /* only its shape is used */
    if (o) {
      shape[0] = 0;
      memcpy(shape + 1, o->shape, (size_t)nd * sizeof(int32_t));
      r = mx_zeros(shape, nd + 1, o->dtype, s);
    }
    out_axes[0] = 0;
  } else if (axes[1] < 0) { /* input only: (B, N, ...) folds into the batch */
    x = mx_rule_to_front(x, axes[0], s);
    if (x) {
      shape[0] = b * x->shape[1];
      memcpy(shape + 1, x->shape + 2, (size_t)(nd - 1) * sizeof(int32_t));
      r = mx_conv_apply(mx_reshape(x, shape, nd, s), w, p, s);
    }
    if (r) {
      shape[0] = b;
      memcpy(shape + 1, r->shape, (size_t)nd * sizeof(int32_t));
      shape[1] = x->shape[1];
      r = mx_reshape(r, shape, nd + 1, s);
    }
    out_axes[0] = 0;
  } else { /* weights (B, C_out, ...) -> (B * C_out, ...) with B times the groups */
    x = conv_fold_channels(x, axes[0], b, nsp, s);
    w = mx_rule_to_front(w, axes[1], s);
    conv_derived c;
    if (x && w && conv_derived_init(&c, nsp, p->groups * b, p->flip) == 0) {
      conv_copy_lists(&c, p);
      shape[0] = b * w->shape[1];
      memcpy(shape + 1, w->shape + 2, (size_t)(nd - 1) * sizeof(int32_t));
      r = mx_conv_apply(x, mx_reshape(w, shape, nd, s), &c.p, s);
      free(c.mem);
    }
    if (r) {
      memcpy(shape, r->shape, (size_t)(nd - 1) * sizeof(int32_t));
      shape[nd - 1] = b;
      shape[nd] = r->shape[nd - 1] / b;
      r = mx_reshape(r, shape, nd + 1, s);
    }
    out_axes[0] = nsp + 1;
  }
  free(shape);
  outputs[0] = r;
  return r ? 0 : -1;
}

/* ---- ConvolutionWeight: inputs (x, cot), output the weights' cotangent ---- */
static int conv_weight_vjp(const mx_op *op, mx_array *const *primals, mx_array *const *cot,
                           const int *argnums, int n, mx_array *const *outputs,
                           mx_array **grads) {
  (void)outputs;
  mx_p_convolution p = conv_of_weight(mx_op_params(op));
  for (int j = 0; j < n; j++) {
    grads[j] = NULL;
    if (!cot[0]) continue;
    /* <G, W(x, c)> = <c, conv(x, G)>: G plays the weights */
    grads[j] = argnums[j] == 0 ? conv_grad_input(&p, primals[0], cot[0], primals[1], op->stream)
                               : mx_conv_apply(primals[0], cot[0], &p, op->stream);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int conv_weight_jvp(const mx_op *op, mx_array *const *primals, mx_array *const *tangents,
                           mx_array *const *outputs, mx_array **out) {
  (void)outputs;
  const mx_p_conv_weight *w = mx_op_params(op);
  mx_p_convolution p = conv_of_weight(w);
  mx_array *acc = NULL;
  if (tangents[0]) acc = mx_conv_weight_apply(tangents[0], primals[1], &p, w->kernel.v, op->stream);
  if (tangents[1]) {
    mx_array *d = mx_conv_weight_apply(primals[0], tangents[1], &p, w->kernel.v, op->stream);
    acc = acc ? mx_add(acc, d, op->stream) : d;
  }
  out[0] = acc;
  return acc || (!tangents[0] && !tangents[1]) ? 0 : -1;
}

static int conv_weight_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                            mx_array **outputs, int *out_axes) {
  const mx_p_conv_weight *w = mx_op_params(op);
  mx_p_convolution p = conv_of_weight(w);
  mx_stream s = op->stream;
  int nsp = p.strides.n, nd = nsp + 2;
  mx_array *x = in[0], *c = in[1], *r = NULL;
  outputs[0] = NULL;
  if (axes[0] < 0 && axes[1] < 0) {
    out_axes[0] = -1;
    outputs[0] = mx_conv_weight_apply(x, c, &p, w->kernel.v, s);
    return outputs[0] ? 0 : -1;
  }
  int b = axes[0] >= 0 ? x->shape[axes[0]] : c->shape[axes[1]];
  int32_t *shape = conv_dims(nd + 2);
  if (!shape) return -1;
  out_axes[0] = 0;
  if (b == 0) {
    int32_t *xs = conv_dims(nd + 1);
    if (xs) {
      conv_unbatched_shape(x, axes[0], xs);
      conv_unbatched_shape(c, axes[1], shape + 1);
      shape[0] = 0;
      shape[1] = shape[nd]; /* the cotangent's channels */
      memcpy(shape + 2, w->kernel.v, (size_t)nsp * sizeof(int32_t));
      shape[nd] = xs[nd - 1] / p.groups;
      r = mx_zeros(shape, nd + 1, mx_promote_types(x->dtype, c->dtype), s);
      free(xs);
    }
  } else {
    conv_derived d;
    x = conv_fold_channels(x, axes[0], b, nsp, s);
    c = conv_fold_channels(c, axes[1], b, nsp, s);
    if (x && c && conv_derived_init(&d, nsp, p.groups * b, p.flip) == 0) {
      conv_copy_lists(&d, &p);
      r = mx_conv_weight_apply(x, c, &d.p, w->kernel.v, s);
      free(d.mem);
    }
    if (r) {
      shape[0] = b;
      memcpy(shape + 1, r->shape, (size_t)nd * sizeof(int32_t));
      shape[1] = r->shape[0] / b;
      r = mx_reshape(r, shape, nd + 1, s);
    }
  }
  free(shape);
  outputs[0] = r;
  return r ? 0 : -1;
}

void mx_rules_register_conv(void) {
  mx_prims[MX_PRIM_CONVOLUTION].vjp = conv_vjp;
  mx_prims[MX_PRIM_CONVOLUTION].jvp = conv_jvp;
  mx_prims[MX_PRIM_CONVOLUTION].vmap = conv_vmap;
  mx_prims[MX_PRIM_CONV_WEIGHT].vjp = conv_weight_vjp;
  mx_prims[MX_PRIM_CONV_WEIGHT].jvp = conv_weight_jvp;
  mx_prims[MX_PRIM_CONV_WEIGHT].vmap = conv_weight_vmap;
}
