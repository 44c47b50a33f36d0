/* fast_sdpa.c: the ScaledDotProductAttention primitive on the CPU. Few queries per head
 * (decode): a tiled online-softmax kernel (fast_sdpa_body.h) over (batch, head, query
 * block, key chunk) units on the thread pool, keys split into chunks merged afterwards when
 * there are too few units to keep the pool busy. Many queries (prefill): per chunk of
 * queries one BLAS product for the logits, rows normalized on the pool, one product with
 * the values. float16/bfloat16 compute in float32, float64 in float64. Query heads share
 * key/value heads in groups (GQA); boolean and causal masks give hidden keys the dtype's
 * lowest value as MLX's reference; additive masks are added. */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "../formulas.h"
#include "fast_rows.h"
#include "pool.h"

#define SDPA_QB 8    /* query rows per unit of the tiled path */
#define SDPA_KB 64   /* keys per block of the tiled path */
#define SDPA_QC 256  /* query rows per chunk of the blocked path */
#define SDPA_BLOCKED_MIN_Q 32 /* queries per head from which the blocked path runs */
#define SDPA_MIN_CHUNK 256

/* A (B, H, T, E) operand with unit stride along E, in the compute type. */
typedef struct sdpa_opnd {
  const void *data;
  int64_t sb, sh, st;
  void *own; /* converted copy, or NULL */
} sdpa_opnd;

typedef struct sdpa_job {
  const mx_tensor *q, *k, *v; /* as given (the tiled path converts rows as it reads them) */
  sdpa_opnd qo, ko, vo;       /* in the compute type with BLAS layouts (the blocked path) */
  const mx_tensor *mask;
  const void *sinks;
  int64_t sinks_stride;
  mx_tensor *out;
  mx_dtype ct;
  int64_t b, nq, nkv, tq, tk, d, dv, osz;
  int64_t nqb, nkc, kchunk;
  double scale, masked;
  bool causal;
  void *part;
  _Atomic int failed;
} sdpa_job;

static size_t sdpa_scratch_size(const sdpa_job *j) {
  size_t e = j->ct == MX_FLOAT64 ? sizeof(double) : sizeof(float);
  return e * (size_t)(SDPA_QB * (j->d + j->dv + 2) + SDPA_QB * SDPA_KB + SDPA_KB +
                     SDPA_KB * (j->d + j->dv));
}

/* The tiled unit is built for the baseline and for AVX-512 (chosen at load time): decode
 * streams K and V once, and wide vectors keep the conversions of float16/bfloat16 rows and
 * the dot products below the memory time. Not under ThreadSanitizer: the clones' ifunc
 * resolvers run before its runtime is up. */
#if defined(__SANITIZE_THREAD__)
#define SDPA_NO_CLONES 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SDPA_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(SDPA_NO_CLONES)
#define SDPA_CLONES __attribute__((target_clones("default", "arch=x86-64-v4")))
#else
#define SDPA_CLONES
#endif

#define SDPA_T float
#define SDPA_SFX f32
#define SDPA_EXP expf
#define SDPA_GEMM cblas_sgemm
#include "fast_sdpa_body.h"
#undef SDPA_T
#undef SDPA_SFX
#undef SDPA_EXP
#undef SDPA_GEMM
#define SDPA_T double
#define SDPA_SFX f64
#define SDPA_EXP exp
#define SDPA_GEMM cblas_dgemm
#include "fast_sdpa_body.h"
#undef SDPA_T
#undef SDPA_SFX
#undef SDPA_EXP
#undef SDPA_GEMM

static void sdpa_units(void *ctx, int64_t u0, int64_t u1) {
  sdpa_job *j = ctx;
  void *scratch = malloc(sdpa_scratch_size(j));
  if (!scratch) {
    atomic_store(&j->failed, 1);
    return;
  }
  for (int64_t u = u0; u < u1; u++) {
    if (j->ct == MX_FLOAT64)
      sdpa_unit_f64(j, u, scratch);
    else
      sdpa_unit_f32(j, u, scratch);
  }
  free(scratch);
}

static void sdpa_combines(void *ctx, int64_t r0, int64_t r1) {
  sdpa_job *j = ctx;
  void *o = malloc((size_t)(j->dv + 1) * sizeof(double));
  if (!o) {
    atomic_store(&j->failed, 1);
    return;
  }
  for (int64_t r = r0; r < r1; r++) {
    if (j->ct == MX_FLOAT64)
      sdpa_combine_f64(j, r, o);
    else
      sdpa_combine_f32(j, r, o);
  }
  free(o);
}

/* Points op at t when it already is in the compute type with a unit last stride, else
 * converts t into a row-contiguous copy. */
