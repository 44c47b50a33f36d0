/* quantized.c: quantize / dequantize, quantized_matmul, gather_qmm, to_fp8 / from_fp8
 * (spec/python-api.md section 12, spec/semantics.md section 8): MLX's argument checks and
 * messages, mode defaults, dtype rules and output shapes, then the quant primitives.
 * Depends on ops.h and layout_util.h. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "layout_util.h"
#include "quantized_check.h"

#define QSTR 128

static const char *const qmode_names[] = {"affine", "mxfp4", "mxfp8", "nvfp4"};

const char *mx_qmode_name(int mode) { return mode >= 0 && mode < 4 ? qmode_names[mode] : "?"; }

int mx_qmode_parse(const char *op, const char *mode) {
  for (int i = 0; i < 4; i++)
    if (mode && strcmp(mode, qmode_names[i]) == 0) return i;
  return mx_fail_int(MX_EINVAL, "[%s] Invalid quantization mode '%s'.", op, mode ? mode : "");
}

static void qparams_default(int mode, int *gs, int *bits) {
  static const int dgs[4] = {64, 32, 32, 16}, dbits[4] = {4, 4, 8, 4};
  *gs = dgs[mode];
  *bits = dbits[mode];
}

static int qparams_check(const char *op, int mode, int gs, int bits) {
  if (mode == MX_QUANT_AFFINE) {
    if (gs != 32 && gs != 64 && gs != 128)
      return mx_fail_int(MX_EINVAL,
                         "[%s] The requested group size %d is not supported. The supported "
                         "group sizes are 32, 64, and 128.",
                         op, gs);
    if (bits < 1 || bits > 8 || bits == 7)
      return mx_fail_int(MX_EINVAL,
                         "[%s] The requested number of bits %d is not supported. The "
                         "supported bits are 1, 2, 3, 4, 5, 6 and 8.",
                         op, bits);
    return 0;
  }
  int egs = mode == MX_QUANT_NVFP4 ? 16 : 32, ebits = mode == MX_QUANT_MXFP8 ? 8 : 4;
  if (gs != egs)
    return mx_fail_int(MX_EINVAL, "[%s] %s quantization requires group size %d but got %d.", op,
                       qmode_names[mode], egs, gs);
  if (bits != ebits)
    return mx_fail_int(MX_EINVAL, "[%s] %s quantization requires bits to be %d but got %d.", op,
                       qmode_names[mode], ebits, bits);
  return 0;
}

int mx_qparams_resolve(const char *op, int mode, const int *group_size, const int *bits,
                       int *gs_out, int *bits_out) {
  qparams_default(mode, gs_out, bits_out);
  if (group_size) *gs_out = *group_size;
  if (bits) *bits_out = *bits;
  return qparams_check(op, mode, *gs_out, *bits_out);
}

int mx_q_global_check(const char *op, int mode, mx_array *g) {
  if (!g) return 0;
  if (mode != MX_QUANT_NVFP4)
    return mx_fail_int(MX_EINVAL,
                       "[%s] Global scale is only supported for 'nvfp4' quantization mode.", op);
  if (g->ndim != 0 && g->size != 1) {
    char b[QSTR];
    mx_lay_shape_str(b, sizeof b, g->ndim, g->shape);
    return mx_fail_int(MX_EINVAL, "[%s] Global scale must be a scalar but got shape %s.", op, b);
  }
  if (g->dtype != MX_FLOAT32)
    return mx_fail_int(MX_EINVAL, "[%s] Global scale must have dtype float32 but got %s.", op,
                       mx_dtype_name(g->dtype));
  return 0;
}

/* Shape of a with its last dim replaced by last. */
static int32_t *qshape_last(const char *op, const mx_array *a, int64_t last) {
  int32_t *sh = mx_lay_dims(op, a->ndim);
  if (!sh) return NULL;
  memcpy(sh, a->shape, (size_t)a->ndim * sizeof(int32_t));
  sh[a->ndim - 1] = (int32_t)last;
  return sh;
}

