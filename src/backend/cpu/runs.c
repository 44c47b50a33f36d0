/* runs.c: mx_cpu_parallel_runs (runs.h): one iterator per chunk of runs on the pool. */
#include "runs.h"

#include <stdatomic.h>

#include "pool.h"

typedef struct runs_job {
  int nops, ndim;
  const int32_t *shape;
  const int64_t *const *strides;
  mx_cpu_runs_fn fn;
  void *ctx;
  _Atomic int failed;
} runs_job;

static void runs_chunk(void *arg, int64_t r0, int64_t r1) {
  runs_job *j = (runs_job *)arg;
  mx_cpu_iter it;
  /* the iterator's own allocation can only fail beyond MX_CPU_ITER_INLINE dims */
  if (mx_cpu_iter_init(&it, j->nops, j->ndim, j->shape, j->strides) < 0) {
    mx_error_clear();
    atomic_store(&j->failed, 1);
    return;
  }
  if (j->fn(j->ctx, &it, r0, r1) < 0) atomic_store(&j->failed, 1);
  mx_cpu_iter_free(&it);
}

int mx_cpu_parallel_runs(int nops, int ndim, const int32_t *shape, const int64_t *const *strides,
                         int64_t work_per_item, mx_cpu_runs_fn fn, void *ctx) {
  mx_cpu_iter it;
  if (mx_cpu_iter_init(&it, nops, ndim, shape, strides) < 0) return -1;
  int64_t nruns = it.nruns;
  int64_t work_per_run = (work_per_item > 0 ? work_per_item : 1) * mx_cpu_iter_len(&it);
  if (nruns * work_per_run < MX_CPU_PARALLEL_GRAIN || nruns < 2) {
    int rc = nruns > 0 ? fn(ctx, &it, 0, nruns) : 0;
    mx_cpu_iter_free(&it);
    return rc < 0 ? mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate kernel scratch.") : 0;
  }
  mx_cpu_iter_free(&it);
  runs_job j = {nops, ndim, shape, strides, fn, ctx, 0};
  int64_t grain = MX_CPU_PARALLEL_GRAIN / work_per_run;
  mx_cpu_parallel_for(nruns, grain > 0 ? grain : 1, runs_chunk, &j);
  if (atomic_load(&j.failed))
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate kernel scratch.");
  return 0;
}
