/* fast.c: op constructors of mx.fast (spec/semantics.md section 12): RMSNorm, LayerNorm,
 * RoPE and ScaledDotProductAttention as one primitive each. They validate as MLX does,
 * cast the inputs to the output dtype and make the fused op; the kernels are in
 * src/backend/cpu/fast_*.c and the rules in src/rules/fast.c. */
#include <stdio.h>
#include <string.h>

#include "ops.h"

/* "(2,3,4)" as MLX prints shapes in messages. */
static const char *fast_shape_str(char *buf, size_t cap, int n, const int32_t *shape) {
  size_t k = 0;
  buf[k++] = '(';
  for (int i = 0; i < n && k + 16 < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, i ? ",%d" : "%d", shape[i]);
  snprintf(buf + k, cap - k, ")");
  return buf;
}

/* A 1-d parameter of a normalization: NULL passes; else one dim of size d. */
static int fast_check_param(const char *op, const char *what, mx_array *p, int32_t d) {
  if (!p) return 0;
  if (p->ndim != 1)
    return mx_fail_int(MX_EINVAL, "[%s] %s must have 1 dimension but has %d dimensions.", op,
                       what, p->ndim);
  if (p->size != d)
    return mx_fail_int(MX_EINVAL,
                       "[%s] %s must have the same size as the last dimension of x but has "
                       "%lld elements.",
                       op, what, (long long)p->size);
  return 0;
}

static int fast_check_rank(const char *op, mx_array *x) {
  if (x->ndim == 0)
    return mx_fail_int(MX_EINVAL,
                       "[%s] Input must have at least 1 dimension but got input with 0 "
                       "dimensions.",
                       op);
  return 0;
}

static int fast_check_floating(const char *op, mx_dtype t) {
  if (!mx_dtype_is_floating(t))
    return mx_fail_int(MX_EINVAL, "[%s] Received unsupported type %s.", op, mx_dtype_name(t));
  return 0;
}

/* p cast to t, or the 0-d constant v of t when p is absent. */
static mx_array *fast_param_or(mx_array *p, double v, mx_dtype t, mx_stream s) {
  return p ? mx_astype(p, t, s) : mx_scope_adopt(mx_array_scalar_f64(v, t));
}

