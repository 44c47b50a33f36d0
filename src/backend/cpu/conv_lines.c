/* conv_lines.c: convolutions of one group with few input channels (a first layer on grayscale
 * or RGB images), where im2col rows would be a few values long: direct loops along lines of the
 * output's last spatial dim, the taps of the other dims resolved once per line, the output
 * channels innermost (contiguous, so they vectorise). Convolution and ConvolutionWeight (per
 * chunk partial sums merged under a lock); float32 and float64, no input dilation; lines split
 * over the thread pool. Depends on conv.h and pool.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "conv.h"
#include "pool.h"

#define LINES_MAX_TAPS 32    /* im2col row length (taps x C_in) up to which the loops win */
#define LINES_MAX_COUT 256
#define LINES_VEC 16         /* output channels summed together in registers */

bool mx_cpu_conv_lines_ok(const conv_plan *p) {
  if (p->nsp < 1 || p->groups != 1 || p->kprod < 1 || p->ktot > LINES_MAX_TAPS || p->cout > LINES_MAX_COUT ||
      p->cig > 4 || (p->ct != MX_FLOAT32 && p->ct != MX_FLOAT64))
    return false;
  for (int d = 0; d < p->nsp; d++)
    if (p->dims[d].e != 1) return false;
  return true;
}

typedef struct lines_job {
  const conv_plan *p;
  const char *w;       /* forward: (taps, C_in, cpad), C_out zero-padded to cpad */
  int64_t cpad;
  const char *cot;     /* weight: (rows, C_out) */
  char *out;           /* forward: output rows in out_t */
  mx_dtype out_t;
  char *acc;           /* weight: (taps, C_in, C_out) sums */
  pthread_mutex_t mu;
  _Atomic int failed;
} lines_job;

/* Per-chunk scratch: row positions, tap counters, the outer taps' offsets, n values. */
typedef struct lines_scratch {
  int64_t *row, *kidx, *offs;
  void *vals;
} lines_scratch;

static int lines_scratch_init(lines_scratch *s, const conv_plan *p, int64_t n, int esz) {
  int64_t nsp = p->nsp, outer = p->kprod / p->kshape[nsp - 1];
  s->row = (int64_t *)malloc((size_t)nsp * sizeof(int64_t));
  s->kidx = (int64_t *)malloc((size_t)nsp * sizeof(int64_t));
  s->offs = (int64_t *)malloc((size_t)(outer > 0 ? outer : 1) * sizeof(int64_t));
  s->vals = calloc((size_t)(n > 0 ? n : 1), (size_t)esz);
  return s->row && s->kidx && s->offs && s->vals ? 0 : -1;
}

static void lines_scratch_free(lines_scratch *s) {
  free(s->row);
  free(s->kidx);
  free(s->offs);
  free(s->vals);
}

/* Line l (rows l * O_last ...): the batch row's input, and per tap of the outer dims its offset
 * (CONV_NONE when outside the input) into offs. */
static const char *lines_setup(const conv_plan *p, int64_t l, lines_scratch *s) {
  int last = p->nsp - 1;
  const char *base = mx_cpu_conv_row(p, l * p->oshape[last], s->row, s->kidx);
  int64_t outer = p->kprod / p->kshape[last];
  for (int64_t t = 0; t < outer; t++) {
    int64_t off = 0;
    for (int d = 0; d < last && off != CONV_NONE; d++) {
      const conv_dim *c = &p->dims[d];
      int64_t pos = s->row[d] + c->koff[s->kidx[d]];
      off = pos < 0 || pos >= c->span ? CONV_NONE : off + pos * c->xs;
    }
    s->offs[t] = off;
    for (int d = last - 1; d >= 0; d--) {
      if (++s->kidx[d] < p->kshape[d]) break;
      s->kidx[d] = 0;
    }
  }
  return base;
}

