/* conv_grouped.c: grouped convolutions with few channels per group (depthwise and the like)
 * on the CPU, where one GEMM per group would be a tiny call each: direct loops over the
 * output channels (contiguous, so they vectorise), output rows split over the thread pool.
 * Convolution accumulates each output row; ConvolutionWeight accumulates per-chunk partial
 * sums merged under a lock. float32 and float64 (float16/bfloat16 come in as float32).
 * Depends on conv.h and pool.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "conv.h"
#include "pool.h"

#define GRP_MAX_CHANNELS 64 /* C_in/groups * C_out/groups up to which the direct loops win */

bool mx_cpu_conv_grouped_ok(int64_t groups, int64_t cig, int64_t cog, mx_dtype ct) {
  return groups > 1 && cig * cog <= GRP_MAX_CHANNELS && (ct == MX_FLOAT32 || ct == MX_FLOAT64);
}

typedef struct grp_job {
  const conv_plan *p;
  const char *w;              /* forward: (taps, C_in/g, C_out) */
  const char *cot;            /* weight: (rows, C_out) */
  char *out;                  /* forward: output rows in out_t */
  mx_dtype out_t;
  char *acc;                  /* weight: (taps, C_in/g, C_out) sums */
  pthread_mutex_t mu;
  _Atomic int failed;
} grp_job;

/* Per-chunk scratch: the row positions and tap counters (nsp each), n accumulator values. */
typedef struct grp_scratch {
  int64_t *row;
  int64_t *kidx;
  void *vals;
} grp_scratch;

static int grp_scratch_init(grp_scratch *s, int nsp, int64_t n, int esz) {
  s->row = (int64_t *)malloc((size_t)(nsp > 0 ? nsp : 1) * sizeof(*s->row));
  s->kidx = (int64_t *)malloc((size_t)(nsp > 0 ? nsp : 1) * sizeof(*s->kidx));
  s->vals = calloc((size_t)(n > 0 ? n : 1), (size_t)esz);
  return s->row && s->kidx && s->vals ? 0 : -1;
}

static void grp_scratch_free(grp_scratch *s) {
  free(s->row);
  free(s->kidx);
  free(s->vals);
}

