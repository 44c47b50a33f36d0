/* gemm.c: OpenBLAS GEMMs split over the thread pool (gemm.h). BLAS is set single-threaded once;
 * a product of enough work is cut into bands of rows of C (or of columns when C is wide and
 * short), one cblas call per band, so BLAS never oversubscribes the cores the pool holds. */
#include "gemm.h"

#include <cblas.h>
#include <pthread.h>

#include "pool.h"

/* Weak: OpenBLAS builds without BUILD_BFLOAT16 declare it in cblas.h but do not export it. */
#pragma weak cblas_sbgemm
#pragma weak openblas_set_num_threads

#define GEMM_SPLIT_FLOPS (1 << 21) /* multiply-adds per band below which one call does it all */
#define GEMM_BAND 16               /* rows (columns) per band unit: the kernels' panel width */

static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;

static void gemm_single_thread(void) {
  if (openblas_set_num_threads) openblas_set_num_threads(1);
}

void mx_cpu_gemm_init(void) { pthread_once(&gemm_once, gemm_single_thread); }

bool mx_cpu_gemm_has_bf16(void) { return cblas_sbgemm != NULL; }

typedef struct gemm_job {
  mx_dtype dt;
  bool ta, tb, acc, by_cols;
  int m, n, k, lda, ldb, ldc, esz, csz;
  const char *a, *b;
  char *c;
} gemm_job;

static void gemm_call(const gemm_job *j, int m, int n, const char *a, const char *b, char *c) {
  enum CBLAS_TRANSPOSE oa = j->ta ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE ob = j->tb ? CblasTrans : CblasNoTrans;
  switch (j->dt) {
  case MX_FLOAT64:
    cblas_dgemm(CblasRowMajor, oa, ob, m, n, j->k, 1.0, (const double *)a, j->lda,
                (const double *)b, j->ldb, j->acc ? 1.0 : 0.0, (double *)c, j->ldc);
    break;
  case MX_COMPLEX64: {
    const float one[2] = {1.0f, 0.0f}, beta[2] = {j->acc ? 1.0f : 0.0f, 0.0f};
    cblas_cgemm(CblasRowMajor, oa, ob, m, n, j->k, one, a, j->lda, b, j->ldb, beta, c, j->ldc);
    break;
  }
  case MX_BFLOAT16:
    cblas_sbgemm(CblasRowMajor, oa, ob, m, n, j->k, 1.0f, (const bfloat16 *)a, j->lda,
                 (const bfloat16 *)b, j->ldb, j->acc ? 1.0f : 0.0f, (float *)c, j->ldc);
    break;
  default:
    cblas_sgemm(CblasRowMajor, oa, ob, m, n, j->k, 1.0f, (const float *)a, j->lda,
                (const float *)b, j->ldb, j->acc ? 1.0f : 0.0f, (float *)c, j->ldc);
    break;
  }
}

/* Band units [u0, u1) (pool callback). */
static void gemm_bands(void *ctx, int64_t u0, int64_t u1) {
  const gemm_job *j = (const gemm_job *)ctx;
  int64_t lim = j->by_cols ? j->n : j->m;
  int64_t i0 = u0 * GEMM_BAND, i1 = u1 * GEMM_BAND < lim ? u1 * GEMM_BAND : lim;
  int len = (int)(i1 - i0);
  if (j->by_cols) { /* columns i0.. of op(B) and of C */
    const char *b = j->b + (j->tb ? i0 * j->ldb : i0) * j->esz;
    gemm_call(j, j->m, len, j->a, b, j->c + i0 * j->csz);
  } else {          /* rows i0.. of op(A) and of C */
    const char *a = j->a + (j->ta ? i0 : i0 * j->lda) * j->esz;
    gemm_call(j, len, j->n, a, j->b, j->c + i0 * j->ldc * j->csz);
  }
}

void mx_cpu_gemm(mx_dtype dt, bool ta, bool tb, int m, int n, int k, const void *a, int lda,
                 const void *b, int ldb, bool accumulate, void *c, int ldc) {
  mx_cpu_gemm_init();
  gemm_job j = {dt, ta, tb, accumulate, n > 2 * m, m, n, k, lda, ldb, ldc, 0, 0,
                (const char *)a, (const char *)b, (char *)c};
  j.esz = mx_dtype_size(dt);
  j.csz = dt == MX_BFLOAT16 ? 4 : j.esz;
  if (m <= 0 || n <= 0) return;
  int64_t span = j.by_cols ? n : m, other = j.by_cols ? m : n;
  int64_t units = (span + GEMM_BAND - 1) / GEMM_BAND;
  int64_t per_unit = GEMM_BAND * other * (int64_t)(k > 0 ? k : 1);
  int threads = mx_cpu_pool_size();
  if (threads == 1 || units < 2 || units * per_unit < 2 * (int64_t)GEMM_SPLIT_FLOPS) {
    gemm_call(&j, m, n, j.a, j.b, j.c);
    return;
  }
  /* about one band per thread (fewer when a band would hold too little work) */
  int64_t grain = units / threads, min_grain = GEMM_SPLIT_FLOPS / per_unit;
  if (grain < min_grain) grain = min_grain;
  if (grain < 1) grain = 1;
  mx_cpu_parallel_for(units, grain, gemm_bands, &j);
}
