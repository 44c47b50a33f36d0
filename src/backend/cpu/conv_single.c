/* conv_single.c: 1-D convolutions of one input channel into one output channel (convolve,
 * conv1d on signals) on the CPU, where im2col would copy every window to feed a matrix-vector
 * product: each output is a dot product along the kernel's in-range taps (forward), each
 * tap's gradient a dot product along the outputs that read it (ConvolutionWeight). Rows (or
 * taps) split over the thread pool. float32 and float64, no input dilation. Depends on conv.h
 * and pool.h. */
#include <string.h>

#include "conv.h"
#include "pool.h"

bool mx_cpu_conv_single_ok(const conv_plan *p) {
  return p->nsp == 1 && p->groups == 1 && p->cig == 1 && p->cout == 1 && p->dims[0].e == 1 &&
         (p->ct == MX_FLOAT32 || p->ct == MX_FLOAT64);
}

/* [lo, hi) of the i >= 0 with 0 <= first + i * step < len (step > 0), clamped to [0, n). */
static void single_range(int64_t first, int64_t step, int64_t len, int64_t n, int64_t *lo,
                         int64_t *hi) {
  int64_t a = first >= 0 ? 0 : (-first + step - 1) / step;
  int64_t b = len - 1 - first < 0 ? 0 : (len - 1 - first) / step + 1;
  *lo = a < n ? a : n;
  *hi = b < n ? b : n;
  if (*hi < *lo) *hi = *lo;
}

typedef struct single_job {
  const conv_plan *p;
  const char *w;        /* forward: the kernel by position (reversed when flipped) */
  const char *cot;      /* weight: (N, O) */
  char *out;            /* forward: (N * O) values; weight: K values (compute dtype) */
  int64_t kd, s, lo;    /* kernel dilation, stride, low padding */
  bool flip;
} single_job;

/* Dot products with independent accumulators (they pipeline; unit strides vectorise). */
#define SINGLE_DEFINE(T, SUF)                                                                   \
  static T single_dot_##SUF(const T *x, int64_t sx, const T *y, int64_t sy, int64_t n) {        \
    int64_t i = 0;                                                                              \
    if (sx == 1 && sy == 1) {                                                                   \
      T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                      \
      for (; i + 8 <= n; i += 8)                                                                \
        for (int l = 0; l < 8; l++) acc[l] += x[i + l] * y[i + l];                              \
      for (; i < n; i++) acc[0] += x[i] * y[i];                                                 \
      return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])); \
    }                                                                                           \
    T a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                                           \
    for (; i + 4 <= n; i += 4) {                                                                \
      a0 += x[i * sx] * y[i * sy];                                                              \
      a1 += x[(i + 1) * sx] * y[(i + 1) * sy];                                                  \
      a2 += x[(i + 2) * sx] * y[(i + 2) * sy];                                                  \
      a3 += x[(i + 3) * sx] * y[(i + 3) * sy];                                                  \
    }                                                                                           \
    for (; i < n; i++) a0 += x[i * sx] * y[i * sy];                                             \
    return (a0 + a1) + (a2 + a3);                                                               \
  }                                                                                             \
                                                                                                \
  static void single_forward_##SUF(void *ctx, int64_t b, int64_t e) {                           \
    const single_job *j = (const single_job *)ctx;                                              \
    const conv_plan *p = j->p;                                                                  \
    int64_t od = p->oshape[0], kdim = p->kshape[0], xs = p->dims[0].xs;                         \
    for (int64_t r = b; r < e; r++) {                                                           \
      int64_t n = r / od, base = p->dims[0].base[r % od], k0, k1;                               \
      single_range(base, j->kd, p->dims[0].span, kdim, &k0, &k1);                               \
      const T *x = (const T *)p->x + n * p->sn + (base + k0 * j->kd) * xs;                      \
      ((T *)j->out)[r] = single_dot_##SUF(x, j->kd * xs, (const T *)j->w + k0, 1, k1 - k0);     \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  static void single_weight_##SUF(void *ctx, int64_t b, int64_t e) {                            \
    const single_job *j = (const single_job *)ctx;                                              \
    const conv_plan *p = j->p;                                                                  \
    int64_t od = p->oshape[0], kdim = p->kshape[0], xs = p->dims[0].xs;                         \
    int64_t batch = p->m / (od > 0 ? od : 1);                                                   \
    for (int64_t pos = b; pos < e; pos++) { /* kernel position (the tap, flipped or not) */     \
      int64_t first = pos * j->kd - j->lo, o0, o1;                                              \
      single_range(first, j->s, p->dims[0].span, od, &o0, &o1);                                 \
      T acc = 0;                                                                                \
      for (int64_t n = 0; n < batch && o1 > o0; n++)                                            \
        acc += single_dot_##SUF((const T *)j->cot + n * od + o0, 1,                             \
                                (const T *)p->x + n * p->sn + (first + o0 * j->s) * xs,         \
                                j->s * xs, o1 - o0);                                            \
      ((T *)j->out)[j->flip ? kdim - 1 - pos : pos] = acc;                                      \
    }                                                                                           \
  }