int mx_quantize(mx_array *w, const int *group_size, const int *bits, const char *mode,
                mx_array *global_scale, mx_array **out, int *n_out, mx_stream s) {
  if (!w) return -1;
  int qm = mx_qmode_parse("quantize", mode);
  if (qm < 0) return -1;
  int gs, nb;
  qparams_default(qm, &gs, &nb);
  if (group_size) gs = *group_size;
  if (bits) nb = *bits;
  if (!mx_dtype_is_floating(w->dtype))
    return mx_fail_int(MX_EINVAL,
                       "[quantize] Only real floating types can be quantized but w has type %s.",
                       mx_dtype_name(w->dtype));
  if (w->ndim < 2)
    return mx_fail_int(MX_EINVAL,
                       "[quantize] The matrix to be quantized must have at least 2 dimension "
                       "but it has only %d.",
                       w->ndim);
  if (gs <= 0 || w->shape[w->ndim - 1] % gs != 0) {
    char b[QSTR];
    mx_lay_shape_str(b, sizeof b, w->ndim, w->shape);
    return mx_fail_int(MX_EINVAL,
                       "[quantize] The last dimension of the matrix needs to be divisible by "
                       "the quantization group size %d. However the provided  matrix has shape "
                       "%s",
                       gs, b);
  }
  if (mx_q_global_check("quantize", qm, global_scale) < 0) return -1;
  if (qparams_check("quantize", qm, gs, nb) < 0) return -1;
  int64_t k = w->shape[w->ndim - 1];
  int32_t *wq_shape = qshape_last("quantize", w, k * nb / 32);
  int32_t *s_shape = qshape_last("quantize", w, k / gs);
  int rc = -1;
  if (wq_shape && s_shape) {
    int no = qm == MX_QUANT_AFFINE ? 3 : 2;
    mx_dtype st = qm == MX_QUANT_AFFINE ? w->dtype : MX_UINT8;
    mx_out_spec specs[3] = {{MX_UINT32, w->ndim, wq_shape},
                            {st, w->ndim, s_shape},
                            {st, w->ndim, s_shape}};
    mx_p_quantize p = {gs, nb, qm};
    mx_array *in[2] = {w, global_scale};
    rc = mx_op_make(MX_PRIM_QUANTIZE, &p, s, global_scale ? 2 : 1, in, no, specs, out);
    if (rc == 0) *n_out = no;
  }
  free(wq_shape);
  free(s_shape);
  return rc;
}

int mx_quantize_list(mx_array *w, const int *group_size, const int *bits, const char *mode,
                     mx_array *global_scale, mx_array ***out, int *n_out, mx_stream s) {
  mx_array **v = malloc(3 * sizeof(mx_array *));
  if (!v) return mx_fail_int(MX_ENOMEM, "[quantize] out of memory.");
  if (mx_quantize(w, group_size, bits, mode, global_scale, v, n_out, s) < 0) {
    free(v);
    return -1;
  }
  *out = v;
  return 0;
}

/* MLX's validate_mode_with_type: the mode, the biases rule and the result dtype. */
static int qmode_with_type(const char *op, mx_array *scales, mx_array *biases, bool dtype_has,
                           mx_dtype dtype, const char *mode, mx_dtype *out_t) {
  int qm = mx_qmode_parse(op, mode);
  if (qm < 0) return -1;
  if (dtype_has && !mx_dtype_is_floating(dtype))
    return mx_fail_int(MX_EINVAL,
                       "[%s] Only real floating types are supported but output dtype == %s.", op,
                       mx_dtype_name(dtype));
  if (qm == MX_QUANT_AFFINE) {
    if (!biases)
      return mx_fail_int(MX_EINVAL, "[%s] Biases must be provided for affine quantization.", op);
    mx_dtype t = mx_promote_types(scales->dtype, biases->dtype);
    if (!mx_dtype_is_floating(t))
      return mx_fail_int(MX_EINVAL,
                         "[%s] Only real floating types are supported but scales.dtype() == %s "
                         "and biases.dtype() == %s.",
                         op, mx_dtype_name(scales->dtype), mx_dtype_name(biases->dtype));
    *out_t = dtype_has ? dtype : t;
    return qm;
  }
  if (biases)
    return mx_fail_int(MX_EINVAL, "[%s] Biases must be null for quantization mode '%s'.", op,
                       mode);
  if (scales->dtype != MX_UINT8)
    return mx_fail_int(MX_EINVAL, "[%s] Scale type must be uint8 but received type %s.", op,
                       mx_dtype_name(scales->dtype));
  *out_t = dtype_has ? dtype : MX_BFLOAT16;
  return qm;
}