mx_array *mx_fast_rms_norm(mx_array *x, mx_array *weight, double eps, mx_stream s) {
  if (!x) return NULL;
  if (fast_check_rank("rms_norm", x) < 0) return NULL;
  int32_t d = x->shape[x->ndim - 1];
  if (fast_check_param("rms_norm", "(*weight)", weight, d) < 0) return NULL;
  mx_dtype out_t = weight ? mx_promote_types(x->dtype, weight->dtype) : x->dtype;
  if (fast_check_floating("rms_norm", out_t) < 0) return NULL;
  MX_SCOPE_BEGIN;
  mx_p_rms_norm p = {(double)(float)eps};
  mx_array *in[2] = {mx_astype(x, out_t, s), fast_param_or(weight, 1.0, out_t, s)};
  mx_array *r = mx_op_make1(MX_PRIM_RMS_NORM, &p, s, 2, in, out_t, x->ndim, x->shape);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_fast_layer_norm(mx_array *x, mx_array *weight, mx_array *bias, double eps,
                             mx_stream s) {
  if (!x) return NULL;
  if (fast_check_rank("layer_norm", x) < 0) return NULL;
  int32_t d = x->shape[x->ndim - 1];
  if (fast_check_param("layer_norm", "weight", weight, d) < 0 ||
      fast_check_param("layer_norm", "bias", bias, d) < 0)
    return NULL;
  /* MLX promotes with the bias only when a weight is given */
  mx_dtype out_t = x->dtype;
  if (weight) {
    out_t = mx_promote_types(out_t, weight->dtype);
    if (bias) out_t = mx_promote_types(out_t, bias->dtype);
  }
  if (fast_check_floating("layer_norm", out_t) < 0) return NULL;
  MX_SCOPE_BEGIN;
  mx_p_layer_norm p = {(double)(float)eps};
  mx_array *in[3] = {mx_astype(x, out_t, s), fast_param_or(weight, 1.0, out_t, s),
                     fast_param_or(bias, 0.0, out_t, s)};
  mx_array *r = mx_op_make1(MX_PRIM_LAYER_NORM, &p, s, 3, in, out_t, x->ndim, x->shape);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_fast_rope_apply(mx_array *a, mx_array *offset, mx_array *freqs,
                             const mx_p_rope *p, mx_stream s) {
  mx_array *in[3] = {a, offset, freqs};
  return mx_op_make1(MX_PRIM_ROPE, p, s, freqs ? 3 : 2, in, a->dtype, a->ndim, a->shape);
}

mx_array *mx_fast_rope(mx_array *a, int dims, bool traditional, bool has_base, double base,
                       double scale, mx_array *offset, mx_array *freqs, mx_stream s) {
  if (!a || !offset) return NULL;
  if (freqs && has_base)
    return mx_fail(MX_EINVAL, "[rope] Only one of base or freqs can have a value.");
  if (!freqs && !has_base) return mx_fail(MX_EINVAL, "[rope] Neither base nor freqs has a value.");
  char buf[160];
  if (a->ndim < 3)
    return mx_fail(MX_EINVAL,
                   "[rope] Input must have at least 3 dimensions but got input with %d "
                   "dimensions.",
                   a->ndim);
  if (!mx_dtype_is_floating(a->dtype))
    return mx_fail(MX_EINVAL, "[rope] Input must be a floating type but got %s.",
                   mx_dtype_name(a->dtype));
  if (offset->ndim > 1)
    return mx_fail(MX_EINVAL, "[rope] offset must have at most one dimension but has shape %s.",
                   fast_shape_str(buf, sizeof buf, offset->ndim, offset->shape));
  if (offset->size != 1 && offset->size != a->shape[0])
    return mx_fail(MX_EINVAL,
                   "[rope] offset must be a scalar or vector with %d elements but has shape %s.",
                   a->shape[0], fast_shape_str(buf, sizeof buf, offset->ndim, offset->shape));
  if (!mx_dtype_is_integer(offset->dtype))
    return mx_fail(MX_EINVAL, "[rope] offset must be an integer but got type %s.",
                   mx_dtype_name(offset->dtype));
  if (dims <= 0) return mx_fail(MX_EINVAL, "[rope] dims must be positive but got %d.", dims);
  if (dims % 2 != 0) return mx_fail(MX_EINVAL, "[rope] dims must be even but got %d.", dims);
  if (dims > a->shape[a->ndim - 1])
    return mx_fail(MX_EINVAL,
                   "[rope] dims must not exceed the input's last dimension (%d) but got %d.",
                   a->shape[a->ndim - 1], dims);
  if (freqs && (freqs->ndim != 1 || freqs->shape[0] != dims / 2))
    return mx_fail(MX_EINVAL, "[rope] freqs must be one dimensional with size %d but got shape %s.",
                   dims / 2, fast_shape_str(buf, sizeof buf, freqs->ndim, freqs->shape));
  MX_SCOPE_BEGIN;
  mx_p_rope p = {dims, traditional, freqs ? 1.0 : (double)(float)base, (double)(float)scale,
                 true};
  mx_array *off = mx_astype(offset, MX_INT32, s);
  mx_array *f = freqs ? mx_astype(freqs, MX_FLOAT32, s) : NULL;
  mx_array *r = (off && (!freqs || f)) ? mx_fast_rope_apply(a, off, f, &p, s) : NULL;
  MX_SCOPE_RETURN(r);
}

mx_array *mx_fast_rope_int(mx_array *a, int dims, bool traditional, bool has_base, double base,
                           double scale, int offset, mx_array *freqs, mx_stream s) {
  if (!a) return NULL;
  MX_SCOPE_BEGIN;
  mx_array *off = mx_scope_adopt(mx_array_scalar_i64(offset, MX_INT32));
  mx_array *r = mx_fast_rope(a, dims, traditional, has_base, base, scale, off, freqs, s);
  MX_SCOPE_RETURN(r);
}

mx_array *mx_fast_sdpa_apply(mx_array *q, mx_array *k, mx_array *v, mx_array *mask,
                             mx_array *sinks, const mx_p_sdpa *p, mx_stream s) {
  mx_array *in[5];
  int n = 0;
  in[n++] = q;
  in[n++] = k;
  in[n++] = v;
  if (p->has_mask) in[n++] = mask;
  if (p->has_sinks) in[n++] = sinks;
  int32_t shape[4] = {q->shape[0], q->shape[1], q->shape[2], v->shape[3]};
  return mx_op_make1(MX_PRIM_SDPA, p, s, n, in, q->dtype, 4, shape);
}

#define SDPA "[scaled_dot_product_attention]"

static int fast_sdpa_check(mx_array *q, mx_array *k, mx_array *v) {
  char b1[160];
  mx_array *t3[3] = {q, k, v};
  for (int i = 0; i < 3; i++)
    if (t3[i]->ndim != 4)
      return mx_fail_int(MX_EINVAL, SDPA " input with shape %s expected to be rank 4",
                         fast_shape_str(b1, sizeof b1, t3[i]->ndim, t3[i]->shape));
  return 0;
}

mx_array *mx_fast_sdpa(mx_array *q, mx_array *k, mx_array *v, double scale,
                       const char *mask_mode, mx_array *mask, mx_array *sinks, mx_stream s) {
  if (!q || !k || !v) return NULL;
  if (fast_sdpa_check(q, k, v) < 0) return NULL;
  if (!mask_mode) mask_mode = "";
  if (strcmp(mask_mode, "") && strcmp(mask_mode, "causal") && strcmp(mask_mode, "array"))
    return mx_fail(MX_EINVAL,
                   SDPA " Invalid mask_mode %s. mask_mode must be 'causal', 'array' or ''.",
                   mask_mode);
  bool causal = !strcmp(mask_mode, "causal");
  char b1[160], b2[160];
  if (causal && mask)
    return mx_fail(MX_EINVAL, SDPA " Invalid mask_arr for mask_mode 'causal'. No array mask "
                                   "should be passed.");
  if (mask && mask->ndim > 4)
    return mx_fail(MX_EINVAL, SDPA " the mask with shape %s expected to have at most rank 4.",
                   fast_shape_str(b1, sizeof b1, mask->ndim, mask->shape));
  mx_array *kv[2] = {k, v};
  for (int i = 0; i < 2; i++)
    if (kv[i]->shape[0] != q->shape[0])
      return mx_fail(MX_EINVAL, SDPA " mismatching batch dimension for input with shape %s.",
                     fast_shape_str(b1, sizeof b1, 4, kv[i]->shape));
  if (q->shape[3] != k->shape[3])
    return mx_fail(MX_EINVAL,
                   SDPA " query, keys expected to have matching last dimension; found query "
                        "shape %s for keys shape %s.",
                   fast_shape_str(b1, sizeof b1, 4, q->shape),
                   fast_shape_str(b2, sizeof b2, 4, k->shape));
  int32_t nq = q->shape[1], nkv = k->shape[1];
  if (nkv != v->shape[1])
    return mx_fail(MX_EINVAL,
                   SDPA " keys, values expected to have matching n_kv_heads; found keys with "
                        "n_heads %d for values with n_heads %d.",
                   nkv, v->shape[1]);
  if (nkv == 0 || nq % nkv != 0)
    return mx_fail(MX_EINVAL,
                   SDPA " n_heads must be a multiple of n_kv_heads, found n_heads %d for "
                        "n_kv_heads %d.",
                   nq, nkv);
  if (k->shape[2] != v->shape[2])
    return mx_fail(MX_EINVAL,
                   SDPA " keys, values expected to have matching sequence length; found keys "
                        "shape %s for values shape %s.",
                   fast_shape_str(b1, sizeof b1, 4, k->shape),
                   fast_shape_str(b2, sizeof b2, 4, v->shape));
  mx_dtype out_t = mx_promote_types(mx_promote_types(q->dtype, k->dtype), v->dtype);
  if (!mx_dtype_is_floating(out_t))
    return mx_fail(MX_EINVAL, SDPA " Received unsupported type %s.", mx_dtype_name(out_t));
  if (mask && mx_promote_types(mask->dtype, out_t) != out_t)
    return mx_fail(MX_EINVAL, SDPA " Mask type must promote to output type %s.",
                   mx_dtype_name(out_t));
  if (sinks) {
    if (mx_promote_types(sinks->dtype, out_t) != out_t)
      return mx_fail(MX_EINVAL, SDPA " Type of sinks must promote to output type %s.",
                     mx_dtype_name(out_t));
    if (sinks->ndim != 1 || sinks->shape[0] != nq)
      return mx_fail(MX_EINVAL, SDPA " Received invalid shape for sinks %s.",
                     fast_shape_str(b1, sizeof b1, sinks->ndim, sinks->shape));
  }
  MX_SCOPE_BEGIN;
  mx_p_sdpa p = {(double)(float)scale, causal, mask != NULL, sinks != NULL};
  mx_array *qc = mx_astype(q, out_t, s), *kc = mx_astype(k, out_t, s), *vc = mx_astype(v, out_t, s);
  mx_array *m = NULL, *sk = NULL;
  if (mask) {
    int32_t mshape[4] = {q->shape[0], nq, q->shape[2], k->shape[2]};
    m = mask->dtype == MX_BOOL ? mask : mx_astype(mask, out_t, s);
    m = mx_broadcast_to(m, mshape, 4, s);
  }
  if (sinks) sk = mx_astype(sinks, out_t, s);
  mx_array *r = NULL;
  if ((!mask || m) && (!sinks || sk)) r = mx_fast_sdpa_apply(qc, kc, vc, m, sk, &p, s);
  MX_SCOPE_RETURN(r);
}
