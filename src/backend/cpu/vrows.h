/* vrows.h: float32 row kernels for softmax and logsumexp (maximum with a non-finite flag,
 * exp(x - m) with its sum, scaling), built for AVX-512, AVX2+FMA and baseline x86-64 and
 * picked at run time with vmath.h's level. Every element takes the same instructions
 * wherever it sits in the row (a short tail is padded into a full vector). */
#ifndef MX_CPU_VROWS_H
#define MX_CPU_VROWS_H

#include <stdbool.h>
#include <stdint.h>

/* Largest element of x[0..n) (n >= 1; -inf when all are -inf); *nonfinite tells whether
 * any element is an infinity or a NaN (the maximum is then not meaningful). */
float mx_vr_max_f32(const float *x, int64_t n, bool *nonfinite);
/* y[i] = exp(x[i] - m) (y may be x, or NULL to only sum); returns the sum. m finite,
 * x[i] <= m; results below float's normal range are 0. */
float mx_vr_exp_sum_f32(const float *x, float *y, int64_t n, float m);
/* y[i] *= s */
void mx_vr_scale_f32(float *y, int64_t n, float s);

#endif
