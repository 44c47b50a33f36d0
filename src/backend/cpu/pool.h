/* pool.h: the CPU thread pool (DESIGN section 6): one pool sized to the cores; a parallel
 * loop splits [0, n) into chunks run by the pool and the caller; work below the grain runs
 * inline on the caller. Safe to call from several stream workers at once (a loop that finds
 * the pool busy runs inline). */
#ifndef MX_CPU_POOL_H
#define MX_CPU_POOL_H

#include <stdint.h>

#define MX_CPU_PARALLEL_GRAIN 32768 /* elements below which a loop stays on the caller */

typedef void (*mx_cpu_range_fn)(void *ctx, int64_t begin, int64_t end);

/* Runs fn(ctx, b, e) over disjoint ranges covering [0, n); each range holds at least `grain`
 * items (except the last). Returns when all ranges are done. */
void mx_cpu_parallel_for(int64_t n, int64_t grain, mx_cpu_range_fn fn, void *ctx);
/* Threads the pool uses including the caller (>= 1). */
int mx_cpu_pool_size(void);

#endif
