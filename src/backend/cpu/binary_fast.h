/* binary_fast.h: vector tiles of the common binary and compare members (add, subtract,
 * multiply, divide, maximum, minimum and the six comparisons) for float32, float64, int32,
 * int64, float16 and bfloat16, built for AVX-512 and AVX2+FMA and picked at run time with
 * vmath.h's level. Same contract and results as binary.c's generic tiles. */
#ifndef MX_CPU_BINARY_FAST_H
#define MX_CPU_BINARY_FAST_H

#include <stdint.h>

#include "cpu.h"

/* o[0..n) = f(a[i*sa], b[i*sb]); o contiguous (bool for the comparisons). */
typedef void (*mx_bf_tile_fn)(const void *a, int64_t sa, const void *b, int64_t sb, void *o,
                              int64_t n);

/* The vector tile of primitive `prim` for dtype t on this CPU, or NULL (baseline CPUs and
 * the members/dtypes above excepted). */
mx_bf_tile_fn mx_cpu_binary_fast(int prim, mx_dtype t);

#endif
