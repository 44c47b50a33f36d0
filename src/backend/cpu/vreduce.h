/* vreduce.h: float32/float64 sum, max and min over contiguous elements for the Reduce
 * kernel, built for AVX-512, AVX2 and baseline x86-64 and picked with vmath.h's level.
 * Every build keeps the same 32 (float32) or 16 (float64) partial accumulators combined
 * in the same order, so a result does not depend on the instruction set. max/min
 * propagate NaN as formulas.h's mx_red_max/min do. */
#ifndef MX_CPU_VREDUCE_H
#define MX_CPU_VREDUCE_H

#include <stdint.h>

/* run: *acc = combine(*acc, x[0..n)); cols: acc[i] = combine(acc[i], x[i]) */
typedef void (*mx_vred_fn)(void *acc, const void *x, int64_t n);

/* kind: MX_REDUCE_SUM, MX_REDUCE_MAX or MX_REDUCE_MIN; dtype float32 (0) or float64 (1).
 * NULL where not provided. */
mx_vred_fn mx_vred_run(int kind, int f64);
mx_vred_fn mx_vred_cols(int kind, int f64);

#endif