/* MLX's validate_quantized_input + extract_quantized_matmul_dims: inner and outer receive the
 * dims of the expanded matrix as x sees it. */
int mx_q_qmm_dims(const char *op, mx_array *x, mx_array *w, mx_array *scales,
                    mx_array *biases, bool transpose, int gs, int bits, int *inner, int *outer) {
  char b1[QSTR], b2[QSTR];
  if (w->dtype != MX_UINT32)
    return mx_fail_int(MX_EINVAL, "[%s] The weight matrix should be uint32 but received %s", op,
                       mx_dtype_name(w->dtype));
  if (biases && (biases->ndim != scales->ndim ||
                 memcmp(biases->shape, scales->shape, (size_t)scales->ndim * 4) != 0)) {
    mx_lay_shape_str(b1, sizeof b1, scales->ndim, scales->shape);
    mx_lay_shape_str(b2, sizeof b2, biases->ndim, biases->shape);
    return mx_fail_int(MX_EINVAL,
                       "[%s] Scales and biases should have the same shape. Received scales with "
                       "shape %s and biases with %s",
                       op, b1, b2);
  }
  if (w->ndim < 2 || x->ndim < 1)
    return mx_fail_int(MX_EINVAL, "[%s] The weight matrix must have at least 2 dimensions.", op);
  bool batch_ok = scales->ndim >= w->ndim - 2;
  for (int i = 0; batch_ok && i < w->ndim - 2; i++) batch_ok = w->shape[i] == scales->shape[i];
  if (!batch_ok || scales->ndim < 1) {
    mx_lay_shape_str(b1, sizeof b1, w->ndim, w->shape);
    mx_lay_shape_str(b2, sizeof b2, scales->ndim, scales->shape);
    return mx_fail_int(MX_EINVAL,
                       "[%s] Weight and scales should have the same batch shape. Received "
                       "weight with shape %s, scales with %s.",
                       op, b1, b2);
  }
  int64_t wl = w->shape[w->ndim - 1];
  if (wl * 32 / bits != (int64_t)scales->shape[scales->ndim - 1] * gs) {
    mx_lay_shape_str(b1, sizeof b1, w->ndim, w->shape);
    mx_lay_shape_str(b2, sizeof b2, scales->ndim, scales->shape);
    return mx_fail_int(MX_EINVAL,
                       "[%s] The shapes of the weight and scales are incompatible based on bits "
                       "and group_size. w.shape() == %s and scales.shape() == %s with "
                       "group_size=%d and bits=%d",
                       op, b1, b2, gs, bits);
  }
  int xi = x->shape[x->ndim - 1];
  int wi = transpose ? (int)(wl * 32 / bits) : w->shape[w->ndim - 2];
  int wo = transpose ? w->shape[w->ndim - 2] : (int)(wl * 32 / bits);
  if (wi != xi) {
    mx_lay_shape_str(b1, sizeof b1, w->ndim, w->shape);
    return mx_fail_int(MX_EINVAL,
                       "[%s] Last dimension of first input with shape (..., %d) does not match "
                       "the expanded quantized matrix (%d, %d) computed from shape %s with "
                       "group_size=%d, bits=%d and transpose=%s",
                       op, xi, wi, wo, b1, gs, bits, transpose ? "true" : "false");
  }
  *inner = wi;
  *outer = wo;
  return 0;
}

