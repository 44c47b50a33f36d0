/* fast_rows.h: what the mx.fast CPU kernels share: the element offset of a row of a strided
 * tensor (all dims but the last unravelled), rounding a float row through a storage dtype,
 * and loading a float row of any floating dtype. Depends on cpu.h and half.h. */
#ifndef MX_CPU_FAST_ROWS_H
#define MX_CPU_FAST_ROWS_H

#include "cpu.h"
#include "half.h"

/* Offset in elements of row r of t (t's last dim is the row; rows in row-major order). */
static inline int64_t mx_fast_row_offset(const mx_tensor *t, int64_t r) {
  int64_t off = 0;
  for (int d = t->ndim - 2; d >= 0; d--) {
    int64_t n = t->shape[d];
    off += (r % n) * t->strides[d];
    r /= n;
  }
  return off;
}

/* Element stride along the last dim (0 for a 0-d tensor). */
static inline int64_t mx_fast_last_stride(const mx_tensor *t) {
  return t->ndim ? t->strides[t->ndim - 1] : 0;
}

/* Rounds n floats to dtype t and back (identity for float32 and float64). */
static inline void mx_fast_round_f32(float *v, int64_t n, mx_dtype t) {
  if (t == MX_FLOAT16)
    for (int64_t i = 0; i < n; i++) v[i] = mx_f16_to_f32(mx_f32_to_f16(v[i]));
  else if (t == MX_BFLOAT16)
    for (int64_t i = 0; i < n; i++) v[i] = mx_bf16_to_f32(mx_f32_to_bf16(v[i]));
}

/* n float16 values (element stride st) as float32, branch-free so a unit-stride row
 * vectorizes: the magnitude bits moved into float32 position scaled by 2^112 give every
 * finite value exactly (subnormals included); exponent 31 becomes inf/NaN. */
static inline void mx_fast_f16_row(const uint16_t *src, int64_t st, float *dst, int64_t n) {
  if (st == 1) {
    for (int64_t i = 0; i < n; i++) {
      uint32_t h = src[i];
      float f = mx_f32_from_bits((h & 0x7fffu) << 13) * 0x1p112f;
      uint32_t r = mx_f32_bits(f) | (((h & 0x7c00u) == 0x7c00u) ? 0x7f800000u : 0u);
      dst[i] = mx_f32_from_bits(r | ((h & 0x8000u) << 16));
    }
  } else {
    for (int64_t i = 0; i < n; i++) dst[i] = mx_f16_to_f32(src[i * st]);
  }
}

#endif
