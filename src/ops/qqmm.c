/* qqmm.c: qqmm and gather_qqmm (spec/python-api.md section 12): products where x is
 * quantized on the fly (nvfp4 / mxfp8) as well as w, checked with MLX's messages, built on
 * the QQMatmul primitive; gather_qqmm picks the matrices with takes first.
 * Depends on ops.h, quantized_check.h and layout_util.h. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "layout_util.h"
#include "quantized_check.h"

#define QQ_STR 128

static bool qq_float_ok(mx_dtype t) {
  return t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16;
}

static bool qq_same_batch(const mx_array *x, const mx_array *w) {
  if (w->ndim == 2) return true;
  if (x->ndim != w->ndim) return false;
  return memcmp(x->shape, w->shape, (size_t)(w->ndim - 2) * sizeof(int32_t)) == 0;
}

mx_array *mx_qqmm_make(mx_array *x, mx_array *w, mx_array *scales, int group_size, int bits,
                       int mode, mx_array *gx, mx_array *gw, mx_stream s) {
  if (!x || !w) return NULL;
  bool packed = w->dtype == MX_UINT32;
  int K = x->ndim ? x->shape[x->ndim - 1] : 0;
  if (x->ndim < 1 || w->ndim < 2 || !qq_same_batch(x, w) || (packed && !scales))
    return mx_fail(MX_EINVAL, "[qqmm] Inputs with incompatible batch dimensions.");
  if (K % group_size != 0)
    return mx_fail(MX_EINVAL,
                   "[qqmm] The last dimension of the inputs (%d) must be divisible by the "
                   "quantization group size %d.",
                   K, group_size);
  int N = w->shape[w->ndim - 2];
  int32_t *shape = mx_lay_dims("qqmm", x->ndim);
  if (!shape) return NULL;
  memcpy(shape, x->shape, (size_t)x->ndim * sizeof(int32_t));
  shape[x->ndim - 1] = N;
  mx_array *in[5];
  int n = 0;
  in[n++] = x;
  in[n++] = w;
  if (packed) in[n++] = scales;
  if (gx && gw) {
    in[n++] = gx;
    in[n++] = gw;
  }
  mx_p_qqmatmul p = {group_size, bits, mode};
  mx_array *r = mx_op_make1(MX_PRIM_QQMATMUL, &p, s, n, in, x->dtype, x->ndim, shape);
  free(shape);
  return r;
}

/* Everything qqmm and gather_qqmm check alike; *mode_out, *gs, *bits receive the resolved
 * parameters. w_ndim2: qqmm's rule that w is a matrix. */
static int qq_check(const char *op, mx_array *x, mx_array *w, mx_array *scales,
                    const int *group_size, const int *bits, const char *mode, mx_array *gx,
                    mx_array *gw, bool w_ndim2, int *mode_out, int *gs, int *nb) {
  int qm = mx_qmode_parse(op, mode);
  if (qm < 0) return -1;
  if (qm != MX_QUANT_NVFP4 && qm != MX_QUANT_MXFP8)
    return mx_fail_int(MX_EINVAL,
                       "[%s] Only 'nvfp4' and 'mxfp8' quantization modes are supported but got "
                       "'%s'.",
                       op, mode);
  if (!qq_float_ok(x->dtype))
    return mx_fail_int(MX_EINVAL,
                       "[%s] Only real floating types except float64 are supported but first "
                       "argument dtype == %s.",
                       op, mx_dtype_name(x->dtype));
  bool packed = w->dtype == MX_UINT32;
  if (packed && !scales)
    return mx_fail_int(MX_EINVAL, "[%s] Scales must be provided if second argument is quantized.",
                       op);
  if (!packed && !qq_float_ok(w->dtype))
    return mx_fail_int(MX_EINVAL,
                       "[%s] Only real floating types except float64 are supported but second "
                       "argument dtype == %s.",
                       op, mx_dtype_name(w->dtype));
  if (!packed && scales)
    return mx_fail_int(MX_EINVAL,
                       "[%s] Scales are only accepted with a quantized (uint32) second "
                       "argument but it has dtype %s.",
                       op, mx_dtype_name(w->dtype));
  if ((w_ndim2 && (w->ndim != 2 || x->ndim < 1)) || w->ndim < 2)
    return mx_fail_int(MX_EINVAL,
                       "[%s] Only 2D inputs are supported but x.ndim() == %d and w.ndim() == %d.",
                       op, x->ndim, w->ndim);
  if (mx_qparams_resolve(op, qm, group_size, bits, gs, nb) < 0) return -1;
  if (mx_q_global_check(op, qm, gx) < 0 || mx_q_global_check(op, qm, gw) < 0) return -1;
  if ((gx == NULL) != (gw == NULL))
    return mx_fail_int(MX_EINVAL,
                       "[%s] For nvfp4 mode, either both global_scale_x and global_scale_w must "
                       "be provided, or neither.",
                       op);
  int K = x->shape[x->ndim - 1];
  if (packed) {
    if (scales->dtype != MX_UINT8)
      return mx_fail_int(MX_EINVAL, "[%s] Scale type must be uint8 but received type %s.", op,
                         mx_dtype_name(scales->dtype));
    int inner = 0, outer = 0;
    if (mx_q_qmm_dims(op, x, w, scales, NULL, true, *gs, *nb, &inner, &outer) < 0) return -1;
  } else if (K != w->shape[w->ndim - 1]) {
    char b1[QQ_STR], b2[QQ_STR];
    mx_lay_shape_str(b1, sizeof b1, x->ndim, x->shape);
    mx_lay_shape_str(b2, sizeof b2, w->ndim, w->shape);
    return mx_fail_int(MX_EINVAL,
                       "[%s] Last dimension of first input with shape %s must match last "
                       "dimension of second input with shape %s.",
                       op, b1, b2);
  }
  if (K % *gs != 0)
    return mx_fail_int(MX_EINVAL,
                       "[%s] The last dimension of the inputs (%d) must be divisible by the "
                       "quantization group size %d.",
                       op, K, *gs);
  *mode_out = qm;
  return 0;
}

