/* qdot.c: the integer-dot-product path of quantized_matmul's decode (qdot.h): quantizes the
 * rows of x to int8 per weight group, splits the output rows over the thread pool and runs
 * them with AVX-512 VNNI where the CPU has it, else with portable C. MLX_QDOT_ISA=baseline
 * forces the portable rows (to test both). */
#include "qdot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "pool.h"
#include "../formulas.h"

#define QDOT_MIN_K 512
#define QDOT_MIN_WEIGHTS (1 << 20)

static int qdot_level = -1; /* 1: AVX-512 VNNI, 0: portable */

static int qdot_detect(void) {
  const char *env = getenv("MLX_QDOT_ISA");
  if (env && strcmp(env, "baseline") == 0) return 0;
#ifdef MX_QDOT_HAVE_AVX512
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vnni"))
    return 1;
#endif
  return 0;
}

bool mx_cpu_qdot_applies(int M, int N, int K, int bits, int gs, int mode) {
  return mode == MX_QMODE_AFFINE && M >= 1 && M <= MX_QDOT_MAX_M && K >= QDOT_MIN_K &&
         (int64_t)N * K >= QDOT_MIN_WEIGHTS && (gs == 32 || gs == 64 || gs == 128) &&
         K % gs == 0 && bits >= 1 && bits <= 8;
}

void mx_cpu_qdot_unpack(const uint32_t *w, int n, int bits, uint8_t *codes) {
  uint32_t mask = (1u << bits) - 1u;
  if (32 % bits == 0) {
    int per = 32 / bits;
    for (int i = 0; i < n; i += per) {
      uint32_t v = *w++;
      for (int k = 0; k < per; k++, v >>= bits) codes[i + k] = (uint8_t)(v & mask);
    }
    return;
  }
  uint64_t acc = 0;
  int have = 0;
  for (int i = 0; i < n; i++) {
    if (have < bits) {
      acc |= (uint64_t)(*w++) << have;
      have += 32;
    }
    codes[i] = (uint8_t)(acc & mask);
    acc >>= bits;
    have -= bits;
  }
}

/* Row m of x to int8 per group (scale amax / 127, round to nearest even), plus the float
 * sum of each group and its rounding residual (sum x - scale * sum xq): the rows add
 * mid * scale_w * residual, which removes the error the codes' mean would carry. */
static void qdot_quantize_row(const float *x, int K, int gs, int8_t *xq, float *xd, float *xs,
                              float *xr) {
  for (int g = 0; g < K / gs; g++) {
    const float *xg = x + (int64_t)g * gs;
    float amax = 0.0f;
    double sum = 0.0;
    for (int i = 0; i < gs; i++) {
      float a = fabsf(xg[i]);
      amax = a > amax ? a : amax;
      sum += xg[i];
    }
    float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    if (!isfinite(id)) id = 0.0f; /* amax subnormal: the residual carries the group */
    int32_t qsum = 0;
    for (int i = 0; i < gs; i++) {
      int8_t q = (int8_t)nearbyintf(xg[i] * id);
      xq[(int64_t)g * gs + i] = q;
      qsum += q;
    }
    xd[g] = amax / 127.0f;
    xs[g] = (float)sum;
    xr[g] = (float)(sum - (double)xd[g] * qsum);
  }
}

/* The plane order of width kb: piece P (64 packed bytes), plane p, byte b holds element
 * (P * 64 + b) * (8 / kb) + p; past K it is 0. */
static void qdot_permute_row(const int8_t *xn, int K, int kb, int8_t *xp, int64_t xp_len) {
  int e = 8 / kb;
  for (int64_t t = 0; t < xp_len; t++) {
    int64_t piece = t / (MX_QDOT_PIECE * e), r = t % (MX_QDOT_PIECE * e);
    int64_t p = r / MX_QDOT_PIECE, b = r % MX_QDOT_PIECE;
    int64_t el = (piece * MX_QDOT_PIECE + b) * e + p;
    xp[t] = el < K ? xn[el] : 0;
  }
}

