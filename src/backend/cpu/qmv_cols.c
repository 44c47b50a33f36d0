/* qmv_cols.c: a few rows of x times affine 4- or 8-bit weights stored (K, N), quantized along
 * N (quantized_matmul with transpose=False): threads own blocks of output columns and walk
 * the K weight rows, adding (x * scale) * code straight from the packed bytes and x * bias once
 * per group; one build of qmv_cols_body.h per instruction set. */
#include "qmv_cols.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "isa_region.h"
#include "pool.h"
#include "vmath.h"

typedef struct qc_job {
  const float *x, *sc, *bi;
  const uint8_t *w;
  float *out;
  int M, K, N, bits, gs;
  int64_t row_bytes, block; /* bytes per weight row; columns per block */
  void (*run)(const struct qc_job *, int64_t, int64_t, float *);
  _Atomic int failed;
} qc_job;

MX_ISA_BEGIN("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#define QC_(name) qc512_##name
#include "qmv_cols_body.h"
#undef QC_
MX_ISA_END

MX_ISA_BEGIN("avx2,fma")
#define QC_(name) qc256_##name
#include "qmv_cols_body.h"
#undef QC_
MX_ISA_END

#define QC_(name) qc128_##name
#include "qmv_cols_body.h"
#undef QC_

static void qc_range(void *ctx, int64_t b, int64_t e) {
  qc_job *j = ctx;
  int64_t B = j->block, ng = B / j->gs;
  float *acc = malloc(sizeof(float) * (size_t)j->M * (size_t)(B + ng));
  if (!acc) {
    atomic_store(&j->failed, 1);
    return;
  }
  for (int64_t blk = b; blk < e; blk++) {
    int64_t c0 = blk * B, c1 = c0 + B < j->N ? c0 + B : j->N;
    j->run(j, c0, c1, acc);
  }
  free(acc);
}

int mx_cpu_qmv_cols(const float *x, int M, int K, const uint32_t *w, const float *sc,
                    const float *bi, int N, int bits, int gs, float *out) {
  if ((bits != 4 && bits != 8) || gs < 2 || N % gs != 0 || M < 1 || K < 1) return 1;
  int64_t groups = N / gs, parts = 4 * (int64_t)mx_cpu_pool_size();
  int64_t per = (groups + parts - 1) / parts, cap = 2048 / gs > 0 ? 2048 / gs : 1;
  if (per > cap) per = cap;
  if (per < 1) per = 1;
  int l = mx_vm_level();
  qc_job j = {x, sc, bi, (const uint8_t *)w, out, M, K, N, bits, gs,
              (int64_t)N * bits / 8, per * gs,
              l == 2 ? qc512_block : l == 1 ? qc256_block : qc128_block, 0};
  mx_cpu_parallel_for((groups + per - 1) / per, 1, qc_range, &j);
  if (atomic_load(&j.failed)) return mx_fail_int(MX_ENOMEM, "[quantized_matmul] out of memory.");
  return 0;
}