mx_array *mx_dequantize(mx_array *w, mx_array *scales, mx_array *biases, const int *group_size,
                        const int *bits, const char *mode, mx_array *global_scale,
                        bool dtype_has, mx_dtype dtype, mx_stream s) {
  if (!w || !scales) return NULL;
  const char *op = "dequantize";
  mx_dtype out_t = MX_FLOAT32;
  int qm = qmode_with_type(op, scales, biases, dtype_has, dtype, mode, &out_t);
  if (qm < 0) return NULL;
  int gs, nb;
  qparams_default(qm, &gs, &nb);
  if (group_size) gs = *group_size;
  if (bits) nb = *bits;
  if (nb <= 0) return mx_fail(MX_EINVAL, "[%s] Invalid value for bits: %d", op, nb);
  if (gs <= 0) return mx_fail(MX_EINVAL, "[%s] Invalid value for group_size: %d", op, gs);
  if (w->dtype != MX_UINT32)
    return mx_fail(MX_EINVAL, "[%s] The matrix should be given as a uint32", op);
  if (w->ndim < 2)
    return mx_fail(MX_EINVAL,
                   "[%s] The matrix to be dequantized must have at least 2 dimension but it "
                   "has only %d.",
                   op, w->ndim);
  if (mx_q_global_check(op, qm, global_scale) < 0) return NULL;
  if (qparams_check(op, qm, gs, nb) < 0) return NULL;
  const char *what = qm == MX_QUANT_AFFINE ? "scales and biases" : "scales";
  bool same = scales->ndim == w->ndim && (!biases || biases->ndim == w->ndim);
  for (int i = 0; same && i < w->ndim - 1; i++)
    same = scales->shape[i] == w->shape[i] && (!biases || biases->shape[i] == w->shape[i]);
  if (same && biases) same = biases->shape[w->ndim - 1] == scales->shape[w->ndim - 1];
  if (!same)
    return mx_fail(MX_EINVAL, "[%s] Shape of %s does not match the matrix", op, what);
  int64_t out_size = (int64_t)w->shape[w->ndim - 1] * 32 / nb;
  if (out_size != (int64_t)scales->shape[w->ndim - 1] * gs) {
    char b1[QSTR], b2[QSTR];
    mx_lay_shape_str(b1, sizeof b1, w->ndim, w->shape);
    mx_lay_shape_str(b2, sizeof b2, scales->ndim, scales->shape);
    if (qm == MX_QUANT_AFFINE)
      return mx_fail(MX_EINVAL,
                     "[%s] Shape of scales and biases does not match the matrix given the "
                     "quantization parameters. Provided matrix of shape %s and scales/biases of "
                     "shape %s with group_size=%d and bits=%d.",
                     op, b1, b2, gs, nb);
    return mx_fail(MX_EINVAL,
                   "[%s] Shape of scales does not match the matrix given the quantization "
                   "parameters. Provided matrix of shape %s and scales of shape %s.",
                   op, b1, b2);
  }
  int32_t *shape = qshape_last(op, w, out_size);
  if (!shape) return NULL;
  mx_p_dequantize p = {gs, nb, qm};
  mx_array *in[3] = {w, scales, qm == MX_QUANT_AFFINE ? biases : global_scale};
  int n_in = in[2] ? 3 : 2;
  mx_array *r = mx_op_make1(MX_PRIM_DEQUANTIZE, &p, s, n_in, in, out_t, w->ndim, shape);
  free(shape);
  return r;
}

/* The result dtype of the quantized products: promote(x, scales/biases) for affine, x's
 * dtype otherwise; it must be a real floating type. */
static int qmm_out_type(const char *op, int qm, mx_dtype st, mx_array *x, mx_dtype *out_t) {
  mx_dtype t = qm == MX_QUANT_AFFINE ? mx_promote_types(x->dtype, st) : x->dtype;
  if (!mx_dtype_is_floating(t))
    return mx_fail_int(MX_EINVAL,
                       "[%s] Only real floating types are supported but x.dtype() == %s.", op,
                       mx_dtype_name(x->dtype));
  *out_t = t;
  return 0;
}