static void qdot_rows_c(const mx_qdot_job *j, int64_t n0, int64_t n1, uint8_t *codes) {
  const int K = j->K, gs = j->gs, ng = j->ng;
  int64_t wpr = (int64_t)K * j->bits / 32;
  for (int64_t n = n0; n < n1; n++) {
    mx_cpu_qdot_unpack(j->w + n * wpr, K, j->bits, codes);
    const float *s = j->sc + n * ng, *b = j->bi + n * ng;
    for (int m = 0; m < j->M; m++) {
      const int8_t *xq = j->xn + (int64_t)m * K;
      const float *xd = j->xd + (int64_t)m * ng, *xs = j->xs + (int64_t)m * ng;
      const float *xr = j->xr + (int64_t)m * ng;
      float acc = 0.0f, res = 0.0f;
      for (int g = 0; g < ng; g++) {
        int32_t isum = 0;
        const uint8_t *c = codes + (int64_t)g * gs;
        const int8_t *q = xq + (int64_t)g * gs;
        for (int i = 0; i < gs; i++) isum += (int32_t)c[i] * (int32_t)q[i];
        acc += s[g] * xd[g] * (float)isum + b[g] * xs[g];
        res += s[g] * xr[g];
      }
      j->out[(int64_t)m * j->N + n] = acc + j->mid * res;
    }
  }
}

typedef struct qdot_task {
  const mx_qdot_job *j;
  int level;
  _Atomic int failed;
} qdot_task;

static void qdot_range(void *ctx, int64_t n0, int64_t n1) {
  qdot_task *t = ctx;
  uint8_t *scratch = malloc((size_t)t->j->K + MX_QDOT_PIECE);
  if (!scratch) {
    t->failed = 1;
    return;
  }
#ifdef MX_QDOT_HAVE_AVX512
  if (t->level == 1)
    mx_cpu_qdot_rows_avx512(t->j, n0, n1, scratch);
  else
#endif
    qdot_rows_c(t->j, n0, n1, scratch);
  free(scratch);
}

int mx_cpu_qdot_matmul(const float *x, int M, int K, const uint32_t *w, const float *sc,
                       const float *bi, int N, int bits, int gs, float *out) {
  if (qdot_level < 0) qdot_level = qdot_detect();
  float probe = 0.0f;
  for (int64_t i = 0; i < (int64_t)M * K; i++) probe += x[i] * 0.0f;
  if (probe != 0.0f) return 1; /* inf or NaN in x: the float path gives their exact effect */
  int ng = K / gs;
  int kb = (bits == 1 || bits == 2 || bits == 4) ? bits : 8;
  int e = 8 / kb;
  int64_t rb = K / e, pieces = (rb + MX_QDOT_PIECE - 1) / MX_QDOT_PIECE;
  int64_t xp_len = kb == 8 ? K : pieces * MX_QDOT_PIECE * e;
  size_t bytes = (size_t)M * ((size_t)K + (kb == 8 ? 0 : (size_t)xp_len)) +
                 (size_t)M * ng * 3 * sizeof(float);
  float *fbuf = malloc(bytes);
  if (!fbuf) return mx_fail_int(MX_ENOMEM, "[quantized_matmul] out of memory.");
  float *xd = fbuf, *xs = xd + (int64_t)M * ng, *xr = xs + (int64_t)M * ng;
  int8_t *xn = (int8_t *)(xr + (int64_t)M * ng);
  int8_t *xp = kb == 8 ? xn : xn + (int64_t)M * K;
  for (int m = 0; m < M; m++) {
    qdot_quantize_row(x + (int64_t)m * K, K, gs, xn + (int64_t)m * K, xd + (int64_t)m * ng,
                      xs + (int64_t)m * ng, xr + (int64_t)m * ng);
    if (kb != 8) qdot_permute_row(xn + (int64_t)m * K, K, kb, xp + m * xp_len, xp_len);
  }
  mx_qdot_job j = {w,  sc, bi, out, M,  N,  K,  bits, gs,
                   ng, kb, xn, xp,  xp_len, xd, xs, xr, (float)((1u << bits) - 1u) / 2.0f};
  qdot_task t = {&j, qdot_level, 0};
  int64_t grain = 1 + (int64_t)262144 / K;
  mx_cpu_parallel_for(N, grain, qdot_range, &t);
  free(fbuf);
  if (t.failed) return mx_fail_int(MX_ENOMEM, "[quantized_matmul] out of memory.");
  return 0;
}
