/* linalg.h: what the LAPACK kernels (linalg.c, linalg_decomp.c) share: one matrix of a batch
 * loaded into a column-major scratch and stored back row-major, and the batch driver that
 * runs one factorization per matrix (over the thread pool when the matrices are small). */
#ifndef MX_CPU_LINALG_H
#define MX_CPU_LINALG_H

#include <complex.h>
#define lapack_complex_float float _Complex
#define lapack_complex_double double _Complex
#include <lapacke.h>

#include "cpu.h"

/* Element offset of matrix b (row-major over the leading dims) of t. */
int64_t mx_la_batch_offset(const mx_tensor *t, int64_t b);
/* Matrix b of t (rows x cols, its last two axes) into dst column-major with leading dim ld
 * (4- or 8-byte elements copied bit for bit; complex64 counts as 8 bytes). */
void mx_la_load(const mx_tensor *t, int64_t b, int rows, int cols, void *dst, int ld);
/* Column-major src (rows x cols, leading dim ld) into row-major dst, elements of esz bytes. */
void mx_la_store(const void *src, int ld, int rows, int cols, void *dst, int esz);

/* A failure recorded by a worker, reported by the calling thread:
 * "[<prim>::eval_cpu] <what> failed with error code <code>." */
typedef struct mx_la_fail {
  _Atomic int code;
  const char *_Atomic what;
} mx_la_fail;

/* One factorization: matrix b, with a scratch of the job's ws_bytes. 0, or a LAPACK info
 * code (set *what). */
typedef int (*mx_la_one_fn)(void *job, int64_t b, void *ws, const char **what);

/* Runs one(job, b, ws) for b in [0, nbatch); matrices of `cost` elements each decide
 * whether the batch is split over the pool. 0, or -1 with the error set (prim names it). */
int mx_la_run(const char *prim, int64_t nbatch, int64_t cost, size_t ws_bytes, mx_la_one_fn one,
              void *job);

#endif