mx_array *mx_quantized_matmul(mx_array *x, mx_array *w, mx_array *scales, mx_array *biases,
                              bool transpose, const int *group_size, const int *bits,
                              const char *mode, mx_stream s) {
  if (!x || !w || !scales) return NULL;
  const char *op = "quantized_matmul";
  mx_dtype st;
  int qm = qmode_with_type(op, scales, biases, false, MX_FLOAT32, mode, &st);
  if (qm < 0) return NULL;
  int gs = 0, nb = 0, inner = 0, outer = 0;
  if (mx_qparams_resolve(op, qm, group_size, bits, &gs, &nb) < 0) return NULL;
  if (mx_q_qmm_dims(op, x, w, scales, biases, transpose, gs, nb, &inner, &outer) < 0) return NULL;
  mx_dtype out_t = MX_FLOAT32;
  if (qmm_out_type(op, qm, st, x, &out_t) < 0) return NULL;
  MX_SCOPE_BEGIN;
  int n = qm == MX_QUANT_AFFINE ? 4 : 3;
  mx_array *in[4] = {x, w, scales, biases};
  if (qm == MX_QUANT_AFFINE) {
    in[0] = mx_astype(x, out_t, s);
    in[2] = mx_astype(scales, out_t, s);
    in[3] = mx_astype(biases, out_t, s);
  }
  mx_array *r = NULL;
  if (x->ndim > 2 && w->ndim > 2) {
    /* broadcast the batch dims of every input (the last two kept) */
    int nd = 0;
    int32_t batch[64];
    int32_t tmp[64];
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
      int bn = in[i]->ndim - 2;
      if (bn > 62 || nd > 62) {
        ok = false;
        break;
      }
      int r2 = i == 0 ? (memcpy(batch, in[i]->shape, (size_t)bn * 4), bn)
                      : mx_broadcast_shapes(op, nd, batch, bn, in[i]->shape, tmp);
      if (r2 < 0) {
        ok = false;
        break;
      }
      if (i > 0) memcpy(batch, tmp, (size_t)r2 * 4);
      nd = r2;
    }
    for (int i = 0; i < n && ok; i++) {
      int32_t full[64];
      memcpy(full, batch, (size_t)nd * 4);
      full[nd] = in[i]->shape[in[i]->ndim - 2];
      full[nd + 1] = in[i]->shape[in[i]->ndim - 1];
      in[i] = mx_broadcast_to(in[i], full, nd + 2, s);
      ok = in[i] != NULL;
    }
    if (!ok && mx_error_kind_get() == MX_OK)
      mx_fail(MX_EINVAL, "[%s] Too many batch dimensions.", op);
    if (!ok) in[0] = NULL;
  }
  if (in[0]) {
    int32_t *shape = qshape_last(op, in[0], outer);
    if (shape) {
      mx_p_quantized_matmul p = {gs, nb, qm, transpose};
      r = mx_op_make1(MX_PRIM_QUANTIZED_MATMUL, &p, s, n, in, out_t, in[0]->ndim, shape);
      free(shape);
    }
  }
  MX_SCOPE_RETURN(r);
}

/* arange(prod(batch)).reshape(batch) of a's batch dims (all but the last two). */
static mx_array *qidx_default(mx_array *a, mx_stream s) {
  int nb = a->ndim - 2;
  int64_t total = 1;
  for (int i = 0; i < nb; i++) total *= a->shape[i];
  mx_array *r = mx_arange(0, (double)total, 1, MX_UINT32, s);
  return mx_reshape(r, a->shape, nb, s);
}