/* Over lines [b, e): BEGIN, then BODY for each in-range (tap k, channel ci) of output row r
 * with xv the input value, then END. */
#define LINES_LOOP(T, BEGIN, BODY, END)                                                                     \
  const conv_dim *cl = &p->dims[p->nsp - 1];                                                    \
  int64_t ol = p->oshape[p->nsp - 1], kl = p->kshape[p->nsp - 1], outer = p->kprod / kl;        \
  for (int64_t l = b; l < e; l++) {                                                             \
    const T *base = (const T *)lines_setup(p, l, &s);                                           \
    for (int64_t o = 0; o < ol; o++) {                                                          \
      int64_t r = l * ol + o;                                                                   \
      BEGIN                                                                                     \
      for (int64_t t = 0; t < outer; t++) {                                                     \
        if (s.offs[t] == CONV_NONE) continue;                                                   \
        for (int64_t kw = 0; kw < kl; kw++) {                                                   \
          int64_t pos = cl->base[o] + cl->koff[kw];                                             \
          if (pos < 0 || pos >= cl->span) continue;                                             \
          const T *xp = base + s.offs[t] + pos * cl->xs;                                        \
          int64_t k = t * kl + kw;                                                              \
          for (int64_t ci = 0; ci < cig; ci++) {                                                \
            T xv = xp[ci * sc];                                                                 \
            BODY                                                                                \
          }                                                                                     \
        }                                                                                       \
      }                                                                                         \
      END                                                                                       \
    }                                                                                           \
  }

#define LINES_DEFINE(T, SUF)                                                                    \
  CONV_CLONES static void lines_forward_##SUF(void *ctx, int64_t b, int64_t e) {                            \
    lines_job *j = (lines_job *)ctx;                                                            \
    const conv_plan *p = j->p;                                                                  \
    int64_t cig = p->cig, cout = p->cout, sc = p->sc;                                           \
    int osz = mx_dtype_size(j->out_t);                                                          \
    lines_scratch s;                                                                            \
    if (lines_scratch_init(&s, p, j->cpad, sizeof(T)) < 0) {                                       \
      atomic_store(&j->failed, 1);                                                              \
      lines_scratch_free(&s);                                                                   \
      return;                                                                                   \
    }                                                                                           \
    T *acc = (T *)s.vals;                                                                       \
    const T *w = (const T *)j->w;                                                               \
    int64_t cpad = j->cpad;                                                                     \
    /* LINES_VEC output channels at a time, their sums held in registers */                    \
    LINES_LOOP(                                                                                 \
        T, for (int64_t o0 = 0; o0 < cout; o0 += LINES_VEC) {                                   \
          T a[LINES_VEC] = {0};                                                                 \
          , {                                                                                   \
            const T *wr = w + (k * cig + ci) * cpad + o0;                                       \
            for (int q = 0; q < LINES_VEC; q++) a[q] += xv * wr[q];                             \
          },                                                                                    \
          memcpy(acc + o0, a, sizeof a);                                                        \
        } mx_cpu_convert(acc, p->ct, 1, j->out + r * cout * osz, j->out_t, 1, cout);)           \
    lines_scratch_free(&s);                                                                     \
  }                                                                                             \
                                                                                                \
  CONV_CLONES static void lines_weight_##SUF(void *ctx, int64_t b, int64_t e) {                             \
    lines_job *j = (lines_job *)ctx;                                                            \
    const conv_plan *p = j->p;                                                                  \
    int64_t cig = p->cig, cout = p->cout, sc = p->sc, n = p->kprod * cig * cout;                \
    lines_scratch s;                                                                            \
    if (lines_scratch_init(&s, p, n, sizeof(T)) < 0) {                                          \
      atomic_store(&j->failed, 1);                                                              \
      lines_scratch_free(&s);                                                                   \
      return;                                                                                   \
    }                                                                                           \
    T *part = (T *)s.vals;                                                                      \
    const T *cot = (const T *)j->cot;                                                           \
    LINES_LOOP(                                                                                 \
        T, const T *c = cot + r * cout;                                                         \
        , {                                                                                     \
          T *dst = part + (k * cig + ci) * cout;                                                \
          for (int64_t oc = 0; oc < cout; oc++) dst[oc] += xv * c[oc];                          \
        }, )                                                                                    \
    pthread_mutex_lock(&j->mu);                                                                 \
    T *acc = (T *)j->acc;                                                                       \
    for (int64_t i = 0; i < n; i++) acc[i] += part[i];                                          \
    pthread_mutex_unlock(&j->mu);                                                               \
    lines_scratch_free(&s);                                                                     \
  }

