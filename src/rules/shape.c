/* shape.c: rules of the view, indexing and matmul primitives. */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

/* ---- reshape ---- */
static int reshape_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                       const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  if (n == 0) return 0;
  grads[0] = cot[0] ? mx_reshape(cot[0], p[0]->shape, p[0]->ndim, op->stream) : NULL;
  return !cot[0] || grads[0] ? 0 : -1;
}

static int reshape_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                       mx_array *const *outputs, mx_array **out) {
  const mx_p_reshape *r = mx_op_params(op);
  out[0] = t[0] ? mx_reshape(t[0], r->shape.v, r->shape.n, op->stream) : NULL;
  return !t[0] || out[0] ? 0 : -1;
}

static int reshape_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                        int *out_axes) {
  const mx_p_reshape *r = mx_op_params(op);
  if (axes[0] < 0) {
    outputs[0] = mx_reshape(in[0], r->shape.v, r->shape.n, op->stream);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  mx_array *x = mx_rule_to_front(in[0], axes[0], op->stream);
  int32_t *shape = malloc((size_t)(r->shape.n + 1) * sizeof(int32_t));
  if (!shape || !x) {
    free(shape);
    return -1;
  }
  shape[0] = x->shape[0];
  memcpy(shape + 1, r->shape.v, (size_t)r->shape.n * sizeof(int32_t));
  outputs[0] = mx_reshape(x, shape, r->shape.n + 1, op->stream);
  free(shape);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

/* ---- transpose ---- */
static int transpose_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                         const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_transpose *r = mx_op_params(op);
  if (n == 0) return 0;
  if (!cot[0]) {
    grads[0] = NULL;
    return 0;
  }
  int *inv = malloc((size_t)(r->axes.n + 1) * sizeof(int));
  if (!inv) return mx_fail_int(MX_ENOMEM, "[vjp] out of memory.");
  for (int i = 0; i < r->axes.n; i++) inv[r->axes.v[i]] = i;
  grads[0] = mx_transpose(cot[0], inv, r->axes.n, op->stream);
  free(inv);
  return grads[0] ? 0 : -1;
}

static int transpose_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                         mx_array *const *outputs, mx_array **out) {
  const mx_p_transpose *r = mx_op_params(op);
  if (!t[0]) {
    out[0] = NULL;
    return 0;
  }
  int *perm = malloc((size_t)(r->axes.n + 1) * sizeof(int));
  if (!perm) return mx_fail_int(MX_ENOMEM, "[jvp] out of memory.");
  for (int i = 0; i < r->axes.n; i++) perm[i] = r->axes.v[i];
  out[0] = mx_transpose(t[0], perm, r->axes.n, op->stream);
  free(perm);
  return out[0] ? 0 : -1;
}

static int transpose_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                          int *out_axes) {
  const mx_p_transpose *r = mx_op_params(op);
  int shift = axes[0] >= 0 ? 1 : 0;
  mx_array *x = mx_rule_to_front(in[0], axes[0], op->stream);
  int *perm = malloc((size_t)(r->axes.n + 1) * sizeof(int));
  if (!perm) return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  if (shift) perm[0] = 0;
  for (int i = 0; i < r->axes.n; i++) perm[i + shift] = r->axes.v[i] + shift;
  outputs[0] = mx_transpose(x, perm, r->axes.n + shift, op->stream);
  free(perm);
  out_axes[0] = shift ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

/* ---- broadcast ---- */
static int broadcast_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                         const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  if (n == 0) return 0;
  if (!cot[0]) {
    grads[0] = NULL;
    return 0;
  }
  mx_array *x = p[0], *g = cot[0];
  int lead = g->ndim - x->ndim;
  int *axes = malloc((size_t)(g->ndim + 1) * sizeof(int));
  if (!axes) return mx_fail_int(MX_ENOMEM, "[vjp] out of memory.");
  int na = 0;
  for (int d = 0; d < g->ndim; d++)
    if (d < lead || (x->shape[d - lead] == 1 && g->shape[d] != 1)) axes[na++] = d;
  mx_array *r = mx_sum(g, axes, na, true, op->stream);
  free(axes);
  grads[0] = mx_reshape(mx_astype(r, x->dtype, op->stream), x->shape, x->ndim, op->stream);
  return grads[0] ? 0 : -1;
}

static int broadcast_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                         mx_array *const *outputs, mx_array **out) {
  const mx_p_broadcast *r = mx_op_params(op);
  out[0] = t[0] ? mx_broadcast_to(t[0], r->shape.v, r->shape.n, op->stream) : NULL;
  return !t[0] || out[0] ? 0 : -1;
}