static int sdpa_opnd_init(sdpa_opnd *op, const mx_tensor *t, mx_dtype ct) {
  op->own = NULL;
  if (t->dtype == ct && (t->strides[3] == 1 || t->shape[3] <= 1) &&
      (t->shape[2] <= 1 || t->strides[2] >= t->shape[3])) {
    op->data = t->data;
    op->sb = t->strides[0];
    op->sh = t->strides[1];
    op->st = t->shape[2] <= 1 ? t->shape[3] : t->strides[2];
    return 0;
  }
  size_t bytes = (size_t)(t->size > 0 ? t->size : 1) * mx_dtype_size(ct);
  op->own = malloc(bytes);
  if (!op->own) return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  int64_t st[4] = {0, 0, 0, 1};
  for (int d = 2; d >= 0; d--) st[d] = st[d + 1] * t->shape[d + 1];
  mx_tensor dst = {op->own, ct, 4, t->shape, st, t->size, 1 /* row-contiguous */};
  if (mx_cpu_copy_strided(t, &dst) < 0) return -1;
  op->data = op->own;
  op->sb = st[0];
  op->sh = st[1];
  op->st = st[2];
  return 0;
}

int mx_cpu_sdpa(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                int n_out) {
  (void)n_in;
  (void)n_out;
  const mx_p_sdpa *p = ctx->params;
  if (out->size == 0) return 0;
  sdpa_job j = {0};
  j.ct = out->dtype == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
  j.b = in[0].shape[0];
  j.nq = in[0].shape[1];
  j.tq = in[0].shape[2];
  j.d = in[0].shape[3];
  j.nkv = in[1].shape[1];
  j.tk = in[1].shape[2];
  j.dv = in[2].shape[3];
  j.osz = mx_dtype_size(out->dtype);
  j.out = out;
  j.scale = p->scale;
  j.causal = p->causal;
  j.masked = mx_f_sdpa_masked_score(out->dtype);
  int k = 3;
  j.mask = p->has_mask ? &in[k++] : NULL;
  const mx_tensor *sinks = p->has_sinks ? &in[k++] : NULL;
  if (j.tk == 0) { /* no keys: an empty weighted sum */
    memset(out->data, 0, (size_t)out->size * j.osz);
    return 0;
  }
  int rc = -1;
  void *sinks_own = NULL;
  j.q = &in[0];
  j.k = &in[1];
  j.v = &in[2];
  if (sinks) {
    sinks_own = malloc((size_t)j.nq * sizeof(double));
    if (!sinks_own) {
      mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", (size_t)j.nq * 8);
      goto out;
    }
    mx_cpu_convert(sinks->data, sinks->dtype, sinks->strides[0], sinks_own, j.ct, 1, j.nq);
    j.sinks = sinks_own;
    j.sinks_stride = 1;
  }
  if (j.tq >= SDPA_BLOCKED_MIN_Q && j.d > 0 && j.dv > 0 && j.tk <= INT32_MAX / SDPA_QC) {
    if (sdpa_opnd_init(&j.qo, &in[0], j.ct) < 0 || sdpa_opnd_init(&j.ko, &in[1], j.ct) < 0 ||
        sdpa_opnd_init(&j.vo, &in[2], j.ct) < 0)
      goto out;
    rc = j.ct == MX_FLOAT64 ? sdpa_blocked_f64(&j) : sdpa_blocked_f32(&j);
    goto out;
  }
  j.nqb = (j.nq / j.nkv * j.tq + SDPA_QB - 1) / SDPA_QB;
  int64_t units = j.b * j.nkv * j.nqb, want = 4 * (int64_t)mx_cpu_pool_size();
  j.nkc = 1;
  if (units < want && j.tk >= 2 * SDPA_MIN_CHUNK) {
    int64_t by_work = (want + units - 1) / units, by_len = j.tk / SDPA_MIN_CHUNK;
    j.nkc = by_work < by_len ? by_work : by_len;
  }
  j.kchunk = (j.tk + j.nkc - 1) / j.nkc;
  j.kchunk = (j.kchunk + SDPA_KB - 1) / SDPA_KB * SDPA_KB;
  j.nkc = (j.tk + j.kchunk - 1) / j.kchunk;
  if (j.nkc > 1) {
    size_t bytes = (size_t)(j.b * j.nq * j.tq * j.nkc * (j.dv + 2)) * mx_dtype_size(j.ct);
    j.part = malloc(bytes);
    if (!j.part) {
      mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
      goto out;
    }
  }
  /* a unit costs about SDPA_QB * keys * (d + dv) multiply-adds */
  int64_t cost = SDPA_QB * j.kchunk * (j.d + j.dv) + 1;
  int64_t grain = MX_CPU_PARALLEL_GRAIN * 4 / cost;
  mx_cpu_parallel_for(units * j.nkc, grain > 0 ? grain : 1, sdpa_units, &j);
  if (j.nkc > 1 && !atomic_load(&j.failed)) {
    int64_t rows = j.b * j.nq * j.tq;
    int64_t cgrain = MX_CPU_PARALLEL_GRAIN / (j.nkc * (j.dv + 2));
    mx_cpu_parallel_for(rows, cgrain > 0 ? cgrain : 1, sdpa_combines, &j);
  }
  if (atomic_load(&j.failed)) {
    mx_fail(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", sdpa_scratch_size(&j));
    goto out;
  }
  rc = 0;
out:
  free(j.qo.own);
  free(j.ko.own);
  free(j.vo.own);
  free(j.part);
  free(sinks_own);
  return rc;
}
