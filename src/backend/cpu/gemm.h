/* gemm.h: GEMMs through OpenBLAS with the work split over the project's thread pool. BLAS runs
 * single-threaded (its own threads would compete with the pool's), each pool task multiplying a
 * band of rows or columns. Private to src/backend/cpu. */
#ifndef MX_BACKEND_CPU_GEMM_H
#define MX_BACKEND_CPU_GEMM_H

#include <stdbool.h>

#include "cpu.h"

/* C (m x n, ldc) = op(A) @ op(B) (+ C when accumulate), row-major; op transposes when ta / tb.
 * dt: MX_FLOAT32, MX_FLOAT64, MX_COMPLEX64, or MX_BFLOAT16 (bfloat16 operands, float32 C;
 * only where mx_cpu_gemm_has_bf16()). Large products are split over the pool; a call made
 * from inside a pool task runs on its thread. */
void mx_cpu_gemm(mx_dtype dt, bool ta, bool tb, int m, int n, int k, const void *a, int lda,
                 const void *b, int ldb, bool accumulate, void *c, int ldc);
/* Whether the BLAS exports a bfloat16 GEMM. */
bool mx_cpu_gemm_has_bf16(void);
/* Makes BLAS single-threaded (once per process); mx_cpu_gemm calls it itself. */
void mx_cpu_gemm_init(void);

#endif
