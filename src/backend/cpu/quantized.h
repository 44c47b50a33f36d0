/* quantized.h: what the CPU files of the quant family share (quantized.c: quantize,
 * dequantize, fp8 conversions; quantized_matmul.c: the products): contiguous loads of
 * kernel inputs, dtype rounding, and the bit-stream packing of codes. Depends on cpu.h. */
#ifndef MX_CPU_QUANTIZED_H
#define MX_CPU_QUANTIZED_H

#include "cpu.h"
#include "../formulas.h"

/* A row-contiguous copy of t converted to dtype dt (malloc'd; free it). NULL + ENOMEM. */
void *mx_cpu_q_load(const mx_tensor *t, mx_dtype dt);
/* v rounded to dtype t and back (float32 arithmetic of MLX's float16/bfloat16 ops). */
static inline float mx_cpu_q_round(float v, mx_dtype t) {
  if (t == MX_FLOAT16) return mx_f16_to_f32(mx_f32_to_f16(v));
  if (t == MX_BFLOAT16) return mx_bf16_to_f32(mx_f32_to_bf16(v));
  return v;
}

/* Decoded scale and bias of every group of a quantized tensor (count groups), float32:
 * affine takes scales/biases as given; mxfp* decode E8M0 bytes, nvfp4 E4M3 bytes (times
 * gscale, the global-scale factor, 1 when none); biases are 0 for the fp modes. */
int mx_cpu_q_group_params(const mx_tensor *scales, const mx_tensor *biases, int mode,
                          float gscale, float **sc, float **bi);

/* Decodes n elements (a whole number of groups, starting at a group boundary) of one
 * packed row: words points at the first word of the segment; sc/bi at the segment's first
 * group. out[i] = sc * value(code_i) + bi. */
void mx_cpu_q_decode(const uint32_t *words, int n, int bits, int gs, int mode, const float *sc,
                     const float *bi, float *out);

/* Replaces the n values of v (whole groups of gs) by dequantize(quantize(v)) in an fp mode,
 * quantized as mx.quantize quantizes values of dtype t; gscale: the nvfp4 global scale or
 * NULL. The result equals mx.dequantize(..., dtype=float32) of mx.quantize's output. */
void mx_cpu_q_fake_quant(float *v, int64_t n, mx_dtype t, int gs, int mode, const float *gscale);

/* out (M x N) = x (M x K, float32) @ W^T for the packed rows w (N x K codes) with decoded
 * float32 group scales/biases sc/bi (N x K/gs): quantized_matmul's kernel. 0 or -1. */
int mx_cpu_qmm_rows(const float *x, int M, int K, const uint32_t *w, const float *sc,
                    const float *bi, int N, int bits, int gs, int mode, float *out);

#endif
