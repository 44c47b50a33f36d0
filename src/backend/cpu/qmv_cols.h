/* qmv_cols.h: quantized_matmul with transpose=False for a few rows of x (decode), affine
 * 4- and 8-bit weights. Depends on cpu.h. */
#ifndef MX_CPU_QMV_COLS_H
#define MX_CPU_QMV_COLS_H

#include "cpu.h"

/* out (M x N) = x (M x K) @ W for packed affine codes w (K rows of N codes, bits 4 or 8) with
 * float32 group scales/biases sc/bi (K x N/gs). 0; -1 with the error set; 1 when the shape or
 * bit width is not one it handles (nothing written). */
int mx_cpu_qmv_cols(const float *x, int M, int K, const uint32_t *w, const float *sc,
                    const float *bi, int N, int bits, int gs, float *out);

#endif