static int broadcast_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                          int *out_axes) {
  const mx_p_broadcast *r = mx_op_params(op);
  if (axes[0] < 0) {
    outputs[0] = mx_broadcast_to(in[0], r->shape.v, r->shape.n, op->stream);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  mx_array *x = mx_rule_pad_after_batch(mx_rule_to_front(in[0], axes[0], op->stream), r->shape.n + 1, op->stream);
  int32_t *shape = malloc((size_t)(r->shape.n + 1) * sizeof(int32_t));
  if (!shape || !x) {
    free(shape);
    return -1;
  }
  shape[0] = x->shape[0];
  memcpy(shape + 1, r->shape.v, (size_t)r->shape.n * sizeof(int32_t));
  outputs[0] = mx_broadcast_to(x, shape, r->shape.n + 1, op->stream);
  free(shape);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

/* ---- slice and slice_update ---- */
typedef struct region {
  int32_t *start, *stop, *strides;
  int n;
} region;

/* The primitive's region, optionally with a full leading batch dimension of size b. */
static int region_of(const mx_ints *start, const mx_ints *stop, const mx_ints *strides, int b,
                     region *r) {
  int lead = b >= 0 ? 1 : 0;
  r->n = start->n + lead;
  r->start = malloc((size_t)r->n * 3 * sizeof(int32_t));
  if (!r->start) return mx_fail_int(MX_ENOMEM, "[vmap] out of memory.");
  r->stop = r->start + r->n;
  r->strides = r->stop + r->n;
  if (lead) {
    r->start[0] = 0;
    r->stop[0] = b;
    r->strides[0] = 1;
  }
  for (int i = 0; i < start->n; i++) {
    r->start[i + lead] = start->v[i];
    r->stop[i + lead] = stop->v[i];
    r->strides[i + lead] = strides->v[i];
  }
  return 0;
}

static int slice_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                     const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_slice *r = mx_op_params(op);
  if (n == 0) return 0;
  if (!cot[0]) {
    grads[0] = NULL;
    return 0;
  }
  grads[0] = mx_slice_update(mx_zeros_like(p[0], op->stream), cot[0], r->start.v, r->stop.v,
                             r->strides.v, op->stream);
  return grads[0] ? 0 : -1;
}

static int slice_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                     mx_array *const *outputs, mx_array **out) {
  const mx_p_slice *r = mx_op_params(op);
  out[0] = t[0] ? mx_slice(t[0], r->start.v, r->stop.v, r->strides.v, op->stream) : NULL;
  return !t[0] || out[0] ? 0 : -1;
}

static int slice_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                      int *out_axes) {
  const mx_p_slice *p = mx_op_params(op);
  mx_array *x = mx_rule_to_front(in[0], axes[0], op->stream);
  region r;
  if (!x || region_of(&p->start, &p->stop, &p->strides, axes[0] >= 0 ? x->shape[0] : -1, &r)) return -1;
  outputs[0] = mx_slice(x, r.start, r.stop, r.strides, op->stream);
  free(r.start);
  out_axes[0] = axes[0] >= 0 ? 0 : -1;
  return outputs[0] ? 0 : -1;
}

static int slice_update_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                            const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  const mx_p_slice_update *r = mx_op_params(op);
  mx_stream s = op->stream;
  for (int j = 0; j < n; j++) {
    if (!cot[0]) {
      grads[j] = NULL;
      continue;
    }
    if (argnums[j] == 0)
      grads[j] = mx_slice_update(cot[0], mx_zeros_like(p[1], s), r->start.v, r->stop.v, r->strides.v, s);
    else
      grads[j] = mx_slice(cot[0], r->start.v, r->stop.v, r->strides.v, s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int slice_update_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                            mx_array *const *outputs, mx_array **out) {
  const mx_p_slice_update *r = mx_op_params(op);
  mx_stream s = op->stream;
  if (!t[0] && !t[1]) {
    out[0] = NULL;
    return 0;
  }
  mx_array *ts = t[0] ? t[0] : mx_zeros_like(p[0], s);
  mx_array *tu = t[1] ? t[1] : mx_zeros_like(p[1], s);
  out[0] = mx_slice_update(ts, tu, r->start.v, r->stop.v, r->strides.v, s);
  return out[0] ? 0 : -1;
}

static int slice_update_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                             mx_array **outputs, int *out_axes) {
  const mx_p_slice_update *p = mx_op_params(op);
  mx_stream s = op->stream;
  mx_array *src = mx_rule_to_front(in[0], axes[0], s);
  mx_array *upd = mx_rule_to_front(in[1], axes[1], s);
  if (!src || !upd) return -1;
  if (axes[0] < 0 && axes[1] < 0) {
    outputs[0] = mx_slice_update(src, upd, p->start.v, p->stop.v, p->strides.v, s);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  int b = axes[0] >= 0 ? src->shape[0] : upd->shape[0];
  if (axes[0] < 0) {
    int32_t *shape = malloc((size_t)(src->ndim + 1) * sizeof(int32_t));
    if (!shape) return -1;
    shape[0] = b;
    memcpy(shape + 1, src->shape, (size_t)src->ndim * sizeof(int32_t));
    src = mx_broadcast_to(mx_expand_dims(src, 0, s), shape, src->ndim + 1, s);
    free(shape);
  }
  region r;
  if (!src || region_of(&p->start, &p->stop, &p->strides, b, &r)) return -1;
  if (axes[1] < 0) upd = mx_expand_dims(upd, 0, s);
  outputs[0] = mx_slice_update(src, upd, r.start, r.stop, r.strides, s);
  free(r.start);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

/* ---- stop_gradient ---- */
static int zero_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                    const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  for (int j = 0; j < n; j++) {
    grads[j] = mx_zeros_like(p[argnums[j]], op->stream);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int zero_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                    mx_array *const *outputs, mx_array **out) {
  for (int k = 0; k < op->n_out; k++) out[k] = NULL;
  return 0;
}

static int stop_gradient_vmap(const mx_op *op, mx_array *const *in, const int *axes,
                              mx_array **outputs, int *out_axes) {
  outputs[0] = mx_stop_gradient(in[0], op->stream);
  out_axes[0] = axes[0];
  return outputs[0] ? 0 : -1;
}

/* ---- matmul: (..., M, K) x (..., K, N) ---- */
static int matmul_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                      const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  mx_stream s = op->stream;
  for (int j = 0; j < n; j++) {
    if (!cot[0]) {
      grads[j] = NULL;
      continue;
    }
    if (argnums[j] == 0) grads[j] = mx_matmul(cot[0], mx_swapaxes(p[1], -1, -2, s), s);
    else grads[j] = mx_matmul(mx_swapaxes(p[0], -1, -2, s), cot[0], s);
    if (!grads[j]) return -1;
  }
  return 0;
}

static int matmul_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                      mx_array *const *outputs, mx_array **out) {
  mx_stream s = op->stream;
  mx_array *acc = NULL;
  if (t[0]) acc = mx_matmul(t[0], p[1], s);
  if (t[1]) {
    mx_array *d = mx_matmul(p[0], t[1], s);
    acc = acc ? mx_add(acc, d, s) : d;
  }
  out[0] = acc;
  return acc || (!t[0] && !t[1]) ? 0 : -1;
}