SINGLE_DEFINE(float, f32)
SINGLE_DEFINE(double, f64)

static void single_job_init(single_job *j, const conv_plan *p, const mx_p_convolution *prm) {
  memset(j, 0, sizeof *j);
  j->p = p;
  j->lo = prm->padding_lo.v[0];
  j->s = prm->strides.v[0];
  j->kd = prm->kernel_dilation.v[0];
  j->flip = prm->flip;
}

int mx_cpu_conv_single_forward(const conv_plan *p, const mx_p_convolution *prm, const char *w,
                                mx_tensor *out) {
  int64_t kdim = p->kshape[0];
  bool flip = prm->flip;
  char *wpos = (char *)malloc((size_t)(kdim > 0 ? kdim : 1) * (size_t)p->csz);
  char *buf = out->dtype == p->ct ? NULL : (char *)malloc((size_t)out->size * (size_t)p->csz);
  if (!wpos || (out->dtype != p->ct && !buf)) {
    free(wpos);
    free(buf);
    return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  }
  for (int64_t k = 0; k < kdim; k++)
    memcpy(wpos + k * p->csz, w + (flip ? kdim - 1 - k : k) * p->csz, (size_t)p->csz);
  single_job j;
  single_job_init(&j, p, prm);
  j.w = wpos;
  j.out = buf ? buf : (char *)out->data;
  int64_t grain = MX_CPU_PARALLEL_GRAIN / (kdim > 0 ? kdim : 1);
  mx_cpu_parallel_for(p->m, grain > 0 ? grain : 1,
                      p->ct == MX_FLOAT64 ? single_forward_f64 : single_forward_f32, &j);
  if (buf) mx_cpu_convert(buf, p->ct, 1, out->data, out->dtype, 1, out->size);
  free(wpos);
  free(buf);
  return 0;
}

int mx_cpu_conv_single_weight(const conv_plan *p, const mx_p_convolution *prm, const char *cot,
                               mx_tensor *out) {
  int64_t kdim = p->kshape[0];
  char *buf = out->dtype == p->ct ? NULL : (char *)malloc((size_t)out->size * (size_t)p->csz);
  if (out->dtype != p->ct && !buf) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  single_job j;
  single_job_init(&j, p, prm);
  j.cot = cot;
  j.out = buf ? buf : (char *)out->data;
  int64_t grain = MX_CPU_PARALLEL_GRAIN / (p->m > 0 ? p->m : 1);
  mx_cpu_parallel_for(kdim, grain > 0 ? grain : 1,
                      p->ct == MX_FLOAT64 ? single_weight_f64 : single_weight_f32, &j);
  if (buf) mx_cpu_convert(buf, p->ct, 1, out->data, out->dtype, 1, out->size);
  free(buf);
  return 0;
}
