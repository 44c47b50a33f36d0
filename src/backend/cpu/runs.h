/* runs.h: parallel loops over the runs of a strided iteration (cpu.h's iterator) on the
 * CPU pool (pool.h): each chunk of runs gets its own iterator, so kernels written as
 * "for each run r in [r0, r1)" parallelise without sharing iterator state. */
#ifndef MX_CPU_RUNS_H
#define MX_CPU_RUNS_H

#include "cpu.h"

/* Handles runs [r0, r1) of `it` (already initialised, not positioned). Returns 0, or -1
 * when it could not run (reported as ENOMEM on the calling thread). */
typedef int (*mx_cpu_runs_fn)(void *ctx, mx_cpu_iter *it, int64_t r0, int64_t r1);

/* Iterates `shape` for nops operands (mx_cpu_iter_init's arguments) and calls fn over all
 * runs, split across the pool when the work is large: work_per_item is the cost (in
 * element operations) of one position of a run. 0, or -1 with the error. */
int mx_cpu_parallel_runs(int nops, int ndim, const int32_t *shape, const int64_t *const *strides,
                         int64_t work_per_item, mx_cpu_runs_fn fn, void *ctx);

#endif
