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

#endif