mx_array *mx_qqmm(mx_array *x, mx_array *w, mx_array *scales, const int *group_size,
                  const int *bits, const char *mode, mx_array *global_scale_x,
                  mx_array *global_scale_w, mx_stream s) {
  if (!x || !w) return NULL;
  int qm = 0, gs = 0, nb = 0;
  if (qq_check("qqmm", x, w, scales, group_size, bits, mode, global_scale_x, global_scale_w,
               true, &qm, &gs, &nb) < 0)
    return NULL;
  return mx_qqmm_make(x, w, scales, gs, nb, qm, global_scale_x, global_scale_w, s);
}

/* a viewed as (prod(batch), last two dims). */
static mx_array *qq_flat_batches(mx_array *a, int64_t nb, mx_stream s) {
  int32_t sh[3] = {(int32_t)nb, a->shape[a->ndim - 2], a->shape[a->ndim - 1]};
  return mx_reshape(a, sh, 3, s);
}

static int64_t qq_batches(const mx_array *a) {
  int64_t n = 1;
  for (int i = 0; i < a->ndim - 2; i++) n *= a->shape[i];
  return n;
}

/* The default indices of a: arange over its batches, in its batch shape. */
static mx_array *qq_default_idx(mx_array *a, mx_stream s) {
  mx_array *r = mx_arange(0, (double)qq_batches(a), 1, MX_UINT32, s);
  return mx_reshape(r, a->shape, a->ndim - 2, s);
}

mx_array *mx_gather_qqmm(mx_array *x, mx_array *w, mx_array *scales, mx_array *lhs_indices,
                         mx_array *rhs_indices, const int *group_size, const int *bits,
                         const char *mode, mx_array *global_scale_x, mx_array *global_scale_w,
                         bool sorted_indices, mx_stream s) {
  (void)sorted_indices; /* a hint only: the result does not depend on it */
  if (!x || !w) return NULL;
  const char *op = "gather_qqmm";
  if ((lhs_indices && !mx_dtype_is_integer(lhs_indices->dtype)) ||
      (rhs_indices && !mx_dtype_is_integer(rhs_indices->dtype)))
    return mx_fail(MX_EINVAL, "[%s] Got indices with invalid dtype. Indices must be integral.",
                   op);
  if (x->ndim < 2) {
    char b[QQ_STR];
    mx_lay_shape_str(b, sizeof b, x->ndim, x->shape);
    return mx_fail(MX_EINVAL,
                   "[%s] Input must have at least two dimensions but got input with shape %s.",
                   op, b);
  }
  int qm = 0, gs = 0, nb = 0;
  if (qq_check(op, x, w, scales, group_size, bits, mode, global_scale_x, global_scale_w, false,
               &qm, &gs, &nb) < 0)
    return NULL;
  if (scales && scales->ndim != w->ndim)
    return mx_fail(MX_EINVAL, "[%s] Weight and scales should have the same batch shape.", op);
  MX_SCOPE_BEGIN;
  mx_array *r = NULL;
  mx_array *b2[2] = {lhs_indices ? lhs_indices : qq_default_idx(x, s),
                     rhs_indices ? rhs_indices : qq_default_idx(w, s)};
  mx_array *bo[2] = {NULL, NULL};
  if (b2[0] && b2[1] && mx_broadcast_arrays(b2, 2, bo, s) == 0) {
    mx_array *idx = bo[0];
    int32_t flat[1] = {(int32_t)idx->size};
    mx_array *li = mx_reshape(bo[0], flat, 1, s), *ri = mx_reshape(bo[1], flat, 1, s);
    mx_array *xg = mx_take_axis(qq_flat_batches(x, qq_batches(x), s), li, 0, s);
    mx_array *wg = mx_take_axis(qq_flat_batches(w, qq_batches(w), s), ri, 0, s);
    mx_array *sg = scales ? mx_take_axis(qq_flat_batches(scales, qq_batches(w), s), ri, 0, s)
                          : NULL;
    mx_array *o = mx_qqmm_make(xg, wg, sg, gs, nb, qm, global_scale_x, global_scale_w, s);
    int nd = idx->ndim + 2;
    int32_t *shape = o ? mx_lay_dims(op, nd) : NULL;
    if (shape) {
      memcpy(shape, idx->shape, (size_t)idx->ndim * sizeof(int32_t));
      shape[nd - 2] = x->shape[x->ndim - 2];
      shape[nd - 1] = o->shape[2];
      r = mx_reshape(o, shape, nd, s);
      free(shape);
    }
  }
  MX_SCOPE_RETURN(r);
}