static int matmul_vmap(const mx_op *op, mx_array *const *in, const int *axes, mx_array **outputs,
                       int *out_axes) {
  mx_stream s = op->stream;
  mx_array *a = mx_rule_to_front(in[0], axes[0], s);
  mx_array *b = mx_rule_to_front(in[1], axes[1], s);
  if (axes[0] < 0 && axes[1] < 0) {
    outputs[0] = mx_matmul(a, b, s);
    out_axes[0] = -1;
    return outputs[0] ? 0 : -1;
  }
  if (axes[0] < 0) a = mx_expand_dims(a, 0, s);
  if (axes[1] < 0) b = mx_expand_dims(b, 0, s);
  outputs[0] = mx_matmul(a, b, s);
  out_axes[0] = 0;
  return outputs[0] ? 0 : -1;
}

void mx_rules_register_shape(void) {
  mx_prim_vt *v = mx_prims;
  v[MX_PRIM_RESHAPE].vjp = reshape_vjp;
  v[MX_PRIM_RESHAPE].jvp = reshape_jvp;
  v[MX_PRIM_RESHAPE].vmap = reshape_vmap;
  v[MX_PRIM_TRANSPOSE].vjp = transpose_vjp;
  v[MX_PRIM_TRANSPOSE].jvp = transpose_jvp;
  v[MX_PRIM_TRANSPOSE].vmap = transpose_vmap;
  v[MX_PRIM_BROADCAST].vjp = broadcast_vjp;
  v[MX_PRIM_BROADCAST].jvp = broadcast_jvp;
  v[MX_PRIM_BROADCAST].vmap = broadcast_vmap;
  v[MX_PRIM_SLICE].vjp = slice_vjp;
  v[MX_PRIM_SLICE].jvp = slice_jvp;
  v[MX_PRIM_SLICE].vmap = slice_vmap;
  v[MX_PRIM_SLICE_UPDATE].vjp = slice_update_vjp;
  v[MX_PRIM_SLICE_UPDATE].jvp = slice_update_jvp;
  v[MX_PRIM_SLICE_UPDATE].vmap = slice_update_vmap;
  v[MX_PRIM_STOP_GRADIENT].vjp = zero_vjp;
  v[MX_PRIM_STOP_GRADIENT].jvp = zero_jvp;
  v[MX_PRIM_STOP_GRADIENT].vmap = stop_gradient_vmap;
  v[MX_PRIM_MATMUL].vjp = matmul_vjp;
  v[MX_PRIM_MATMUL].jvp = matmul_jvp;
  v[MX_PRIM_MATMUL].vmap = matmul_vmap;
}

/* shared with misc.c */
int mx_rule_zero_vjp(const mx_op *op, mx_array *const *p, mx_array *const *cot,
                     const int *argnums, int n, mx_array *const *outputs, mx_array **grads) {
  return zero_vjp(op, p, cot, argnums, n, outputs, grads);
}

int mx_rule_zero_jvp(const mx_op *op, mx_array *const *p, mx_array *const *t,
                     mx_array *const *outputs, mx_array **out) {
  return zero_jvp(op, p, t, outputs, out);
}