mx_array *mx_gather_qmm(mx_array *x, mx_array *w, mx_array *scales, mx_array *biases,
                        mx_array *lhs_indices, mx_array *rhs_indices, bool transpose,
                        const int *group_size, const int *bits, const char *mode,
                        mx_array *global_scale, bool sorted_indices, mx_stream s) {
  if (!x || !w || !scales) return NULL;
  const char *op = "gather_qmm";
  int qm0 = mx_qmode_parse(op, mode);
  if (qm0 < 0) return NULL;
  if (mx_q_global_check(op, qm0, global_scale) < 0) return NULL;
  if (global_scale)
    return mx_fail(MX_EINVAL, "[%s] A global scale is only supported on the GPU.", op);
  if (!lhs_indices && !rhs_indices)
    return mx_quantized_matmul(x, w, scales, biases, transpose, group_size, bits, mode, s);
  mx_dtype st;
  int qm = qmode_with_type(op, scales, biases, false, MX_FLOAT32, mode, &st);
  if (qm < 0) return NULL;
  int gs = 0, nb = 0, inner = 0, outer = 0;
  if (mx_qparams_resolve(op, qm, group_size, bits, &gs, &nb) < 0) return NULL;
  if (x->ndim < 2) {
    char b[QSTR];
    mx_lay_shape_str(b, sizeof b, x->ndim, x->shape);
    return mx_fail(MX_EINVAL,
                   "[%s] Input must have at least two dimensions but got input with shape %s.",
                   op, b);
  }
  if (mx_q_qmm_dims(op, x, w, scales, biases, transpose, gs, nb, &inner, &outer) < 0) return NULL;
  mx_dtype out_t = MX_FLOAT32;
  if (qmm_out_type(op, qm, st, x, &out_t) < 0) return NULL;
  if ((lhs_indices && !mx_dtype_is_integer(lhs_indices->dtype)) ||
      (rhs_indices && !mx_dtype_is_integer(rhs_indices->dtype)))
    return mx_fail(MX_EINVAL,
                   "[%s] Got indices with invalid dtype. Indices must be integral.", op);
  MX_SCOPE_BEGIN;
  mx_array *li = lhs_indices ? lhs_indices : qidx_default(x, s);
  mx_array *ri = rhs_indices ? rhs_indices : qidx_default(w, s);
  mx_array *b2[2] = {li, ri}, *bo[2] = {NULL, NULL};
  mx_array *r = NULL;
  if (li && ri && mx_broadcast_arrays(b2, 2, bo, s) == 0) {
    li = mx_astype(bo[0], MX_UINT32, s);
    ri = mx_astype(bo[1], MX_UINT32, s);
    mx_array *in[6];
    int n = 0;
    in[n++] = mx_astype(x, out_t, s);
    in[n++] = w;
    in[n++] = qm == MX_QUANT_AFFINE ? mx_astype(scales, out_t, s) : scales;
    if (qm == MX_QUANT_AFFINE) in[n++] = mx_astype(biases, out_t, s);
    in[n++] = li;
    in[n++] = ri;
    int nd = li ? li->ndim + 2 : 0;
    int32_t *shape = li ? mx_lay_dims(op, nd) : NULL;
    if (shape) {
      memcpy(shape, li->shape, (size_t)li->ndim * 4);
      shape[nd - 2] = x->shape[x->ndim - 2];
      shape[nd - 1] = outer;
      mx_p_gather_qmm p = {gs, nb, qm, transpose, sorted_indices && !rhs_indices,
                           sorted_indices && !lhs_indices};
      r = mx_op_make1(MX_PRIM_GATHER_QMM, &p, s, n, in, out_t, nd, shape);
      free(shape);
    }
  }
  MX_SCOPE_RETURN(r);
}

mx_array *mx_to_fp8(mx_array *x, mx_stream s) {
  if (!x) return NULL;
  if (!mx_dtype_is_floating(x->dtype))
    return mx_fail(MX_EINVAL,
                   "[to_fp8] Only real floating types are supported but x.dtype() == %s.",
                   mx_dtype_name(x->dtype));
  return mx_op_make1(MX_PRIM_TO_FP8, NULL, s, 1, &x, MX_UINT8, x->ndim, x->shape);
}

mx_array *mx_from_fp8(mx_array *x, mx_dtype dtype, mx_stream s) {
  if (!x) return NULL;
  if (x->dtype != MX_UINT8)
    return mx_fail(MX_EINVAL, "[from_fp8] Input must have type uint8 but x.dtype() == %s.",
                   mx_dtype_name(x->dtype));
  if (!mx_dtype_is_floating(dtype))
    return mx_fail(MX_EINVAL,
                   "[from_fp8] Only real floating types are supported but dtype == %s.",
                   mx_dtype_name(dtype));
  return mx_op_make1(MX_PRIM_FROM_FP8, NULL, s, 1, &x, dtype, x->ndim, x->shape);
}
