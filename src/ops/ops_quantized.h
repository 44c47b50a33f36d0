/* ops_quantized.h: op constructors of quantize/dequantize and the quantized matrix products
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_QUANTIZED_H
#define MX_OPS_QUANTIZED_H

/* Quantization modes (the `mode` parameter of the quant primitives; formulas.h mirrors the
 * values as MX_QMODE_*). */
typedef enum mx_qmode {
  MX_QUANT_AFFINE = 0,
  MX_QUANT_MXFP4 = 1,
  MX_QUANT_MXFP8 = 2,
  MX_QUANT_NVFP4 = 3,
} mx_qmode;

/* "affine" | "mxfp4" | "mxfp8" | "nvfp4" -> mode; -1 + EINVAL "[op] Invalid quantization
 * mode ..." otherwise. */
int mx_qmode_parse(const char *op, const char *mode);
/* The mode's name ("affine", ...). */
const char *mx_qmode_name(int mode);
/* Resolves the optional group size / bits (NULL: the mode's default) and checks them for
 * the mode with MLX's messages. 0 or -1. */
int mx_qparams_resolve(const char *op, int mode, const int *group_size, const int *bits,
                       int *gs_out, int *bits_out);

/* Quantizes w along its last axis: out[0] = w_q (uint32), out[1] = scales, out[2] = biases
 * (affine only). *n_out receives 3 or 2. global_scale: NULL or a float32 scalar (nvfp4). */
int mx_quantize(mx_array *w, const int *group_size, const int *bits, const char *mode,
                mx_array *global_scale, mx_array **out, int *n_out, mx_stream s);
/* Python/mlx-c form: *out malloc'd (2 or 3 arrays). */
int mx_quantize_list(mx_array *w, const int *group_size, const int *bits, const char *mode,
                     mx_array *global_scale, mx_array ***out, int *n_out, mx_stream s);
/* dtype_has false: scales' dtype (affine) or bfloat16 (fp modes). */
mx_array *mx_dequantize(mx_array *w, mx_array *scales, mx_array *biases, const int *group_size,
                        const int *bits, const char *mode, mx_array *global_scale,
                        bool dtype_has, mx_dtype dtype, mx_stream s);
mx_array *mx_quantized_matmul(mx_array *x, mx_array *w, mx_array *scales, mx_array *biases,
                              bool transpose, const int *group_size, const int *bits,
                              const char *mode, mx_stream s);
mx_array *mx_gather_qmm(mx_array *x, mx_array *w, mx_array *scales, mx_array *biases,
                        mx_array *lhs_indices, mx_array *rhs_indices, bool transpose,
                        const int *group_size, const int *bits, const char *mode,
                        mx_array *global_scale, bool sorted_indices, mx_stream s);
/* x @ w^T with x quantized on the fly and w quantized on the fly (floats) or given packed
 * with its scales; nvfp4 / mxfp8; output x's dtype (src/ops/qqmm.c). */
mx_array *mx_qqmm(mx_array *x, mx_array *w, mx_array *scales, const int *group_size,
                  const int *bits, const char *mode, mx_array *global_scale_x,
                  mx_array *global_scale_w, mx_stream s);
/* qqmm of the matrices of x and w picked by flat batch indices (as gather_mm). */
mx_array *mx_gather_qqmm(mx_array *x, mx_array *w, mx_array *scales, mx_array *lhs_indices,
                         mx_array *rhs_indices, const int *group_size, const int *bits,
                         const char *mode, mx_array *global_scale_x, mx_array *global_scale_w,
                         bool sorted_indices, mx_stream s);
/* The QQMatmul primitive for checked parameters (what the rules build): w is 2-D or has
 * x's batch dims; the last dims of x and w must be whole groups. gx/gw: both or neither. */
mx_array *mx_qqmm_make(mx_array *x, mx_array *w, mx_array *scales, int group_size, int bits,
                       int mode, mx_array *gx, mx_array *gw, mx_stream s);
mx_array *mx_to_fp8(mx_array *x, mx_stream s);
mx_array *mx_from_fp8(mx_array *x, mx_dtype dtype, mx_stream s);

#endif