LINES_DEFINE(float, f32)
LINES_DEFINE(double, f64)

/* Lines per chunk so that a chunk holds about the pool's grain of multiply-adds. */
static int64_t lines_grain(const conv_plan *p) {
  int64_t per_line = p->oshape[p->nsp - 1] * p->ktot * p->cout;
  int64_t g = MX_CPU_PARALLEL_GRAIN / (per_line > 0 ? per_line : 1);
  return g > 0 ? g : 1;
}

static int64_t lines_count(const conv_plan *p) {
  int64_t ol = p->oshape[p->nsp - 1];
  return ol > 0 ? p->m / ol : 0;
}

int mx_cpu_conv_lines_forward(const conv_plan *p, const char *w, mx_tensor *out) {
  lines_job j;
  memset(&j, 0, sizeof j);
  j.p = p;
  j.cpad = (p->cout + LINES_VEC - 1) / LINES_VEC * LINES_VEC;
  int64_t rows = p->ktot;
  char *wp = (char *)calloc((size_t)(rows * j.cpad > 0 ? rows * j.cpad : 1), (size_t)p->csz);
  if (!wp) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  for (int64_t i = 0; i < rows; i++)
    memcpy(wp + i * j.cpad * p->csz, w + i * p->cout * p->csz, (size_t)(p->cout * p->csz));
  j.w = wp;
  j.out = (char *)out->data;
  j.out_t = out->dtype;
  atomic_init(&j.failed, 0);
  mx_cpu_parallel_for(lines_count(p), lines_grain(p),
                      p->ct == MX_FLOAT64 ? lines_forward_f64 : lines_forward_f32, &j);
  free(wp);
  return atomic_load(&j.failed) ? mx_fail_int(MX_ENOMEM, "[conv] out of memory.") : 0;
}

int mx_cpu_conv_lines_weight(const conv_plan *p, const char *cot, mx_tensor *out) {
  int64_t n = p->kprod * p->cig * p->cout;
  lines_job j;
  memset(&j, 0, sizeof j);
  j.p = p;
  j.cot = cot;
  atomic_init(&j.failed, 0);
  j.acc = (char *)calloc((size_t)(n > 0 ? n : 1), (size_t)p->csz);
  if (!j.acc) return mx_fail_int(MX_ENOMEM, "[conv] out of memory.");
  pthread_mutex_init(&j.mu, NULL);
  mx_cpu_parallel_for(lines_count(p), lines_grain(p),
                      p->ct == MX_FLOAT64 ? lines_weight_f64 : lines_weight_f32, &j);
  pthread_mutex_destroy(&j.mu);
  int rc = atomic_load(&j.failed) ? mx_fail_int(MX_ENOMEM, "[conv] out of memory.") : 0;
  if (rc == 0) { /* (taps, C_in, C_out) sums -> out (C_out, taps, C_in) */
    int64_t kc = p->kprod * p->cig, osz = mx_dtype_size(out->dtype);
    for (int64_t o = 0; o < p->cout; o++)
      mx_cpu_convert(j.acc + o * p->csz, p->ct, p->cout, (char *)out->data + o * kc * osz,
                     out->dtype, 1, kc);
  }
  free(j.acc);
  return rc;
}
