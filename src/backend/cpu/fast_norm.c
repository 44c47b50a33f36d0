/* fast_norm.c: the RMSNorm and LayerNorm primitives on the CPU: one pass per row over the
 * last axis of a strided input, rows split over the thread pool. Rows accumulate in float32
 * (float64 for float64 inputs); the normalized row is rounded to the output dtype before the
 * weight and bias apply in it, as MLX's reference (spec/semantics.md 12.1). */
#include <math.h>
#include <stdatomic.h>

#include "fast_rows.h"
#include "pool.h"

#define NORM_LANES 8

typedef struct norm_job {
  const mx_tensor *x, *w, *b; /* b NULL for RMSNorm */
  mx_tensor *out;
  int64_t d;
  double eps;
  _Atomic int failed;
} norm_job;

/* Row statistics: sum of v, and sum of (v - shift)^2, each over NORM_LANES partial sums. */
#define NORM_DEFINE(T, sfx, DT)                                                               \
  static T norm_sum_##sfx(const T *v, int64_t n) {                                           \
    T acc[NORM_LANES] = {0};                                                                 \
    int64_t i = 0;                                                                           \
    for (; i + NORM_LANES <= n; i += NORM_LANES)                                             \
      for (int k = 0; k < NORM_LANES; k++) acc[k] += v[i + k];                               \
    for (int k = 0; i < n; i++, k++) acc[k] += v[i];                                         \
    T r = 0;                                                                                 \
    for (int k = 0; k < NORM_LANES; k++) r += acc[k];                                        \
    return r;                                                                                \
  }                                                                                          \
  static T norm_sumsq_##sfx(const T *v, int64_t n, T shift) {                                \
    T acc[NORM_LANES] = {0};                                                                 \
    int64_t i = 0;                                                                           \
    for (; i + NORM_LANES <= n; i += NORM_LANES)                                             \
      for (int k = 0; k < NORM_LANES; k++) {                                                 \
        T c = v[i + k] - shift;                                                              \
        acc[k] += c * c;                                                                     \
      }                                                                                      \
    for (int k = 0; i < n; i++, k++) {                                                       \
      T c = v[i] - shift;                                                                    \
      acc[k] += c * c;                                                                       \
    }                                                                                        \
    T r = 0;                                                                                 \
    for (int k = 0; k < NORM_LANES; k++) r += acc[k];                                        \
    return r;                                                                                \
  }                                                                                          \
  static void norm_rows_##sfx(norm_job *j, int64_t r0, int64_t r1) {                         \
    int64_t d = j->d;                                                                        \
    T *buf = (T *)malloc((size_t)(3 * d + 1) * sizeof(T));                                   \
    if (!buf) {                                                                              \
      atomic_store(&j->failed, 1);                                                           \
      return;                                                                                \
    }                                                                                        \
    T *w = buf + d, *bias = buf + 2 * d;                                                     \
    mx_dtype ot = j->out->dtype;                                                             \
    /* weight and bias (0-d: one value broadcast) in the compute type */                     \
    mx_cpu_convert(j->w->data, j->w->dtype, mx_fast_last_stride(j->w), w, DT, 1,            \
                   j->w->ndim ? d : 1);                                                      \
    if (!j->w->ndim)                                                                         \
      for (int64_t i = 1; i < d; i++) w[i] = w[0];                                           \
    if (j->b) {                                                                              \
      mx_cpu_convert(j->b->data, j->b->dtype, mx_fast_last_stride(j->b), bias, DT, 1,       \
                     j->b->ndim ? d : 1);                                                    \
      if (!j->b->ndim)                                                                       \
        for (int64_t i = 1; i < d; i++) bias[i] = bias[0];                                   \
    }                                                                                        \
    int64_t sx = mx_fast_last_stride(j->x);                                                  \
    T eps = (T)j->eps, inv_d = (T)1 / (T)d;                                                  \
    for (int64_t r = r0; r < r1; r++) {                                                      \
      mx_cpu_convert(mx_cpu_at(j->x, mx_fast_row_offset(j->x, r)), j->x->dtype, sx, buf, DT, \
                     1, d);                                                                  \
      T mu = 0;                                                                              \
      if (j->b) mu = norm_sum_##sfx(buf, d) * inv_d;                                         \
      T var = norm_sumsq_##sfx(buf, d, mu) * inv_d;                                          \
      T rs = (T)1 / (T)sqrt(var + eps);                                                      \
      for (int64_t i = 0; i < d; i++) buf[i] = (buf[i] - mu) * rs;                           \
      NORM_ROUND_##sfx(buf, d, ot);                                                          \
      for (int64_t i = 0; i < d; i++) buf[i] *= w[i];                                        \
      if (j->b) {                                                                            \
        NORM_ROUND_##sfx(buf, d, ot);                                                        \
        for (int64_t i = 0; i < d; i++) buf[i] += bias[i];                                   \
      }                                                                                      \
      mx_cpu_convert(buf, DT, 1, (char *)j->out->data + r * d * mx_dtype_size(ot), ot, 1, d); \
    }                                                                                        \
    free(buf);                                                                               \
  }

#define NORM_ROUND_f32(v, n, t) mx_fast_round_f32(v, n, t)
#define NORM_ROUND_f64(v, n, t) ((void)0)
NORM_DEFINE(float, f32, MX_FLOAT32)
NORM_DEFINE(double, f64, MX_FLOAT64)

static void norm_range(void *ctx, int64_t r0, int64_t r1) {
  norm_job *j = ctx;
  if (j->out->dtype == MX_FLOAT64)
    norm_rows_f64(j, r0, r1);
  else
    norm_rows_f32(j, r0, r1);
}

static int norm_run(const mx_kernel_ctx *ctx, const mx_tensor *in, bool layer, mx_tensor *out) {
  const double *eps = ctx->params; /* both parameter structs are {double eps} */
  norm_job j = {&in[0], &in[1], layer ? &in[2] : NULL, out, 0, *eps, 0};
  if (out->size == 0) return 0;
  j.d = in[0].shape[in[0].ndim - 1];
  int64_t rows = out->size / j.d;
  int64_t grain = MX_CPU_PARALLEL_GRAIN / j.d;
  mx_cpu_parallel_for(rows, grain > 0 ? grain : 1, norm_range, &j);
  if (atomic_load(&j.failed))
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %lld bytes.",
                       (long long)(3 * j.d + 1) * 8);
  return 0;
}

int mx_cpu_rms_norm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                    int n_out) {
  (void)n_in;
  (void)n_out;
  return norm_run(ctx, in, false, out);
}

int mx_cpu_layer_norm(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in, mx_tensor *out,
                      int n_out) {
  (void)n_in;
  (void)n_out;
  return norm_run(ctx, in, true, out);
}