/* The loops, once per element type. x holds the plan's input, c's channels at stride sc. */
#define GRP_DEFINE(T, SUF)                                                                      \
  static void grp_forward_##SUF(void *ctx, int64_t b, int64_t e) {                              \
    grp_job *j = (grp_job *)ctx;                                                                \
    const conv_plan *p = j->p;                                                                  \
    int64_t cig = p->cig, cog = p->cog, cout = p->cout, sc = p->sc;                             \
    grp_scratch s;                                                                              \
    if (grp_scratch_init(&s, p->nsp, cout, sizeof(T)) < 0) {                                    \
      atomic_store(&j->failed, 1);                                                              \
      grp_scratch_free(&s);                                                                     \
      return;                                                                                   \
    }                                                                                           \
    T *acc = (T *)s.vals;                                                                       \
    const T *w = (const T *)j->w;                                                               \
    for (int64_t r = b; r < e; r++) {                                                           \
      const T *base = (const T *)mx_cpu_conv_row(p, r, s.row, s.kidx);                          \
      memset(acc, 0, (size_t)cout * sizeof(T));                                                 \
      for (int64_t k = 0; k < p->kprod; k++) {                                                  \
        int64_t off = mx_cpu_conv_tap(p, s.row, s.kidx);                                        \
        if (off == CONV_NONE) continue;                                                         \
        const T *x = base + off;                                                                \
        for (int64_t ci = 0; ci < cig; ci++) {                                                  \
          const T *wk = w + (k * cig + ci) * cout;                                              \
          if (cig == 1 && cog == 1 && sc == 1) {                                                \
            for (int64_t o = 0; o < cout; o++) acc[o] += x[o] * wk[o];                          \
          } else {                                                                              \
            for (int64_t g = 0; g < p->groups; g++) {                                           \
              T xv = x[(g * cig + ci) * sc];                                                    \
              T *a = acc + g * cog;                                                             \
              const T *wg = wk + g * cog;                                                       \
              for (int64_t o = 0; o < cog; o++) a[o] += xv * wg[o];                             \
            }                                                                                   \
          }                                                                                     \
        }                                                                                       \
      }                                                                                         \
      mx_cpu_convert(acc, p->ct, 1, j->out + r * cout * mx_dtype_size(j->out_t), j->out_t, 1,   \
                     cout);                                                                     \
    }                                                                                           \
    grp_scratch_free(&s);                                                                       \
  }                                                                                             \
                                                                                                \
  static void grp_weight_##SUF(void *ctx, int64_t b, int64_t e) {                               \
    grp_job *j = (grp_job *)ctx;                                                                \
    const conv_plan *p = j->p;                                                                  \
    int64_t cig = p->cig, cog = p->cog, cout = p->cout, sc = p->sc;                             \
    int64_t n = p->kprod * cig * cout;                                                          \
    grp_scratch s;                                                                              \
    if (grp_scratch_init(&s, p->nsp, n, sizeof(T)) < 0) {                                       \
      atomic_store(&j->failed, 1);                                                              \
      grp_scratch_free(&s);                                                                     \
      return;                                                                                   \
    }                                                                                           \
    T *part = (T *)s.vals;                                                                      \
    for (int64_t r = b; r < e; r++) {                                                           \
      const T *base = (const T *)mx_cpu_conv_row(p, r, s.row, s.kidx);                          \
      const T *c = (const T *)j->cot + r * cout;                                                \
      for (int64_t k = 0; k < p->kprod; k++) {                                                  \
        int64_t off = mx_cpu_conv_tap(p, s.row, s.kidx);                                        \
        if (off == CONV_NONE) continue;                                                         \
        const T *x = base + off;                                                                \
        for (int64_t ci = 0; ci < cig; ci++) {                                                  \
          T *dst = part + (k * cig + ci) * cout;                                                \
          if (cig == 1 && cog == 1 && sc == 1) {                                                \
            for (int64_t o = 0; o < cout; o++) dst[o] += c[o] * x[o];                           \
          } else {                                                                              \
            for (int64_t g = 0; g < p->groups; g++) {                                           \
              T xv = x[(g * cig + ci) * sc];                                                    \
              T *d = dst + g * cog;                                                             \
              const T *cg = c + g * cog;                                                        \
              for (int64_t o = 0; o < cog; o++) d[o] += cg[o] * xv;                             \
            }                                                                                   \
          }                                                                                     \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
    pthread_mutex_lock(&j->mu);                                                                 \
    T *acc = (T *)j->acc;                                                                       \
    for (int64_t i = 0; i < n; i++) acc[i] += part[i];                                          \
    pthread_mutex_unlock(&j->mu);                                                               \
    grp_scratch_free(&s);                                                                       \
  }

GRP_DEFINE(float, f32)
GRP_DEFINE(double, f64)

/* Rows per chunk so that a chunk holds about the pool's grain of multiply-adds. */
static int64_t grp_grain(const conv_plan *p) {
  int64_t per_row = p->kprod * p->cig * p->cout;
  int64_t g = MX_CPU_PARALLEL_GRAIN / (per_row > 0 ? per_row : 1);
  return g > 0 ? g : 1;
}

int mx_cpu_conv_grouped_forward(const conv_plan *p, const char *w, mx_tensor *out) {
  grp_job j;
  memset(&j, 0, sizeof j);
  j.p = p;
  j.w = w;
  j.out = (char *)out->data;
  j.out_t = out->dtype;
  atomic_init(&j.failed, 0);
  mx_cpu_parallel_for(p->m, grp_grain(p), p->ct == MX_FLOAT64 ? grp_forward_f64 : grp_forward_f32,
                      &j);
  return atomic_load(&j.failed) ? mx_fail_int(MX_ENOMEM, "[conv] out of memory.") : 0;
}

int mx_cpu_conv_grouped_weight(const conv_plan *p, const char *cot, mx_tensor *out) {
  int64_t n = p->kprod * p->cig * p->cout;
  grp_job j;
  memset(&j, 0, sizeof j);
  j.p = p;
  j.cot = cot;
  atomic_init(&j.failed, 0);
  j.acc = (char *)calloc((size_t)(n > 0 ? n : 1), (size_t)p->csz);
  if (!j.acc) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  pthread_mutex_init(&j.mu, NULL);
  mx_cpu_parallel_for(p->m, grp_grain(p), p->ct == MX_FLOAT64 ? grp_weight_f64 : grp_weight_f32,
                      &j);
  pthread_mutex_destroy(&j.mu);
  int rc = atomic_load(&j.failed) ? mx_fail_int(MX_ENOMEM, "[conv] out of memory.") : 0;
  if (rc == 0) {
    /* (taps, C_in/g, C_out) sums -> out (C_out, taps, C_in/g) */
    int64_t kc = p->kprod * p->cig, osz = mx_dtype_size(out->dtype);
    for (int64_t o = 0; o < p->cout; o++)
      mx_cpu_convert(j.acc + o * p->csz, p->ct, p->cout, (char *)out->data + o * kc * osz,
                     out->dtype, 1, kc);
  }
  free(j.acc);
  return rc;
}
